"""Recommend credentials that close a learner's weighted gap within their limits, as an explained pathway.

Steps: resolve the learner, analyse the gap against the target role(s), grade how much each eligible
credential covers each gap skill, solve the budgeted maximum-coverage problem (:mod:`skillmatch.matching.optimize`),
order the picks into a pathway and explain each pick and whatever gap remains.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from skillmatch.currencies import iso_currency
from skillmatch.matching.context import MatchContext
from skillmatch.matching.gaps import GapReport, Learner, LearnerProfile, analyse_gap, resolve_learner
from skillmatch.matching.optimize import Budget, Candidate, GapReason, remaining_gap, solve
from skillmatch.schema import LEVEL_RANK, Mode, parse_level


@dataclass
class Limits:
    """The learner's limits and filters; ``None``/empty means no limit."""

    max_hours: float | None = None
    max_cost: float | None = None
    currency: str = "EUR"
    max_items: int | None = None
    levels: list[str] = field(default_factory=list)
    modes: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    exclude_providers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("max_hours", "max_cost"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.max_items is not None and self.max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {self.max_items}")
        self.levels = [str(parse_level(v)) for v in self.levels]
        modes = {m.value for m in Mode}
        self.modes = [m.strip().lower() for m in self.modes]
        for m in self.modes:
            if m not in modes:
                raise ValueError(f"unknown mode {m!r}; use one of {sorted(modes)}")
        self.languages = [lang.strip().lower() for lang in self.languages]
        self.currency = iso_currency(self.currency)


@dataclass(frozen=True)
class CoveredSkill:
    """A gap skill that a pathway step covers, how far, and the learning outcome that shows it."""

    skill_id: str
    label: str
    gap_weight: float
    degree: float
    outcome: str
    taught_skill: str
    match_kind: str


@dataclass(frozen=True)
class Requirement:
    """A skill a credential requires, at a level, and how it is met: by the learner or by an earlier credential."""

    skill_id: str
    label: str
    level: str
    met_by: str


@dataclass(frozen=True)
class PathwayStep:
    """One credential of a pathway, in study order."""

    step: int
    credential: dict[str, Any]
    #: None when the credential's price is unknown (never 0 for an unknown or unconvertible price)
    cost_in_currency: float | None
    gain: float
    relevance: float
    covers: list[CoveredSkill]
    prerequisites: list[str]
    required_by: str | None
    requires: list[Requirement] = field(default_factory=list)


@dataclass(frozen=True)
class RemainingSkill:
    """A gap skill the pathway leaves (partly) open, and why."""

    skill_id: str
    label: str
    gap_weight: float
    remaining: float
    reason: str
    best_candidate: str | None


@dataclass(frozen=True)
class Totals:
    """What a pathway costs: credentials, hours and cost in the learner's currency."""

    items: int
    hours: float
    cost: float
    currency: str
    #: pathway credentials whose price is unknown: ``cost`` leaves them out (a lower bound when > 0)
    cost_unknown: int = 0


@dataclass(frozen=True)
class Recommendation:
    """A pathway of credentials for a learner towards one or more roles (see docs/matching.md)."""

    roles: list[dict[str, Any]]
    coverage_before: float
    coverage_after: float
    gap_total: float
    gap_closed: float
    method: str
    totals: Totals
    pathway: list[PathwayStep]
    remaining_gap: list[RemainingSkill]
    excluded: dict[str, list[str]]
    learner: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the shape the API returns and ``skillmatch recommend -f json`` prints)."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """The pathway as a table: one row per step with the credential's main fields and what it covers."""
        rows = [
            {
                "step": step.step,
                **{
                    k: step.credential.get(k)
                    for k in ("id", "title", "provider", "level", "mode", "language")
                },
                "hours": step.credential.get("duration_hours"),
                "cost": step.cost_in_currency,
                "currency": self.totals.currency,
                "gain": step.gain,
                "covers": "; ".join(c.label for c in step.covers),
                "required_by": step.required_by,
            }
            for step in self.pathway
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "step",
                "id",
                "title",
                "provider",
                "level",
                "mode",
                "language",
                "hours",
                "cost",
                "currency",
                "gain",
                "covers",
                "required_by",
            ],
        )


