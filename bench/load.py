"""Load test of the API: start the server on a bundle, send a bounded number of requests, report latency.

Starts ``python -m skillmatch.api`` on 127.0.0.1 (a free port) in a subprocess, waits for ``/ready``, warms up,
then for each concurrency in ``--concurrency`` runs three phases and prints p50/p95/p99 latency,
throughput and errors of each, and the server's resident memory (current and peak, summed over its worker
processes):

* ``recommendations/new``: ``--requests`` POST /v1/recommendations, each with ``--skills`` skill phrases that the
  server has never seen (each phrase of the run is unique and is not a taxonomy label: it is a label with a
  qualifier such as "hands-on" or "experience with"), so every phrase is encoded: the worst case;
* ``recommendations/repeat``: the same number of requests whose phrases are drawn from a pool of
  ``--pool`` phrases (half plain labels, half qualified) with Zipf-like frequencies, as in real traffic where
  popular skills come back again and again. Every phrase of the phase is sent once before it, unmeasured
  (:func:`pool_warmup`), so the phase measures phrases the server has seen (before 30 Nov the first sighting of
  each qualified phrase was encoded inside the phase: 14 % of its requests waited for the encoder at c = 8);
* ``skills/extract``: ``--extract-requests`` POST /v1/skills/extract with one posting text each.

The requests go out through a lean keep-alive HTTP/1.1 client (``bench/rawhttp.py``, one connection per request
in flight, bodies serialised before the clock starts) on uvloop: the load generator shares the machine, and httpx
took 1.3-1.8 ms of CPU per request from it (``--client httpx`` still uses it, for comparison).

``--rounds N`` sweeps the concurrencies N times in the same server; the ratios are then medians over the sweeps,
with their lowest and highest (one sweep moved a point by ±0.05 on the development VM).

The figures that count are ratios measured in the same run, because absolute ones move with the CPU: before and
after the phases (and between rounds), with the server idle, the **encoder ceiling** is measured in this process (the server's backend
and encoder threads, as ``/ready`` reports them, encoding new phrases of the same kind back to back), and each
concurrency's all-new throughput is reported as a fraction of the requests/s that ceiling allows, with p99/mean
latency and repeat/new throughput, against the targets in :data:`TARGETS`. The CPU model and flags are in every
result.

Each recommendation has one target role (among roles with a skill profile) and skills half from that role's
profile, half anywhere in the taxonomy. Payloads are drawn with a fixed seed. Server settings come from the
environment (e.g. ``SKILLMATCH_ENCODER_BACKEND=torch``) or ``--env KEY=VALUE``.

    python bench/load.py --bundle models/bundles/demo
    python bench/load.py --bundle /tmp/esco-1000 --concurrency 1 8 --json bench/load-esco.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pandas as pd
from common import cpu_line, load_snapshot, machine
from rawhttp import Connection, HttpError

from skillmatch.config import get_settings


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
    client_cpu_ms: float = 0.0  # CPU time of this load generator per request (it shares the machine)
    server_cpu_ms: float = 0.0  # CPU time of the server (all its processes and threads) per request
    round: int = 0  # which of the ``--rounds`` sweeps over the concurrencies this phase belongs to


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    """Descendants of ``pid``: a child started from any of its threads (the encoder's process is) counts."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    for task in tasks:
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out + [g for c in out for g in _children(c)]


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants so far, in seconds (Linux /proc; 0 elsewhere)."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / os.sysconf("SC_CLK_TCK")


def server_memory_mib(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process and its descendants, in MiB (Linux /proc; 0 elsewhere)."""
    pids = [pid, *_children(pid)]
    rss = sum(_status_kib(p, "VmRSS") for p in pids)
    peak = sum(_status_kib(p, "VmHWM") for p in pids)
    return round(rss / 1024, 1), round(peak / 1024, 1)


#: Qualifiers that turn a label into a phrase the server has not seen (and that is not a label itself).
QUALIFIERS = [
    "hands-on {}",
    "experience with {}",
    "basic {}",
    "advanced {}",
    "strong {} skills",
    "{} (self-taught)",
    "practical {}",
    "some {}",
    "good knowledge of {}",
    "{} in practice",
]


class PhraseMaker:
    """Makes skill phrases from labels; ``fresh`` never returns a phrase twice in one run."""

    def __init__(self, labels: list[str], seed: int) -> None:
        self.labels = set(labels)
        self.lower = {label.lower() for label in labels}
        self.used: set[str] = set()
        self.rng = random.Random(seed)

    def fresh(self, label: str) -> str:
        """A qualified form of ``label`` not used before and not a label itself."""
        for template in self.rng.sample(QUALIFIERS, len(QUALIFIERS)):
            phrase = template.format(label)
            if phrase not in self.used and phrase.lower() not in self.lower:
                self.used.add(phrase)
                return phrase
        n = 2
        while f"{label} ({n})" in self.used:
            n += 1
        self.used.add(f"{label} ({n})")
        return f"{label} ({n})"


def _roles_and_labels(bundle: Path) -> tuple[dict[str, list[str]], list[str], list[str]]:
    profiles = pd.read_parquet(bundle / "role_profiles.parquet")
    concepts = pd.read_parquet(bundle / "concepts.parquet")
    labels = dict(zip(concepts["id"], concepts["label"], strict=True))
    by_role = {
        rid: [labels[s] for s in g["skill_id"] if s in labels] for rid, g in profiles.groupby("role_id")
    }
    roles = sorted(r for r, s in by_role.items() if len(s) >= 2)
    if not roles:
        raise SystemExit(f"{bundle}: no role has a skill profile; cannot build recommendation requests")
    return by_role, roles, sorted(labels.values())


def recommendation_payloads(
    bundle: Path,
    n: int,
    skills: int,
    seed: int,
    *,
    mode: str = "labels",
    pool: int = 300,
    maker: PhraseMaker | None = None,
) -> list[dict[str, Any]]:
    """``n`` recommendation requests: a role with a profile, and ``skills`` skills (half from its profile).

    ``mode`` "labels": the skills are preferred labels; "new": every phrase is new (see :class:`PhraseMaker`;
    pass one ``maker`` to all calls of a run); "repeat": phrases come from a pool of ``pool`` phrases (half plain
    labels, half qualified) drawn with Zipf-like weights (1/rank).
    """
    rng = random.Random(seed)
    by_role, roles, all_labels = _roles_and_labels(bundle)
    maker = maker or PhraseMaker(all_labels, seed)
    if mode == "repeat":
        picked = rng.sample(
            sorted({s for r in roles for s in by_role[r]} | set(rng.sample(all_labels, pool))), pool
        )
        phrases = [p if i % 2 == 0 else rng.choice(QUALIFIERS).format(p) for i, p in enumerate(picked)]
        weights = [1 / (rank + 1) for rank in range(len(phrases))]
    out = []
    for _ in range(n):
        role = rng.choice(roles)
        if mode == "repeat":
            chosen = list(dict.fromkeys(rng.choices(phrases, weights=weights, k=skills)))
        else:
            own = rng.sample(by_role[role], min(len(by_role[role]), (skills + 1) // 2))
            chosen = own + rng.sample(all_labels, skills - len(own))
            if mode == "new":
                chosen = [maker.fresh(label) for label in chosen]
        out.append({"roles": [role], "skills": chosen, "max_hours": 120, "languages": ["en"]})
    return out


def pool_warmup(payloads: list[dict[str, Any]], skills: int) -> list[dict[str, Any]]:
    """Unmeasured requests that send every distinct phrase of ``payloads`` once, ``skills`` per request.

    Each takes its role and limits from a payload of the phase, so the repeat phase that follows finds every
    phrase in the server's caches (what "repeating phrases" means) without repeating the phase's requests.
    """
    phrases = list(dict.fromkeys(s for p in payloads for s in p["skills"]))
    return [
        {**payloads[i % len(payloads)], "skills": phrases[lo : lo + skills]}
        for i, lo in enumerate(range(0, len(phrases), skills))
    ]


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


def encoder_ceiling(
    ready: dict[str, Any], phrases: list[list[str]], coalesce: int, seconds: float = 3.0
) -> dict[str, Any]:
    """The encoder's own ceiling: the server's backend, with the server's encoder threads, alone in this process.

    ``phrases``: requests' worth of new phrases (never sent to the server) like those of the ``new`` phase.
    They are encoded back to back, a request's phrases per call and (when the server coalesces requests into
    runs of up to ``coalesce`` texts) in runs of that size too, for about ``seconds`` each; the faster of the two
    is the ceiling, so a server that gains from coalescing is not flattered. Returns phrases/s and the
    requests/s they allow.
    """
    from skillmatch.config import get_settings
    from skillmatch.encoding.factory import load_backend

    encoder_info = ready["bundle"]["encoder"]
    backend = encoder_info["backend"]
    threads = int(encoder_info.get("selection", {}).get("threads") or 0)
    settings = get_settings()
    model = load_backend(
        ready["bundle"]["model"]["id"],
        backend=backend,
        threads=threads,
        batch_size=settings.batch_size,
        onnx_dir=settings.onnx_dir or settings.cache_dir / "onnx",
    )
    per_request = len(phrases[0])
    flat = [p for request in phrases for p in request]
    sizes = sorted({per_request, max(per_request, coalesce)})
    rates: dict[str, float] = {}
    for size in sizes:
        runs = [flat[i : i + size] for i in range(0, len(flat), size)]
        model.encode(runs[0])  # warm-up
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for run in runs:
                model.encode(run)
                done += len(run)
                if time.perf_counter() - start >= seconds:
                    break
        rates[f"runs_of_{size}"] = round(done / (time.perf_counter() - start), 1)
    best = max(rates.values())
    return {
        "backend": backend,
        "threads": threads,
        "phrases_per_request": per_request,
        "phrases_per_s": rates,
        "ceiling_phrases_per_s": best,
        "ceiling_requests_per_s": round(best / per_request, 1),
    }


#: Sends one POST of JSON bytes to a path and returns the status code and the body.
Sender = Callable[[str, bytes], Awaitable[tuple[int, bytes]]]


def httpx_sender(client: httpx.AsyncClient) -> Sender:
    """A sender over a shared httpx client (``--client httpx``: the load generator of earlier rounds)."""

    async def send(path: str, body: bytes) -> tuple[int, bytes]:
        r = await client.post(path, content=body, headers={"content-type": "application/json"})
        return r.status_code, r.content

    return send


async def run_phase(
    senders: list[Sender],
    name: str,
    path: str,
    payloads: list[dict[str, Any]],
    concurrency: int,
    server_pid: int | None = None,
) -> PhaseResult:
    """Send every payload to ``path`` with at most ``concurrency`` requests in flight, worker ``i`` through
    ``senders[i]`` (``server_pid``: also report the server's CPU time per request).

    Bodies are serialised before the clock starts; the client CPU reported is what sending and reading cost.
    """
    latencies: list[float] = []
    errors: list[str] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(json.dumps(p).encode())

    async def worker(send: Sender) -> None:
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            try:
                status, answer = await send(path, body)
                if status != 200:
                    errors.append(f"{status}: {answer[:200].decode(errors='replace')}")
            except (httpx.HTTPError, HttpError) as exc:
                errors.append(f"{exc.__class__.__name__}: {exc}")
            latencies.append(time.perf_counter() - start)

    if len(senders) < concurrency:
        raise ValueError(f"{concurrency} requests in flight need as many senders, got {len(senders)}")
    server_cpu = server_cpu_seconds(server_pid) if server_pid else 0.0
    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(send) for send in senders[:concurrency]))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    server_cpu = server_cpu_seconds(server_pid) - server_cpu if server_pid else 0.0
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
        client_cpu_ms=round(cpu / len(payloads) * 1000, 2),
        server_cpu_ms=round(server_cpu / len(payloads) * 1000, 2),
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
    _, _, all_labels = _roles_and_labels(bundle)
    maker = PhraseMaker(all_labels, args.seed)
    warm_rec = recommendation_payloads(bundle, args.warmup, args.skills, args.seed + 100, mode="labels")
    sweeps = len(args.concurrency) * args.rounds
    ext = extract_payloads(bundle, args.extract_requests * sweeps + args.warmup, args.seed)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    extra_env = dict(item.split("=", 1) for item in args.env)
    env = {
        **os.environ,
        **extra_env,
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
    phases: list[PhaseResult] = []
    loads: list[dict[str, Any]] = []
    try:
        ready = await wait_ready(base, proc, args.startup_timeout)
        startup_s = round(time.perf_counter() - started, 1)
        rss_loaded, _ = server_memory_mib(proc.pid)
        top = max(args.concurrency)
        limits = httpx.Limits(max_connections=top * 2, max_keepalive_connections=top * 2)
        coalesce = int(env.get("SKILLMATCH_API_COALESCE_TEXTS", get_settings().api_coalesce_texts))
        ceiling_phrases = [
            r["skills"]
            for r in recommendation_payloads(
                bundle, args.ceiling_requests, args.skills, args.seed + 999, mode="new", maker=maker
            )
        ]
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            connections = [Connection("127.0.0.1", port) for _ in range(top)]
            senders = (
                [httpx_sender(client)] * top if args.client == "httpx" else [c.post_json for c in connections]
            )
            await run_phase(senders, "warm-up", "/v1/recommendations", warm_rec, top)
            await run_phase(senders, "warm-up", "/v1/skills/extract", ext[: args.warmup], top)
            ceilings = [encoder_ceiling(ready, ceiling_phrases, coalesce)]
            print(f"[encoder ceiling, server idle] {ceilings[-1]}", file=sys.stderr, flush=True)
            for rnd in range(args.rounds):
                if rnd:  # the ceiling between sweeps too: the machine's speed drifts
                    ceilings.append(encoder_ceiling(ready, ceiling_phrases, coalesce))
                    print(f"[encoder ceiling, server idle] {ceilings[-1]}", file=sys.stderr, flush=True)
                for n, conc in enumerate(args.concurrency):
                    seed = args.seed + 10 * n + 1000 * rnd
                    new = recommendation_payloads(
                        bundle, args.requests, args.skills, seed, mode="new", maker=maker
                    )
                    repeat = recommendation_payloads(
                        bundle, args.requests, args.skills, seed + 1, mode="repeat", pool=args.pool
                    )
                    work = [
                        ("recommendations/new", "/v1/recommendations", new),
                        ("recommendations/repeat", "/v1/recommendations", repeat),
                    ]
                    if args.extract_requests:
                        lo = args.warmup + (rnd * len(args.concurrency) + n) * args.extract_requests
                        work.append(
                            ("skills/extract", "/v1/skills/extract", ext[lo : lo + args.extract_requests])
                        )
                    for name, path, payloads in work:
                        if name == "recommendations/repeat":
                            await run_phase(
                                senders, "warm-up", path, pool_warmup(payloads, args.skills), conc
                            )
                        loads.append({"phase": name, "concurrency": conc, "round": rnd, **load_snapshot()})
                        result = await run_phase(senders, name, path, payloads, conc, proc.pid)
                        result.round = rnd
                        phases.append(result)
                        print(f"[{name} c={conc} round {rnd}] {asdict(result)}", file=sys.stderr, flush=True)
            ceilings.append(encoder_ceiling(ready, ceiling_phrases, coalesce))
            print(f"[encoder ceiling, server idle] {ceilings[-1]}", file=sys.stderr, flush=True)
            for connection in connections:
                await connection.close()
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
        "machine": machine(),
        "settings": {
            "workers": args.workers,
            "client": args.client,
            "concurrency": args.concurrency,
            "rounds": args.rounds,
            "skills_per_request": args.skills,
            "repeat_pool": args.pool,
            "warmup": args.warmup,
            "seed": args.seed,
            "env": {k: v for k, v in env.items() if k.startswith("SKILLMATCH_") and "KEY" not in k},
        },
        "startup_s": startup_s,
        "server_rss_mib": {"after_load": rss_loaded, "after_run": rss_after, "peak": rss_peak},
        "encoder": ready["bundle"]["encoder"],
        "ceiling": ceiling_summary(ceilings),
        "phases": [asdict(p) for p in phases],
        "ratios": ratios([asdict(p) for p in phases], ceiling_summary(ceilings)),
        "loads": loads,
        "server_log": log.name,
    }


#: Targets of issue 15, checked on every run: all-new throughput against the encoder's ceiling, the tail, and
#: what repeating phrases gain.
TARGETS = {"new_vs_ceiling": 0.85, "p99_over_mean": 1.5, "repeat_over_new": 3.0}


def ceiling_summary(ceilings: list[dict[str, Any]]) -> dict[str, Any]:
    """The ceiling measured before and after the phases, and their mean (what the ratios use)."""
    rps = [c["ceiling_requests_per_s"] for c in ceilings]
    return {
        "runs": ceilings,
        "requests_per_s": round(sum(rps) / len(rps), 1),
        "phrases_per_s": round(sum(c["ceiling_phrases_per_s"] for c in ceilings) / len(ceilings), 1),
        "spread": round((max(rps) - min(rps)) / max(rps), 3) if max(rps) else 0.0,
    }


def ratios(phases: list[dict[str, Any]], ceiling: dict[str, Any]) -> list[dict[str, Any]]:
    """Per concurrency: new throughput / ceiling, p99 / mean of new, repeat / new throughput, against targets.

    With several rounds, each ratio is taken within a round (new and repeat of the same sweep; new against the
    mean of the ceilings measured just before and just after that sweep, as the machine's speed drifts) and the
    row holds the median over rounds, with the lowest and highest in ``spread``; the targets are judged on the
    medians.
    """
    measured = [c["ceiling_requests_per_s"] for c in ceiling.get("runs", [])]

    def ceiling_of(rnd: int) -> float:
        if len(measured) > rnd + 1:
            return (measured[rnd] + measured[rnd + 1]) / 2
        return float(ceiling["requests_per_s"])

    out = []
    for conc in sorted({p["concurrency"] for p in phases}):
        per_round: list[dict[str, float | None]] = []
        for rnd in sorted({p.get("round", 0) for p in phases if p["concurrency"] == conc}):
            by_name = {p["name"]: p for p in phases if p["concurrency"] == conc and p.get("round", 0) == rnd}
            new, repeat = by_name.get("recommendations/new"), by_name.get("recommendations/repeat")
            if new is None:
                continue
            per_round.append(
                {
                    "new_rps": new["throughput_rps"],
                    "new_vs_ceiling": round(new["throughput_rps"] / ceiling_of(rnd), 3),
                    "p99_over_mean": round(new["p99_ms"] / new["mean_ms"], 2) if new["mean_ms"] else None,
                    "repeat_over_new": round(repeat["throughput_rps"] / new["throughput_rps"], 2)
                    if repeat
                    else None,
                }
            )
        if not per_round:
            continue
        row: dict[str, Any] = {"concurrency": conc, "rounds": len(per_round), "spread": {}}
        for key in ("new_rps", "new_vs_ceiling", "p99_over_mean", "repeat_over_new"):
            values = [v for r in per_round if (v := r[key]) is not None]
            row[key] = round(statistics.median(values), 3) if values else None
            row["spread"][key] = [min(values), max(values)] if values else None
        row["meets"] = {
            "new_vs_ceiling": row["new_vs_ceiling"] >= TARGETS["new_vs_ceiling"],
            "p99_over_mean": row["p99_over_mean"] is not None
            and row["p99_over_mean"] <= TARGETS["p99_over_mean"],
            "repeat_over_new": row["repeat_over_new"] is not None
            and row["repeat_over_new"] >= TARGETS["repeat_over_new"],
        }
        out.append(row)
    return out


def print_report(report: dict[str, Any]) -> None:
    """A readable summary on standard output."""
    m = report["machine"]
    print(
        f"bundle {report['bundle']}  ({report['counts'].get('concepts')} concepts, "
        f"{report['counts'].get('credentials')} credentials, {report['counts'].get('roles')} roles)"
    )
    print(cpu_line(m))
    print(
        f"machine: {m['cpus']} CPUs, {m['memory_gib']} GiB; {m['versions']}; workers {report['settings']['workers']}; "
        f"server ready after {report['startup_s']} s"
    )
    print(
        f"{'phase':<24}{'requests':>9}{'conc':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'req/s':>8}{'errors':>8}{'server CPU ms':>15}{'client CPU ms':>15}"
    )
    for p in report["phases"]:
        print(
            f"{p['name']:<24}{p['requests']:>9}{p['concurrency']:>6}{p['p50_ms']:>9}{p['p95_ms']:>9}"
            f"{p['p99_ms']:>9}{p['max_ms']:>9}{p['throughput_rps']:>8}{p['errors']:>8}{p['server_cpu_ms']:>15}{p['client_cpu_ms']:>15}"
        )
        for sample in p["error_samples"]:
            print(f"    error: {sample}")
    for snap in report["loads"]:
        busy = "; ".join(snap["busy"]) or "nothing else busy"
        print(f"  {snap['phase']} c={snap['concurrency']}: load {snap['load']}; busy: {busy}")
    enc = report["encoder"]
    print(
        f"encoder: {enc['backend']} ({enc['chosen_by']}); "
        + ", ".join(
            f"{c['backend']} {c['phrases_per_s']}/s"
            for c in enc["selection"].get("candidates", [])
            if c["phrases_per_s"]
        )
    )
    ceiling = report["ceiling"]
    print(
        f"encoder ceiling (alone, server's threads, same kind of phrases): {ceiling['phrases_per_s']} phrases/s = "
        f"{ceiling['requests_per_s']} requests/s (mean of {len(ceiling['runs'])} measurements between the "
        f"phases, spread {ceiling['spread']:.1%})"
    )
    print(
        f"{'concurrency':<12}{'new req/s':>10}{'new/ceiling':>13}{'p99/mean':>10}{'repeat/new':>12}  targets met"
    )
    for row in report["ratios"]:
        met = ", ".join(k for k, ok in row["meets"].items() if ok) or "none"
        print(
            f"{row['concurrency']:<12}{row['new_rps']:>10}{row['new_vs_ceiling']:>13}{row['p99_over_mean']!s:>10}"
            f"{row['repeat_over_new']!s:>12}  {met}"
        )
        if row.get("rounds", 1) > 1:
            spread = row["spread"]
            print(
                f"{'':<12}median of {row['rounds']} rounds; lowest-highest: new/ceiling "
                f"{spread['new_vs_ceiling']}, p99/mean {spread['p99_over_mean']}, "
                f"repeat/new {spread['repeat_over_new']}"
            )
    print(
        f"targets: new/ceiling >= {TARGETS['new_vs_ceiling']}, p99/mean <= {TARGETS['p99_over_mean']}, "
        f"repeat/new >= {TARGETS['repeat_over_new']}"
    )
    rss = report["server_rss_mib"]
    print(
        f"server RSS: {rss['after_load']} MiB after load, {rss['after_run']} MiB after the run, "
        f"peak {rss['peak']} MiB (server log: {report['server_log']})"
    )


_T = TypeVar("_T")


def run_async(main: Coroutine[Any, Any, _T]) -> _T:
    """Run ``main`` on uvloop where it is installed (as the server does), else on asyncio's own loop.

    The load generator shares the machine with the server; uvloop's loop costs it less CPU per request.
    """
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmark, print (and optionally save) the report; exit 1 on any error."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", required=True, type=Path, help="Bundle folder to serve.")
    parser.add_argument(
        "--requests", type=int, default=1000, help="Recommendation requests per phase (default 1000)."
    )
    parser.add_argument(
        "--extract-requests", type=int, default=100, help="Extraction requests per concurrency (default 100)."
    )
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[1, 8], help="Requests in flight (default: 1 then 8)."
    )
    parser.add_argument(
        "--pool", type=int, default=300, help="Phrases in the repeat phase's pool (default 300)."
    )
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the server (repeatable).")
    parser.add_argument(
        "--skills", type=int, default=5, help="Skills per recommendation request (default 5)."
    )
    parser.add_argument("--workers", type=int, default=1, help="Server worker processes (default 1).")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="Load generator: a lean keep-alive HTTP/1.1 client (bench/rawhttp.py, default) or httpx.",
    )
    parser.add_argument("--warmup", type=int, default=20, help="Unmeasured requests per phase (default 20).")
    parser.add_argument(
        "--ceiling-requests",
        type=int,
        default=200,
        help="Requests' worth of new phrases the encoder ceiling is measured on (default 200).",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="Sweeps over the concurrencies (default 1); ratios are the median over rounds, with their spread.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--startup-timeout", type=float, default=600, help="Seconds to wait for /ready.")
    parser.add_argument("--json", type=Path, help="Also write the report as JSON here.")
    args = parser.parse_args(argv)
    if not (args.bundle / "manifest.json").is_file():
        parser.error(f"{args.bundle} is not a skillmatch bundle (no manifest.json)")
    if any("=" not in item for item in args.env):
        parser.error("--env takes KEY=VALUE")
    if (
        min(args.requests, *args.concurrency, args.skills, args.workers, args.rounds) < 1
        or args.extract_requests < 0
    ):
        parser.error("--requests, --concurrency, --skills, --workers and --rounds must be >= 1")
    report = run_async(bench(args))
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(p["errors"] for p in report["phases"]) else 0


if __name__ == "__main__":
    sys.exit(main())
