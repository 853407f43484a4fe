"""The ``auto`` backend: the fastest candidate whose vectors agree with float32, measured once per model, CPU and
workload, and recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import HashingEncoder

from skillmatch import cpu
from skillmatch.encoding import factory, selection
from skillmatch.encoding.base import Encoder, ModelLoadError
from skillmatch.encoding.selection import (
    BUILD,
    SERVING,
    BackendChoice,
    choose_backend,
    selection_of,
)


class TimedEncoder(HashingEncoder):
    """The hashing encoder, slowed by ``delay`` seconds per text and with vectors bent by ``noise``."""

    def __init__(self, backend: str, delay: float, noise: float = 0.0) -> None:
        super().__init__()
        self.backend = backend
        self.delay = delay
        self.noise = noise

    def encode(self, texts: Sequence[str], *, progress: object = None) -> np.ndarray:
        time.sleep(self.delay * len(texts))
        vectors = super().encode(texts)
        if self.noise:
            bent = vectors + self.noise * np.roll(vectors, 1, axis=1)
            vectors = bent / np.linalg.norm(bent, axis=1, keepdims=True)
        return vectors.astype(np.float32)


def loader(specs: dict[str, TimedEncoder | Exception], loads: list[str]) -> Callable[[str], Encoder]:
    def load(name: str) -> Encoder:
        loads.append(name)
        spec = specs[name]
        if isinstance(spec, Exception):
            raise spec
        return spec

    return load


def choose(
    specs: dict[str, TimedEncoder | Exception], cache: Path | None, loads: list[str], **kwargs: Any
) -> tuple[Encoder, BackendChoice]:
    return choose_backend(
        loader(specs, loads),
        base_fingerprint="m@abc",
        workload=kwargs.pop("workload", SERVING),
        threads=kwargs.pop("threads", 1),
        candidates=list(specs),
        cache_file=cache,
        budget_s=kwargs.pop("budget_s", 0.05),
    )


def test_the_fastest_faithful_backend_wins_and_unfaithful_ones_are_dropped(tmp_path: Path) -> None:
    specs: dict[str, TimedEncoder | Exception] = {
        "onnx": TimedEncoder("onnx", 0.0004),
        "onnx-int8-block": TimedEncoder("onnx-int8-block", 0.0001, noise=0.01),  # faithful, fastest
        "onnx-int8": TimedEncoder("onnx-int8", 0.00001, noise=0.5),  # faster still, but off
        "torch": TimedEncoder("torch", 0.0008),
    }
    loads: list[str] = []
    encoder, choice = choose(specs, tmp_path / "choice.json", loads)
    assert encoder is specs["onnx-int8-block"] and choice.backend == "onnx-int8-block"
    by_name = {c.backend: c for c in choice.candidates}
    assert by_name["onnx-int8"].accepted is False and by_name["onnx-int8"].phrases_per_s is None
    assert "differ from float32" in by_name["onnx-int8"].note
    assert by_name["onnx"].min_cosine == 1.0 and by_name["torch"].accepted
    rates = [by_name[n].phrases_per_s or 0 for n in ("onnx-int8-block", "onnx", "torch")]
    assert rates == sorted(rates, reverse=True)
    assert all(by_name[n].rounds >= 3 for n in ("onnx", "torch"))
    assert choice.chosen_by == "auto (measured)" and choice.workload == "serving" and choice.threads == 1
    assert choice.cpu == cpu.cpu_info()


def test_a_slower_int8_loses_to_float32(tmp_path: Path) -> None:
    # the AVX2-only machine of issue 15: block-wise int8 1.6x slower than float32
    specs: dict[str, TimedEncoder | Exception] = {
        "onnx": TimedEncoder("onnx", 0.0001),
        "onnx-int8-block": TimedEncoder("onnx-int8-block", 0.00016, noise=0.01),
    }
    _, choice = choose(specs, None, [])
    assert choice.backend == "onnx"


def test_the_choice_is_cached_per_cpu_and_workload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs: dict[str, TimedEncoder | Exception] = {
        "onnx": TimedEncoder("onnx", 0.0002),
        "torch": TimedEncoder("torch", 0.0001),
    }
    cache = tmp_path / "choice.json"
    loads: list[str] = []
    _, first = choose(specs, cache, loads)
    assert loads == ["onnx", "torch"] and first.backend == "torch"
    loads.clear()
    encoder, again = choose(specs, cache, loads)
    assert loads == ["torch"]  # only the winner is loaded: nothing is timed again
    assert encoder is specs["torch"] and again.chosen_by == "auto (cached measurement)"
    assert again.candidates == first.candidates
    loads.clear()
    choose(specs, cache, loads, workload=BUILD)  # another workload is measured on its own
    choose(specs, cache, loads, threads=2)  # so are other thread counts
    assert loads == ["onnx", "torch", "onnx", "torch"]
    assert len(json.loads(cache.read_text())) == 3
    loads.clear()
    monkeypatch.setattr(selection, "cpu_signature", lambda: "another-cpu")
    choose(specs, cache, loads)  # another CPU: measured again
    assert loads == ["onnx", "torch"]


def test_a_cached_winner_that_no_longer_loads_is_measured_again(tmp_path: Path) -> None:
    cache = tmp_path / "choice.json"
    specs: dict[str, TimedEncoder | Exception] = {
        "onnx": TimedEncoder("onnx", 0.0002),
        "torch": TimedEncoder("torch", 0.0001),
    }
    choose(specs, cache, [])
    specs["torch"] = ModelLoadError("torch went away")
    loads: list[str] = []
    encoder, choice = choose(specs, cache, loads)
    assert encoder is specs["onnx"] and choice.chosen_by == "auto (measured)"
    assert loads == ["torch", "onnx", "torch"]
    assert "torch went away" in {c.backend: c for c in choice.candidates}["torch"].note


def test_no_loadable_backend_is_a_clear_error() -> None:
    specs: dict[str, TimedEncoder | Exception] = {
        "onnx": ModelLoadError("no onnxruntime"),
        "torch": ModelLoadError("no torch"),
    }
    with pytest.raises(ModelLoadError, match=r"no onnxruntime.*no torch"):
        choose(specs, None, [])


def test_an_unreadable_cache_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "choice.json"
    cache.write_text("{not json")
    _, choice = choose({"onnx": TimedEncoder("onnx", 0.0)}, cache, [])
    assert choice.backend == "onnx"
    assert choice.key in json.loads(cache.read_text())  # rewritten whole


def test_load_backend_records_why(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    made: dict[str, TimedEncoder] = {}

    def fake_named(*args: object, **kwargs: object) -> TimedEncoder:
        name = str(args[4])
        made[name] = TimedEncoder(name, {"onnx": 0.0002, "onnx-int8-block": 0.0001, "torch": 0.0004}[name])
        return made[name]

    monkeypatch.setattr(factory, "_load_named", fake_named)
    monkeypatch.setattr(factory, "resolve_model", lambda model: ("fake", "fake"))
    explicit = factory.load_backend("fake", backend="torch")
    assert selection_of(explicit)["chosen_by"] == "setting"
    auto = factory.load_backend(
        "fake",
        backend="auto",
        workload=SERVING,
        threads=1,
        choice_file=tmp_path / "c.json",
        probe_budget_s=0.05,
    )
    assert auto is made["onnx-int8-block"]
    recorded = selection_of(auto)
    assert recorded["backend"] == "onnx-int8-block" and recorded["workload"] == "serving"
    assert {c["backend"] for c in recorded["candidates"]} == {"onnx", "onnx-int8-block", "torch"}
    on_gpu = factory.load_backend("fake", backend="auto", device="cuda")
    assert selection_of(on_gpu)["chosen_by"] == "auto (device cuda: torch)"
    with pytest.raises(ValueError, match="candidates"):
        factory.load_backend("fake", backend="auto", candidates=["auto"])


def test_a_choice_round_trips_through_json() -> None:
    choice = BackendChoice("onnx", "auto (measured)", candidates=[selection.CandidateResult("onnx", 1.0)])
    assert BackendChoice.from_dict(json.loads(json.dumps(choice.to_dict()))) == choice


def test_cpu_info_reads_model_and_speed_flags(tmp_path: Path) -> None:
    fake = tmp_path / "cpuinfo"
    fake.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx avx2 fma ht\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx avx2 fma ht\n"
    )
    info = cpu.cpu_info(fake)
    assert info["model"] == "AMD EPYC 7B13"
    assert info["flags"] == ["sse4_2", "avx", "avx2", "fma"]  # only the flags that matter, in a fixed order
    other = dict(info, flags=[*info["flags"], "avx512f", "avx512_vnni"])
    assert cpu.cpu_signature(info) != cpu.cpu_signature(other)
    assert cpu.cpu_signature(info) == cpu.cpu_signature(dict(info, logical_cpus=64))


def test_a_cached_measurement_can_be_forgotten(tmp_path: Path) -> None:
    specs: dict[str, TimedEncoder | Exception] = {
        "onnx": TimedEncoder("onnx", 0.0),
        "torch": TimedEncoder("torch", 0.0),
    }
    cache = tmp_path / "choice.json"
    _, first = choose(specs, cache, [])
    assert len(first.load_average) == 3  # the load it was measured at, to judge a measurement by
    choose(specs, cache, [], workload=BUILD)
    assert selection.forget_cached(cache, first.key) == 1
    loads: list[str] = []
    choose(specs, cache, loads)
    assert loads == ["onnx", "torch"]  # measured again
    assert selection.forget_cached(cache) == 2
    assert json.loads(cache.read_text()) == {}
    assert selection.forget_cached(tmp_path / "missing.json") == 0


def test_cache_encoder_on_the_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from skillmatch.cli.commands import app

    def fake(workload: str) -> Any:
        def make(*args: Any, **kwargs: Any) -> TimedEncoder:
            enc = TimedEncoder("onnx-int8-block", 0.0)
            enc.selection = BackendChoice(  # type: ignore[attr-defined]
                "onnx-int8-block",
                "auto (measured)",
                workload=workload,
                candidates=[selection.CandidateResult("onnx", 300.0, 20.0, 3, 1.0, True)],
            )
            return enc

        return make

    monkeypatch.setattr(factory, "make_encoder", fake("build"))
    monkeypatch.setattr(factory, "serving_encoder", fake("serving"))
    monkeypatch.setenv("SKILLMATCH_CACHE_DIR", str(tmp_path))
    (tmp_path / "encoder-choice.json").write_text('{"k": {}}')
    result = CliRunner().invoke(app, ["cache", "encoder", "--refresh", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["use"], r["workload"], r["backend"]) for r in rows] == [
        ("build", "build", "onnx-int8-block"),
        ("server", "serving", "onnx-int8-block"),
    ]
    assert "forgot 1 cached measurement" in result.output
