"""Ranking quality of the speed levers that may change results: encoder backend and label index kind.

For each variant the bundle's label table is encoded with that backend (vectors come from the embedding cache in
``--cache-dir`` when present; torch and onnx share entries, int8 has its own), indexed with that kind (flat:
exact; hnsw: approximate, with the configured M and efSearch), and the bundle's linker options are applied. Each
variant then ranks the TECH and HOUSE validation sentences; RP@5 and MRR (in points) and the linking time are
reported. A lever is kept only if it stays within 1 RP@5 point of the exact float32 baseline.

    python bench/quality.py --bundle /tmp/esco-1000 --cache-dir /tmp/perf/cache
    python bench/quality.py --bundle /tmp/esco-1000 --variants onnx:flat onnx:hnsw onnx-int8:flat
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import SHARED, load_snapshot, machine, print_table

from skillmatch.benchmarks import load_skill_extraction
from skillmatch.bundle import Bundle
from skillmatch.config import get_settings
from skillmatch.encoder import SentenceTransformerEncoder
from skillmatch.index import VectorIndex
from skillmatch.linking import SkillLinker
from skillmatch.metrics import mean_metrics


def evaluate_variant(
    bundle: Bundle, backend: str, kind: str, cache_dir: Path, sets: dict[str, Any]
) -> dict[str, Any]:
    """RP@5 / MRR of one (backend, index kind) variant on each set, and the time each step took."""
    settings = get_settings(cache_dir=cache_dir, use_cache=True, encoder_backend=backend)
    encoder = SentenceTransformerEncoder.from_settings(settings, bundle.manifest["model"]["id"])
    start = time.perf_counter()
    vectors = encoder.encode(bundle.labels["text"].tolist())
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    index = VectorIndex(kind=kind, hnsw_m=settings.hnsw_m, ef_search=settings.hnsw_ef_search).build(vectors)  # type: ignore[arg-type]
    index_s = time.perf_counter() - start
    concept_labels = dict(zip(bundle.taxonomy.concepts["id"], bundle.taxonomy.concepts["label"], strict=True))
    linker = SkillLinker(encoder, bundle.labels, index, concept_labels, **bundle.linker.options())  # type: ignore[arg-type]
    out: dict[str, Any] = {
        "backend": encoder.backend,
        "index": kind,
        "recall_at_10": index.info_.recall_at_10,
        "labels_encode_s": round(encode_s, 1),
        "index_build_s": round(index_s, 1),
    }
    for name, data in sets.items():
        start = time.perf_counter()
        rankings = [[s.id for s in f] for f in linker.link(data.queries, top_k=10, min_score=-1.0)]
        link_s = time.perf_counter() - start
        metrics = mean_metrics(rankings, data.relevant, ks=(5,))
        out[name] = {
            "n": metrics["n"],
            "rp@5": round(100 * metrics["rp@5"], 2),
            "mrr": round(100 * metrics["mrr"], 2),
            "link_s": round(link_s, 2),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Evaluate each variant; print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bundle", type=Path, required=True, help="A full-ESCO bundle (labels, linker options)."
    )
    parser.add_argument("--benchmarks", type=Path, default=SHARED / "benchmarks" / "skill-extraction")
    parser.add_argument(
        "--cache-dir", type=Path, required=True, help="Embedding cache (reused between runs)."
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["torch:flat", "onnx:flat", "onnx:hnsw", "onnx-int8:flat"],
        help="backend:index pairs (default: torch:flat onnx:flat onnx:hnsw onnx-int8:flat).",
    )
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args(argv)
    bundle = Bundle.load(args.bundle, settings=get_settings(use_cache=False), verify_checksums=False)
    concepts = bundle.taxonomy.concepts
    sets = {
        name: load_skill_extraction(args.benchmarks / f"{name}_validation.csv", concepts)
        for name in ("tech", "house")
    }
    results = []
    for variant in args.variants:
        backend, kind = variant.split(":")
        snap = load_snapshot()
        result = evaluate_variant(bundle, backend, kind, args.cache_dir, sets)
        result["load"], result["busy"] = snap["load"], snap["busy"]
        results.append(result)
        print(f"[{variant}] {result}", file=sys.stderr, flush=True)
    base = results[0]
    rows = []
    for r in results:
        rows.append(
            [
                f"{r['backend']}:{r['index']}",
                r["recall_at_10"] if r["recall_at_10"] is not None else "exact",
                *(r[name]["rp@5"] for name in sets),
                *(round(r[name]["rp@5"] - base[name]["rp@5"], 2) for name in sets),
                *(r[name]["mrr"] for name in sets),
                round(sum(r[name]["link_s"] for name in sets), 1),
                r["load"][0],
            ]
        )
    m = machine()
    print(f"machine: {m['cpus']} CPUs; {m['versions']}; linker options {bundle.linker.options()}")
    print_table(
        [
            "variant",
            "recall@10",
            *(f"{n} RP@5" for n in sets),
            *(f"{n} Δ" for n in sets),
            *(f"{n} MRR" for n in sets),
            "link s",
            "load",
        ],
        rows,
    )
    if args.json:
        args.json.write_text(json.dumps({"machine": m, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