def credential_coverage(
    matcher: MatchContext,
    gap: Mapping[str, float],
    profile_skills: Iterable[str],
    current: Mapping[str, float] | None = None,
    required_level: str = "intermediate",
) -> tuple[dict[str, dict[str, tuple[float, str, str, str]]], dict[str, float]]:
    """How much of each gap skill's remaining gap each credential closes, and each credential's relevance.

    A credential that teaches skill ``t`` (related to gap skill ``s`` with credit ``r``: 1 for ``s`` itself,
    ``r * partial_factor`` for a broader, narrower or similar skill) at level ``L`` brings ``s`` to coverage
    ``r * strength(link score) * min(1, rank(L) / rank(required))``; its degree is the share of the gap it closes,
    ``(that - current) / (1 - current)`` (0 when it brings nothing new: a beginner course for a learner who already
    has the skill at beginner level). A skill taught at no known level counts as taught to the required level.

    Returns ``(coverage, relevance)``: coverage is credential id -> gap skill -> (degree, outcome evidence, taught
    skill id, match kind); relevance is credential id -> share of what it teaches that ``profile_skills`` need.
    Degrees are scaled by relevance ** exponent, so a credential that teaches a gap skill in passing, among mostly
    unrelated ones (a palliative-care course's "communication" for a data analyst), counts for less.
    """
    current = current or {}
    required = LEVEL_RANK[required_level]
    raw: dict[str, dict[str, tuple[float, str, str, str]]] = {}
    for sid in gap:
        before = min(current.get(sid, 0.0), 0.999)
        for cid, reached, evidence, taught_skill, kind in matcher.teachers(sid, required):
            degree = max(0.0, (reached - before) / (1.0 - before))
            if degree <= 0:
                continue
            old = raw.setdefault(cid, {}).get(sid)
            if old is None or degree > old[0]:
                raw[cid][sid] = (degree, evidence, taught_skill, kind)
    relevance = matcher.relevance(profile_skills, raw)
    exponent = matcher.params.relevance_exponent
    coverage = {
        cid: {sid: (round(v[0] * relevance[cid] ** exponent, 4), *v[1:]) for sid, v in cov.items()}
        for cid, cov in raw.items()
    }
    return coverage, relevance


_LEVEL_NAMES = {rank: str(level) for level, rank in LEVEL_RANK.items()}


def _objective_weights(matcher: MatchContext, report: GapReport) -> dict[str, float]:
    """The multiplier of each gap skill in the optimiser's objective.

    Essential skills (and those only the role's postings ask for) get ``essential_weight``, optional ones
    ``optional_weight`` (see :class:`~skillmatch.matching.context.MatchParams`).
    """
    params = matcher.params
    essential = _essential_skills(report)
    return {
        i.skill_id: params.essential_weight if i.skill_id in essential else params.optional_weight
        for i in report.items
    }


def _essential_skills(report: GapReport) -> set[str]:
    """The role skills that count as essential: marked essential by the taxonomy, or asked for by postings only."""
    return {i.skill_id for i in report.items if i.relation != "optional"}


def held_ranks(matcher: MatchContext, profile: LearnerProfile) -> dict[str, int]:
    """The rank of the level the learner holds each skill at (``assumed_level`` when they gave none)."""
    assumed = LEVEL_RANK[matcher.params.assumed_level]
    return {sid: LEVEL_RANK.get(h.level or "", assumed) for sid, h in profile.skills.items()}


