"""Tests of skillmatch.readers.postings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from skillmatch.readers import read_postings
from skillmatch.readers.postings import parse_date
from skillmatch.schema import POSTING_COLUMNS, InputError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "readers"


def test_csv_postings() -> None:
    result = read_postings(FIXTURES / "postings.csv")
    table = result.table
    assert list(table.columns) == POSTING_COLUMNS
    assert table["id"].tolist() == ["P1", "P2", "P3"]
    first = table.iloc[0]
    assert first["skills"] == ["SQL", "Excel", "Tableau"]
    assert first["description"] == "We need SQL and Excel.\nTableau is a plus."
    assert first["date"] == "2025-03-04"
    assert table.iloc[1]["date"] == "2025-11-20"  # date-time -> date
    assert pd.isna(table.iloc[1]["title"])  # a description alone is enough
    assert pd.isna(table.iloc[2]["date"]) and table.iloc[2]["skills"] == []
    assert [(r.row, r.field) for r in result.rejects] == [
        (5, "description"),
        (6, "date"),
        (7, "date"),
        (8, "id"),
    ]
    assert "no title and no description" in result.rejects[0].reason
    assert "YYYY-MM-DD" in result.rejects[1].reason
    assert "first used on row 2" in result.rejects[3].reason


def test_jsonl_postings() -> None:
    result = read_postings(FIXTURES / "postings.jsonl")
    assert result.table["skills"].tolist() == [["AWS", "Terraform"], ["latte art", "customer service"]]
    assert [(r.row, r.field) for r in result.rejects] == [(3, None)]


def test_parquet_postings_with_timestamps(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b"],
            "title": ["Nurse", "Welder"],
            "skills": [["care", "triage"], []],
            "date": pd.to_datetime(["2025-05-06 10:00", None]),
        }
    )
    frame.to_parquet(tmp_path / "p.parquet")
    result = read_postings(tmp_path / "p.parquet")
    assert result.rejects == []
    assert result.table["date"].tolist()[0] == "2025-05-06"
    assert pd.isna(result.table["date"].tolist()[1])
    assert result.table["skills"].tolist() == [["care", "triage"], []]


def test_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("id,location\n1,Paris\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs at least one of the columns: title, description"):
        read_postings(path)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-04", "2025-03-04"),
        ("20250304", "2025-03-04"),
        ("2025-03-04T23:59:59Z", "2025-03-04"),
        (dt.date(2024, 2, 29), "2024-02-29"),
        (pd.Timestamp("2026-01-02 03:04"), "2026-01-02"),
    ],
)
def test_parse_date(value: object, expected: str) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["04/03/2025", "2025-13-01", "yesterday", 20250304])
def test_parse_date_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="not an ISO date"):
        parse_date(value)
