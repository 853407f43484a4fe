"""What the linker's n-gram pre-filter saves and what it costs: segments, quality and speed per filter mode.

For each mode of ``link_ngram_filter`` (:mod:`skillmatch.linking.vocabulary`), on a built bundle (full ESCO):

* **segments per posting** over ``--postings`` SkillSpan postings (title + description, as the build joins
  them), each posting on its own as the API's ``/v1/skills/extract`` sees it: the segments searched (sentences,
  phrases and kept n-grams) and those encoded (the rest take a label's stored vector through the exact-label
  shortcut), and by kind;
* **quality**: RP@5, RP@10 and MRR on the TECH and HOUSE validation sets (the linker's full ranking, no
  threshold), as ``skillmatch.evaluation.runner`` measures the pipeline;
* **speed**: all postings in one ``linker.link`` call (as a build, and ``bench/peer.py``, link them) with a fresh
  encoder (no disk cache, empty memory LRU), postings/s and the seconds spent encoding; medians of
  ``--repeat`` runs (the modes take turns), with the process's CPU seconds (steadier than wall time on a shared
  machine) and the load average beside each;
* **links**: how close each mode's links of the postings (default threshold) are to the first mode's (mean
  Jaccard of the skill sets, share of postings with the same skills).

    python bench/ngram_filter.py --bundle /tmp/esco-stock --postings 100 --json bench/results/ngram-filter.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from common import SHARED, load_snapshot, machine, median, print_table
from linking import fresh_linker, posting_texts

from skillmatch.bundle import Bundle, open_bundle
from skillmatch.encoding.known_vectors import KnownVectorEncoder
from skillmatch.evaluation.benchmarks import load_skill_extraction
from skillmatch.evaluation.metrics import mean_metrics
from skillmatch.linking.linker import SkillLinker
from skillmatch.linking.vocabulary import NGRAM_FILTERS


def segment_counts(linker: SkillLinker, texts: list[str]) -> dict[str, float]:
    """Mean segments per text, each text linked on its own: searched, encoded, and searched by kind."""
    encoder = linker.encoder
    kinds: Counter[str] = Counter()
    encoded = 0
    for text in texts:
        parts = linker.parts(text)
        segments = [seg for seg, _ in parts]
        for seg, sentence in parts:
            words = len(seg.split())
            kinds["sentence" if seg == sentence else "phrase" if words > 3 else f"{words}-word"] += 1
        known = encoder.lookup(segments) if isinstance(encoder, KnownVectorEncoder) else [-1] * len(segments)
        encoded += sum(1 for row in known if row < 0)
    n = len(texts)
    out = {"searched": round(sum(kinds.values()) / n, 1), "encoded": round(encoded / n, 1)}
    out.update({f"searched_{k}": round(v / n, 1) for k, v in sorted(kinds.items())})
    return out


def quality(linker: SkillLinker, bundle: Bundle, benchmarks: Path) -> dict[str, dict[str, float]]:
    """RP@5, RP@10 and MRR (in points) of the linker's ranking on the TECH and HOUSE validation sets."""
    out = {}
    for name in ("tech", "house"):
        data = load_skill_extraction(benchmarks / f"{name}_validation.csv", bundle.taxonomy.concepts)
        found = linker.link(data.queries, top_k=10, min_score=-1.0)
        m = mean_metrics([[s.id for s in f] for f in found], data.relevant, ks=(5, 10))
        out[name] = {
            "n": m["n"],
            "rp@5": round(100 * m["rp@5"], 1),
            "rp@10": round(100 * m["rp@10"], 1),
            "mrr": round(100 * m["mrr"], 1),
        }
    return out


def speed_run(bundle: Bundle, texts: list[str], mode: str) -> tuple[dict[str, Any], list[set[str]]]:
    """One batch linking of all texts with a fresh encoder and linker: wall and process CPU seconds, and the
    skills linked to each text (default threshold and top-k)."""
    start = time.perf_counter()
    timed, linker = fresh_linker(bundle, {"link_ngram_filter": mode}, True)
    made_s = time.perf_counter() - start
    snap = load_snapshot()
    start, cpu = time.perf_counter(), time.process_time()
    found = linker.link(texts)
    link_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    run = {
        "linker_s": round(made_s, 2),
        "link_s": round(link_s, 2),
        "cpu_s": round(cpu_s, 2),
        "encode_s": round(timed.seconds, 2),
        "texts_encoded": timed.texts,
        "load": snap["load"],
        "busy": snap["busy"],
    }
    print(f"[{mode}] {run}", file=sys.stderr, flush=True)
    return run, [{s.id for s in f} for f in found]


