"""The ONNX backend's bookkeeping (no model is exported here; see tests/integration/test_perf_encoder.py)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from skillmatch.onnx_backend import (
    EXPORT_FORMAT,
    OnnxExportInfo,
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
