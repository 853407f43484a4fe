"""The batch run's small pieces: inputs, resource settings, progress lines (no encoder)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from skillmatch.batch.run import BatchOptions, ProgressLine, actor_cpus, input_files
from skillmatch.schema import InputError


def test_actor_cpus_leave_a_cpu_for_reading_and_writing() -> None:
    assert actor_cpus(2, 2) == 0.5
    assert actor_cpus(2, 1) == 1.0
    assert actor_cpus(32, 32) == 0.97
    assert actor_cpus(1, 4) == 0.1


def test_input_files(tmp_path: Path) -> None:
    pd.DataFrame({"id": ["1"], "title": ["x"]}).to_parquet(tmp_path / "b.parquet")
    (tmp_path / "sub").mkdir()
    pd.DataFrame({"id": ["2"], "title": ["y"]}).to_parquet(tmp_path / "sub" / "a.parquet")
    assert input_files(tmp_path) == [tmp_path / "b.parquet", tmp_path / "sub" / "a.parquet"]
    with pytest.raises(InputError, match=r"no \.parquet files"):
        input_files(_empty(tmp_path))
    with pytest.raises(InputError, match="unknown file type"):
        input_files(_touch(tmp_path / "p.xlsx"))
    with pytest.raises(InputError, match="not found"):
        input_files(tmp_path / "missing.csv")


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def _touch(path: Path) -> Path:
    path.write_text("x")
    return path


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="engine"):
        BatchOptions(engine="spark")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers"):
        BatchOptions(workers=0)


def test_progress_line_reports_rate_and_eta() -> None:
    out = io.StringIO()
    line = ProgressLine(out, every_s=0)
    line(0, 100)
    line(100, 100)
    text = out.getvalue()
    assert "linked 100/100 postings" in text and "rows/s" in text and "ETA" in text
