"""Career moves from ESCO itself: an outside-data benchmark for credential recommendation.

Everything here is generated from a taxonomy (the ESCO export read by :func:`skillmatch.readers.load_taxonomy`),
deterministically from a seed, so nothing of skillmatch's own data or models leaks into the benchmark:

* :func:`career_pairs` makes (learner, target) pairs: a learner holds the essential skills of an occupation A
  at "intermediate", minus a random share of them (the gaps), and wants to move to another occupation B of the
  same 4-digit ISCO group, whose essential skills are required at "intermediate";
* :func:`generate_catalogue` makes a credential catalogue in the project's format (plus a
  ``prerequisite_skills`` column): courses that teach small sets of ESCO skills of one skill group at three
  levels, the higher levels requiring some of their skills at the level below, and broad "distractor"
  courses;
* :func:`match` is the published metric (mean of min(held, required) / required over the required skills),
  :func:`apply_pathway` plays a pathway of credentials on a learner and counts prerequisite violations, and
  :func:`score` / :func:`run_methods` / :func:`summarise` score recommenders against it;
* :func:`naive_pathway` and :func:`greedy_pathway` are the two baselines.

Skills are ESCO URIs; levels are ranks (beginner 1, intermediate 2, advanced 3; a missing skill is 0). In the
catalogue a skill is written with its level as a suffix, ``"http://data.europa.eu/esco/skill/<uuid>:
intermediate"``, the "text: level" convention the project uses for learner skills. See
docs/career-benchmark.md.
"""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from skillmatch.schema import CREDENTIAL_COLUMNS, LEVEL_RANK, Level, Taxonomy

#: Level name of each rank (the inverse of :data:`skillmatch.schema.LEVEL_RANK`).
RANK_LEVEL: dict[int, str] = {rank: str(level) for level, rank in LEVEL_RANK.items()}

#: The level at which learners hold their skills and targets require theirs.
PAIR_LEVEL = LEVEL_RANK[Level.INTERMEDIATE]

#: A pair (or a learner after a pathway) is "applicable" to its target at this match or above.
APPLICABLE = 0.8

#: Occupations with fewer essential skills than this take no part in pairs.
MIN_ESSENTIAL = 5

#: Columns of the generated catalogue: the catalogue reader's columns (``prerequisite_skills`` among them).
CATALOGUE_COLUMNS = list(CREDENTIAL_COLUMNS)

#: Hour range of a course, by level rank.
HOURS_BY_LEVEL: dict[int, tuple[float, float]] = {1: (10.0, 25.0), 2: (20.0, 40.0), 3: (30.0, 60.0)}

#: Hour range of a broad distractor course.
DISTRACTOR_HOURS = (30.0, 80.0)

#: The highest cost of a generated course, in EUR.
MAX_COST = 600.0

#: The k (most credentials) and hour budgets of the published figures.
KS = (1, 2, 3, 4, 5)
BUDGETS = (20.0, 40.0, 80.0)

_PROVIDERS = (
    "Open Skills Academy",
    "EuroVoc Institute",
    "Northfield College",
    "Atlas Learning",
    "Guild Training Centre",
    "Meridian University",
)
_MODES = ("online", "online", "hybrid", "physical")


# --- the metric ----------------------------------------------------------------------------------------------


def match(levels: Mapping[str, int], required: Mapping[str, int]) -> float:
    """The published metric: how far a learner meets a set of required skills.

    The mean over the required skills of ``min(learner level, required level) / required level``, with levels
    as ranks (beginner 1, intermediate 2, advanced 3) and a skill the learner lacks at 0. Holding a skill above
    the required level earns no more than meeting it.

    Args:
        levels: the learner's skills, skill id -> level rank.
        required: the required skills, skill id -> level rank (each >= 1).

    Returns:
        A value in [0, 1]; 1.0 when nothing is required.

    Raises:
        ValueError: a required level below 1.
    """
    if not required:
        return 1.0
    total = 0.0
    for skill, need in required.items():
        if need < 1:
            raise ValueError(f"required level of {skill!r} must be >= 1, got {need}")
        total += min(max(levels.get(skill, 0), 0), need) / need
    return total / len(required)


