"""Career moves from ESCO itself: recommendation quality on pairs and a catalogue generated from ESCO alone.

A learner holds the essential skills of an ESCO occupation (minus 0-50 % of them) and wants to move to another
occupation of the same 4-digit ISCO group; a catalogue generated from ESCO's skill groups teaches the skills at
three levels, with prerequisite skills. Each method recommends credentials for each pair, at k = 1..5 (no
budget) and at 20/40/80 hours (no k); the pathway is scored with the published metric (mean of min(held,
required) / required over the target's essential skills). See docs/career-benchmark.md.

    python bench/career.py --esco ../shared/data/esco/v1.1.1 --pairs 700 --out /tmp/career
    # then, to add skillmatch (slow: builds a full-ESCO bundle):
    skillmatch build --taxonomy ../shared/data/esco/v1.1.1 --credentials /tmp/career/catalogue.jsonl \
        --out /tmp/career/bundle
    python bench/career.py --esco ../shared/data/esco/v1.1.1 --pairs 700 --out /tmp/career --bundle /tmp/career/bundle

Writes to --out: catalogue.jsonl (the generated catalogue, in the credential reader's format), pairs.jsonl,
rows.jsonl (one scored pathway per method, limit and pair) and results.json (settings and the summary table).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from common import SHARED

from skillmatch.evaluation.career import (
    BUDGETS,
    KS,
    CareerPair,
    CourseIndex,
    Method,
    career_pairs,
    generate_catalogue,
    greedy_pathway,
    match,
    naive_pathway,
    run_methods,
    summarise,
    write_jsonl,
)
from skillmatch.readers import load_taxonomy


# --- skillmatch under test -----------------------------------------------------------------------------------
def skillmatch_pathway(
    service: Any, pair: CareerPair, k: int | None = None, max_hours: float | None = None
) -> list[str]:
    """SKILLMATCH: the recommender under test, ``service = skillmatch.load(bundle_path)``.

    The learner's skills go in as ``"<ESCO skill uri>: intermediate"`` strings and the role as the target
    occupation's URI; the pathway's credential ids come back in study order.
    """
    result = service.recommend(pair.target_id, pair.learner_skills(), max_items=k, max_hours=max_hours)
    return [step.credential["id"] for step in result.pathway]


def skillmatch_method(service: Any) -> Method:
    """:func:`skillmatch_pathway` as a benchmark method (the catalogue argument is the bundle's own)."""

    def method(
        pair: CareerPair, _catalogue: CourseIndex, k: int | None, max_hours: float | None
    ) -> list[str]:
        return skillmatch_pathway(service, pair, k=k, max_hours=max_hours)

    return method


# -------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--esco", type=Path, default=SHARED / "esco" / "v1.1.1", help="ESCO CSV export folder"
    )
    parser.add_argument("--pairs", type=int, default=700, help="number of career pairs")
    parser.add_argument("--seed", type=int, default=0, help="seed of the catalogue (and of the pairs)")
    parser.add_argument(
        "--pair-seed",
        type=int,
        default=None,
        help="seed of the pairs (default: --seed); other pairs, same catalogue",
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/career"), help="output folder")
    parser.add_argument("--bundle", type=Path, default=None, help="also run skillmatch with this bundle")
    parser.add_argument("--ks", type=int, nargs="+", default=list(KS))
    parser.add_argument("--budgets", type=float, nargs="+", default=list(BUDGETS))
    parser.add_argument(
        "--distractors", type=float, default=0.1, help="distractor courses per chunk of regular courses"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    taxonomy, rejects = load_taxonomy(args.esco)
    print(
        f"ESCO {taxonomy.version}: {len(taxonomy.concepts)} concepts, {len(taxonomy.occupations)} occupations, "
        f"{len(taxonomy.relations)} relations, {len(rejects)} rejects ({time.perf_counter() - started:.1f} s)"
    )
    catalogue = generate_catalogue(taxonomy, seed=args.seed, distractor_share=args.distractors)
    catalogue_path = write_jsonl(catalogue, args.out / "catalogue.jsonl")
    distractors = int(catalogue["id"].str.startswith("ESCO-D").sum())
    print(f"catalogue: {len(catalogue)} credentials ({distractors} distractors) -> {catalogue_path}")
    pair_seed = args.seed if args.pair_seed is None else args.pair_seed
    pairs = career_pairs(taxonomy, n_pairs=args.pairs, seed=pair_seed)
    with (args.out / "pairs.jsonl").open("w", encoding="utf-8") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair.to_dict()) + "\n")
    before = [match(p.learner, p.target) for p in pairs]
    print(
        f"pairs: {len(pairs)} in {len({p.isco_group for p in pairs})} ISCO groups, "
        f"mean match before {sum(before) / max(len(before), 1):.3f}"
    )

    methods: dict[str, Method] = {"naive": naive_pathway, "greedy": greedy_pathway}
    if args.bundle is not None:
        import skillmatch

        methods["skillmatch"] = skillmatch_method(skillmatch.load(args.bundle))
    index = CourseIndex.from_frame(catalogue)
    timings: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    for name, method in methods.items():
        t0 = time.perf_counter()
        rows += run_methods(pairs, index, {name: method}, ks=args.ks, budgets=args.budgets)
        timings[name] = round(time.perf_counter() - t0, 2)
    table = summarise(rows)
    shown = table.assign(value=table["value"].map(lambda v: f"{v:g}"))
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("seconds per method:", timings)

    with (args.out / "rows.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    results = {
        "esco": str(args.esco),
        "seed": args.seed,
        "pair_seed": pair_seed,
        "pairs": len(pairs),
        "credentials": len(catalogue),
        "distractors": distractors,
        "mean_match_before": sum(before) / max(len(before), 1),
        "bundle": str(args.bundle) if args.bundle else None,
        "seconds": timings,
        "summary": table.to_dict("records"),
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {args.out / 'results.json'}")
    return results


if __name__ == "__main__":
    main()
