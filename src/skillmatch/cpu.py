"""What CPU this process runs on: model, the instruction-set flags that decide encoder speed, and core count.

Encoder speed depends more on the CPU than on anything in the code (block-wise int8 was 30 % faster than float32
on an AVX-512/VNNI Xeon and 1.6x slower on an AVX2-only EPYC; docs/performance.md). So every benchmark result
records :func:`cpu_info`, and the encoder choice of ``auto`` (:mod:`skillmatch.encoding.selection`) is cached
under :func:`cpu_signature`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from functools import cache
from pathlib import Path
from typing import Any

#: Flags that matter for the encoder's kernels (x86: vector widths, int8/bf16 dot products, AMX; Arm: NEON,
#: dot product, SVE, bf16, int8 matrix multiply). Only these are kept, so a signature does not change with
#: unrelated flags (e.g. a new kernel's mitigation bits).
SPEED_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "sve",
    "sve2",
    "bf16",
    "i8mm",
)


def read_cpuinfo(path: Path) -> tuple[str, set[str]]:
    """(model name, flags) from a ``/proc/cpuinfo``-style file (empty when unreadable)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "", set()
    model, flags = "", set[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if not model and key in {"model name", "cpu model", "processor name"}:
            model = value.strip()
        elif not flags and key in {"flags", "features"}:
            flags = set(value.split())
        if model and flags:
            break
    return model, flags


@cache
def cpu_info(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, Any]:
    """The CPU's model, architecture, logical CPUs this process may use, and its :data:`SPEED_FLAGS`.

    Reads ``/proc/cpuinfo`` on Linux; elsewhere the model is ``platform.processor()`` and the flags are unknown
    (an empty list).
    """
    model, flags = read_cpuinfo(cpuinfo)
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    return {
        "model": model or platform.processor() or "unknown",
        "arch": platform.machine(),
        "logical_cpus": os.cpu_count() or 1,
        "usable_cpus": usable,
        "flags": [f for f in SPEED_FLAGS if f in flags],
    }


def cpu_signature(info: dict[str, Any] | None = None) -> str:
    """A short digest of :func:`cpu_info` (model, architecture, usable CPUs, speed flags).

    Two machines with the same signature run the encoder kernels the same way, so a timing measured on one
    stands for the other.
    """
    info = info or cpu_info()
    keep = {k: info[k] for k in ("model", "arch", "usable_cpus", "flags")}
    return hashlib.sha1(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:12]