def level_name(rank: int) -> str:
    """The level name of a rank (1 -> "beginner", 2 -> "intermediate", 3 -> "advanced").

    Raises:
        ValueError: not a rank of 1-3.
    """
    try:
        return RANK_LEVEL[rank]
    except KeyError:
        raise ValueError(f"level rank must be 1, 2 or 3, got {rank!r}") from None


def skill_text(skill_id: str, rank: int) -> str:
    """A skill with its level in the "text: level" convention, e.g. ``"http://...: intermediate"``."""
    return f"{skill_id}: {level_name(rank)}"


def parse_skill(text: str, default: int | None = None) -> tuple[str, int]:
    """Split a ``"<skill id>: <level>"`` string into the id and the level rank.

    Only a suffix after the last colon that names a level counts, so the colon of ``http:`` is left alone.

    Args:
        text: the skill, with or without a level suffix.
        default: the rank of a skill without a suffix.

    Returns:
        ``(skill id, level rank)``.

    Raises:
        ValueError: no level suffix and no ``default``.
    """
    head, sep, tail = text.strip().rpartition(":")
    rank = LEVEL_RANK.get(tail.strip().lower()) if sep else None
    if rank is not None:
        return head.strip(), rank
    if default is None:
        raise ValueError(f"skill {text!r} has no level suffix (': beginner', ': intermediate', ': advanced')")
    return text.strip(), default


# --- pairs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CareerPair:
    """A learner who wants to move from occupation A (``source``) to occupation B (``target``).

    Attributes:
        source_id: occupation A's id.
        source_label: occupation A's preferred label.
        target_id: occupation B's id.
        target_label: occupation B's preferred label.
        isco_group: the 4-digit ISCO group that A and B share.
        learner: the learner's skills, skill id -> level rank (A's essential skills left after the drop).
        target: the required skills, skill id -> level rank (B's essential skills).
        dropped: A's essential skills removed from the learner.
    """

    source_id: str
    source_label: str
    target_id: str
    target_label: str
    isco_group: str
    learner: Mapping[str, int]
    target: Mapping[str, int]
    dropped: tuple[str, ...] = ()

    def learner_skills(self) -> list[str]:
        """The learner's skills as ``"<uri>: <level>"`` strings (sorted), as a user would type them."""
        return [skill_text(s, r) for s, r in sorted(self.learner.items())]

    def gaps(self) -> list[str]:
        """The target's skills that the learner holds below the required level (sorted)."""
        return sorted(s for s, need in self.target.items() if self.learner.get(s, 0) < need)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (skills as ``"<uri>: <level>"`` strings)."""
        return {
            "source_id": self.source_id,
            "source_label": self.source_label,
            "target_id": self.target_id,
            "target_label": self.target_label,
            "isco_group": self.isco_group,
            "learner": self.learner_skills(),
            "target": [skill_text(s, r) for s, r in sorted(self.target.items())],
            "dropped": list(self.dropped),
        }


def essential_skills(taxonomy: Taxonomy) -> dict[str, list[str]]:
    """Each occupation's essential skills (sorted, each once), keyed by occupation id."""
    relations = taxonomy.relations
    essential = relations[relations["relation"] == "essential"]
    out: dict[str, set[str]] = defaultdict(set)
    for occupation, skill in zip(essential["occupation_id"], essential["skill_id"], strict=True):
        out[str(occupation)].add(str(skill))
    return {occupation: sorted(skills) for occupation, skills in out.items()}


