"""Read job postings (see docs/data-formats.md) into :data:`~skillmatch.schema.POSTING_COLUMNS`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from skillmatch.readers.tables import (
    RowModel,
    StrList,
    log_ignored_columns,
    read_table,
    require_columns,
    validate_rows,
)
from skillmatch.schema import POSTING_COLUMNS, ReadResult, Reject


def parse_date(value: object) -> str:
    """An ISO 8601 date or date-time (or a date object) as a ``YYYY-MM-DD`` string.

    Raises:
        ValueError: not a date.
    """
    if isinstance(value, dt.datetime):  # also pandas.Timestamp
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        for parse in (dt.date.fromisoformat, dt.datetime.fromisoformat):
            try:
                parsed = parse(text)
            except ValueError:
                continue
            return (parsed.date() if isinstance(parsed, dt.datetime) else parsed).isoformat()
    raise ValueError(f"not an ISO date (expected YYYY-MM-DD, got {value!r})")


class PostingRow(RowModel):
    """One job posting; ``title`` comes before ``description`` for the cross-field check."""

    id: str = Field(min_length=1)
    title: str | None = None
    description: str | None = Field(default=None, validate_default=True)
    skills: StrList = Field(default_factory=list)
    occupation: str | None = None
    location: str | None = None
    date: str | None = None
    source: str | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, value: object) -> object:
        return None if value is None else parse_date(value)

    @field_validator("description")
    @classmethod
    def _needs_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "title" in info.data and not value and not info.data["title"]:
            raise ValueError("no title and no description: give at least one of them")
        return value


def read_postings(path: str | Path) -> ReadResult:
    """Read job postings (.csv, .tsv, .jsonl, .ndjson, .json or .parquet).

    Required columns: ``id`` and at least one of ``title`` / ``description`` (each row needs a non-empty
    title or description). ``skills`` is a list (``|``-separated, line-separated or a JSON array); ``date``
    is normalised to ``YYYY-MM-DD``.

    Args:
        path: the postings file.

    Returns:
        The postings with exactly :data:`~skillmatch.schema.POSTING_COLUMNS` and the rejects.

    Raises:
        InputError: the file cannot be used as a whole or lacks required columns.
    """
    file = str(path)
    rejects: list[Reject] = []
    frame = read_table(path, rejects)
    require_columns(frame, file, ["id"], any_of=[["title", "description"]])
    log_ignored_columns(frame, POSTING_COLUMNS, file)
    return validate_rows(frame, PostingRow, file, POSTING_COLUMNS, rejects=rejects)
