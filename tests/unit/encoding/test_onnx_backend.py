"""The ONNX backend's bookkeeping (no model is exported here; see tests/integration/test_perf_encoder.py)."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from skillmatch.encoding import onnx_backend
from skillmatch.encoding.onnx_backend import (
    EXPORT_FORMAT,
    RUN_OVERHEAD_TOKENS,
    OnnxExportInfo,
    OnnxSentenceModel,
    OnnxUnavailable,
    _pooling_of,
    export_stem,
    plan_runs,
    read_info,
)


class Transformer:
    pass


class Pooling:
    def __init__(self, mode: str) -> None:
        self.pooling_mode = mode


class Normalize:
    pass


class Dense:
    pass


def info(**changes: object) -> OnnxExportInfo:
    base = OnnxExportInfo(
        EXPORT_FORMAT, 384, 256, "mean", 0, "[PAD]", ("input_ids", "attention_mask"), "fp32"
    )
    return OnnxExportInfo(**{**asdict(base), **changes})  # type: ignore[arg-type]


def write_export(stem: Path, meta: OnnxExportInfo) -> None:
    stem.with_suffix(".onnx").write_bytes(b"graph")
    stem.with_suffix(".tokenizer.json").write_text("{}")
    stem.with_suffix(".json").write_text(json.dumps(asdict(meta)))


def test_supported_architectures_give_their_pooling() -> None:
    assert _pooling_of([Transformer(), Pooling("mean"), Normalize()]) == "mean"
    assert _pooling_of([Transformer(), Pooling("cls")]) == "cls"


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ([Transformer(), Pooling("max")], "mean or cls pooling"),
        ([Transformer(), Pooling("mean"), Dense()], "does not handle the modules"),
        ([Pooling("mean")], "Transformer \\+ Pooling"),
        ([], "Transformer \\+ Pooling"),
    ],
)
def test_other_architectures_are_refused(modules: list[object], message: str) -> None:
    with pytest.raises(OnnxUnavailable, match=message):
        _pooling_of(modules)


def test_stems_differ_by_model_and_precision(tmp_path: Path) -> None:
    a = export_stem(tmp_path, "model@abc", "fp32")
    assert a.parent == tmp_path
    assert a != export_stem(tmp_path, "model@abd", "fp32")
    assert a != export_stem(tmp_path, "model@abc", "int8")
    assert a == export_stem(tmp_path, "model@abc", "fp32")


def test_a_complete_export_is_read_back(tmp_path: Path) -> None:
    stem = export_stem(tmp_path, "model@abc", "fp32")
    write_export(stem, info())
    assert read_info(stem) == info()


def test_partial_broken_or_old_exports_are_ignored(tmp_path: Path) -> None:
    stem = export_stem(tmp_path, "model@abc", "fp32")
    assert read_info(stem) is None
    write_export(stem, info(format=EXPORT_FORMAT - 1))
    assert read_info(stem) is None  # an old export format is made again
    write_export(stem, info())
    stem.with_suffix(".json").write_text("{not json")
    assert read_info(stem) is None
    write_export(stem, info())
    stem.with_suffix(".tokenizer.json").unlink()
    assert read_info(stem) is None


class FakeEncoding:
    def __init__(self, text: str) -> None:
        self.ids = [len(w) + 1 for w in text.split()] or [1]
        self.type_ids = [0] * len(self.ids)


class FakeTokenizer:
    def encode(self, text: str) -> FakeEncoding:
        return FakeEncoding(text)


class FakeSession:
    """Returns, per row, [sum of ids, number of real tokens]; records the shape of each run."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, int]] = []

    def run(self, _outputs: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        ids, mask = feeds["input_ids"], feeds["attention_mask"]
        self.shapes.append(ids.shape)
        return [np.stack([(ids * mask).sum(1), mask.sum(1)], axis=1).astype(np.float32)]


def fake_model(parallel_runs: int = 1) -> OnnxSentenceModel:
    model = OnnxSentenceModel.__new__(OnnxSentenceModel)
    model.info = info(dim=2)
    model.parallel_runs = parallel_runs
    model._pool = None
    model.tokenizer = FakeTokenizer()  # type: ignore[assignment]
    model.session = FakeSession()  # type: ignore[assignment]
    return model


@pytest.mark.parametrize("parallel_runs", [1, 3])
def test_runs_are_bounded_by_texts_and_padded_tokens(
    monkeypatch: pytest.MonkeyPatch, parallel_runs: int
) -> None:
    monkeypatch.setattr(onnx_backend, "MAX_BATCH_TOKENS", 40)
    model = fake_model(parallel_runs)
    texts = ["word " * 30, "word " * 12, "word " * 12, "word " * 12, *["a b"] * 25]  # longest first
    out = model.encode(texts, batch_size=10)
    shapes = model.session.shapes  # type: ignore[attr-defined]
    if parallel_runs == 1:
        assert shapes[0] == (1, 30)  # a text over the budget runs alone (in order when one run at a time)
    assert (1, 30) in shapes
    assert all(rows <= 10 for rows, _ in shapes)
    assert all(rows * width <= 40 for rows, width in shapes[1:])
    assert sum(rows for rows, _ in shapes) == len(texts)
    # each row gets its own text's vector, whatever batch it ran in
    expected = np.array([[sum(FakeEncoding(t).ids), len(FakeEncoding(t).ids)] for t in texts], np.float32)
    np.testing.assert_array_equal(out, expected)


# --- plan_runs: the cheapest split of length-sorted texts into runs --------------------------------------------


def run_cost(lengths: list[int], runs: list[tuple[int, int]]) -> int:
    return sum(RUN_OVERHEAD_TOKENS + (end - start) * lengths[start] for start, end in runs)


def valid_runs(lengths: list[int], runs: list[tuple[int, int]], batch_size: int, max_tokens: int) -> bool:
    return all(
        end - start <= batch_size and (end - start == 1 or (end - start) * lengths[start] <= max_tokens)
        for start, end in runs
    )


def cheapest_by_brute_force(lengths: list[int], batch_size: int, max_tokens: int) -> int:
    """The least cost over every split of the texts into consecutive runs that respects the limits."""
    n = len(lengths)
    costs = []
    for cuts in range(1 << (n - 1)):
        bounds = [0, *(i + 1 for i in range(n - 1) if cuts >> i & 1), n]
        runs = list(itertools.pairwise(bounds))
        if valid_runs(lengths, runs, batch_size, max_tokens):
            costs.append(run_cost(lengths, runs))
    return min(costs)  # one text per run is always valid


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 64])
@pytest.mark.parametrize("max_tokens", [1, 30, 60, 120, 512])
def test_plan_runs_is_a_valid_split_of_least_cost(batch_size: int, max_tokens: int) -> None:
    rng = random.Random(batch_size * 1000 + max_tokens)
    for _ in range(30):
        top = rng.choice([3, 12, 40])  # small ranges give ties, large ones very different lengths
        lengths = sorted((rng.randint(1, top) for _ in range(rng.randint(1, 9))), reverse=True)
        runs = plan_runs(lengths, batch_size, max_tokens)
        assert runs[0][0] == 0 and runs[-1][1] == len(lengths)
        assert all(start < end for start, end in runs)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(runs))  # consecutive: each text once
        assert valid_runs(lengths, runs, batch_size, max_tokens), (lengths, runs)
        assert run_cost(lengths, runs) == cheapest_by_brute_force(lengths, batch_size, max_tokens), (
            lengths,
            runs,
        )


