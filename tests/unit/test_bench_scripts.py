"""The benchmark scripts: the load test's request makers and ratios, and its lean HTTP client."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def load_bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_load", BENCH / "load.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_load"] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    labels = [f"skill {i}" for i in range(40)]
    pd.DataFrame({"id": [f"s{i}" for i in range(40)], "label": labels}).to_parquet(
        tmp_path / "concepts.parquet"
    )
    pd.DataFrame({"role_id": ["r1"] * 10 + ["r2"] * 10, "skill_id": [f"s{i}" for i in range(20)]}).to_parquet(
        tmp_path / "role_profiles.parquet"
    )
    return tmp_path


def test_new_phrases_are_unique_and_never_labels(load_bench: ModuleType, bundle: Path) -> None:
    labels = [f"skill {i}" for i in range(40)]
    maker = load_bench.PhraseMaker(labels, seed=0)
    first = load_bench.recommendation_payloads(bundle, 30, 5, 0, mode="new", maker=maker)
    second = load_bench.recommendation_payloads(bundle, 30, 5, 1, mode="new", maker=maker)
    phrases = [s for p in first + second for s in p["skills"]]
    assert len(phrases) == 300
    assert len(set(phrases)) == 300
    assert not set(phrases) & set(labels)
    assert all(p["roles"][0] in {"r1", "r2"} for p in first)


def test_repeat_phrases_come_back_with_skewed_frequencies(load_bench: ModuleType, bundle: Path) -> None:
    payloads = load_bench.recommendation_payloads(bundle, 200, 5, 0, mode="repeat", pool=20)
    counts = Counter(s for p in payloads for s in p["skills"])
    assert len(counts) <= 20
    assert counts.most_common(1)[0][1] > 5 * counts.most_common()[-1][1]
    assert all(len(p["skills"]) == len(set(p["skills"])) for p in payloads)


def test_the_repeat_phase_is_preceded_by_each_of_its_phrases_once(
    load_bench: ModuleType, bundle: Path
) -> None:
    payloads = load_bench.recommendation_payloads(bundle, 200, 5, 0, mode="repeat", pool=23)
    warm = load_bench.pool_warmup(payloads, 5)
    sent = [s for p in warm for s in p["skills"]]
    assert sorted(sent) == sorted({s for p in payloads for s in p["skills"]})  # every phrase, once
    assert all(1 <= len(p["skills"]) <= 5 for p in warm) and len(warm) == -(-len(sent) // 5)
    roles = {tuple(p["roles"]) for p in payloads}
    assert all(tuple(p["roles"]) in roles and p["max_hours"] == 120 for p in warm)


def test_payloads_are_reproducible(load_bench: ModuleType, bundle: Path) -> None:
    a = load_bench.recommendation_payloads(bundle, 10, 5, 3, mode="labels")
    b = load_bench.recommendation_payloads(bundle, 10, 5, 3, mode="labels")
    assert a == b


def phase(name: str, conc: int, rps: float, mean: float, p99: float, rnd: int = 0) -> dict[str, object]:
    return {
        "name": name,
        "concurrency": conc,
        "throughput_rps": rps,
        "mean_ms": mean,
        "p99_ms": p99,
        "round": rnd,
    }


def test_ratios_against_the_encoder_ceiling(load_bench: ModuleType) -> None:
    ceiling = load_bench.ceiling_summary(
        [
            {"ceiling_requests_per_s": 100.0, "ceiling_phrases_per_s": 500.0},
            {"ceiling_requests_per_s": 80.0, "ceiling_phrases_per_s": 400.0},
        ]
    )
    assert ceiling["requests_per_s"] == 90.0 and ceiling["spread"] == 0.2
    phases = [
        phase("recommendations/new", 1, 30.0, 33.0, 40.0),
        phase("recommendations/new", 8, 81.0, 98.0, 140.0),
        phase("recommendations/repeat", 8, 300.0, 26.0, 60.0),
    ]
    rows = {r["concurrency"]: r for r in load_bench.ratios(phases, ceiling)}
    assert rows[8]["new_vs_ceiling"] == 0.9 and rows[8]["p99_over_mean"] == 1.43
    assert rows[8]["repeat_over_new"] == 3.7
    assert rows[8]["meets"] == {"new_vs_ceiling": True, "p99_over_mean": True, "repeat_over_new": True}
    assert rows[1]["new_vs_ceiling"] == 0.333 and rows[1]["repeat_over_new"] is None
    assert rows[1]["meets"] == {"new_vs_ceiling": False, "p99_over_mean": True, "repeat_over_new": False}


def test_ratios_over_rounds_are_medians_of_ratios_taken_within_each_round(load_bench: ModuleType) -> None:
    ceiling = {"requests_per_s": 100.0}
    phases = [
        phase("recommendations/new", 8, 80.0, 100.0, 120.0, rnd=0),
        phase("recommendations/repeat", 8, 240.0, 30.0, 60.0, rnd=0),
        phase("recommendations/new", 8, 90.0, 90.0, 180.0, rnd=1),
        phase("recommendations/repeat", 8, 180.0, 40.0, 80.0, rnd=1),
        phase("recommendations/new", 8, 86.0, 93.0, 130.0, rnd=2),
        phase("recommendations/repeat", 8, 301.0, 30.0, 60.0, rnd=2),
    ]
    [row] = load_bench.ratios(phases, ceiling)
    assert row["rounds"] == 3 and row["new_rps"] == 86.0 and row["new_vs_ceiling"] == 0.86
    # repeat/new per round: 3.0, 2.0, 3.5 (the median of the rounds, not 240+180+301 over 80+90+86)
    assert row["repeat_over_new"] == 3.0 and row["spread"]["repeat_over_new"] == [2.0, 3.5]
    assert row["p99_over_mean"] == 1.4 and row["spread"]["p99_over_mean"] == [1.2, 2.0]
    assert row["meets"] == {"new_vs_ceiling": True, "p99_over_mean": True, "repeat_over_new": True}


def test_each_round_is_judged_against_the_ceilings_measured_around_it(load_bench: ModuleType) -> None:
    ceiling = load_bench.ceiling_summary(
        [{"ceiling_requests_per_s": v, "ceiling_phrases_per_s": 5 * v} for v in (100.0, 80.0, 120.0)]
    )
    phases = [
        phase("recommendations/new", 8, 81.0, 100.0, 120.0, rnd=0),  # between 100 and 80: 0.9
        phase("recommendations/new", 8, 70.0, 100.0, 120.0, rnd=1),  # between 80 and 120: 0.7
    ]
    [row] = load_bench.ratios(phases, ceiling)
    assert row["spread"]["new_vs_ceiling"] == [0.7, 0.9] and row["new_vs_ceiling"] == 0.8


@pytest.fixture(scope="module")
def rawhttp(load_bench: ModuleType) -> ModuleType:
    return sys.modules["rawhttp"]  # imported by load.py


async def _serve(answers: list[bytes], seen: list[bytes]) -> tuple[asyncio.Server, int]:
    """A server that reads one request per answer and writes the answers in turn (b"" closes the connection)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while answers:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            answer = answers.pop(0)
            if not answer:  # closes without answering, as a keep-alive timeout does
                writer.close()
                return
            seen.append(await reader.readexactly(length))
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_the_lean_client_reads_lengths_chunks_and_reconnects(rawhttp: ModuleType) -> None:
    answers = [
        b'HTTP/1.1 200 OK\r\ncontent-length: 7\r\ncontent-type: application/json\r\n\r\n{"a":1}',
        b"HTTP/1.1 422 Unprocessable\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
        b"",  # the server drops the idle connection: the request goes again on a new one
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    ]
    seen: list[bytes] = []

    async def scenario() -> list[tuple[int, bytes]]:
        server, port = await _serve(answers, seen)
        async with server:
            connection = rawhttp.Connection("127.0.0.1", port, timeout=5)
            out = [await connection.post_json("/x", f'{{"n":{i}}}'.encode()) for i in range(3)]
            await connection.close()
            return out

    assert asyncio.run(scenario()) == [(200, b'{"a":1}'), (422, b"abcde"), (200, b"ok")]
    assert seen == [b'{"n":0}', b'{"n":1}', b'{"n":2}']  # the dropped request was sent again, once


