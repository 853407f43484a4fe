"""Where a recommendation's CPU goes, thread by thread: the API in this process, requests sent one at a time.

The app is served in-process (``httpx.ASGITransport``, no sockets) with the environment's settings and sent
``--requests`` recommendations of ``bench/load.py``'s kinds (``new``: every phrase encoded; ``repeat``: phrases
from a pool). The CPU time of every thread of the process is read from ``/proc/self/task`` before and after, and
reported per request next to what the route, the library call and the encoder spend (thread CPU, measured inside
them). Threads are named: the event loop (which also runs this client), AnyIO's request threads, the encoder's
thread, and threads that Python does not know (native pools of ONNX Runtime, FAISS's OpenMP, BLAS). A native
thread with CPU here is work the request pays for outside any measured call: this is how a FAISS OpenMP team
spinning in every request thread (5 ms per new-phrase request) was found (docs/performance.md).

    python bench/request_cpu.py --bundle /tmp/esco-1000
    python bench/request_cpu.py --bundle /tmp/esco-1000 --mode repeat --requests 600 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from common import cpu_line, machine, print_table
from load import PhraseMaker, _roles_and_labels, pool_warmup, recommendation_payloads

_TICK = os.sysconf("SC_CLK_TCK")

#: The calls timed inside (owner, attribute, label), in the order they are printed.
CALLS = [
    ("route", "_recommend", "route (event loop or request thread)"),
    ("library", "recommend", "  library recommend (same thread)"),
    ("onnx", "run", "ONNX Runtime session.run (any thread)"),
]


def thread_cpu() -> dict[int, float]:
    """CPU seconds of each thread of this process, by native thread id."""
    out: dict[int, float] = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except FileNotFoundError:  # the thread ended
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


def thread_kind(name: str) -> str:
    """The kind of a thread from its Python name (``native`` when Python does not know it)."""
    if name == "MainThread":
        return "event loop + client"
    if name.startswith("AnyIO worker"):
        return "request threads"
    if name.startswith("skillmatch-encoder"):
        return "encoder thread"
    return "native (not Python)" if name == "?" else f"other Python ({name})"


class Timers:
    """Thread CPU spent inside wrapped callables, summed per label."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        """Replace ``owner.name`` by a version that adds its thread CPU time under ``label``."""
        inner: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[label] += time.thread_time() - start

        setattr(owner, name, timed)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Serve the app in-process, send the requests one at a time, return CPU per request by thread and call."""
    os.environ["SKILLMATCH_BUNDLE"] = str(args.bundle)
    os.environ.setdefault("SKILLMATCH_API_MAX_TEXTS", str(max(100, args.skills)))
    import onnxruntime

    import skillmatch.api.routers.learners as learners
    from skillmatch.api.app import app_from_env
    from skillmatch.facade import Skillmatch

    timers = Timers()
    for owner, name, label in CALLS:
        timers.wrap(
            {"route": learners, "library": Skillmatch, "onnx": onnxruntime.InferenceSession}[owner],
            name,
            label,
        )

    bundle = Path(args.bundle)
    _, _, labels = _roles_and_labels(bundle)
    maker = PhraseMaker(labels, args.seed)
    warm = recommendation_payloads(bundle, args.warmup, args.skills, args.seed + 100, mode="labels")
    payloads = recommendation_payloads(
        bundle, args.requests, args.skills, args.seed, mode=args.mode, maker=maker, pool=args.pool
    )
    if args.mode == "repeat":  # each phrase of the pool seen once first, as in bench/load.py
        warm += pool_warmup(payloads, args.skills)
    app = app_from_env()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for payload in warm:
                (await client.post("/v1/recommendations", json=payload)).raise_for_status()
            timers.seconds.clear()
            before = thread_cpu()
            start = time.process_time()
            for payload in payloads:
                (await client.post("/v1/recommendations", json=payload)).raise_for_status()
            process_s = time.process_time() - start
            after = thread_cpu()
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
    by_kind: dict[str, float] = defaultdict(float)
    for tid, seconds in after.items():
        by_kind[thread_kind(names.get(tid, "?"))] += seconds - before.get(tid, 0.0)
    n = len(payloads)
    return {
        "machine": machine(),
        "mode": args.mode,
        "requests": n,
        "skills_per_request": args.skills,
        "process_cpu_ms_per_request": round(1000 * process_s / n, 2),
        "threads_cpu_ms_per_request": {
            k: round(1000 * v / n, 2) for k, v in sorted(by_kind.items()) if v > 0
        },
        "calls_cpu_ms_per_request": {
            label: round(1000 * timers.seconds[label] / n, 2) for _, _, label in CALLS
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and print the breakdown (optionally write it as JSON)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, required=True, help="Bundle folder to serve.")
    parser.add_argument(
        "--mode", choices=["new", "repeat"], default="new", help="Kind of phrases (load.py's)."
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--skills", type=int, default=5, help="Skill phrases per request (default 5).")
    parser.add_argument("--pool", type=int, default=300, help="Phrase pool of the repeat mode.")
    parser.add_argument("--warmup", type=int, default=30, help="Unmeasured requests first (default 30).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="Also write the result as JSON here.")
    args = parser.parse_args(argv)
    report = asyncio.run(measure(args))
    print(cpu_line(report["machine"]))
    print(
        f"{report['requests']} {args.mode} recommendations of {args.skills} phrases, one at a time, in-process: "
        f"{report['process_cpu_ms_per_request']} ms of CPU each"
    )
    print_table(
        ["thread", "CPU ms per request"],
        [[kind, f"{ms:.2f}"] for kind, ms in report["threads_cpu_ms_per_request"].items()],
    )
    print_table(
        ["inside calls (thread CPU)", "ms per request"],
        [[label, f"{ms:.2f}"] for label, ms in report["calls_cpu_ms_per_request"].items()],
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
