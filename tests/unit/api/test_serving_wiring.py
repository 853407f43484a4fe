"""How the API server wires its encoder and heap: coalesced encoding on one encoder thread by default, the locked
encoder when coalescing is off, and bundle objects kept out of the garbage collector's full collections."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import HashingEncoder

from skillmatch.api import state
from skillmatch.api.state import settle_heap
from skillmatch.config import Settings
from skillmatch.encoding import factory
from skillmatch.encoding.base import EncoderWrapper, ModelLoadError
from skillmatch.encoding.cached import CachedEncoder
from skillmatch.encoding.concurrency import CoalescingEncoder, LockedEncoder
from skillmatch.encoding.factory import query_chain
from skillmatch.encoding.models import vector_family
from skillmatch.encoding.process import ChildSpec, ProcessEncoder
from skillmatch.encoding.selection import BackendChoice, CandidateResult
from skillmatch.encoding.threads import encoder_threads


@pytest.mark.parametrize(
    ("configured", "coalesce", "serving", "expected"),
    [
        (0, 64, True, 1),  # a coalescing server: one encoder thread
        (0, 0, True, 0),  # a server that does not coalesce: the library default
        (0, 64, False, 0),  # builds and the CLI: the library default
        (3, 64, True, 3),  # an explicit setting always wins
        (3, 0, False, 3),
    ],
)
def test_encoder_threads(configured: int, coalesce: int, serving: bool, expected: int) -> None:
    settings = Settings(encoder_threads=configured, api_coalesce_texts=coalesce)
    assert encoder_threads(settings, serving=serving) == expected


@pytest.mark.parametrize(("coalesce", "kind"), [(64, CoalescingEncoder), (0, LockedEncoder)])
def test_the_query_chain_coalesces_or_locks(coalesce: int, kind: type) -> None:
    inner = HashingEncoder()
    chain = query_chain(
        inner, ["python"], lambda rows: inner.encode(["python"] * len(rows)), coalesce_texts=coalesce
    )
    assert isinstance(chain.inner, kind)
    assert chain.unwrap() is inner
    assert chain.thread_safe and chain.fingerprint == inner.fingerprint and chain.dim == inner.dim
    if coalesce:
        assert chain.inner.max_texts == coalesce  # type: ignore[attr-defined]
    # same vectors through the chain, whether known (shortcut) or encoded
    assert np.allclose(chain.encode(["Python", "SQL queries"]), inner.encode(["python", "SQL queries"]))


@pytest.mark.parametrize("threads", [(64, 1), (0, 0)])
def test_the_serving_encoder_has_no_disk_cache_and_serving_threads(
    monkeypatch: pytest.MonkeyPatch, threads: tuple[int, int]
) -> None:
    coalesce, expected = threads
    seen: list[Settings] = []

    def fake_make_encoder(settings: Settings, model: str | None = None, **_: Any) -> HashingEncoder:
        seen.append(settings)
        return HashingEncoder()

    monkeypatch.setattr(factory, "make_encoder", fake_make_encoder)
    factory.serving_encoder(Settings(api_coalesce_texts=coalesce, use_cache=True, api_use_cache=False), "m")
    assert seen[0].use_cache is False and seen[0].encoder_threads == expected


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ({}, "auto"),  # the default: the backend measured fastest on this CPU
        ({"api_encoder_backend": "same", "encoder_backend": "torch"}, "torch"),
        ({"api_encoder_backend": "onnx"}, "onnx"),
    ],
)
def test_serving_backend(monkeypatch: pytest.MonkeyPatch, configured: dict[str, str], expected: str) -> None:
    seen: list[str] = []

    def fake_make_encoder(settings: Settings, model: str | None = None, **_: Any) -> HashingEncoder:
        seen.append(settings.encoder_backend)
        return HashingEncoder()

    monkeypatch.setattr(factory, "make_encoder", fake_make_encoder)
    factory.serving_encoder(Settings(**configured), "fake-model")  # type: ignore[arg-type]
    assert seen == [expected]


def _failing_int8_block(settings: Settings, model: str | None = None, **_: Any) -> HashingEncoder:
    if settings.encoder_backend in {"onnx-int8-block", "auto"}:
        raise ModelLoadError("the ONNX export does not handle this model")
    encoder = HashingEncoder()
    encoder.backend = settings.encoder_backend  # type: ignore[attr-defined]
    return encoder


def test_the_default_serving_backend_falls_back_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(factory, "make_encoder", _failing_int8_block)
    encoder = factory.serving_encoder(Settings(encoder_backend="torch"), "fake-model")
    assert encoder.backend == "torch"  # type: ignore[attr-defined]
    assert "auto unavailable, using torch" in caplog.text
    assert "does not handle this model" in caplog.text


def test_an_explicit_serving_backend_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "make_encoder", _failing_int8_block)
    with pytest.raises(ModelLoadError, match="does not handle"):
        factory.serving_encoder(Settings(api_encoder_backend="onnx-int8-block"), "fake-model")


def test_encoder_info_names_the_encoder_behind_the_wrappers() -> None:
    inner = HashingEncoder()
    inner.backend = "onnx-int8-block"  # type: ignore[attr-defined]
    wrapped = CoalescingEncoder(LockedEncoder(inner), max_texts=8)  # type: ignore[arg-type]
    info = state.encoder_info(wrapped)
    assert (info["backend"], info["fingerprint"]) == ("onnx-int8-block", inner.fingerprint)
    assert info["chosen_by"] == "unknown"  # nobody recorded a choice on this fake
    inner.selection = BackendChoice(  # type: ignore[attr-defined]
        "onnx-int8-block",
        "auto (measured)",
        workload="serving",
        threads=1,
        cpu={"model": "Some CPU", "arch": "x86_64", "flags": ["avx2"], "usable_cpus": 2},
        candidates=[CandidateResult("onnx", 400.0, 20.0, 4, 1.0, True)],
    )
    info = state.encoder_info(wrapped)
    assert info["chosen_by"] == "auto (measured)"
    assert info["selection"]["candidates"][0]["phrases_per_s"] == 400.0
    assert info["cpu"] == {"model": "Some CPU", "arch": "x86_64", "flags": ["avx2"]}


@pytest.mark.parametrize(
    ("fingerprint", "family"),
    [
        ("m@0123+int8-block", "m@0123"),  # stands in for float32
        ("m@0123", "m@0123"),
        ("m@0123+int8", "m@0123+int8"),  # dynamic int8 does not: its vectors are further off
        ("m@hub+int8-block", "m@hub"),
    ],
)
def test_vector_family(fingerprint: str, family: str) -> None:
    assert vector_family(fingerprint) == family


class _Cycle:
    """Half of a reference cycle (only the collector frees it)."""

    def __init__(self) -> None:
        self.other: Any = None


def _cycle() -> weakref.ref[_Cycle]:
    a, b = _Cycle(), _Cycle()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def restore_gc() -> Any:
    yield
    gc.unfreeze()


def test_settle_heap_freezes_what_is_alive(restore_gc: None) -> None:
    gc.unfreeze()
    kept = [_Cycle() for _ in range(100)]
    dead = _cycle()
    settle_heap()
    assert dead() is None  # garbage was collected first, not frozen
    assert gc.get_freeze_count() > len(kept)
    tracked_young = {id(o) for g in (0, 1, 2) for o in gc.get_objects(generation=g)}
    assert not any(id(o) in tracked_young for o in kept)  # out of every generation the collector walks


def test_settle_heap_again_collects_cycles_frozen_before(restore_gc: None) -> None:
    gc.unfreeze()
    holder: list[Any] = [_Cycle()]
    holder[0].other = holder[0]  # a cycle, alive while the holder refers to it
    gone = weakref.ref(holder[0])
    settle_heap()  # frozen while alive (as a served bundle's objects are)
    holder.clear()  # now only a frozen cycle: no collection reaches it...
    gc.collect()
    assert gone() is not None
    settle_heap()  # ...until the next settle (a reload) unfreezes and collects
    assert gone() is None


@pytest.mark.parametrize(
    ("setting", "coalesce", "workers", "cpus", "expected"),
    [
        ("auto", 10, 1, 2, True),  # the default on 2 cores: the model in a process of its own
        ("auto", 10, 1, 1, False),  # one CPU: the child would only take turns with the server
        ("auto", 0, 1, 4, False),  # no coalescing: each request thread encodes on its own
        ("auto", 10, 2, 4, False),  # several workers spread the interpreter locks already
        ("auto:cuda", 10, 1, 4, False),  # a second process would hold a second copy of the model on the GPU
        ("on", 0, 1, 1, True),  # an explicit setting wins
        ("off", 10, 1, 8, False),
    ],
)
def test_where_request_texts_are_encoded(
    monkeypatch: pytest.MonkeyPatch, setting: str, coalesce: int, workers: int, cpus: int, expected: bool
) -> None:
    monkeypatch.setattr(factory, "cpu_info", lambda: {"usable_cpus": cpus})
    setting, _, device = setting.partition(":")
    settings = Settings(
        api_encoder_process=setting,  # type: ignore[arg-type]
        api_coalesce_texts=coalesce,
        api_workers=workers,
        device=device or "cpu",
    )
    assert factory.encoder_process(settings) is expected


class _NoChild(ProcessEncoder):
    """A ProcessEncoder that records its spec and starts nothing."""

    def __init__(self, inner: Any, spec: ChildSpec, **_: Any) -> None:
        EncoderWrapper.__init__(self, inner)
        self.spec = spec

    def info(self) -> dict[str, Any]:
        return {"state": "not started"}


def test_the_serving_encoder_puts_its_backend_in_a_child_behind_the_caches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = HashingEncoder()
    backend.backend = "onnx-int8-block"  # type: ignore[attr-defined]
    monkeypatch.setattr(factory, "make_encoder", lambda *_, **__: CachedEncoder(backend, memory_cache=100))
    monkeypatch.setattr(factory, "ProcessEncoder", _NoChild)
    settings = Settings(api_encoder_process="on", batch_size=32, onnx_dir=Path("/x/onnx"))
    encoder = factory.serving_encoder(settings, "some/model")
    child = factory.in_child(encoder)
    assert isinstance(encoder, CachedEncoder) and encoder.inner is child and child.inner is backend
    serving_threads = 1
    assert child.spec == ChildSpec("some/model", "onnx-int8-block", 32, serving_threads, "/x/onnx", "cpu")
    info = state.encoder_info(encoder)
    assert encoder.unwrap() is backend and info["backend"] == "onnx-int8-block"
    assert info["process"] == {"state": "not started"}  # /ready says where request texts are encoded
    chain = query_chain(
        encoder, ["python"], lambda rows: backend.encode(["python"] * len(rows)), coalesce_texts=10
    )
    assert chain.inner.runs_in_flight == 2  # type: ignore[attr-defined]
    off = factory.serving_encoder(settings.model_copy(update={"api_encoder_process": "off"}), "some/model")
    assert factory.in_child(off) is None
    assert query_chain(off, [], backend.encode, coalesce_texts=10).inner.runs_in_flight == 1  # type: ignore[attr-defined]
