"""The ONNX backend's bookkeeping (no model is exported here; see tests/integration/test_perf_encoder.py)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from skillmatch import onnx_backend
from skillmatch.onnx_backend import (
    EXPORT_FORMAT,
    OnnxExportInfo,
    OnnxSentenceModel,
    OnnxUnavailable,
    _pooling_of,
    export_stem,
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


def fake_model() -> OnnxSentenceModel:
    model = OnnxSentenceModel.__new__(OnnxSentenceModel)
    model.info = info(dim=2)
    model.tokenizer = FakeTokenizer()  # type: ignore[assignment]
    model.session = FakeSession()  # type: ignore[assignment]
    return model


def test_runs_are_bounded_by_texts_and_padded_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_backend, "MAX_BATCH_TOKENS", 40)
    model = fake_model()
    texts = ["word " * 30, "word " * 12, "word " * 12, "word " * 12, *["a b"] * 25]  # longest first
    out = model.encode(texts, batch_size=10)
    shapes = model.session.shapes  # type: ignore[attr-defined]
    assert shapes[0] == (1, 30)  # a text over the budget runs alone
    assert all(rows <= 10 for rows, _ in shapes)
    assert all(rows * width <= 40 for rows, width in shapes[1:])
    assert sum(rows for rows, _ in shapes) == len(texts)
    # each row gets its own text's vector, whatever batch it ran in
    expected = np.array([[sum(FakeEncoding(t).ids), len(FakeEncoding(t).ids)] for t in texts], np.float32)
    np.testing.assert_array_equal(out, expected)