def _isco(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def career_pairs(
    taxonomy: Taxonomy,
    *,
    n_pairs: int = 700,
    seed: int = 0,
    drop: tuple[float, float] = (0.0, 0.5),
) -> list[CareerPair]:
    """Generate career-move pairs from the taxonomy's occupations.

    Rules:

    * occupations with fewer than :data:`MIN_ESSENTIAL` (5) essential skills, or without an ISCO group, are
      skipped (as sources and as targets);
    * the learner holds the essential skills of a source occupation A at "intermediate", with a random share
      of them, drawn uniformly from ``drop``, removed (rounded to whole skills);
    * the target is another occupation B of the same 4-digit ISCO group, its essential skills required at
      "intermediate";
    * a pair whose learner already meets B (:func:`match` >= :data:`APPLICABLE`) is skipped;
    * candidates are visited round by round: each round takes every source once (in a seeded random order),
      each with its next peer (peers in a seeded random order), so pairs spread over occupations and groups
      instead of piling up in the largest ISCO groups.

    Args:
        taxonomy: the taxonomy (occupations with ``isco_group``, essential/optional relations).
        n_pairs: how many pairs to make (fewer when the taxonomy has fewer candidates).
        seed: the random seed; the same seed and taxonomy give the same pairs.
        drop: the range of the share of A's essential skills removed from the learner.

    Returns:
        The pairs, in generation order.

    Raises:
        ValueError: ``n_pairs`` < 0 or a ``drop`` range outside [0, 1].
    """
    low, high = drop
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"drop must be a range within [0, 1], got {drop!r}")
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be >= 0, got {n_pairs}")
    rng = random.Random(seed)
    essentials = essential_skills(taxonomy)
    occupations = taxonomy.occupations
    labels = dict(zip(occupations["id"].astype(str), occupations["label"].astype(str), strict=True))
    groups: dict[str, list[str]] = defaultdict(list)
    group_of: dict[str, str] = {}
    for occupation, isco in zip(occupations["id"].astype(str), occupations["isco_group"], strict=True):
        group = _isco(isco)
        if group is not None and len(essentials.get(occupation, ())) >= MIN_ESSENTIAL:
            groups[group].append(occupation)
            group_of[occupation] = group
    sources = sorted(group_of)
    peers = {a: sorted(o for o in groups[group_of[a]] if o != a) for a in sources}
    for a in sources:
        rng.shuffle(peers[a])
    order = [a for a in sources if peers[a]]
    rng.shuffle(order)
    pairs: list[CareerPair] = []
    for round_ in range(max((len(p) for p in peers.values()), default=0)):
        for a in order:
            if len(pairs) >= n_pairs:
                return pairs
            if round_ >= len(peers[a]):
                continue
            b = peers[a][round_]
            held = essentials[a]
            dropped = sorted(rng.sample(held, round(rng.uniform(low, high) * len(held))))
            gone = set(dropped)
            learner = {s: PAIR_LEVEL for s in held if s not in gone}
            target = dict.fromkeys(essentials[b], PAIR_LEVEL)
            if match(learner, target) >= APPLICABLE:
                continue
            pairs.append(
                CareerPair(
                    source_id=a,
                    source_label=labels.get(a, a),
                    target_id=b,
                    target_label=labels.get(b, b),
                    isco_group=group_of[a],
                    learner=learner,
                    target=target,
                    dropped=tuple(dropped),
                )
            )
    return pairs


# --- the catalogue -------------------------------------------------------------------------------------------


def _strings(value: Any) -> list[str]:
    if value is None or isinstance(value, float):
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    return [str(v) for v in value]


def skill_group(concept: Mapping[Any, Any], group_ids: set[str]) -> str | None:
    """The skill group a concept is filed under for course generation.

    The first ``broader`` parent that is a skill group of the taxonomy, else the first ``broader`` parent of
    any kind (the parent the ESCO reader uses for ``group_path``), else the ``group_path`` text, else None.

    Args:
        concept: a row of the concept table (``broader``: list of ids, ``group_path``: text).
        group_ids: the ids of the taxonomy's skill groups.
    """
    broader = _strings(concept.get("broader"))
    for parent in broader:
        if parent in group_ids:
            return parent
    if broader:
        return broader[0]
    path = concept.get("group_path")
    if isinstance(path, str) and path.strip():
        return path.strip()
    return None


def _chunks(items: list[str], rng: random.Random) -> list[list[str]]:
    """Split ``items`` (at least 2) into consecutive chunks of 2-6."""
    out = []
    rest = list(items)
    while len(rest) > 6:
        size = rng.randint(2, min(6, len(rest) - 2))
        out.append(rest[:size])
        rest = rest[size:]
    out.append(rest)
    return out


def _outcome(label: str, kind: str, rank: int) -> str:
    what = f"knowledge of {label}" if kind == "knowledge" else label
    return f"Apply {what} at {level_name(rank)} level in realistic work tasks."