def meet_requirements(
    matcher: MatchContext, eligible: Collection[str], have: Mapping[str, int]
) -> tuple[dict[str, list[tuple[str, int, str]]], set[str]]:
    """How each eligible credential's skill prerequisites are met, and the credentials whose cannot be.

    A required skill is met by the learner when they hold it at the level or above; otherwise by the cheapest
    eligible credential (fewest hours, then cost, then id) that clearly teaches that very skill (link score at least
    ``strong_link``) at the level or above and whose own requirements the learner meets. That credential becomes a prerequisite of the one that needs it, so
    the optimiser takes both or neither and the pathway puts it first.

    Returns:
        ``(met, unmet)``: credential id -> [(skill id, rank, met_by: "learner" or a credential id)], and the ids
        of credentials with a requirement that nothing eligible meets.
    """
    met: dict[str, list[tuple[str, int, str]]] = {}
    unmet: set[str] = set()

    def own_ok(cid: str) -> bool:
        return all(have.get(sid, 0) >= rank for sid, rank in matcher.requirements.get(cid, []))

    def sort_key(cid: str) -> tuple[float, float, str]:
        c = matcher.credentials_by_id[cid]
        return (float(c.get("duration_hours") or 0.0), float(c.get("cost") or 0.0), cid)

    for cid in eligible:
        ways: list[tuple[str, int, str]] = []
        for sid, rank in matcher.requirements.get(cid, []):
            if have.get(sid, 0) >= rank:
                ways.append((sid, rank, "learner"))
                continue
            providers = sorted(
                (
                    other
                    for other, score, _evidence in matcher.credentials_by_skill.get(sid, [])
                    if other != cid
                    and matcher.strength(score) >= 1.0
                    and other in eligible
                    and matcher.taught_rank.get((other, sid), 0) >= rank
                    and own_ok(other)
                ),
                key=sort_key,
            )
            if not providers:
                unmet.add(cid)
                break
            ways.append((sid, rank, providers[0]))
        else:
            met[cid] = ways
    return met, unmet


def exclusion_reason(matcher: MatchContext, cid: str, limits: Limits) -> str | None:
    """Why a credential is excluded by the learner's filters (None if it passes)."""
    c = matcher.credentials_by_id[cid]
    if limits.levels and c.get("level") not in limits.levels:
        return "level"
    if limits.modes and c.get("mode") not in limits.modes:
        return "mode"
    if limits.languages and (c.get("language") or "").lower() not in limits.languages:
        return "language"
    if limits.exclude_providers and (c.get("provider") or "").lower() in {
        p.lower() for p in limits.exclude_providers
    }:
        return "provider"
    converted = matcher.cost_in(c.get("cost"), c.get("currency"), limits.currency)
    if c.get("cost") is not None and converted is None:
        return "cost_unconvertible"  # never shown or budgeted at 0
    if limits.max_cost is not None and converted is None:
        return "cost unknown"
    if limits.max_hours is not None and c.get("duration_hours") is None:
        return "hours unknown"
    return None


def _prerequisite_closure(matcher: MatchContext, ids: set[str]) -> set[str]:
    todo, seen = list(ids), set(ids)
    while todo:
        cid = todo.pop()
        for pre in matcher.credentials_by_id.get(cid, {}).get("prerequisites") or []:
            if pre in matcher.credentials_by_id and pre not in seen:
                seen.add(pre)
                todo.append(pre)
    return seen


_REASONS = {
    GapReason.NOT_COVERABLE: "not_taught",
    GapReason.NOT_SELECTED: "over_budget",
    GapReason.INFEASIBLE: "prerequisites_unavailable",
}


