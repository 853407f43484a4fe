"""Read a cohort of learners (see docs/data-formats.md) for career-office gap analysis."""

from __future__ import annotations

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
from skillmatch.schema import ReadResult, Reject

#: Columns of a learners table. ``skills`` and ``credentials_held`` are lists; skills may carry a level suffix
#: ("Python: advanced").
LEARNER_COLUMNS = ["id", "skills", "cv", "credentials_held"]


class LearnerRow(RowModel):
    """One learner; needs at least one of skills, cv or credentials_held."""

    id: str = Field(min_length=1)
    skills: StrList = Field(default_factory=list)
    cv: str | None = None
    credentials_held: StrList = Field(default_factory=list, validate_default=True)

    @field_validator("credentials_held")
    @classmethod
    def _needs_something(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if not value and not info.data.get("skills") and not info.data.get("cv"):
            raise ValueError("no skills, no cv and no credentials_held: give at least one of them")
        return value


def read_learners(path: str | Path) -> ReadResult:
    """Read learners from .csv, .tsv, .jsonl, .json or .parquet.

    The table needs column ``id`` and at least one of ``skills``, ``cv``, ``credentials_held``.

    Raises:
        InputError: the file cannot be used as a whole or lacks required columns.
    """
    file = str(path)
    rejects: list[Reject] = []
    frame = read_table(path, rejects)
    require_columns(frame, file, ["id"], any_of=[["skills", "cv", "credentials_held"]])
    log_ignored_columns(frame, LEARNER_COLUMNS, file)
    return validate_rows(frame, LearnerRow, file, LEARNER_COLUMNS, rejects=rejects)
