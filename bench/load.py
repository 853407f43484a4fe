"""Load test of the API: start the server on a bundle, send a bounded number of requests, report latency.

Starts ``python -m skillmatch.api`` on 127.0.0.1 (a free port) in a subprocess, waits for ``/ready``, warms up,
then sends ``--requests`` POST /v1/recommendations (each with ``--skills`` skills drawn from a role's profile and
the taxonomy, and one target role) and ``--extract-requests`` POST /v1/skills/extract (one posting or outcome
text each) at ``--concurrency`` with httpx, and prints p50/p95/p99 latency, throughput, errors and the server's
resident memory (current and peak, summed over its worker processes). Payloads are drawn with a fixed seed.

    python bench/load.py --bundle models/bundles/demo
    python bench/load.py --bundle /tmp/esco-lead --requests 500 --json bench-esco.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd


@dataclass
class PhaseResult:
    """Latencies and errors of one phase."""

    name: str
    requests: int
    concurrency: int
    seconds: float
    errors: int
    error_samples: list[str] = field(default_factory=list)
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    mean_ms: float = 0.0
    max_ms: float = 0.0
    throughput_rps: float = 0.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    out = [int(c) for c in text.split()]
    return out + [g for c in out for g in _children(c)]


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_memory_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process and its descendants, in MiB (Linux /proc; 0 elsewhere)."""
    pids = [pid, *_children(pid)]
    rss = sum(_status_kib(p, "VmRSS") for p in pids)
    peak = sum(_status_kib(p, "VmHWM") for p in pids)
    return round(rss / 1024, 1), round(peak / 1024, 1)


