"""Tests of skillmatch.readers.credentials: the catalogue reader and its value normalisers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from skillmatch.readers import read_credentials
from skillmatch.readers.credentials import (
    normalise_currency,
    normalise_language,
    normalise_level,
    normalise_mode,
)
from skillmatch.schema import CREDENTIAL_COLUMNS, InputError, Level, Mode

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "readers"
LIST_COLUMNS = ["learning_outcomes", "skills", "prerequisites", "stackable_into"]


def _by_id(table: pd.DataFrame) -> dict[str, dict[str, object]]:
    return {row["id"]: row for row in table.to_dict("records")}


def test_good_csv_rows_are_normalised() -> None:
    result = read_credentials(FIXTURES / "credentials.csv")
    assert result.rejects == []
    table = result.table
    assert list(table.columns) == CREDENTIAL_COLUMNS
    rows = _by_id(table)
    assert list(rows) == ["MC-SQL-101", "MC-SQL-201", "MC-PY-101"]

    sql = rows["MC-SQL-101"]
    assert sql["title"] == "SQL for Data Analysis"  # trimmed
    assert sql["learning_outcomes"] == ["Write SQL queries that join tables", "Aggregate data with GROUP BY"]
    assert sql["skills"] == ["SQL", "PostgreSQL"]
    assert (sql["level"], sql["mode"], sql["language"]) == ("beginner", "physical", "en")
    assert sql["eqf_level"] == 4 and sql["duration_hours"] == 12.5 and sql["credits"] == 2.0
    assert sql["cost"] == 0.0 and sql["currency"] == "EUR"  # "free" -> 0, "eur" -> EUR
    assert sql["stackable_into"] == ["QUAL-DATA-PGCERT"] and sql["prerequisites"] == []
    assert sql["issuer_country"] == "GB"

    advanced = rows["MC-SQL-201"]
    assert advanced["learning_outcomes"] == ["Tune slow queries", "Design indexes"]  # JSON array cell
    assert (advanced["level"], advanced["mode"], advanced["language"]) == ("advanced", "hybrid", "en")
    assert advanced["cost"] == 120.5 and advanced["currency"] == "EUR"  # "€" -> EUR
    assert advanced["prerequisites"] == ["MC-SQL-101"]

    python = rows["MC-PY-101"]
    assert python["learning_outcomes"] == []  # the description carries the text
    assert python["description"] == "Learn Python from scratch.\nBuild small scripts."
    assert (python["mode"], python["language"], python["nsqf_level"]) == ("physical", "hi", 4)
    assert pd.isna(python["cost"])  # missing cost is unknown, not free
    assert pd.isna(python["eqf_level"])


def test_column_types_follow_the_contract() -> None:
    table = read_credentials(FIXTURES / "credentials.csv").table
    for column in LIST_COLUMNS:
        assert all(isinstance(v, list) for v in table[column]), column
    assert str(table["eqf_level"].dtype) == "Int64"
    assert table["cost"].dtype == "float64"
    assert table["title"].dtype == "str"


EXPECTED_BAD = [
    (3, "id", "missing"),
    (4, "title", "missing"),
    (5, "description", "no learning_outcomes and no description"),
    (6, "duration_hours", "valid number"),
    (7, "duration_hours", "greater than or equal to 0"),
    (7, "cost", "greater than or equal to 0"),
    (8, "level", "unknown level 'wizard'"),
    (8, "eqf_level", "less than or equal to 8"),
    (8, "nsqf_level", "less than or equal to 10"),
    (9, "mode", "unknown mode 'by carrier pigeon'"),
    (10, "language", "unknown language 'Elvish'"),
    (11, "currency", "three-letter code"),
    (12, "id", "duplicate id 'OK-1' (first used on row 2)"),
    (13, None, "14 cells but the header has 13"),
]


def test_each_kind_of_bad_row_is_rejected_with_row_field_and_reason() -> None:
    path = FIXTURES / "credentials_bad.csv"
    result = read_credentials(path)
    assert result.table["id"].tolist() == ["OK-1"]
    got = [(r.row, r.field, r.reason) for r in result.rejects]
    assert len(got) == len(EXPECTED_BAD)
    for (row, field, reason), (want_row, want_field, want_text) in zip(got, EXPECTED_BAD, strict=True):
        assert (row, field) == (want_row, want_field)
        assert want_text in reason
    assert {r.file for r in result.rejects} == {str(path)}


def test_nothing_is_silently_dropped() -> None:
    path = FIXTURES / "credentials_bad.csv"
    result = read_credentials(path)
    data_rows = len(path.read_text(encoding="utf-8").splitlines()) - 1
    rejected_rows = {r.row for r in result.rejects}
    assert len(result.table) + len(rejected_rows) == data_rows


def test_jsonl_with_malformed_lines_and_numeric_ids() -> None:
    result = read_credentials(FIXTURES / "credentials.jsonl")
    rows = _by_id(result.table)
    assert list(rows) == ["MC-CLOUD-101", "102"]
    cloud = rows["MC-CLOUD-101"]
    assert cloud["learning_outcomes"] == ["Explain cloud service models", "Deploy a virtual machine"]
    assert cloud["skills"] == [] and cloud["language"] == "de" and cloud["cost"] == 49.0
    assert pd.isna(cloud["nsqf_level"]) and pd.isna(cloud["credits"])
    assert rows["102"]["mode"] == "hybrid"
    assert [(r.row, r.field) for r in result.rejects] == [(4, None), (5, None), (6, "id"), (7, "credits")]
    assert "malformed JSON" in result.rejects[0].reason


def test_parquet_and_json_give_the_same_table_as_jsonl(tmp_path: Path) -> None:
    records = [
        json.loads(line)
        for line in (FIXTURES / "credentials.jsonl").read_text(encoding="utf-8").splitlines()[:2]
    ]
    records[1]["id"] = str(records[1]["id"])  # a parquet column has one type
    pd.DataFrame(records).to_parquet(tmp_path / "c.parquet")
    (tmp_path / "c.json").write_text(json.dumps(records), encoding="utf-8")
    expected = read_credentials(FIXTURES / "credentials.jsonl").table
    for name in ("c.parquet", "c.json"):
        result = read_credentials(tmp_path / name)
        assert result.rejects == []
        pd.testing.assert_frame_equal(result.table, expected, check_dtype=False)


def test_tsv_is_read_like_csv(tmp_path: Path) -> None:
    frame = pd.read_csv(FIXTURES / "credentials.csv", dtype=str, keep_default_na=False)
    frame.to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    pd.testing.assert_frame_equal(
        read_credentials(tmp_path / "c.tsv").table, read_credentials(FIXTURES / "credentials.csv").table
    )


def test_latin1_catalogue_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,title,description\nC1,Gestión de proyectos,Curso\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.csv: not valid UTF-8.*re-save it as UTF-8"):
        read_credentials(path)


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("title,description", "missing required column(s): id"),
        ("id,description", "missing required column(s): title"),
        ("id,title,provider", "needs at least one of the columns: learning_outcomes, description"),
    ],
)
def test_missing_required_columns(tmp_path: Path, header: str, missing: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(header + "\n" + ",".join("x" for _ in header.split(",")) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_credentials(path)
    assert str(path) in str(info.value) and missing in str(info.value)


def test_headers_are_matched_loosely(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("ID,Title,Learning Outcomes,Duration-Hours\nC1,T,a|b,3\n", encoding="utf-8")
    row = read_credentials(path).table.iloc[0]
    assert row["learning_outcomes"] == ["a", "b"] and row["duration_hours"] == 3.0


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("Beginner", Level.BEGINNER),
        ("introductory", Level.BEGINNER),
        ("Foundation", Level.BEGINNER),
        ("entry-level", Level.BEGINNER),
        ("INTERMEDIATE", Level.INTERMEDIATE),
        ("expert", Level.ADVANCED),
    ],
)
def test_level_aliases(value: str, level: Level) -> None:
    assert normalise_level(value) is level


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("in person", Mode.PHYSICAL),
        ("In-Person", Mode.PHYSICAL),
        ("classroom", Mode.PHYSICAL),
        ("on-site", Mode.PHYSICAL),
        ("Blended", Mode.HYBRID),
        ("e-learning", Mode.ONLINE),
        ("Online", Mode.ONLINE),
    ],
)
def test_mode_aliases(value: str, mode: Mode) -> None:
    assert normalise_mode(value) is mode


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("EN", "en"),
        ("English", "en"),
        ("en-GB", "en"),
        ("pt_BR", "pt"),
        ("Deutsch", "de"),
        ("ger", "de"),
        ("Hindi", "hi"),
    ],
)
def test_language_names_and_codes(value: str, code: str) -> None:
    assert normalise_language(value) == code


@pytest.mark.parametrize("value", ["xx", "Elvish", "e"])
def test_unknown_language(value: str) -> None:
    with pytest.raises(ValueError, match="unknown language"):
        normalise_language(value)


def test_currency() -> None:
    assert normalise_currency(" usd ") == "USD"
    assert normalise_currency("£") == "GBP"
    with pytest.raises(ValueError, match="three-letter"):
        normalise_currency("dollars")
    with pytest.raises(ValueError, match="not an ISO 4217 code"):
        normalise_currency("XYZ")


def test_control_characters_and_rows_of_only_separators_are_rejected(tmp_path: Path) -> None:
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text(
        '{"id": "A", "title": "Bad\\u0000title", "learning_outcomes": ["x"]}\n'
        '{"id": "B", "title": "ok", "learning_outcomes": ["y\\u0007z"]}\n'
        '{"id": "C", "title": "tab\\tand newline\\nare text", "learning_outcomes": ["w"]}\n',
        encoding="utf-8",
    )
    result = read_credentials(jsonl)
    assert result.table["id"].tolist() == ["B", "C"]
    assert [(r.row, r.field) for r in result.rejects] == [(1, "title")]
    assert "NUL character (U+0000)" in result.rejects[0].reason
    # other control characters become spaces; tab and newline stay text
    assert result.table["learning_outcomes"].tolist()[0] == ["y z"]
    assert "\t" in result.table["title"].tolist()[1]
    csv = tmp_path / "c.csv"
    csv.write_text("id,title,learning_outcomes\nD,ok,z\n,,\n\nE,fine,w\n", encoding="utf-8")
    result = read_credentials(csv)
    assert result.table["id"].tolist() == ["D", "E"]
    assert [(r.row, r.reason) for r in result.rejects] == [(3, "row has only empty cells")]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_cost_in_json_is_rejected_not_read_as_unknown(tmp_path: Path, literal: str) -> None:
    lines = [
        '{"id": "A", "title": "t", "learning_outcomes": ["x"], "cost": 10, "currency": "EUR"}',
        f'{{"id": "B", "title": "t", "learning_outcomes": ["y"], "Cost": {literal}, "currency": "EUR"}}',
        '{"id": "C", "title": "t", "learning_outcomes": ["z"]}',  # no cost at all: unknown, kept
        f'{{"id": "D", "title": "t", "learning_outcomes": ["w"], "credits": [1, {literal}]}}',
    ]
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    as_array = tmp_path / "c.json"
    as_array.write_text("[" + ",\n".join(lines) + "]", encoding="utf-8")
    for path in (jsonl, as_array):
        result = read_credentials(path)
        assert result.table["id"].tolist() == ["A", "C"], path
        assert pd.isna(result.table["cost"].tolist()[1])
        assert [(r.file, r.row, r.field) for r in result.rejects] == [
            (str(path), 2, "cost"),
            (str(path), 4, "credits"),
        ]
        assert f"{literal} is not a number" in result.rejects[0].reason
        assert (
            "leave the key out" in result.rejects[0].reason and "(at credits[1])" in result.rejects[1].reason
        )
