"""The served encoder's model in a child process, with the real model: same vectors, long calls kept in the
server, and the server taking over (no failed call) when the child cannot start, loads another model, or dies."""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fakes import ConcurrencyEncoder, wait_until

from skillmatch.encoding import process
from skillmatch.encoding.base import Encoder
from skillmatch.encoding.factory import concurrent, load_backend
from skillmatch.encoding.process import ChildSpec, ProcessEncoder

pytest.importorskip("onnxruntime", reason="the ONNX backend needs onnxruntime (pip install onnxruntime)")

pytestmark = pytest.mark.integration

PHRASES = ["data analysis", "SQL", "project management", "machine learning with Python", "Excel pivot tables"]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def backend(onnx_dir: Path) -> Encoder:
    return load_backend(backend="onnx", threads=1, onnx_dir=onnx_dir)


def spec_for(encoder: Encoder, onnx_dir: Path, **changes: str) -> ChildSpec:
    fields = {
        "model": encoder.model_id,
        "backend": "onnx",
        "batch_size": 64,
        "threads": 1,
        "onnx_dir": str(onnx_dir),
    }
    return ChildSpec(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture()
def child(backend: Encoder, onnx_dir: Path) -> ProcessEncoder:
    encoder = ProcessEncoder(backend, spec_for(backend, onnx_dir), long_call_texts=8)
    yield encoder
    encoder.close()


def test_short_calls_are_encoded_in_the_child_with_the_same_vectors(
    child: ProcessEncoder, backend: Encoder
) -> None:
    assert child.info()["state"] == "running" and child.info()["pid"] != os.getpid()
    np.testing.assert_array_equal(child.encode(PHRASES), backend.encode(PHRASES))
    assert (child.stats["child_calls"], child.stats["child_texts"], child.stats["parent_calls"]) == (1, 5, 0)
    long_call = [f"{p} at work" for p in PHRASES * 2]  # 10 texts > long_call_texts: encoded in the caller
    np.testing.assert_array_equal(child.encode(long_call), backend.encode(long_call))
    assert child.stats["parent_calls"] == 1 and child.stats["child_calls"] == 1


def test_concurrent_callers_through_two_runs_in_flight_get_their_own_vectors(
    child: ProcessEncoder, backend: Encoder
) -> None:
    chain = concurrent(child, 8)  # runs of up to 8 texts: none longer than the child takes
    assert chain.runs_in_flight == 2  # type: ignore[attr-defined]
    results: dict[int, np.ndarray] = {}

    def call(i: int) -> None:
        results[i] = chain.encode([f"{PHRASES[i % 5]} {i}", PHRASES[(i + 1) % 5]])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for i in range(24):
        np.testing.assert_allclose(
            results[i], backend.encode([f"{PHRASES[i % 5]} {i}", PHRASES[(i + 1) % 5]]), atol=1e-6
        )
    assert child.stats["child_texts"] >= 24 and child.stats["parent_calls"] == 0


def test_a_stop_signal_to_the_process_group_leaves_the_child_to_its_parent(
    child: ProcessEncoder, backend: Encoder
) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        os.kill(child.info()["pid"], sig)
    time.sleep(0.3)
    np.testing.assert_array_equal(child.encode(PHRASES), backend.encode(PHRASES))
    assert child.info()["state"] == "running" and child.stats["child_calls"] == 1


def test_the_server_takes_over_when_the_child_dies(
    child: ProcessEncoder, backend: Encoder, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "RESTART_DELAY_S", 60.0)  # no restart within this test
    chain = concurrent(child, 8)
    chain.encode(PHRASES)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def caller(i: int) -> None:
        try:
            for j in range(15):
                results.append(chain.encode([f"phrase {i}-{j}"]))
        except BaseException as exc:  # pragma: no cover - the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    with caplog.at_level(logging.WARNING, logger="skillmatch.encoding.process"):
        os.kill(child.info()["pid"], signal.SIGKILL)
        for t in threads:
            t.join(60)
        wait_until(lambda: child.info()["state"] == "stopped", "the parent noticed", 10)
    assert errors == [] and len(results) == 60  # every call answered, by the child or by the parent
    assert "ended" in child.info()["reason"] and "encoder process ended" in caplog.text
    np.testing.assert_array_equal(chain.encode(["after the child"]), backend.encode(["after the child"]))
    assert child.stats["parent_calls"] >= 1


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"backend": "onnx-int8-block"}, "loaded"),  # another precision: another fingerprint
        ({"model": "/nonexistent/model"}, "could not load the model"),
    ],
)
def test_a_child_that_cannot_serve_the_same_model_leaves_the_work_to_the_server(
    backend: Encoder, onnx_dir: Path, changes: dict[str, str], reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="skillmatch.encoding.process"):
        encoder = ProcessEncoder(backend, spec_for(backend, onnx_dir, **changes))
    info = encoder.info()
    assert info["state"] == "stopped" and reason in info["reason"]
    assert "encoding request texts in the server process" in caplog.text
    np.testing.assert_array_equal(encoder.encode(PHRASES), backend.encode(PHRASES))
    assert encoder.stats == {"child_calls": 0, "child_texts": 0, "parent_calls": 1}
    wait_until(lambda: not encoder._process.is_alive(), "the child has gone", 10)


