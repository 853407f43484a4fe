"""Ranking quality of the speed levers that may change results: encoder backend and label index kind.

A variant is ``labels[/queries]:index``. The bundle's label table is encoded with the ``labels`` backend (vectors
come from the embedding cache in ``--cache-dir`` when present; torch and onnx share entries, each int8 backend has
its own) and indexed with that kind (flat: exact; hnsw: approximate, with the configured M and efSearch); queries
are encoded with the ``queries`` backend (default: the labels one) -- ``onnx/onnx-int8-block`` is what the API
does by default: float32 labels from the build, block-wise int8 for request texts. The linker is the served one
(the bundle's options, the exact-label fast path). Each variant ranks the TECH and HOUSE validation sentences
(RP@5 and MRR in points, linking time) and links ``--phrases`` skill phrases of the kind a learner sends (the load
test's new phrases: labels with a qualifier such as "hands-on"); "top-1 =" and "top-5 overlap" compare those links
with the first variant's. A lever is kept only if it stays within 1 RP@5 point of the exact float32 baseline.

    python bench/quality.py --bundle /tmp/esco-1000 --cache-dir /tmp/perf/cache
    python bench/quality.py --bundle /tmp/esco-1000 --cache-dir /tmp/perf/cache \
        --variants onnx:hnsw onnx/onnx-int8-block:hnsw onnx-int8-block:hnsw onnx/onnx-int8:hnsw
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from common import SHARED, cpu_line, load_snapshot, machine, print_table
from load import recommendation_payloads

from skillmatch.bundle import Bundle, open_bundle
from skillmatch.config import get_settings
from skillmatch.encoding.factory import make_encoder, query_chain
from skillmatch.evaluation.benchmarks import load_skill_extraction
from skillmatch.evaluation.metrics import mean_metrics
from skillmatch.index import VectorIndex
from skillmatch.linking.linker import linker_for, options_for


def evaluate_variant(
    bundle: Bundle, variant: str, cache_dir: Path, sets: dict[str, Any], phrases: list[str]
) -> dict[str, Any]:
    """RP@5 / MRR of one ``labels[/queries]:index`` variant on each set, the top-5 links of ``phrases`` and the
    time each step took."""
    backends, kind = variant.split(":")
    label_backend, _, query_backend = backends.partition("/")
    model = bundle.manifest["model"]["id"]
    settings = get_settings(cache_dir=cache_dir, use_cache=True, encoder_backend=label_backend)
    encoder = make_encoder(settings, model)
    start = time.perf_counter()
    vectors = encoder.encode(bundle.labels["text"].tolist())
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    index = VectorIndex(kind=kind, hnsw_m=settings.hnsw_m, ef_search=settings.hnsw_ef_search).build(vectors)  # type: ignore[arg-type]
    index_s = time.perf_counter() - start
    if query_backend:  # queries are never cached on disk, as in the API
        query_settings = settings.model_copy(update={"encoder_backend": query_backend, "use_cache": False})
        encoder = make_encoder(query_settings, model)
    chain = query_chain(encoder, bundle.labels["text"].tolist(), index.reconstruct)
    linker = linker_for(
        chain,
        bundle.labels,
        index,
        bundle.taxonomy.concepts,
        options_for(bundle.manifest, settings),
        memory_cache=settings.linker_memory_cache,
    )
    out: dict[str, Any] = {
        "variant": variant,
        "index": kind,
        "recall_at_10": index.info_.recall_at_10,
        "labels_encode_s": round(encode_s, 1),
        "index_build_s": round(index_s, 1),
    }
    out["phrase_links"] = [[s.id for s in f] for f in linker.link(phrases, top_k=5, min_score=-1.0)]
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
        default=["torch:flat", "onnx:flat", "onnx:hnsw", "onnx/onnx-int8-block:hnsw", "onnx-int8:flat"],
        help="labels[/queries]:index variants (default: torch:flat onnx:flat onnx:hnsw "
        "onnx/onnx-int8-block:hnsw onnx-int8:flat); the first is the baseline.",
    )
    parser.add_argument(
        "--phrases",
        type=int,
        default=1000,
        help="Learner skill phrases linked by each variant (default 1000).",
    )
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args(argv)
    for variant in args.variants:
        if variant.count(":") != 1:
            parser.error(f"variant {variant!r} is not labels[/queries]:index")
    bundle = open_bundle(args.bundle, verify_checksums=False)
    concepts = bundle.taxonomy.concepts
    sets = {
        name: load_skill_extraction(args.benchmarks / f"{name}_validation.csv", concepts)
        for name in ("tech", "house")
    }
    payloads = recommendation_payloads(args.bundle, -(-args.phrases // 5), 5, 0, mode="new")
    phrases = [p for payload in payloads for p in payload["skills"]][: args.phrases]
    results = []
    for variant in args.variants:
        snap = load_snapshot()
        result = evaluate_variant(bundle, variant, args.cache_dir, sets, phrases)
        result["load"], result["busy"] = snap["load"], snap["busy"]
        results.append(result)
        shown = {k: v for k, v in result.items() if k != "phrase_links"}
        print(f"[{variant}] {shown}", file=sys.stderr, flush=True)
    base_links = results[0]["phrase_links"]
    for r in results:
        pairs = list(zip(r["phrase_links"], base_links, strict=True))
        r["phrases"] = {
            "n": len(pairs),
            "top1_same": round(100 * sum(a[:1] == b[:1] for a, b in pairs) / len(pairs), 2),
            "top5_overlap": round(100 * sum(len(set(a) & set(b)) / len(b) for a, b in pairs) / len(pairs), 2),
        }
        del r["phrase_links"]
    base = results[0]
    rows = []
    for r in results:
        rows.append(
            [
                r["variant"],
                r["recall_at_10"] if r["recall_at_10"] is not None else "exact",
                *(r[name]["rp@5"] for name in sets),
                *(round(r[name]["rp@5"] - base[name]["rp@5"], 2) for name in sets),
                *(r[name]["mrr"] for name in sets),
                r["phrases"]["top1_same"],
                r["phrases"]["top5_overlap"],
                round(sum(r[name]["link_s"] for name in sets), 1),
                r["load"][0],
            ]
        )
    m = machine()
    print(cpu_line(m))
    print(f"machine: {m['cpus']} CPUs; {m['versions']}; linker options {bundle.linker.options()}")
    print(f"phrases: {len(phrases)} new learner phrases, compared with {results[0]['variant']}")
    print_table(
        [
            "variant",
            "recall@10",
            *(f"{n} RP@5" for n in sets),
            *(f"{n} Δ" for n in sets),
            *(f"{n} MRR" for n in sets),
            "phrases top-1 = %",
            "top-5 overlap %",
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
