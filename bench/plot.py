"""Scaling curves from the benchmarks' JSON results, as PNG files for docs/performance.md.

* ``--load`` files of ``bench/load.py`` (one per CPU or run): requests/s of all-new and repeating phrases and the
  encoder ceiling against concurrency, all-new throughput as a fraction of the ceiling, and p99 latency;
* ``--build`` files of ``bench/build.py``: build time against the number of postings, by stage, cold, warm and
  from a label pack.

Every panel names the CPU model and its speed flags from the result file, so a curve is never read without the
machine it was measured on.

    python bench/plot.py --load bench/results/load-curve.json --build bench/results/build-curve.json --out docs
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def cpu_kind(report: dict[str, Any]) -> str:
    """The instruction set of a result file's CPU, short: the widest vector and int8 flags ("AVX2 (emulated)")."""
    cpu = report.get("machine", {}).get("cpu", {})
    flags = set(cpu.get("flags", []))
    kind = (
        "AVX-512 + VNNI"
        if {"avx512f", "avx512_vnni"} <= flags
        else "AVX-512"
        if "avx512f" in flags
        else "AVX2"
        if "avx2" in flags
        else ", ".join(sorted(flags)) or "flags unknown"
    )
    return f"{kind} (emulated)" if "(emulated" in cpu.get("model", "") else kind


def cpu_label(report: dict[str, Any]) -> str:
    """The CPU of a result file, short: model, usable cores, the widest vector and int8 flags."""
    cpu = report.get("machine", {}).get("cpu", {})
    return f"{cpu.get('model', '?')}, {cpu.get('usable_cpus', '?')} cores, {cpu_kind(report).removesuffix(' (emulated)')}"


def median_phases(phases: list[dict[str, Any]]) -> list[tuple[int, dict[str, float]]]:
    """Per concurrency, the median of each phase figure over the rounds of a run (one round: its figures)."""
    out = []
    for conc in sorted({p["concurrency"] for p in phases}):
        same = [p for p in phases if p["concurrency"] == conc]
        out.append(
            (
                conc,
                {k: statistics.median(p[k] for p in same) for k in ("throughput_rps", "p99_ms", "mean_ms")},
            )
        )
    return out