def test_dropping_the_encoder_stops_its_child(backend: Encoder, onnx_dir: Path) -> None:
    encoder = ProcessEncoder(backend, spec_for(backend, onnx_dir))
    encoder.encode(PHRASES)
    process = encoder._process
    assert process.is_alive()
    del encoder
    gc.collect()
    wait_until(lambda: not process.is_alive(), "the child of a dropped encoder has ended", 10)


def test_once_the_child_is_gone_short_runs_are_encoded_one_at_a_time_and_long_calls_beside(
    onnx_dir: Path,
) -> None:
    inner = ConcurrencyEncoder(thread_safe=True, pause=0.05)
    encoder = ProcessEncoder(inner, spec_for(inner, onnx_dir, model="/nonexistent/model"), long_call_texts=8)
    assert encoder.info()["state"] == "stopped"
    chain = concurrent(encoder, 4)  # two runs in flight, as with a live child
    threads = [threading.Thread(target=chain.encode, args=([f"short {i}"],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert inner.max_inside == 1  # as a server without a child: one coalesced run at a time
    inner.pause = 0.5
    short = threading.Thread(target=chain.encode, args=(["short again"],))
    short.start()
    wait_until(lambda: inner.inside == 1, "the short run is being encoded", 10)
    encoder.encode([f"posting sentence {i}" for i in range(12)])
    short.join(10)
    assert inner.max_inside == 2  # the long call ran beside the short run


def test_a_child_that_ended_is_started_again_until_it_ends_too_often(
    child: ProcessEncoder, backend: Encoder, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "RESTART_DELAY_S", 0.1)
    monkeypatch.setattr(process, "MAX_RESTARTS", 1)
    first = child.info()["pid"]
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: child.info()["state"] == "running" and child.info()["pid"] != first, "a new child", 60)
    assert child.info()["restarts"] == 1 and "reason" not in child.info()
    before = child.stats["child_calls"]
    np.testing.assert_array_equal(child.encode(PHRASES), backend.encode(PHRASES))
    assert child.stats["child_calls"] == before + 1  # the new child answers
    with caplog.at_level(logging.WARNING, logger="skillmatch.encoding.process"):
        os.kill(child.info()["pid"], signal.SIGKILL)
        wait_until(lambda: "not starting it again" in caplog.text, "the parent gives up restarting", 10)
    time.sleep(0.5)
    assert child.info()["state"] == "stopped" and "ended" in child.info()["reason"]
    np.testing.assert_array_equal(child.encode(["still served"]), backend.encode(["still served"]))
