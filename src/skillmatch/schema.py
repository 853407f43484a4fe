"""Domain types and the column contracts of the tables that flow through skillmatch.

Every reader returns pandas DataFrames with exactly the columns listed here (in this order), so the
rest of the library can rely on them. List-valued columns hold Python lists of strings (never NaN);
optional scalar columns hold ``None``/``NaN`` when absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd


class Level(StrEnum):
    """Difficulty level of a credential or proficiency of a learner."""

    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


LEVEL_RANK: dict[str, int] = {Level.BEGINNER: 1, Level.INTERMEDIATE: 2, Level.ADVANCED: 3}

_LEVEL_ALIASES = {
    "beginner": Level.BEGINNER,
    "basic": Level.BEGINNER,
    "novice": Level.BEGINNER,
    "entry": Level.BEGINNER,
    "foundation": Level.BEGINNER,
    "intermediate": Level.INTERMEDIATE,
    "medium": Level.INTERMEDIATE,
    "good": Level.INTERMEDIATE,
    "advanced": Level.ADVANCED,
    "expert": Level.ADVANCED,
    "proficient": Level.ADVANCED,
}
_LEVEL_SUFFIX = re.compile(r"^(?P<skill>.+?)\s*(?:[:=\-–]\s*(?P<a>[A-Za-z]+)|\((?P<b>[A-Za-z]+)\))\s*$")


def parse_level(value: str | None) -> Level | None:
    """A proficiency level from its name or a common alias; None when absent; ValueError when unknown."""
    if value is None or not str(value).strip():
        return None
    level = _LEVEL_ALIASES.get(str(value).strip().lower())
    if level is None:
        raise ValueError(f"unknown proficiency level {value!r}; use beginner, intermediate or advanced")
    return level


#: A taxonomy id written as a URI or URN (ESCO: ``http://data.europa.eu/esco/skill/<uuid>``).
_ID_PATTERN = re.compile(r"^(?:https?://|urn:)\S+$", re.IGNORECASE)


def looks_like_id(text: str) -> bool:
    """Whether ``text`` is written as a taxonomy id (a URI or URN), so it must resolve exactly or be refused."""
    return bool(_ID_PATTERN.match(text.strip()))


def split_skill_level(text: str) -> tuple[str, Level | None]:
    """Split "Python: advanced" / "Python (advanced)" into the skill text and its level (if the suffix is one)."""
    match = _LEVEL_SUFFIX.match(text.strip())
    if match:
        word = (match.group("a") or match.group("b") or "").lower()
        if word in _LEVEL_ALIASES:
            return match.group("skill").strip(), _LEVEL_ALIASES[word]
    return text.strip(), None


class Mode(StrEnum):
    """Delivery mode of a credential."""

    ONLINE = "online"
    PHYSICAL = "physical"
    HYBRID = "hybrid"


# --- taxonomy -------------------------------------------------------------------------------------------

#: One row per linkable concept (skill or knowledge item).
#: ``alt_labels``: list[str]; ``broader``: list[str] of broader concept/group ids;
#: ``group_path``: human-readable path of skill groups, " > "-joined (may be "").
CONCEPT_COLUMNS = ["id", "label", "alt_labels", "description", "type", "reuse_level", "broader", "group_path"]

#: One row per occupation (role in the taxonomy). ``alt_labels``: list[str].
OCCUPATION_COLUMNS = ["id", "label", "alt_labels", "description", "isco_group"]

#: Occupation–skill relations. ``relation``: "essential" or "optional"; ``weight``: how much the occupation needs
#: the skill, 0–1 (ESCO and the generic format: :data:`RELATION_WEIGHTS`; O*NET: its importance rating scaled);
#: role profiles take it as their prior (docs/data-formats.md, "Relation weights").
RELATION_COLUMNS = ["occupation_id", "skill_id", "relation", "weight"]

#: The weight of a relation given only by its type: an optional skill weighs what the role profiles' default
#: priors imply (0.25 against 0.6 for an essential one), so profiles are the same with or without weights.
RELATION_WEIGHTS: dict[str, float] = {"essential": 1.0, "optional": 0.25 / 0.6}

#: Skill groups (non-linkable nodes of the hierarchy): id, label.
GROUP_COLUMNS = ["id", "label"]

# --- credentials and postings ------------------------------------------------------------------------------

#: The credential catalogue. List columns: learning_outcomes, skills, prerequisites, prerequisite_skills,
#: stackable_into, tags. ``tags``: keywords and alignments to frameworks other than the taxonomy (kept, never
#: linked); ``entry_requirements``: free-text conditions for admission (kept, never linked).
CREDENTIAL_COLUMNS = [
    "id",
    "title",
    "provider",
    "url",
    "description",
    "learning_outcomes",
    "skills",
    "level",
    "eqf_level",
    "nsqf_level",
    "mode",
    "language",
    "duration_hours",
    "credits",
    "credit_system",
    "cost",
    "currency",
    "assessment",
    "quality_assurance",
    "prerequisites",
    "prerequisite_skills",
    "stackable_into",
    "issuer",
    "issuer_country",
    "entry_requirements",
    "tags",
]

#: Job postings. ``skills``: list[str] (explicit skills, may be empty).
POSTING_COLUMNS = ["id", "title", "description", "skills", "occupation", "location", "date", "source"]

#: One row per rejected input row.
REJECT_COLUMNS = ["file", "row", "field", "reason"]


@dataclass
class Taxonomy:
    """A skills taxonomy: concepts, occupations, their relations and the group hierarchy."""

    name: str
    version: str
    concepts: pd.DataFrame
    occupations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OCCUPATION_COLUMNS))
    relations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RELATION_COLUMNS))
    groups: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=GROUP_COLUMNS))


@dataclass
class Reject:
    """One rejected input row: where it was and why."""

    file: str
    row: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}, row {self.row}"
        what = f" [{self.field}]" if self.field else ""
        return f"{where}{what}: {self.reason}"


@dataclass
class ReadResult:
    """What a reader returns: the valid rows as a table and the rejected ones."""

    table: pd.DataFrame
    rejects: list[Reject] = field(default_factory=list)

    def rejects_frame(self) -> pd.DataFrame:
        """The rejects as a table with :data:`REJECT_COLUMNS`."""
        return rejects_to_frame(self.rejects)


def rejected_rows(rejects: pd.DataFrame) -> int:
    """How many input rows the rejects (a table with :data:`REJECT_COLUMNS`) are about.

    A row can be rejected for several fields at once (each a reject of its own): it counts once. A reject of no
    particular row (a whole file or document) counts as one.
    """
    if rejects.empty:
        return 0
    located = rejects.dropna(subset=["row"])
    return int(len(located[["file", "row"]].drop_duplicates()) + (len(rejects) - len(located)))


def describe_rejects(rejects: int, rows: int) -> str:
    """The rejects of a build in words: ``"21 rejects in 17 rows"`` (``"none"`` without any)."""
    if not rejects:
        return "none"
    return f"{rejects} reject{'s' if rejects != 1 else ''} in {rows} row{'s' if rows != 1 else ''}"


def rejects_to_frame(rejects: list[Reject]) -> pd.DataFrame:
    """Turn a list of rejects into a table with :data:`REJECT_COLUMNS`."""
    return pd.DataFrame(
        [{"file": r.file, "row": r.row, "field": r.field, "reason": r.reason} for r in rejects],
        columns=REJECT_COLUMNS,
    )


class InputError(ValueError):
    """A whole input cannot be used (unreadable file, missing columns, wrong encoding...).

    The message always names the file and, where it applies, the row and field.
    """