def plot_load(reports: list[tuple[str, dict[str, Any]]], out: Path) -> Path:
    """Three panels: requests/s (new, repeat, ceiling), new/ceiling, p99 latency, against concurrency."""
    fig, (rate_ax, ratio_ax, p99_ax) = plt.subplots(1, 3, figsize=(15, 5.6))
    cpus = {cpu_label(report) for _, report in reports}
    shared_cpu = len(cpus) == 1
    for i, (name, report) in enumerate(reports):
        colour = plt.get_cmap("tab10")(i % 10)  # one colour per run, in every panel
        machine = "" if shared_cpu else f"{cpu_kind(report)}, "
        label = f"{name} ({machine}{report['encoder']['backend']})"
        phases = report["phases"]
        for kind, style in (("recommendations/new", "-o"), ("recommendations/repeat", "--s")):
            rows = median_phases([p for p in phases if p["name"] == kind])
            if rows:
                rate_ax.plot(
                    [c for c, _ in rows],
                    [p["throughput_rps"] for _, p in rows],
                    style,
                    color=colour,
                    label=f"{kind.split('/')[1]}: {label}",
                )
            if rows and kind.endswith("new"):
                p99_ax.plot(
                    [c for c, _ in rows],
                    [p["p99_ms"] for _, p in rows],
                    style,
                    color=colour,
                    label=f"p99: {label}",
                )
                p99_ax.plot(
                    [c for c, _ in rows],
                    [p["mean_ms"] for _, p in rows],
                    ":",
                    color=colour,
                    label=f"mean: {label}",
                )
        rate_ax.axhline(
            report["ceiling"]["requests_per_s"], linestyle=":", color=colour, label=f"encoder ceiling: {name}"
        )
        ratios = report["ratios"]
        spread = [(r.get("spread") or {}).get("new_vs_ceiling") for r in ratios]
        if all(spread) and any(r.get("rounds", 1) > 1 for r in ratios):  # several rounds: lowest-highest bars
            ratio_ax.errorbar(
                [r["concurrency"] for r in ratios],
                [r["new_vs_ceiling"] for r in ratios],
                yerr=[
                    [r["new_vs_ceiling"] - lo for r, (lo, _) in zip(ratios, spread, strict=True)],
                    [hi - r["new_vs_ceiling"] for r, (_, hi) in zip(ratios, spread, strict=True)],
                ],
                fmt="-o",
                color=colour,
                capsize=3,
                label=f"{label}, median and range of {max(r.get('rounds', 1) for r in ratios)} rounds",
            )
        else:
            ratio_ax.plot(
                [r["concurrency"] for r in ratios],
                [r["new_vs_ceiling"] for r in ratios],
                "-o",
                color=colour,
                label=label,
            )
    ratio_ax.axhline(0.85, color="red", linestyle="--", label="target 0.85")
    for ax, title, ylabel in (
        (rate_ax, "Recommendations: throughput", "requests/s"),
        (ratio_ax, "All-new phrases: fraction of the encoder ceiling", "fraction"),
        (p99_ax, "All-new phrases: latency", "ms"),
    ):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent requests")
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=1)
    ratio_ax.set_ylim(0, 1.1)
    fig.suptitle("; ".join(sorted(cpus)), fontsize=10)
    fig.tight_layout()
    path = out / "performance-load.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_build(reports: list[tuple[str, dict[str, Any]]], out: Path) -> Path:
    """Build seconds against postings (log-log), one line per phase, and the cold build's stages stacked."""
    fig, (total_ax, stage_ax) = plt.subplots(1, 2, figsize=(12, 5.8))
    all_stages = sorted({s for _, rep in reports for r in rep["runs"] for s in r["timings_s"]})
    colours = {stage: plt.get_cmap("tab10")(i % 10) for i, stage in enumerate(all_stages)}
    labelled: set[str] = set()
    for name, report in reports:
        runs = report["runs"]
        for phase, style in (("cold", "-o"), ("warm", "--s"), ("pack", ":^")):
            rows = sorted((r["postings"], r["total_s"]) for r in runs if r["phase"] == phase)
            if rows:
                total_ax.plot(*zip(*rows, strict=True), style, label=f"{phase}: {name} ({cpu_label(report)})")
        cold = sorted((r["postings"], r) for r in runs if r["phase"] == "cold")
        if cold:
            stages = sorted({s for _, r in cold for s in r["timings_s"]})
            xs = [str(n) for n, _ in cold]
            bottom = [0.0] * len(cold)
            for stage in stages:
                values = [r["timings_s"].get(stage, 0.0) for _, r in cold]
                label = None if stage in labelled else stage
                labelled.add(stage)
                stage_ax.bar(xs, values, bottom=bottom, label=label, color=colours[stage])
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    stage_ax.set_title(f"Cold build by stage: {', '.join(name for name, _ in reports)}", fontsize=9)
    total_ax.set_xscale("log")
    total_ax.set_yscale("log")
    total_ax.set_xlabel("postings")
    total_ax.set_ylabel("seconds (wall)")
    total_ax.set_title("Full-ESCO build time against postings", fontsize=10)
    total_ax.grid(alpha=0.3, which="both")
    total_ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    stage_ax.set_xlabel("postings")
    stage_ax.set_ylabel("seconds")
    stage_ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    fig.tight_layout()
    path = out / "performance-build.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def read(specs: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """``NAME=FILE`` or ``FILE`` (named after the file) -> (name, report)."""
    out = []
    for spec in specs:
        name, _, file = spec.rpartition("=")
        path = Path(file)
        out.append((name or path.stem, json.loads(path.read_text())))
    return out


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and write the PNG files."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--load", nargs="*", default=[], help="bench/load.py JSON results ([NAME=]FILE).")
    parser.add_argument("--build", nargs="*", default=[], help="bench/build.py JSON results ([NAME=]FILE).")
    parser.add_argument(
        "--out", type=Path, default=Path("docs"), help="Folder of the PNG files (default docs)."
    )
    args = parser.parse_args(argv)
    if not args.load and not args.build:
        parser.error("give --load and/or --build result files")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.load:
        print(plot_load(read(args.load), args.out))
    if args.build:
        print(plot_build(read(args.build), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
