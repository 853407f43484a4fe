"""Helpers shared by the benchmark scripts: machine facts, load snapshots, medians and table printing."""

from __future__ import annotations

import os
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path
from typing import Any

#: The repository root (benchmarks read ../shared/data relative to it).
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def version(package: str) -> str:
    """The installed version of ``package`` (or "not installed")."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """The CPU (model, architecture, speed flags: :func:`skillmatch.cpu.cpu_info`), CPU count, memory, Python and
    the versions of the libraries that matter for speed."""
    from skillmatch.cpu import cpu_info, cpu_signature

    return {
        "cpu": {**cpu_info(), "signature": cpu_signature()},
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            p: version(p)
            for p in ("torch", "onnxruntime", "sentence-transformers", "faiss-cpu", "tokenizers", "numpy")
        },
    }


def _cpu_ticks() -> dict[int, tuple[int, str]]:
    """CPU ticks (user + system) and command line of every process (Linux /proc)."""
    out: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        out[int(entry.name)] = (int(fields[11]) + int(fields[12]), cmd)
    return out


def busy_processes(min_cpu: float = 20.0, interval: float = 1.0) -> list[str]:
    """Other processes that used more than ``min_cpu`` % of one core over the next ``interval`` seconds."""
    if not Path("/proc/self/stat").exists():
        return []
    hz = os.sysconf("SC_CLK_TCK")
    first = _cpu_ticks()
    time.sleep(interval)
    second = _cpu_ticks()
    out = []
    for pid, (ticks, cmd) in second.items():
        if pid == os.getpid() or pid not in first or not cmd:
            continue
        cpu = 100 * (ticks - first[pid][0]) / hz / interval
        if cpu >= min_cpu:
            out.append((cpu, f"{pid} {cpu:.0f}% {cmd[:100]}"))
    return [text for _, text in sorted(out, reverse=True)]


def load_snapshot() -> dict[str, Any]:
    """The 1/5/15-minute load averages and the other busy processes, to report beside each figure."""
    one, five, fifteen = os.getloadavg()
    return {"load": [round(one, 2), round(five, 2), round(fifteen, 2)], "busy": busy_processes()}


def median(values: list[float]) -> float:
    """The median, rounded to 3 decimals."""
    return round(statistics.median(values), 3)


def cpu_line(info: dict[str, Any]) -> str:
    """One line naming the CPU of a :func:`machine` record: model, architecture, speed flags."""
    cpu = info.get("cpu", {})
    flags = " ".join(cpu.get("flags", [])) or "flags unknown"
    return f"CPU: {cpu.get('model', '?')} ({cpu.get('arch', '?')}, {cpu.get('usable_cpus', '?')} usable); {flags}"


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """Print a plain, right-aligned table (first column left-aligned)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        print(line)
        if n == 0:
            print("  ".join("-" * w for w in widths))


def settings_overrides(**values: Any) -> dict[str, Any]:
    """The settings given on a benchmark's command line (``SKILLMATCH_*`` field -> value), leaving out the options
    that were not given (None), so the environment and the defaults apply to those."""
    return {k: v for k, v in values.items() if v is not None}