def recommendation_payloads(bundle: Path, n: int, skills: int, seed: int) -> list[dict[str, Any]]:
    """``n`` recommendation requests: a role with a profile, and ``skills`` skills (half from its profile)."""
    rng = random.Random(seed)
    profiles = pd.read_parquet(bundle / "role_profiles.parquet")
    concepts = pd.read_parquet(bundle / "concepts.parquet")
    labels = dict(zip(concepts["id"], concepts["label"], strict=True))
    by_role = {
        rid: [labels[s] for s in g["skill_id"] if s in labels] for rid, g in profiles.groupby("role_id")
    }
    roles = sorted(r for r, s in by_role.items() if len(s) >= 2)
    if not roles:
        raise SystemExit(f"{bundle}: no role has a skill profile; cannot build recommendation requests")
    all_labels = sorted(labels.values())
    out = []
    for _ in range(n):
        role = rng.choice(roles)
        own = rng.sample(by_role[role], min(len(by_role[role]), (skills + 1) // 2))
        other = rng.sample(all_labels, skills - len(own))
        out.append({"roles": [role], "skills": own + other, "max_hours": 120, "languages": ["en"]})
    return out


def extract_payloads(bundle: Path, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` extraction requests of one text each (posting descriptions, else learning outcomes)."""
    rng = random.Random(seed + 1)
    texts: list[str] = []
    postings = pd.read_parquet(bundle / "postings.parquet")
    texts += [str(t)[:1500] for t in postings["description"] if isinstance(t, str) and t.strip()]
    if not texts:
        outcomes = pd.read_parquet(bundle / "outcomes.parquet")
        texts += [str(t) for t in outcomes["text"] if str(t).strip()]
    if not texts:
        raise SystemExit(f"{bundle}: no posting or outcome text to extract from")
    return [{"texts": [rng.choice(texts)], "top_k": 10} for _ in range(n)]


async def run_phase(
    client: httpx.AsyncClient, name: str, path: str, payloads: list[dict[str, Any]], concurrency: int
) -> PhaseResult:
    """Send every payload to ``path`` with at most ``concurrency`` requests in flight."""
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)

    async def worker() -> None:
        while True:
            try:
                payload = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            try:
                r = await client.post(path, json=payload)
                if r.status_code != 200:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{exc.__class__.__name__}: {exc}")
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return PhaseResult(
        name=name,
        requests=len(payloads),
        concurrency=concurrency,
        seconds=round(seconds, 2),
        errors=len(errors),
        error_samples=errors[:5],
        p50_ms=round(float(np.percentile(ms, 50)), 1),
        p95_ms=round(float(np.percentile(ms, 95)), 1),
        p99_ms=round(float(np.percentile(ms, 99)), 1),
        mean_ms=round(float(ms.mean()), 1),
        max_ms=round(float(ms.max()), 1),
        throughput_rps=round(len(payloads) / seconds, 1),
    )


async def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float) -> dict[str, Any]:
    """Poll ``/ready`` until it answers 200 (or fail if the server exits or the timeout passes)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited with code {proc.returncode} before it was ready")
            try:
                r = await client.get("/ready")
                if r.status_code == 200:
                    return r.json()
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise SystemExit(f"the server was not ready after {timeout:.0f} s")


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, run the phases, stop the server; returns the report."""
    bundle = Path(args.bundle).resolve()
    rec = recommendation_payloads(bundle, args.requests + args.warmup, args.skills, args.seed)
    ext = extract_payloads(bundle, args.extract_requests + args.warmup, args.seed)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SKILLMATCH_BUNDLE": str(bundle),
        "SKILLMATCH_API_HOST": "127.0.0.1",
        "SKILLMATCH_API_PORT": str(port),
        "SKILLMATCH_API_WORKERS": str(args.workers),
        "SKILLMATCH_API_MAX_TEXTS": str(max(100, args.skills)),
        "HF_HUB_OFFLINE": "1",
    }
    log = tempfile.NamedTemporaryFile(prefix="skillmatch-bench-", suffix=".log", delete=False)  # noqa: SIM115
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "skillmatch.api"], env=env, stdout=log, stderr=log)
    try:
        ready = await wait_ready(base, proc, args.startup_timeout)
        startup_s = round(time.perf_counter() - started, 1)
        rss_loaded, _ = server_memory_mib(proc.pid)
        limits = httpx.Limits(
            max_connections=args.concurrency * 2, max_keepalive_connections=args.concurrency * 2
        )
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            await run_phase(client, "warm-up", "/v1/recommendations", rec[: args.warmup], args.concurrency)
            await run_phase(client, "warm-up", "/v1/skills/extract", ext[: args.warmup], args.concurrency)
            phases = [
                await run_phase(
                    client, "recommendations", "/v1/recommendations", rec[args.warmup :], args.concurrency
                )
            ]
            if args.extract_requests:
                phases.append(
                    await run_phase(
                        client, "skills/extract", "/v1/skills/extract", ext[args.warmup :], args.concurrency
                    )
                )
        rss_after, rss_peak = server_memory_mib(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return {
        "bundle": str(bundle),
        "counts": ready["bundle"]["counts"],
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            "workers": args.workers,
            "concurrency": args.concurrency,
            "skills_per_request": args.skills,
            "warmup": args.warmup,
            "seed": args.seed,
        },
        "startup_s": startup_s,
        "server_rss_mib": {"after_load": rss_loaded, "after_run": rss_after, "peak": rss_peak},
        "phases": [asdict(p) for p in phases],
        "server_log": log.name,
    }


def print_report(report: dict[str, Any]) -> None:
    """A readable summary on standard output."""
    m = report["machine"]
    print(
        f"bundle {report['bundle']}  ({report['counts'].get('concepts')} concepts, "
        f"{report['counts'].get('credentials')} credentials, {report['counts'].get('roles')} roles)"
    )
    print(
        f"machine: {m['cpus']} CPUs, {m['memory_gib']} GiB; workers {report['settings']['workers']}; "
        f"server ready after {report['startup_s']} s"
    )
    print(
        f"{'phase':<18}{'requests':>9}{'conc':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'req/s':>8}{'errors':>8}"
    )
    for p in report["phases"]:
        print(
            f"{p['name']:<18}{p['requests']:>9}{p['concurrency']:>6}{p['p50_ms']:>9}{p['p95_ms']:>9}"
            f"{p['p99_ms']:>9}{p['max_ms']:>9}{p['throughput_rps']:>8}{p['errors']:>8}"
        )
        for sample in p["error_samples"]:
            print(f"    error: {sample}")
    rss = report["server_rss_mib"]
    print(
        f"server RSS: {rss['after_load']} MiB after load, {rss['after_run']} MiB after the run, "
        f"peak {rss['peak']} MiB (server log: {report['server_log']})"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print (and optionally save) the report; exit 1 on any error."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", required=True, type=Path, help="Bundle folder to serve.")
    parser.add_argument("--requests", type=int, default=2000, help="Recommendation requests (default 2000).")
    parser.add_argument(
        "--extract-requests", type=int, default=500, help="Extraction requests (default 500)."
    )
    parser.add_argument("--concurrency", type=int, default=8, help="Requests in flight (default 8).")
    parser.add_argument(
        "--skills", type=int, default=5, help="Skills per recommendation request (default 5)."
    )
    parser.add_argument("--workers", type=int, default=1, help="Server worker processes (default 1).")
    parser.add_argument("--warmup", type=int, default=20, help="Unmeasured requests per phase (default 20).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--startup-timeout", type=float, default=600, help="Seconds to wait for /ready.")
    parser.add_argument("--json", type=Path, help="Also write the report as JSON here.")
    args = parser.parse_args(argv)
    if not (args.bundle / "manifest.json").is_file():
        parser.error(f"{args.bundle} is not a skillmatch bundle (no manifest.json)")
    if min(args.requests, args.concurrency, args.skills, args.workers) < 1 or args.extract_requests < 0:
        parser.error("--requests, --concurrency, --skills and --workers must be >= 1")
    report = asyncio.run(bench(args))
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(p["errors"] for p in report["phases"]) else 0


if __name__ == "__main__":
    sys.exit(main())
