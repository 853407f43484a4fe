"""Tests of skillmatch.readers.tables: file formats, row numbers, encodings, list cells, row validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from skillmatch.readers.tables import (
    RowModel,
    StrList,
    parse_list,
    read_table,
    require_columns,
    validate_rows,
)
from skillmatch.schema import InputError, Reject

# --- parse_list ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["a", " b ", "", "a"], ["a", "b"]),
        (("x", "y"), ["x", "y"]),
        (np.array(["p", "q", "p"], dtype=object), ["p", "q"]),
        ('["SQL", " Excel ", "SQL"]', ["SQL", "Excel"]),
        ("SQL| Excel |  |Tableau", ["SQL", "Excel", "Tableau"]),
        ("one\ntwo\r\nthree\n\none", ["one", "two", "three"]),
        ("[optional] read docs", ["[optional] read docs"]),
        ("", []),
        ("   ", []),
        (None, []),
        (float("nan"), []),
        (pd.NA, []),
        (5, ["5"]),
        ([1, 2.5], ["1", "2.5"]),
    ],
)
def test_parse_list_accepts_every_form(value: object, expected: list[str]) -> None:
    assert parse_list(value) == expected


def test_parse_list_rejects_non_text_items() -> None:
    with pytest.raises(ValueError, match="list items must be text"):
        parse_list([{"a": 1}])
    with pytest.raises(ValueError, match="expected a list or text"):
        parse_list({"a": 1})


# "[" is left out: a cell that is a whole JSON array ("[1]") is read as that array, by design.
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="|\r\n["), max_size=12)))
def test_parse_list_round_trips_pipe_joined_items(items: list[str]) -> None:
    expected = list(dict.fromkeys(i.strip() for i in items if i.strip()))
    assert parse_list("|".join(items)) == expected
    assert parse_list(items) == expected
    assert parse_list(json.dumps(items)) == expected


# --- read_table ---------------------------------------------------------------------------------------------


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_row_numbers_count_the_header_as_row_1_and_records_not_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", 'ID, Full Name\n1,"two\nlines"\n\n2,b\n')
    frame = read_table(path)
    assert list(frame.columns) == ["id", "full_name"]
    # the two-line record is spreadsheet row 2; the blank line is row 3 (skipped); "2,b" is row 4
    assert list(frame.index) == [2, 4]
    assert frame.loc[2, "full_name"] == "two\nlines"
    assert frame.index.name == "row"


def test_tsv_and_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_bytes("\ufeffid\tname\nA\tÄrztin\n".encode())
    frame = read_table(path)
    assert list(frame.columns) == ["id", "name"]
    assert frame.loc[2, "name"] == "Ärztin"


def test_short_csv_rows_are_padded_long_rows_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "id,a,b\n1,x\n2,x,y,z\n3,x,y,\n")
    rejects: list[Reject] = []
    frame = read_table(path, rejects)
    assert list(frame.index) == [2, 4]
    assert frame.loc[2, "b"] == ""
    assert [(r.row, r.field) for r in rejects] == [(3, None)]
    assert "4 cells but the header has 3" in rejects[0].reason
    with pytest.raises(InputError, match="row 3"):
        read_table(path)  # without a rejects list a bad record is an error


def test_jsonl_keeps_line_numbers_and_rejects_bad_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.jsonl", '{"id": 1, "Name": "a"}\n\n{"id": 2\n[1, 2]\n{"id": 3, "extra": true}\n'
    )
    rejects: list[Reject] = []
    frame = read_table(path, rejects)
    assert list(frame.index) == [1, 5]
    assert list(frame.columns) == ["id", "name", "extra"]
    assert frame.loc[1, "id"] == 1  # JSON values keep their type
    assert pd.isna(frame.loc[1, "extra"])
    assert [(r.row, r.reason.split(":")[0]) for r in rejects] == [
        (3, "malformed JSON line"),
        (4, "expected a JSON object, got list"),
    ]


def test_jsonl_with_no_readable_line_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.jsonl", '{"id": 1\n[1]\n')
    with pytest.raises(InputError, match=r"no readable rows.*row 1"):
        read_table(path, [])


def test_json_array(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.json", '[{"id": "a"}, 7, {"id": "b"}]')
    rejects: list[Reject] = []
    frame = read_table(path, rejects)
    assert list(frame.index) == [1, 3]
    assert rejects[0].row == 2
    with pytest.raises(InputError, match="expected a JSON array"):
        read_table(_write(tmp_path / "o.json", '{"id": "a"}'))
    with pytest.raises(InputError, match="malformed JSON at line 1"):
        read_table(_write(tmp_path / "bad.json", '[{"id": "a"'))


def test_parquet_keeps_types_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"ID": [1, 2, None], "tags": [["a", "b"], [], None]}, dtype=object).astype(
        {"ID": "Int64"}
    ).to_parquet(path)
    frame = read_table(path)
    assert list(frame.index) == [1, 2, 3]
    assert list(frame.columns) == ["id", "tags"]
    assert frame.loc[1, "id"] == 1
    assert parse_list(frame.loc[1, "tags"]) == ["a", "b"]
    assert parse_list(frame.loc[3, "tags"]) == []


def test_latin1_file_is_an_input_error_that_says_how_to_fix_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "latin.csv", "id,title\n1,ok\n2,Gestión de datos\n", encoding="latin-1")
    with pytest.raises(InputError) as info:
        read_table(path)
    message = str(info.value)
    assert str(path) in message and "UTF-8" in message and "line 3" in message and "re-save" in message


def test_utf16_file_is_an_input_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "u16.csv", "id,title\n1,x\n", encoding="utf-16")
    with pytest.raises(InputError, match="UTF-16"):
        read_table(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", "empty"),
        ("blank.csv", "\n  \n", "empty"),
        ("header.csv", "id,title\n", "no data rows"),
        ("empty.jsonl", "\n\n", "empty"),
        ("empty.json", "[]", "no data rows"),
        ("t.xlsx", "id\n1\n", "unknown file type"),
        ("dup.csv", "id,Title,title\n1,a,b\n", "appears twice"),
        ("nameless.csv", "id,,title\n1,x,a\n", "no name"),
    ],
)
def test_whole_file_problems_raise_input_error_naming_the_file(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = _write(tmp_path / name, content)
    with pytest.raises(InputError, match=message) as info:
        read_table(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_table(tmp_path / "nope.csv")


def test_trailing_unnamed_empty_columns_are_dropped(tmp_path: Path) -> None:
    frame = read_table(_write(tmp_path / "t.csv", "id,title,,\n1,a,,\n"))
    assert list(frame.columns) == ["id", "title"]


def test_require_columns_names_file_and_missing_columns() -> None:
    frame = pd.DataFrame({"title": ["x"]})
    with pytest.raises(InputError) as info:
        require_columns(frame, "cat.csv", ["id", "title"], any_of=[["learning_outcomes", "description"]])
    message = str(info.value)
    assert message.startswith("cat.csv:")
    assert "missing required column(s): id" in message
    assert "learning_outcomes, description" in message


# --- validate_rows ------------------------------------------------------------------------------------------


class _Row(RowModel):
    id: str
    hours: float | None = Field(default=None, ge=0)
    tags: StrList = Field(default_factory=list)


def test_validate_rows_turns_errors_into_rejects_and_keeps_every_row_accounted_for() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", " ", "b", "a", 7],
            "hours": ["1.5", "2", "-1", "3", np.int64(4)],
            "tags": ["x|y", "", "", "", ""],
        },
        index=[2, 3, 4, 5, 6],
    )
    result = validate_rows(frame, _Row, "f.csv", ["id", "hours", "tags"])
    assert result.table["id"].tolist() == ["a", "7"]
    assert result.table["tags"].tolist() == [["x", "y"], []]
    assert result.table["hours"].tolist() == [1.5, 4.0]
    assert [(r.row, r.field) for r in result.rejects] == [(3, "id"), (4, "hours"), (5, "id")]
    assert "first used on row 2" in result.rejects[2].reason
    assert all(r.file == "f.csv" for r in result.rejects)
    assert result.rejects_frame().shape == (3, 4)