def _cost(rng: random.Random) -> float:
    return 0.0 if rng.random() < 0.2 else float(min(MAX_COST, round(rng.uniform(10.0, MAX_COST), -1)))


def _course(
    cid: str,
    title: str,
    description: str,
    skills: Sequence[tuple[str, str, str]],
    rank: int,
    hours: float,
    prerequisite_skills: list[str],
    rng: random.Random,
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(CATALOGUE_COLUMNS)
    row.update(
        id=cid,
        title=title,
        provider=rng.choice(_PROVIDERS),
        description=description,
        learning_outcomes=[_outcome(label, kind, rank) for _, label, kind in skills],
        skills=[skill_text(s, rank) for s, _, _ in skills],
        level=level_name(rank),
        mode=rng.choice(_MODES),
        language="en",
        duration_hours=float(round(hours)),
        cost=_cost(rng),
        currency="EUR",
        prerequisites=[],
        stackable_into=[],
        prerequisite_skills=prerequisite_skills,
    )
    return row


def generate_catalogue(taxonomy: Taxonomy, *, seed: int = 0, distractor_share: float = 0.1) -> pd.DataFrame:
    """Generate a credential catalogue that teaches the taxonomy's essential skills, deterministically.

    Rules:

    * only skills that are essential for at least one occupation are taught; they are grouped by their skill
      group (:func:`skill_group`: the first ``broader`` skill group, else the first ``broader`` concept, else
      the ``group_path``), and groups with fewer than 3 such skills are left out;
    * each group's skills (sorted, then shuffled with the seed) are cut into chunks of 2-6 skills, and each
      chunk becomes three courses that teach all of its skills: a beginner course (``...-1``) at beginner, an
      intermediate course (``...-2``) at intermediate whose ``prerequisite_skills`` are 1-2 of its skills at
      beginner, and an advanced course (``...-3``) at advanced whose ``prerequisite_skills`` are 1-2 of its
      skills at intermediate;
    * ``distractor_share`` times the number of chunks of broad "distractor" courses (``ESCO-D...``) each teach
      one essential skill plus 4-8 unrelated skills that are optional for some occupation but essential for
      none, at beginner or intermediate, without prerequisites (the off-target trap of real catalogues);
    * hours: beginner 10-25, intermediate 20-40, advanced 30-60, distractors 30-80 (whole hours); cost: 0 EUR
      for one course in five, else 10-600 EUR in steps of 10; provider and mode (online, hybrid, physical)
      drawn from small lists; language "en"; ``prerequisites`` (credential ids) and ``stackable_into`` empty;
    * one learning outcome per taught skill: "Apply <preferred label> at <level> level in realistic work
      tasks." ("Apply knowledge of <label> ..." for knowledge concepts).

    Skills and prerequisite skills are written ``"<skill uri>: <level>"``.

    Args:
        taxonomy: the taxonomy (concepts with ``broader``/``group_path``, groups, relations).
        seed: the random seed; the same seed and taxonomy give the same catalogue.
        distractor_share: distractor courses per chunk of regular courses (0 for none).

    Returns:
        The catalogue with :data:`CATALOGUE_COLUMNS` (the reader's columns plus ``prerequisite_skills``), ordered
        by id.

    Raises:
        ValueError: a negative ``distractor_share``.
    """
    if distractor_share < 0:
        raise ValueError(f"distractor_share must be >= 0, got {distractor_share}")
    rng = random.Random(seed)
    relations = taxonomy.relations
    essential = set(relations.loc[relations["relation"] == "essential", "skill_id"].astype(str))
    optional_only = sorted(
        set(relations.loc[relations["relation"] == "optional", "skill_id"].astype(str)) - essential
    )
    concepts = {str(row["id"]): row for row in taxonomy.concepts.to_dict("records")}
    group_ids = set(taxonomy.groups["id"].astype(str))
    group_labels = dict(
        zip(taxonomy.groups["id"].astype(str), taxonomy.groups["label"].astype(str), strict=True)
    )

    def info(skill: str) -> tuple[str, str, str]:
        concept = concepts[skill]
        return skill, str(concept["label"]), str(concept.get("type") or "skill")

    def group_label(group: str) -> str:
        if group in group_labels:
            return group_labels[group]
        if group in concepts:
            return str(concepts[group]["label"])
        return group.rsplit(">", 1)[-1].strip()

    by_group: dict[str, list[str]] = defaultdict(list)
    for skill in sorted(essential & concepts.keys()):
        group = skill_group(concepts[skill], group_ids)
        if group is not None:
            by_group[group].append(skill)

    rows: list[dict[str, Any]] = []
    n_chunks = 0
    for group in sorted(by_group):
        skills = by_group[group]
        if len(skills) < 3:
            continue
        rng.shuffle(skills)
        name = group_label(group)
        for chunk in _chunks(skills, rng):
            n_chunks += 1
            taught = [info(s) for s in chunk]
            topic = taught[0][1] if len(taught) == 1 else f"{taught[0][1]} and {len(taught) - 1} more"
            listed = ", ".join(label for _, label, _ in taught)
            for rank in (1, 2, 3):
                level = level_name(rank)
                prerequisites: list[str] = []
                if rank > 1:
                    picked = rng.sample(chunk, rng.randint(1, min(2, len(chunk))))
                    prerequisites = [skill_text(s, rank - 1) for s in sorted(picked)]
                rows.append(
                    _course(
                        f"ESCO-C{n_chunks:05d}-{rank}",
                        f"{name.capitalize()}: {topic} ({level})",
                        f"{'An' if level[0] in 'aeiou' else 'A'} {level} course in {name}, covering {listed}.",
                        taught,
                        rank,
                        rng.uniform(*HOURS_BY_LEVEL[rank]),
                        prerequisites,
                        rng,
                    )
                )
    essentials_sorted = sorted(essential & concepts.keys())
    pool = [s for s in optional_only if s in concepts]
    n_distractors = round(distractor_share * n_chunks) if essentials_sorted and len(pool) >= 4 else 0
    for n in range(1, n_distractors + 1):
        core = info(rng.choice(essentials_sorted))
        extras = [info(s) for s in sorted(rng.sample(pool, rng.randint(4, min(8, len(pool)))))]
        rank = rng.choice((1, 2))
        taught = [core, *extras]
        rows.append(
            _course(
                f"ESCO-D{n:05d}",
                f"Broad introduction: {core[1]} and {len(extras)} other topics",
                "A broad course across several fields: " + ", ".join(label for _, label, _ in taught) + ".",
                taught,
                rank,
                rng.uniform(*DISTRACTOR_HOURS),
                [],
                rng,
            )
        )
    frame = pd.DataFrame(rows, columns=CATALOGUE_COLUMNS)
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "tolist") and not isinstance(value, str):
        return value.tolist()
    return value