def recommend(
    matcher: MatchContext,
    learner: Learner,
    role_ids: Sequence[str],
    limits: Limits | None = None,
    *,
    role_weights: Sequence[float] | None = None,
    method: Literal["auto", "greedy", "exact"] = "auto",
) -> Recommendation:
    """A pathway of credentials for a learner towards one or more roles (see docs/matching.md)."""
    limits = limits or Limits()
    matcher.check_currency(limits.currency)  # an unconvertible currency is an error, not costs of 0
    profile = resolve_learner(matcher, learner)
    report: GapReport = analyse_gap(matcher, profile, role_ids, role_weights)
    gap = report.gap()
    held = set(learner.credentials_held)
    current = {i.skill_id: i.coverage for i in report.items}
    coverage, relevance = credential_coverage(matcher, gap, [i.skill_id for i in report.items], current)
    excluded: dict[str, str] = {}
    for cid in _prerequisite_closure(matcher, set(coverage)):
        if cid in held:
            continue
        reason = exclusion_reason(matcher, cid, limits)
        if reason:
            excluded[cid] = reason
    # off target: mostly about something else (relevance under min_relevance), unless it is the only kind of
    # credential that teaches one of the role's essential gap skills itself: then it stays, its degrees scaled
    # down by its relevance (a dementia-awareness course is not a data analyst's way to learn "communication"
    # while an on-target course teaches it; a narrow course is kept when nothing on target teaches its skill)
    essential = _essential_skills(report)
    open_ids = [c for c in coverage if c not in excluded and c not in held]
    low = {c for c in open_ids if relevance[c] < matcher.params.min_relevance}
    taught_on_target = {
        s for c in open_ids if c not in low for s, v in coverage[c].items() if v[3] == "exact" and v[0] > 0
    }
    off_target = {
        c
        for c in low
        if not any(
            s in essential and v[3] == "exact" and s not in taught_on_target for s, v in coverage[c].items()
        )
    }
    seeds = {c for c in coverage if c not in excluded and c not in off_target}
    # prerequisites of on-target credentials stay eligible even when they are broad themselves
    eligible_ids = _prerequisite_closure(matcher, seeds) - set(excluded)
    excluded.update({c: "off_target" for c in off_target - eligible_ids})
    # skill prerequisites: met by the learner, or by an eligible credential that then comes first
    needed = {need for cid in eligible_ids for need in matcher.requirements.get(cid, [])}
    providers: set[str] = set()
    for sid, rank in needed:
        for cid, _score, _evidence in matcher.credentials_by_skill.get(sid, []):
            if cid in held or cid in providers or matcher.taught_rank.get((cid, sid), 0) < rank:
                continue
            reason = excluded.get(cid) or exclusion_reason(matcher, cid, limits)
            if reason:  # the learner's filters apply to the credentials that meet a requirement too
                excluded.setdefault(cid, reason)
                continue
            providers.add(cid)
    have = held_ranks(matcher, profile)
    met, unmet = meet_requirements(matcher, eligible_ids | providers, have)
    excluded.update({c: "prerequisite_skills_unmet" for c in unmet & eligible_ids})
    eligible_ids -= unmet
    eligible_ids |= {way for c in eligible_ids for _sid, _rank, way in met.get(c, []) if way != "learner"}
    weights = _objective_weights(matcher, report)
    objective_gap = {sid: gap[sid] * weights[sid] for sid in gap}
    candidates = []
    for cid in sorted(eligible_ids | (held & set(matcher.credentials_by_id))):
        c = matcher.credentials_by_id[cid]
        cost = matcher.cost_in(c.get("cost"), c.get("currency"), limits.currency)
        candidates.append(
            Candidate(
                id=cid,
                hours=float(c.get("duration_hours") or 0.0),
                cost=float(cost or 0.0),
                coverage={s: v[0] for s, v in coverage.get(cid, {}).items() if v[0] > 0},
                prerequisites=tuple(
                    dict.fromkeys(
                        [
                            *(p for p in (c.get("prerequisites") or []) if p in matcher.credentials_by_id),
                            *(way for _sid, _rank, way in met.get(cid, []) if way != "learner"),
                        ]
                    )
                ),
                level_rank=LEVEL_RANK.get(c.get("level") or "", 0),
            )
        )
    by_id = {c.id: c for c in candidates}
    budget = Budget(max_hours=limits.max_hours, max_cost=limits.max_cost, max_items=limits.max_items)
    selection = solve(objective_gap, candidates, budget, held=held, method=method) if gap else None
    picks = selection.picks if selection else []

    steps = []
    for n, cid in enumerate(picks, start=1):
        c = matcher.credentials_by_id[cid]
        covers = [
            CoveredSkill(
                skill_id=sid,
                label=matcher.concept_labels.get(sid, sid),
                gap_weight=gap[sid],
                degree=deg,
                outcome=evidence,
                taught_skill=matcher.concept_labels.get(taught, taught),
                match_kind=kind,
            )
            for sid, (deg, evidence, taught, kind) in sorted(
                coverage.get(cid, {}).items(), key=lambda kv: (-kv[1][0] * gap[kv[0]], kv[0])
            )
        ]
        steps.append(
            PathwayStep(
                step=n,
                credential=matcher.credential_summary(cid),
                cost_in_currency=round(by_id[cid].cost, 2) if c.get("cost") is not None else None,
                gain=round(selection.gains.get(cid, 0.0), 4) if selection else 0.0,
                relevance=relevance.get(cid, 0.0),
                covers=covers,
                prerequisites=list(
                    dict.fromkeys(
                        [
                            *(c.get("prerequisites") or []),
                            *(way for _sid, _rank, way in met.get(cid, []) if way != "learner"),
                        ]
                    )
                ),
                required_by=selection.brought_in_by.get(cid) if selection else None,
                requires=[
                    Requirement(sid, matcher.concept_labels.get(sid, sid), _LEVEL_NAMES[rank], way)
                    for sid, rank, way in met.get(cid, [])
                ],
            )
        )
    remaining = []
    if gap:
        rest = remaining_gap(
            gap, by_id, picks, held=held, infeasible=selection.infeasible if selection else ()
        )
        for sid, r in rest.items():
            reason = _REASONS[r.reason]
            if r.reason is GapReason.NOT_COVERABLE:
                teachers = [cid for cid, cov in coverage.items() if sid in cov and cid not in held]
                if not teachers:
                    reason = "not_taught"
                else:
                    better = [cid for cid in teachers if coverage[cid][sid][0] > r.achieved]
                    if not better:
                        reason = "partly_covered_only"
                    elif all(excluded.get(cid) == "off_target" for cid in better):
                        reason = "taught_only_off_target"
                    else:
                        reason = "excluded_by_filters"
            remaining.append(
                RemainingSkill(
                    skill_id=sid,
                    label=matcher.concept_labels.get(sid, sid),
                    gap_weight=round(r.weight, 4),
                    remaining=round(r.remaining, 4),
                    reason=reason,
                    best_candidate=r.best_candidate,
                )
            )
    total = sum(i.weight for i in report.items)

    def closes(ids: Collection[str]) -> float:
        return sum(
            w * max((coverage.get(c, {}).get(s, (0.0,))[0] for c in ids), default=0.0) for s, w in gap.items()
        )

    held_here = held & set(matcher.credentials_by_id)
    closed = closes([*picks, *held_here]) - closes(held_here)
    return Recommendation(
        roles=report.roles,
        coverage_before=report.coverage,
        coverage_after=round(min(1.0, report.coverage + closed / total), 4) if total else 1.0,
        gap_total=round(sum(gap.values()), 4),
        gap_closed=round(closed, 4),
        method=selection.method if selection else "none",
        totals=Totals(
            items=len(picks),
            hours=round(selection.hours, 2) if selection else 0.0,
            cost=round(selection.cost, 2) if selection else 0.0,
            currency=limits.currency,
            cost_unknown=sum(1 for cid in picks if matcher.credentials_by_id[cid].get("cost") is None),
        ),
        pathway=steps,
        remaining_gap=remaining,
        excluded={
            reason: sorted(c for c, r in excluded.items() if r == reason)
            for reason in sorted(set(excluded.values()))
        },
        learner=profile.to_dict(),
    )
