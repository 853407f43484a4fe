"""Build benchmark: full ESCO + the demo catalogue + N SkillSpan postings, cold, warm, and from a label pack.

For each N in ``--postings`` a fresh cache folder is made; the bundle is built once with it empty (cold: every
label, occupation label, outcome and posting segment is encoded, and the ONNX export, if any, is made) and once
more with the same cache (warm: vectors come from the SQLite cache). Then ``skillmatch cache warm`` is timed
(the taxonomy's labels into a label pack) and a build runs with a new, empty cache folder holding only that pack
(``pack``: what a machine gets when the pack is copied to it). Each build loads a new encoder, so no build gets
anything from another one's memory. The table shows the manifest's per-stage times (``timings_s``), the texts per
second of each stage, and the load average and busy processes seen during the run.

The figure that counts is a ratio measured in the same run: the cold build's label-encoding rate (distinct labels
per second of its ``encode labels`` stage) as a fraction of the **encoder ceiling**, the same backend with the
same threads encoding a sample of the same labels alone (target >= 0.9). The CPU model and flags are recorded.

    python bench/build.py                                   # N = 1,000 and 10,000, settings from the environment
    python bench/build.py --postings 1000 --backend torch   # the torch baseline
    python bench/build.py --postings 1000 --keep /tmp/esco-1000 --json bench/build.json
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROOT, SHARED, cpu_line, load_snapshot, machine, print_table, settings_overrides

from skillmatch.build import read_inputs, run_build, warm_label_pack
from skillmatch.config import get_settings
from skillmatch.encoding.factory import make_encoder
from skillmatch.evaluation.benchmarks import skillspan_postings
from skillmatch.linking.linker import label_table

#: What each stage of the manifest's ``timings_s`` handles, to turn times into texts per second.
STAGE_UNITS = {
    "encode labels": ("labels", "labels"),
    "index labels": ("labels", "labels"),
    "encode occupations": ("occupation_labels", "labels"),
    "index occupations": ("occupation_labels", "labels"),
    "link credentials": ("outcomes", "outcomes"),
    "encode+index outcomes": ("outcomes", "outcomes"),
    "link postings": ("postings", "postings"),
}


def one_build(
    inputs: Any, out: Path, cache_dir: Path, overrides: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build once (a fresh encoder over ``cache_dir``); returns the manifest and the run's measurements."""
    settings = get_settings(cache_dir=cache_dir, use_cache=True, **overrides)
    before = load_snapshot()
    start = time.perf_counter()
    encoder = make_encoder(settings)
    load_s = time.perf_counter() - start
    manifest = run_build(inputs, out, settings=settings, encoder=encoder)
    total = time.perf_counter() - start
    after = load_snapshot()
    return manifest, {
        "encoder_load_s": round(load_s, 2),
        "total_s": round(total, 1),
        "encoder_stats": dict(encoder.stats),
        # the process's peak so far: the build's own peak for the first build of a process (one N, --no-warm)
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "load_before": before,
        "load_after": after,
    }


def label_ceiling(
    manifest: dict[str, Any], labels: list[str], sample: int, overrides: dict[str, Any]
) -> dict[str, Any]:
    """The encoder alone on ``sample`` distinct labels: the build's backend and threads, no caches."""
    import random

    from skillmatch.encoding.factory import load_backend
    from skillmatch.encoding.threads import encoder_parallel_runs

    settings = get_settings(**overrides)
    choice = manifest.get("encoder", {})
    backend = choice.get("backend") or settings.encoder_backend
    threads = int(choice.get("threads") or settings.encoder_threads)
    parallel = encoder_parallel_runs(settings)
    encoder = load_backend(
        manifest["model"]["id"],
        backend=backend,
        threads=threads,
        batch_size=settings.batch_size,
        onnx_dir=settings.onnx_dir or settings.cache_dir / "onnx",
        parallel_runs=parallel,
    )
    texts = random.Random(0).sample(sorted(set(labels)), min(sample, len(set(labels))))
    encoder.encode(texts[:200])  # warm-up
    start = time.perf_counter()
    encoder.encode(texts)
    seconds = time.perf_counter() - start
    return {
        "backend": backend,
        "threads": threads,
        "labels": len(texts),
        "labels_per_s": round(len(texts) / seconds, 1),
    }


