"""Learners and gap analysis: what a learner already has against what a role needs.

A learner gives skills as free text (optionally with a proficiency, "Python: advanced" or
"Python (beginner)"), and/or CV text, and/or ids of credentials already held. Each becomes linked taxonomy
skills. Every skill of the role profile is then covered, partly covered or missing (see
:mod:`skillmatch.matching.skillspace` for partial credit), and its gap weight is the role weight times what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING

import pandas as pd

from skillmatch.schema import LEVEL_RANK, Level, parse_level, split_skill_level

if TYPE_CHECKING:
    from skillmatch.matching.context import MatchContext

_RANK_LEVEL = {rank: str(level) for level, rank in LEVEL_RANK.items()}

#: Coverage at or above this counts as covered.
COVERED = 0.999


class UnknownCredentialError(LookupError):
    """A credential id that the bundle does not know."""


class UnknownSkillError(ValueError):
    """A learner skill written as a taxonomy id that the bundle's taxonomy does not have."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(ids)
        names = ", ".join(repr(i) for i in self.ids)
        super().__init__(
            f"unknown taxonomy id(s) in skills: {names}; give a skill of this taxonomy or its label"
        )


@dataclass
class Learner:
    """What a learner tells us. ``levels`` maps a skill text to its proficiency (alternative to suffixes)."""

    id: str = "learner"
    skills: list[str] = field(default_factory=list)
    cv: str | None = None
    credentials_held: list[str] = field(default_factory=list)
    levels: dict[str, str] = field(default_factory=dict)


def make_learner(
    skills: Sequence[str] = (),
    cv: str | None = None,
    held: Sequence[str] = (),
    learner_id: str = "learner",
) -> Learner:
    """A learner from what a user typed: blank skills are dropped and a blank CV counts as none."""
    return Learner(
        id=learner_id,
        skills=[s.strip() for s in skills if s and s.strip()],
        cv=cv if cv and cv.strip() else None,
        credentials_held=[h.strip() for h in held if h and h.strip()],
    )


def learners_from_table(table: pd.DataFrame) -> list[Learner]:
    """Learners from a learners table (``readers.learners.LEARNER_COLUMNS``, as ``read_learners`` gives it)."""
    return [
        Learner(
            id=str(row["id"]),
            skills=list(row["skills"]),
            cv=row["cv"] if isinstance(row["cv"], str) else None,
            credentials_held=list(row["credentials_held"]),
        )
        for row in table.to_dict("records")
    ]


@dataclass
class HeldSkill:
    """A taxonomy skill the learner has, where it came from, and the proficiency if known."""

    id: str
    label: str
    level: str | None
    confidence: float
    source: str
    evidence: str


_HELD_SKILL_FIELDS = tuple(f.name for f in fields(HeldSkill))


@dataclass
class LearnerProfile:
    """A learner resolved to taxonomy skills; ``unmatched`` lists skill texts that linked to nothing."""

    id: str
    skills: dict[str, HeldSkill]
    credentials_held: list[str]
    unmatched: list[str]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "id": self.id,
            # flat fields, so a dict of them is what asdict gives, without its deep copy
            "skills": [
                {name: getattr(s, name) for name in _HELD_SKILL_FIELDS}
                for s in sorted(self.skills.values(), key=lambda s: (-s.confidence, s.id))
            ],
            "credentials_held": self.credentials_held,
            "unmatched": self.unmatched,
        }


@dataclass
class GapItem:
    """One skill of a role and how far the learner covers it."""

    skill_id: str
    label: str
    weight: float
    coverage: float
    status: str
    gap_weight: float
    matched_by: str | None
    match_kind: str | None
    relation: str | None
    learner_level: str | None
    required_level: str | None


