"""Linking throughput for posting-length texts on a built bundle (postings per second).

Texts are SkillSpan postings (title + description, as ``link_postings`` builds them) generated with
``skillspan_postings(count=N)``. Two modes:

* **batch**: all N postings in one ``linker.link`` call, as a build links them (segments shared between postings
  are encoded once);
* **single**: ``--single`` postings one call each, as the API's ``/v1/skills/extract`` sees them (median and p95
  latency).

Every repeat uses a fresh encoder with the on-disk cache off, so each phrase is really encoded (the in-memory
LRU starts empty). The encoder's share of the time is measured by timing its ``encode`` calls.

    python bench/linking.py --bundle /tmp/esco-1000
    python bench/linking.py --bundle /tmp/esco-1000 --backend torch --threads 1 --json bench/linking-torch.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import SHARED, cpu_line, load_snapshot, machine, median, print_table, settings_overrides

from skillmatch.bundle import Bundle, open_bundle
from skillmatch.config import get_settings
from skillmatch.encoding.base import Encoder, EncoderWrapper, ProgressFn
from skillmatch.encoding.factory import make_encoder, query_chain
from skillmatch.evaluation.benchmarks import skillspan_postings
from skillmatch.linking.linker import SkillLinker, linker_for, options_for


class TimedEncoder(EncoderWrapper):
    """Wraps an encoder and adds up the seconds spent in ``encode`` and the texts it was given."""

    def __init__(self, inner: Encoder) -> None:
        super().__init__(inner)
        self.seconds = 0.0
        self.texts = 0

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Encode with the wrapped encoder, timing the call."""
        start = time.perf_counter()
        try:
            return self.inner.encode(texts, progress=progress)
        finally:
            self.seconds += time.perf_counter() - start
            self.texts += len(texts)


def posting_texts(path: Path, count: int, seed: int) -> list[str]:
    """Title + description of ``count`` SkillSpan postings, joined as the build joins them."""
    frame = skillspan_postings(path, count=count, seed=seed)
    return [
        "\n".join(str(x) for x in (t, d) if isinstance(x, str) and x.strip())
        for t, d in zip(frame["title"], frame["description"], strict=True)
    ]


def fresh_linker(
    bundle: Bundle, overrides: dict[str, Any], fastpath: bool
) -> tuple[TimedEncoder, SkillLinker]:
    """A new, timed encoder (no disk cache, empty memory LRU) and a linker over it, behind the query-time chain
    (with the exact-label shortcut) or, without ``fastpath``, straight on the encoder."""
    settings = get_settings(use_cache=False, **overrides)
    timed = TimedEncoder(make_encoder(settings, bundle.manifest["model"]["id"]))
    used: Encoder = (
        query_chain(timed, bundle.labels["text"].tolist(), bundle.label_index.reconstruct)
        if fastpath
        else timed
    )
    options = options_for(bundle.manifest, settings)
    linker = linker_for(
        used,
        bundle.labels,
        bundle.label_index,
        bundle.taxonomy.concepts,
        options,
        memory_cache=settings.linker_memory_cache,
    )
    return timed, linker


def run(
    bundle: Bundle, texts: list[str], single: int, overrides: dict[str, Any], fastpath: bool
) -> dict[str, Any]:
    """One repeat: batch mode over all texts, then single mode over the first ``single`` texts."""
    timed, linker = fresh_linker(bundle, overrides, fastpath)
    load = load_snapshot()
    start = time.perf_counter()
    found = linker.link(texts)
    batch_s = time.perf_counter() - start
    result: dict[str, Any] = {
        "load": load["load"],
        "busy": load["busy"],
        "batch_s": round(batch_s, 2),
        "batch_postings_per_s": round(len(texts) / batch_s, 1),
        "batch_encode_s": round(timed.seconds, 2),
        "batch_texts_encoded": timed.texts,
        "skills_per_posting": round(float(np.mean([len(f) for f in found])), 2),
        "backend": getattr(timed.inner, "backend", "?"),
    }
    if single:
        timed, linker = fresh_linker(bundle, overrides, fastpath)
        latencies = []
        for text in texts[:single]:
            start = time.perf_counter()
            linker.link([text])
            latencies.append(time.perf_counter() - start)
        ms = np.asarray(latencies) * 1000
        result.update(
            single_postings_per_s=round(float(len(latencies) / ms.sum() * 1000), 1),
            single_p50_ms=round(float(np.percentile(ms, 50)), 1),
            single_p95_ms=round(float(np.percentile(ms, 95)), 1),
            single_encode_share=round(float(timed.seconds / (ms.sum() / 1000)), 2),
        )
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the repeats, print medians, optionally write JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, required=True, help="A built bundle (e.g. full ESCO).")
    parser.add_argument("--skillspan", type=Path, default=SHARED / "postings" / "skillspan" / "train.json")
    parser.add_argument("--postings", type=int, default=1000, help="Postings in batch mode (default 1000).")
    parser.add_argument("--single", type=int, default=100, help="Postings linked one by one (default 100).")
    parser.add_argument("--repeat", type=int, default=3, help="Repeats; medians are reported (default 3).")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", choices=["auto", "torch", "onnx", "onnx-int8"], help="Encoder backend.")
    parser.add_argument("--threads", type=int, help="Encoder threads (0: library default).")
    parser.add_argument("--batch-size", type=int, help="Encoding batch size.")
    parser.add_argument(
        "--no-fastpath",
        dest="fastpath",
        action="store_false",
        help="Without the exact-label fast path (every bundle's linker has it).",
    )
    parser.add_argument("--json", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args(argv)
    overrides = settings_overrides(
        encoder_backend=args.backend, encoder_threads=args.threads, batch_size=args.batch_size
    )
    bundle = open_bundle(args.bundle, verify_checksums=False)
    texts = posting_texts(args.skillspan, args.postings, args.seed)
    chars = float(np.mean([len(t) for t in texts]))
    runs = []
    for n in range(args.repeat):
        runs.append(run(bundle, texts, args.single, overrides, args.fastpath))
        print(f"[repeat {n + 1}] {runs[-1]}", file=sys.stderr, flush=True)
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    summary = {k: median([r[k] for r in runs]) for k in keys}
    m = machine()
    print(cpu_line(m))
    index = bundle.manifest["indexes"]["labels"]
    print(f"machine: {m['cpus']} CPUs, {m['memory_gib']} GiB; {m['versions']}")
    print(
        f"bundle {args.bundle}: {index['rows']:,} labels ({index['kind']}); {len(texts):,} postings, "
        f"{chars:,.0f} characters on average; backend {runs[0]['backend']}, settings {overrides or 'defaults'}"
        f"{', fast path' if args.fastpath else ', no fast path'}; median of {len(runs)}"
    )
    rows = [[k, summary[k]] for k in keys if k != "load"]
    print_table(["measure", "median"], rows)
    for n, r in enumerate(runs, start=1):
        print(f"repeat {n}: load {r['load']}; busy: {'; '.join(r['busy']) or 'nothing else busy'}")
    if args.json:
        report = {
            "machine": m,
            "bundle": str(args.bundle),
            "settings": overrides,
            "summary": summary,
            "runs": runs,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