def stage_rows(label: str, manifest: dict[str, Any], run: dict[str, Any]) -> list[list[Any]]:
    """Table rows for one build: one per stage, with texts per second."""
    counts = manifest["counts"]
    rows = [[f"{label}: encoder load", "", run["encoder_load_s"], "", ""]]
    cpu = manifest.get("cpu_s", {})
    for stage, seconds in manifest["timings_s"].items():
        unit = STAGE_UNITS.get(stage)
        n = counts.get(unit[0], 0) if unit else ""
        rate = f"{n / seconds:,.0f} {unit[1]}/s" if unit and seconds > 0 and n else ""
        cores = f"{cpu[stage] / seconds:.2f}" if stage in cpu and seconds > 0.05 else ""
        rows.append([f"{label}: {stage}", f"{n:,}" if n != "" else "", round(seconds, 1), rate, cores])
    rows.append([f"{label}: total (wall)", "", run["total_s"], "", ""])
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the cold and warm builds for each N; print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--esco", type=Path, default=SHARED / "esco" / "v1.1.1", help="ESCO folder or zip.")
    parser.add_argument("--credentials", type=Path, default=ROOT / "data" / "demo" / "credentials.jsonl")
    parser.add_argument("--skillspan", type=Path, default=SHARED / "postings" / "skillspan" / "train.json")
    parser.add_argument("--postings", type=int, nargs="+", default=[1000, 10000], help="Values of N.")
    parser.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx", "onnx-int8-block", "onnx-int8"],
        help="Encoder backend.",
    )
    parser.add_argument(
        "--ceiling-sample",
        type=int,
        default=5000,
        help="Labels the encoder ceiling is timed on (default 5000).",
    )
    parser.add_argument("--threads", type=int, help="Encoder threads (0: library default).")
    parser.add_argument("--batch-size", type=int, help="Encoding batch size.")
    parser.add_argument("--exact-index-limit", type=int, help="Rows above which indexes are HNSW.")
    parser.add_argument("--no-warm", action="store_true", help="Only the cold build (no warm or pack build).")
    parser.add_argument("--work", type=Path, help="Work folder (default: a temporary one, removed after).")
    parser.add_argument("--keep", type=Path, help="Copy the last bundle built here (for bench/load.py).")
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args(argv)
    for path in (args.esco, args.credentials, args.skillspan):
        if not path.exists():
            parser.error(f"{path} not found (the shared data lives in ../shared/data)")
    overrides = settings_overrides(
        encoder_backend=args.backend,
        encoder_threads=args.threads,
        batch_size=args.batch_size,
        exact_index_limit=args.exact_index_limit,
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="skillmatch-bench-build-"))
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine(), "settings": overrides, "runs": []}
    rows: list[list[Any]] = []
    try:
        start = time.perf_counter()
        base = read_inputs(args.esco, args.credentials)
        read_s = round(time.perf_counter() - start, 1)
        labels = label_table(base.taxonomy.concepts)["text"].tolist()
        distinct = len(set(labels))
        rows.append(["read ESCO + credentials", "", read_s, "", ""])
        for n in args.postings:
            start = time.perf_counter()
            postings = skillspan_postings(args.skillspan, count=n)
            rows.append(
                [
                    f"N={n:,}: generate postings",
                    f"{len(postings):,}",
                    round(time.perf_counter() - start, 1),
                    "",
                    "",
                ]
            )
            inputs = type(base)(
                taxonomy=base.taxonomy,
                credentials=base.credentials,
                postings=postings,
                rejects=base.rejects,
                sources={**base.sources, "postings": f"skillspan x{n}"},
            )
            cache = work / f"cache-{n}"
            shutil.rmtree(cache, ignore_errors=True)
            out = work / f"bundle-{n}"
            for phase in ["cold"] + ([] if args.no_warm else ["warm", "pack"]):
                if phase == "pack":
                    shutil.rmtree(cache / "labels", ignore_errors=True)
                    start = time.perf_counter()
                    settings = get_settings(cache_dir=work / "pack-maker", use_cache=True, **overrides)
                    pack, pack_stats = warm_label_pack(
                        base.taxonomy, make_encoder(settings), cache / "labels"
                    )
                    pack_s = round(time.perf_counter() - start, 1)
                    rows.append(["cache warm (label pack)", f"{pack_stats['texts']:,}", pack_s, "", ""])
                    report["pack"] = {
                        "seconds": pack_s,
                        **pack_stats,
                        "bytes": pack.with_suffix(".npy").stat().st_size,
                    }
                    keep_pack = cache / "labels"
                    cache = work / f"cache-{n}-pack"
                    shutil.rmtree(cache, ignore_errors=True)
                    shutil.copytree(keep_pack, cache / "labels")
                manifest, run = one_build(inputs, out, cache, overrides)
                label = f"N={n:,} {phase}"
                rows.extend(stage_rows(label, manifest, run))
                report["runs"].append(
                    {
                        "postings": n,
                        "phase": phase,
                        "timings_s": manifest["timings_s"],
                        "cpu_s": manifest.get("cpu_s", {}),
                        "counts": manifest["counts"],
                        "encoder": manifest.get("encoder", {}),
                        "label_vectors": manifest.get("label_vectors", {}),
                        **run,
                    }
                )
                if phase == "cold" and "ceiling" not in report:
                    report["ceiling"] = label_ceiling(manifest, labels, args.ceiling_sample, overrides)
                    rate = distinct / manifest["timings_s"]["encode labels"]
                    report["label_rate"] = {
                        "distinct_labels": distinct,
                        "labels_per_s": round(rate, 1),
                        "fraction_of_ceiling": round(rate / report["ceiling"]["labels_per_s"], 3),
                        "target": 0.9,
                    }
                print(
                    f"[{label}] total {run['total_s']} s; load {run['load_before']['load']} -> "
                    f"{run['load_after']['load']}; encoder {run['encoder_stats']}",
                    file=sys.stderr,
                    flush=True,
                )
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(out, args.keep)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    m = report["machine"]
    print(cpu_line(m))
    print(f"machine: {m['cpus']} CPUs, {m['memory_gib']} GiB, Python {m['python']}; {m['versions']}")
    if "label_rate" in report:
        lr, ceiling = report["label_rate"], report["ceiling"]
        print(
            f"label encoding in the cold build: {lr['labels_per_s']} distinct labels/s = {lr['fraction_of_ceiling']} "
            f"of the encoder ceiling ({ceiling['labels_per_s']} labels/s, {ceiling['backend']}, threads "
            f"{ceiling['threads']}; target >= {lr['target']})"
        )
    print(f"settings: {overrides or 'defaults'}")
    print_table(["stage", "items", "seconds", "rate", "cores busy"], rows)
    for run in report["runs"]:
        busy = "; ".join(run["load_before"]["busy"]) or "nothing else busy"
        print(f"N={run['postings']:,} {run['phase']}: load {run['load_before']['load']} before; busy: {busy}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