def agreement(links: list[set[str]], reference: list[set[str]]) -> dict[str, float]:
    """Skills per text, and how close the links are to ``reference``'s: mean Jaccard, share of identical sets."""
    jaccard = [len(a & b) / len(a | b) if a | b else 1.0 for a, b in zip(links, reference, strict=True)]
    return {
        "skills_per_posting": round(float(np.mean([len(a) for a in links])), 2),
        "jaccard": round(float(np.mean(jaccard)), 3),
        "identical": round(float(np.mean([a == b for a, b in zip(links, reference, strict=True)])), 3),
    }


def speed_summary(runs: list[dict[str, Any]], postings: int) -> dict[str, Any]:
    """Medians of a mode's runs: postings/s (wall), CPU seconds per posting, encode and linker-making seconds."""
    link_s = median([r["link_s"] for r in runs])
    return {
        "postings_per_s": round(postings / link_s, 2),
        "cpu_ms_per_posting": round(1000 * median([r["cpu_s"] for r in runs]) / postings, 1),
        "link_s": link_s,
        "encode_s": median([r["encode_s"] for r in runs]),
        "linker_s": median([r["linker_s"] for r in runs]),
        "texts_encoded": runs[0]["texts_encoded"],
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every requested mode; print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, required=True, help="A built bundle (full ESCO).")
    parser.add_argument("--skillspan", type=Path, default=SHARED / "postings" / "skillspan" / "train.json")
    parser.add_argument("--benchmarks", type=Path, default=SHARED / "benchmarks" / "skill-extraction")
    parser.add_argument("--postings", type=int, default=100, help="Postings (default 100).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", nargs="+", choices=NGRAM_FILTERS, default=list(NGRAM_FILTERS))
    parser.add_argument("--repeat", type=int, default=1, help="Speed repeats; medians (default 1).")
    parser.add_argument("--skip-speed", action="store_true", help="Segments and quality only.")
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args(argv)
    bundle = open_bundle(args.bundle, verify_checksums=False)
    texts = posting_texts(args.skillspan, args.postings, args.seed)
    results: dict[str, dict[str, Any]] = {}
    for mode in args.modes:
        _, linker = fresh_linker(bundle, {"link_ngram_filter": mode}, True)
        results[mode] = {
            "segments": segment_counts(linker, texts),
            "quality": quality(linker, bundle, args.benchmarks),
        }
    if not args.skip_speed:
        # the modes take turns, so that a change in the machine's load affects all of them alike
        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in args.modes}
        links: dict[str, list[set[str]]] = {}
        for _ in range(args.repeat):
            for mode in args.modes:
                run, links[mode] = speed_run(bundle, texts, mode)
                runs[mode].append(run)
        for mode in args.modes:
            results[mode]["speed"] = speed_summary(runs[mode], len(texts))
            # the postings' links at the default threshold, against the first mode's (e.g. off)
            results[mode]["links"] = {
                "reference": args.modes[0],
                **agreement(links[mode], links[args.modes[0]]),
            }
    m = machine()
    print(f"machine: {m['cpus']} CPUs ({cpu_model()}), {m['memory_gib']} GiB; {m['versions']}")
    print(f"{len(texts)} postings, {float(np.mean([len(t) for t in texts])):,.0f} characters on average")
    headers = [
        "mode",
        "searched/posting",
        "encoded/posting",
        "TECH RP@5",
        "TECH MRR",
        "HOUSE RP@5",
        "HOUSE MRR",
    ]
    if not args.skip_speed:
        headers += ["postings/s", "CPU ms/posting", "encode s", f"Jaccard vs {args.modes[0]}"]
    rows = []
    for mode, r in results.items():
        q = r["quality"]
        row = [mode, r["segments"]["searched"], r["segments"]["encoded"]]
        row += [q["tech"]["rp@5"], q["tech"]["mrr"], q["house"]["rp@5"], q["house"]["mrr"]]
        if "speed" in r:
            sp = r["speed"]
            row += [sp["postings_per_s"], sp["cpu_ms_per_posting"], sp["encode_s"], r["links"]["jaccard"]]
        rows.append(row)
    print_table(headers, rows)
    if args.json:
        report = {"machine": {**m, "cpu_model": cpu_model()}, "postings": len(texts), "results": results}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo ("?" where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


if __name__ == "__main__":
    sys.exit(main())
