"""Batch linking throughput: the same N postings with ``--engine local`` and ``--engine ray`` (1 and 2 workers).

    python bench/batch.py --bundle /tmp/esco --postings 200 --out bench/results/batch-200.json

Each configuration runs in a child process (a fresh Ray for each Ray run). While it runs, /proc is sampled every
0.25 s for the child (the driver) and the Ray linking actors (``ray::MapWorker``): their CPU time and peak
resident memory (VmHWM). Reported per configuration: rows/s over the linking phase (actor start-up included for
Ray) and over the whole command, CPU seconds per row (driver + actors; Ray's own daemons left out) and the peak
memory of each process. The result JSON records the CPU model and flags (lscpu) and an extrapolation to 10
million postings on a 32-core cluster from the measured CPU time per row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import SHARED, busy_processes, machine

CONFIGS = [
    {"name": "local", "engine": "local", "workers": 1},
    {"name": "ray-1", "engine": "ray", "workers": 1},
    {"name": "ray-2", "engine": "ray", "workers": 2},
]


def lscpu() -> dict[str, str]:
    """CPU model, cores and flags from ``lscpu`` (empty where it is missing)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    keep = ("Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "Flags", "L3 cache")
    return {k: fields[k].strip() for k in keep if k in fields}


def _proc(pid: int) -> tuple[float, float, str] | None:
    """CPU seconds, peak RSS (MiB) and command line of a process (None once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK"), hwm / 1024, cmd


class Sampler(threading.Thread):
    """Samples the driver and the Ray linking actors until stopped; keeps each process's last figures."""

    def __init__(self, driver: int) -> None:
        super().__init__(daemon=True)
        self.driver = driver
        self.seen: dict[int, dict[str, Any]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                pid = int(entry.name)
                facts = _proc(pid)
                if facts is None:
                    continue
                cpu, peak, cmd = facts
                if pid == self.driver or "MapWorker" in cmd:
                    role = "driver" if pid == self.driver else "actor"
                    self.seen[pid] = {"role": role, "cpu_s": round(cpu, 2), "peak_rss_mib": round(peak, 1)}


def run_one(config: dict[str, Any], bundle: str, source: str, out: str, batch_size: int) -> dict[str, Any]:
    """One configuration in this process (the child): link ``source`` into ``out``; returns timings."""
    from skillmatch.batch import BatchOptions, link_postings_batch

    start = time.perf_counter()
    options = BatchOptions(engine=config["engine"], workers=config["workers"], batch_size=batch_size)
    run = link_postings_batch(bundle, source, out, options=options)
    return {"total_s": round(time.perf_counter() - start, 2), "link_s": run["seconds"], "rows": run["counts"]}


def measure(config: dict[str, Any], bundle: Path, source: Path, rows: int, batch_size: int) -> dict[str, Any]:
    """Run one configuration in a child process while sampling it and its actors."""
    with tempfile.TemporaryDirectory() as tmp:
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                json.dumps(config),
                str(bundle),
                str(source),
                str(Path(tmp) / "out"),
                str(batch_size),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        sampler = Sampler(child.pid)
        sampler.start()
        stdout, _ = child.communicate()
        sampler.stop.set()
        sampler.join()
    if child.returncode:
        raise SystemExit(f"{config['name']} failed with status {child.returncode}")
    timing = json.loads(stdout.strip().splitlines()[-1])
    procs = list(sampler.seen.values())
    cpu = sum(p["cpu_s"] for p in procs)
    return {
        **config,
        **timing,
        "rows_per_s_link": round(rows / timing["link_s"], 2),
        "rows_per_s_total": round(rows / timing["total_s"], 2),
        "cpu_s_per_row": round(cpu / rows, 4),
        "processes": procs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, help="bundle folder (full ESCO for real figures)")
    parser.add_argument("--postings", type=int, default=200, help="postings rebuilt from SkillSpan")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config, bundle, source, out, batch_size = args.child
        sys.stdout.write(json.dumps(run_one(json.loads(config), bundle, source, out, int(batch_size))) + "\n")
        return

    if args.bundle is None:
        parser.error("--bundle is required")
    from skillmatch.evaluation.benchmarks import skillspan_postings

    busy = busy_processes()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "postings.parquet"
        postings = skillspan_postings(SHARED / "postings" / "skillspan" / "train.json", count=args.postings)
        postings.to_parquet(source, index=False)
        results = [measure(c, args.bundle, source, len(postings), args.batch_size) for c in CONFIGS]
    best = max(results, key=lambda r: r["rows_per_s_link"])
    cpu_per_row = min(r["cpu_s_per_row"] for r in results)
    cores, target = 32, 10_000_000
    hours = target * cpu_per_row / cores / 3600
    report = {
        "postings": len(postings),
        "batch_size": args.batch_size,
        "bundle": str(args.bundle),
        "machine": machine(),
        "lscpu": lscpu(),
        "busy_processes_at_start": busy,
        "results": results,
        "extrapolation": {
            "postings": target,
            "cores": cores,
            "cpu_s_per_row": cpu_per_row,
            "hours_at_full_use": round(hours, 2),
            "assumes": "the lowest measured CPU seconds per row (driver + actors), 32 actors kept busy, "
            "one actor per core; actor start-up (seconds) and the driver's planning are not counted",
        },
        "best": best["name"],
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    for r in results:
        peaks = ", ".join(f"{p['role']} {p['peak_rss_mib']:.0f} MiB" for p in r["processes"])
        print(
            f"{r['name']:<6} link {r['rows_per_s_link']:7.2f} rows/s, whole command {r['rows_per_s_total']:7.2f} "
            f"rows/s, CPU {r['cpu_s_per_row'] * 1000:6.1f} ms/row; peak RSS: {peaks}"
        )
    print(f"10M postings on 32 cores: about {hours:.1f} h of linking at {cpu_per_row * 1000:.1f} CPU-ms/row")


if __name__ == "__main__":
    main()