def write_jsonl(catalogue: pd.DataFrame, path: str | Path) -> Path:
    """Write a catalogue as JSONL, one JSON object per line, in the credential reader's format.

    Lists stay JSON arrays and missing values (None/NaN) become ``null``.

    Args:
        catalogue: the catalogue (e.g. from :func:`generate_catalogue`).
        path: the file to write (its folder is created).

    Returns:
        The path written.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for record in catalogue.to_dict("records"):
            line = {str(k): _json_value(v) for k, v in record.items()}
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    return out


# --- playing a pathway ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Course:
    """A credential reduced to what the benchmark needs.

    Attributes:
        id: the credential id.
        hours: its duration in hours (0 when unknown).
        teaches: skill id -> level rank it teaches.
        prerequisite_skills: skill id -> level rank the learner must hold before taking it.
        prerequisites: credential ids that must be taken before it.
    """

    id: str
    hours: float
    teaches: Mapping[str, int]
    prerequisite_skills: Mapping[str, int] = field(default_factory=dict)
    prerequisites: tuple[str, ...] = ()


class CourseIndex:
    """The catalogue's courses by id, with the courses that teach each skill.

    Args:
        courses: the courses (ids must be unique).

    Raises:
        ValueError: a duplicate id.
    """

    def __init__(self, courses: Iterable[Course]) -> None:
        self.courses: dict[str, Course] = {}
        self.by_skill: dict[str, list[Course]] = defaultdict(list)
        for course in courses:
            if course.id in self.courses:
                raise ValueError(f"duplicate credential id {course.id!r}")
            self.courses[course.id] = course
        for course in sorted(self.courses.values(), key=lambda c: c.id):
            for skill in course.teaches:
                self.by_skill[skill].append(course)

    @classmethod
    def from_frame(cls, catalogue: pd.DataFrame) -> CourseIndex:
        """Index a catalogue table.

        Columns read: ``id``, ``skills``, ``duration_hours``, ``level`` and, if present, ``prerequisites`` and
        ``prerequisite_skills``. A skill without a level suffix is taught at the credential's ``level`` (intermediate when that is
        missing); a prerequisite skill without one is required at beginner.
        """
        courses = []
        for row in catalogue.to_dict("records"):
            level = row.get("level")
            default = LEVEL_RANK.get(str(level), PAIR_LEVEL) if isinstance(level, str) else PAIR_LEVEL
            teaches: dict[str, int] = {}
            for text in _strings(row.get("skills")):
                skill, rank = parse_skill(text, default)
                teaches[skill] = max(rank, teaches.get(skill, 0))
            needs: dict[str, int] = {}
            for text in _strings(row.get("prerequisite_skills")):
                skill, rank = parse_skill(text, 1)
                needs[skill] = max(rank, needs.get(skill, 0))
            hours = row.get("duration_hours")
            courses.append(
                Course(
                    id=str(row["id"]),
                    hours=float(hours) if isinstance(hours, int | float) and not math.isnan(hours) else 0.0,
                    teaches=teaches,
                    prerequisite_skills=needs,
                    prerequisites=tuple(_strings(row.get("prerequisites"))),
                )
            )
        return cls(courses)

    def __getitem__(self, credential_id: str) -> Course:
        try:
            return self.courses[credential_id]
        except KeyError:
            raise KeyError(f"unknown credential id {credential_id!r}") from None

    def __len__(self) -> int:
        return len(self.courses)

    def teaching(self, skills: Iterable[str]) -> list[Course]:
        """The courses that teach any of ``skills``, each once, ordered by id."""
        found = {c.id: c for s in skills for c in self.by_skill.get(s, ())}
        return [found[i] for i in sorted(found)]


Catalogue: TypeAlias = pd.DataFrame | CourseIndex


def as_index(catalogue: Catalogue) -> CourseIndex:
    """A :class:`CourseIndex` of a catalogue table (an index is returned as it is)."""
    return catalogue if isinstance(catalogue, CourseIndex) else CourseIndex.from_frame(catalogue)


def apply_pathway(
    levels: Mapping[str, int],
    picks: Sequence[str],
    catalogue: Catalogue,
    *,
    held: Iterable[str] = (),
    admitted_only: bool = False,
) -> tuple[dict[str, int], int]:
    """Take credentials in order and return the learner's new levels and the prerequisite violations.

    Each credential raises each skill it teaches to ``max(current, taught level)``. Before it is applied, a
    credential whose ``prerequisite_skills`` the learner does not hold (from the start or through earlier picks)
    counts as one violation, and one whose ``prerequisites`` (credential ids) were neither held nor picked
    earlier counts as one more; violating credentials are applied all the same.

    Args:
        levels: the learner's skills, skill id -> level rank.
        picks: credential ids, in study order.
        catalogue: the catalogue (table or :class:`CourseIndex`).
        held: credential ids the learner already holds.
        admitted_only: skip (teach nothing from) a credential whose prerequisites are not met: the catalogue's own
            rules would not admit the learner, so the pathway cannot deliver it.

    Returns:
        ``(new levels, violations)``; ``levels`` is not changed.

    Raises:
        KeyError: a pick that the catalogue does not hold.
    """
    index = as_index(catalogue)
    current = dict(levels)
    taken = set(held)
    violations = 0
    for credential_id in picks:
        course = index[credential_id]
        broken = 0
        if any(current.get(s, 0) < need for s, need in course.prerequisite_skills.items()):
            broken += 1
        if any(p not in taken for p in course.prerequisites):
            broken += 1
        violations += broken
        if broken and admitted_only:
            continue
        for skill, rank in course.teaches.items():
            current[skill] = max(current.get(skill, 0), rank)
        taken.add(credential_id)
    return current, violations


# --- baselines -----------------------------------------------------------------------------------------------


def naive_pathway(
    pair: CareerPair, catalogue: Catalogue, k: int | None = None, max_hours: float | None = None
) -> list[str]:
    """Naive baseline: the credentials that teach most of the target's gap skills.

    Credentials are ranked by how many of the pair's gap skills (:meth:`CareerPair.gaps`) they teach, at any
    level (ties by id; credentials teaching none are left out), and taken in that order, skipping any that
    would go over ``max_hours``, until ``k`` are taken or the ranking ends.

    Args:
        pair: the pair.
        catalogue: the catalogue (table or :class:`CourseIndex`).
        k: the most credentials to take (None: no limit).
        max_hours: the hour budget (None: no limit).

    Returns:
        Credential ids in the order taken.
    """
    index = as_index(catalogue)
    gaps = set(pair.gaps())
    ranked = sorted(
        ((sum(s in gaps for s in c.teaches), c) for c in index.teaching(gaps)), key=lambda t: (-t[0], t[1].id)
    )
    picks: list[str] = []
    hours = 0.0
    for _, course in ranked:
        if k is not None and len(picks) >= k:
            break
        if max_hours is not None and hours + course.hours > max_hours:
            continue
        picks.append(course.id)
        hours += course.hours
    return picks


def greedy_pathway(
    pair: CareerPair, catalogue: Catalogue, k: int | None = None, max_hours: float | None = None
) -> list[str]:
    """Greedy baseline (the published kind): repeatedly take the credential with the largest gain in match.

    Each step takes the credential that raises :func:`match` on the target's skills most (per hour when
    ``max_hours`` is set, among the credentials that still fit the budget; ties: fewer hours, then id), and
    plays it on the learner as :func:`apply_pathway` does. Prerequisites are ignored. It stops when no
    credential gains anything, ``k`` are taken, or nothing fits the budget.

    Args:
        pair: the pair.
        catalogue: the catalogue (table or :class:`CourseIndex`).
        k: the most credentials to take (None: no limit).
        max_hours: the hour budget (None: no limit).

    Returns:
        Credential ids in the order taken.
    """
    index = as_index(catalogue)
    target = pair.target
    current = dict(pair.learner)
    candidates = index.teaching(target)
    picks: list[str] = []
    hours = 0.0
    while k is None or len(picks) < k:
        best: tuple[float, float, str] | None = None
        chosen: Course | None = None
        for course in candidates:
            if max_hours is not None and hours + course.hours > max_hours:
                continue
            gain = sum(
                min(max(current.get(s, 0), rank), target[s]) - min(current.get(s, 0), target[s])
                for s, rank in course.teaches.items()
                if s in target
            ) / (len(target) * PAIR_LEVEL)
            if gain <= 0:
                continue
            value = gain / max(course.hours, 1e-9) if max_hours is not None else gain
            key = (-value, course.hours, course.id)
            if best is None or key < best:
                best, chosen = key, course
        if chosen is None:
            break
        picks.append(chosen.id)
        hours += chosen.hours
        for skill, rank in chosen.teaches.items():
            current[skill] = max(current.get(skill, 0), rank)
        candidates = [c for c in candidates if c.id != chosen.id]
    return picks


# --- scoring -------------------------------------------------------------------------------------------------


def score(pair: CareerPair, picks: Sequence[str], catalogue: Catalogue) -> dict[str, Any]:
    """Score a pathway for a pair with the published metric.

    Args:
        pair: the pair.
        picks: credential ids, in study order.
        catalogue: the catalogue (table or :class:`CourseIndex`).

    Returns:
        ``match_before`` and ``match_after`` (:func:`match` on the target's skills), ``gain`` (after - before),
        ``applicable`` (after >= :data:`APPLICABLE`), the same counting only credentials the learner is admitted
        to (``admitted_gain``, ``admitted_applicable``: a credential whose prerequisites are unmet teaches nothing),
        ``violations`` (:func:`apply_pathway`), ``items`` and ``hours`` of the picks.
    """
    index = as_index(catalogue)
    before = match(pair.learner, pair.target)
    after_levels, violations = apply_pathway(pair.learner, picks, index)
    after = match(after_levels, pair.target)
    admitted_levels, _ = apply_pathway(pair.learner, picks, index, admitted_only=True)
    admitted = match(admitted_levels, pair.target)
    return {
        "match_before": before,
        "match_after": after,
        "gain": after - before,
        "applicable": after >= APPLICABLE,
        "admitted_gain": admitted - before,
        "admitted_applicable": admitted >= APPLICABLE,
        "violations": violations,
        "items": len(picks),
        "hours": sum(index[p].hours for p in picks),
    }


#: A recommender under test: ``(pair, catalogue, k, max_hours) -> credential ids``.
Method = Callable[[CareerPair, CourseIndex, int | None, float | None], list[str]]


def run_methods(
    pairs: Sequence[CareerPair],
    catalogue: Catalogue,
    methods: Mapping[str, Method],
    *,
    ks: Sequence[int] = KS,
    budgets: Sequence[float] = BUDGETS,
) -> list[dict[str, Any]]:
    """Run each method on each pair, once per k (no hour budget) and once per hour budget (no k).

    Args:
        pairs: the pairs.
        catalogue: the catalogue (table or :class:`CourseIndex`).
        methods: method name -> recommender, called as ``method(pair, index, k, max_hours)``.
        ks: the k values.
        budgets: the hour budgets.

    Returns:
        One row per (method, limit, pair): ``method``, ``limit`` ("k" or "hours"), ``value``, ``pair`` (its
        position), ``picks`` and the fields of :func:`score`.
    """
    index = as_index(catalogue)
    settings: list[tuple[str, float, int | None, float | None]] = [("k", float(k), k, None) for k in ks]
    settings += [("hours", float(h), None, float(h)) for h in budgets]
    rows = []
    for name, method in methods.items():
        for limit, value, k, max_hours in settings:
            for position, pair in enumerate(pairs):
                picks = list(method(pair, index, k, max_hours))
                rows.append(
                    {
                        "method": name,
                        "limit": limit,
                        "value": value,
                        "pair": position,
                        "picks": picks,
                        **score(pair, picks, index),
                    }
                )
    return rows


#: Columns of :func:`summarise`.
SUMMARY_COLUMNS = [
    "method",
    "limit",
    "value",
    "pairs",
    "mean_gain",
    "mean_match",
    "applicable",
    "admitted_gain",
    "admitted_applicable",
    "violations",
    "mean_items",
    "mean_hours",
]


def summarise(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The published figures per method and per k or hour budget.

    Args:
        rows: rows as :func:`run_methods` gives them (``method``, ``limit``, ``value`` and :func:`score`'s
            fields).

    Returns:
        One row per (method, limit, value) with :data:`SUMMARY_COLUMNS`: the number of pairs, the mean match
        gain, the mean match after, the number of applicable pairs after the pathway, the total prerequisite
        violations, and the mean credentials and hours taken. Ordered by method (first seen first), limit ("k"
        before "hours") and value.
    """
    frame = pd.DataFrame(list(rows))
    if frame.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    methods = list(dict.fromkeys(frame["method"]))
    out = (
        frame.groupby(["method", "limit", "value"], sort=False)
        .agg(
            pairs=("gain", "size"),
            mean_gain=("gain", "mean"),
            mean_match=("match_after", "mean"),
            applicable=("applicable", "sum"),
            admitted_gain=("admitted_gain", "mean"),
            admitted_applicable=("admitted_applicable", "sum"),
            violations=("violations", "sum"),
            mean_items=("items", "mean"),
            mean_hours=("hours", "mean"),
        )
        .reset_index()
    )
    out["applicable"] = out["applicable"].astype(int)
    out["admitted_applicable"] = out["admitted_applicable"].astype(int)
    out["violations"] = out["violations"].astype(int)
    out["_m"] = out["method"].map(methods.index)
    out["_l"] = out["limit"].map({"k": 0, "hours": 1})
    out = out.sort_values(["_m", "_l", "value"], kind="stable").drop(columns=["_m", "_l"])
    return out[SUMMARY_COLUMNS].reset_index(drop=True)