def test_plan_runs_refuses_unsorted_lengths_and_plans_nothing_for_no_texts() -> None:
    with pytest.raises(ValueError, match="sorted"):
        plan_runs([3, 5], 4, 100)
    with pytest.raises(ValueError, match="sorted"):
        plan_runs([9, 5, 5, 6], 4, 100)
    assert plan_runs([], 4, 100) == []


def test_plan_runs_does_not_pad_short_texts_to_a_long_one() -> None:
    lengths = [40] + [5] * 20
    # even where the limits would allow one run, the long text runs alone
    assert plan_runs(lengths, 64, 10_000) == [(0, 1), (1, 21)]
    assert plan_runs(lengths, 64, onnx_backend.MAX_BATCH_TOKENS) == [(0, 1), (1, 21)]
    # texts of close lengths share a run: the per-run cost outweighs a little padding
    assert plan_runs([6, 5, 5], 64, 10_000) == [(0, 3)]
    # a text over the token budget runs alone; the limits split the rest
    assert plan_runs([50, 10, 10, 10], 2, 40) == [(0, 1), (1, 3), (3, 4)]


def test_encode_follows_the_plan_on_texts_in_any_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_backend, "MAX_BATCH_TOKENS", 60)
    rng = random.Random(11)
    counts = [rng.choice([1, 2, 3, 4, 5, 12, 20, 30]) for _ in range(40)]
    texts = [" ".join("w" * rng.randint(1, 6) for _ in range(k)) for k in counts]
    assert counts != sorted(counts, reverse=True) and counts != sorted(counts)
    model = fake_model()
    out = model.encode(texts, batch_size=8)
    expected = np.array([[sum(FakeEncoding(t).ids), len(FakeEncoding(t).ids)] for t in texts], np.float32)
    np.testing.assert_array_equal(out, expected)  # each row its own text's vector
    lengths = sorted(counts, reverse=True)
    plan = plan_runs(lengths, 8, 60)
    shapes = model.session.shapes  # type: ignore[attr-defined]
    assert shapes == [(end - start, lengths[start]) for start, end in plan]
    padded = sum(rows * width for rows, width in shapes)
    assert padded == sum((end - start) * lengths[start] for start, end in plan)
    # fewer padded tokens than fixed runs of 8 of the sorted texts would have
    assert padded < sum(len(lengths[i : i + 8]) * lengths[i] for i in range(0, len(lengths), 8))