@dataclass
class GapReport:
    """A learner against one role (or a weighted union of roles)."""

    roles: list[dict[str, object]]
    coverage: float
    items: list[GapItem]
    learner: LearnerProfile

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the shape the CLI prints and the API returns)."""
        return {
            "roles": self.roles,
            "coverage": self.coverage,
            "counts": self.counts,
            "skills": [asdict(i) for i in self.items],
            "learner": self.learner.to_dict(),
        }

    @property
    def counts(self) -> dict[str, int]:
        """Skills covered, partly covered and missing."""
        return {s: sum(1 for i in self.items if i.status == s) for s in ("covered", "partial", "missing")}

    def to_frame(self) -> pd.DataFrame:
        """One row per skill of the target profile (status, weight, coverage, gap, what matched it)."""
        return pd.DataFrame([asdict(i) for i in self.items], columns=[f.name for f in fields(GapItem)])

    def gap(self) -> dict[str, float]:
        """Gap weight per skill (only skills with something missing)."""
        return {i.skill_id: i.gap_weight for i in self.items if i.gap_weight > 0}


def resolve_learner(matcher: MatchContext, learner: Learner) -> LearnerProfile:
    """Link a learner's skills, CV and held credentials to taxonomy skills.

    Skills given as taxonomy ids or exact labels resolve exactly (see
    :class:`~skillmatch.linking.linker.ExactLabels`); a held credential gives each skill it teaches at the level
    it teaches it.

    Raises:
        UnknownSkillError: a skill is written as a taxonomy id that the taxonomy does not have.
        UnknownCredentialError: a held credential id is not in the catalogue.
    """
    labels = matcher.concept_labels
    held: dict[str, HeldSkill] = {}

    def add(skill: HeldSkill) -> None:
        current = held.get(skill.id)
        better_level = (
            LEVEL_RANK.get(skill.level or "", 0) > LEVEL_RANK.get(current.level or "", 0) if current else True
        )
        if current is None or better_level or (skill.confidence > current.confidence and not current.level):
            held[skill.id] = skill

    texts, levels = [], []
    level_of = {k.strip().lower(): parse_level(v) for k, v in learner.levels.items()}
    for raw in learner.skills:
        text, level = split_skill_level(raw)
        texts.append(text)
        levels.append(level or level_of.get(text.lower()))
    unknown = matcher.linker.unknown_ids(texts)
    if unknown:
        raise UnknownSkillError(unknown)
    unmatched: list[str] = []
    for text, level, found in zip(texts, levels, matcher.linker.normalise(texts), strict=True):
        if not text:
            continue
        if not found:
            unmatched.append(text)
            continue
        top = found[0]
        add(HeldSkill(top.id, top.label, level, top.score, "skills", text))
    if learner.cv and learner.cv.strip():
        for s in matcher.linker.link([learner.cv], top_k=60)[0]:
            add(HeldSkill(s.id, s.label, None, s.score, "cv", s.evidence))
    known = matcher.credentials_by_id
    for cid in learner.credentials_held:
        if cid not in known:
            raise UnknownCredentialError(f"unknown credential id {cid!r} in credentials_held")
        level = known[cid].get("level")
        for sid, score, outcome in matcher.credential_links.get(cid, []):
            taught = matcher.taught_rank.get((cid, sid))
            add(
                HeldSkill(
                    sid,
                    labels.get(sid, sid),
                    _RANK_LEVEL[taught] if taught else (level if isinstance(level, str) else None),
                    score,
                    f"credential {cid}",
                    outcome,
                )
            )
    return LearnerProfile(learner.id, held, list(learner.credentials_held), unmatched)


def analyse_gap(
    matcher: MatchContext,
    profile: LearnerProfile,
    role_ids: Sequence[str],
    role_weights: Sequence[float] | None = None,
    required_level: str = Level.INTERMEDIATE,
) -> GapReport:
    """Compare a resolved learner with one role, or a weighted union of several (weights default to equal)."""
    if not role_ids:
        raise ValueError("at least one role is needed")
    weights = list(role_weights) if role_weights is not None else [1.0] * len(role_ids)
    if len(weights) != len(role_ids) or any(w <= 0 for w in weights):
        raise ValueError("role weights must be positive, one per role")
    total = sum(weights)
    combined: dict[str, tuple[float, str | None]] = {}
    roles_out = []
    for rid, w in zip(role_ids, weights, strict=True):
        prof = matcher.roles.profile_rows(rid)
        info = matcher.roles.info(rid)
        roles_out.append(
            {
                "id": rid,
                "label": info["label"],
                "weight": round(w / total, 4),
                "postings": int(info["postings"]),
                "skills": len(prof),
            }
        )
        for sid, weight, relation in prof:
            old_weight, old_rel = combined.get(sid, (0.0, None))
            combined[sid] = (old_weight + weight * w / total, old_rel or relation)
    related = matcher.space.related(combined)
    items: list[GapItem] = []
    required_rank = LEVEL_RANK[required_level]
    for sid, (weight, relation) in combined.items():
        best: tuple[float, HeldSkill | None, str | None, str | None] = (0.0, None, None, None)
        for rel in related[sid]:
            have = profile.skills.get(rel.other)
            if have is None:
                continue
            level_factor = 1.0
            if have.level:
                level_factor = min(1.0, LEVEL_RANK[have.level] / required_rank)
            credit = rel.credit * level_factor
            if credit > best[0]:
                best = (
                    credit,
                    have,
                    rel.kind if level_factor == 1.0 or rel.kind != "exact" else "level",
                    have.level,
                )
        coverage, have, kind, level = best
        status = "covered" if coverage >= COVERED else ("partial" if coverage > 0 else "missing")
        items.append(
            GapItem(
                skill_id=sid,
                label=matcher.concept_labels.get(sid, sid),
                weight=round(weight, 4),
                coverage=round(coverage, 4),
                status=status,
                gap_weight=round(weight * (1 - coverage), 4),
                matched_by=have.label if have else None,
                match_kind=kind,
                relation=relation,
                learner_level=level,
                required_level=str(required_level) if have and have.level else None,
            )
        )
    items.sort(key=lambda i: (-i.gap_weight, -i.weight, i.skill_id))
    total_weight = sum(i.weight for i in items)
    coverage = sum(i.weight * i.coverage for i in items) / total_weight if total_weight else 1.0
    return GapReport(roles_out, round(coverage, 4), items, profile)