def test_the_lean_client_names_an_answer_that_is_not_http(rawhttp: ModuleType) -> None:
    async def scenario() -> None:
        server, port = await _serve([b"SSH-2.0-OpenSSH\r\n\r\n"], [])
        async with server:
            with pytest.raises(rawhttp.HttpError, match=r"not an HTTP/1\.x status line"):
                await rawhttp.Connection("127.0.0.1", port, timeout=5).post_json("/x", b"{}")

    asyncio.run(scenario())


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads Linux /proc")
def test_the_server_cpu_counts_a_child_started_from_another_thread(load_bench: ModuleType) -> None:
    """The encoder's process is started from a loader thread: /proc lists it under that thread, not the main one."""
    started: list[subprocess.Popen[bytes]] = []
    checked = threading.Event()

    def start_and_stay() -> None:  # a thread that lives on, as the server's do
        started.append(subprocess.Popen(["sleep", "30"]))
        checked.wait(10)

    thread = threading.Thread(target=start_and_stay)
    thread.start()
    try:
        while not started:
            time.sleep(0.01)
        assert started[0].pid in load_bench._children(os.getpid())
    finally:
        checked.set()
        thread.join()
        started[0].kill()
        started[0].wait()


def test_the_peer_is_compared_at_its_best_thread_count() -> None:
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_peer", BENCH / "peer.py")
    assert spec and spec.loader
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    runs = [
        {"peer_s": {"1": 50.0, "2": 30.0}},
        {"peer_s": {"1": 40.0, "2": 60.0}},
        {"peer_s": {"1": 45.0, "2": 28.0}},
    ]
    best, rates = peer.peer_at_its_best(runs, 100)
    # medians: 45 s on one thread, 30 s on two; one slow repeat on two threads does not decide
    assert best == "2"
    assert rates == {"1": pytest.approx(100 / 45), "2": pytest.approx(100 / 30)}
