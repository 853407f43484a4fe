"""Choose the credentials that best close a learner's weighted skill gap within their limits.

Pure logic: plain dataclasses in, plain dataclasses out; no I/O and no knowledge of ESCO, pandas or FAISS.

The objective is weighted graded coverage of the gap,
``f(S) = sum_s w_s * max_{c in S ∪ held} cov(c, s)``, a monotone submodular function. It is maximised
under optional hour, cost and item-count budgets and under prerequisite constraints (a credential may be
chosen only if each of its prerequisites is held or chosen too). :func:`solve` runs an exact branch and
bound on small instances and a cost-normalised greedy with partial-enumeration safeguards otherwise.
See ``docs/optimizer.md`` for the maths and the approximation guarantees.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from numbers import Integral, Real
from typing import Literal

import numpy as np

__all__ = [
    "EPSILON",
    "Budget",
    "Candidate",
    "GapReason",
    "RemainingGap",
    "Selection",
    "infeasible_candidates",
    "objective",
    "order_pathway",
    "remaining_gap",
    "solve",
]

#: Added to every option's normalised cost so that free credentials get a finite gain/cost ratio.
EPSILON = 1e-9

# Relative slack when checking budgets and comparing objective values: float round-off only.
_REL_TOL = 1e-12


# --- public data types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A credential that may be chosen.

    Attributes:
        id: Unique credential id.
        hours: Learning time it takes (>= 0).
        cost: Price (>= 0), in whatever currency the caller uses consistently.
        coverage: Gap skill id -> degree in [0, 1] to which the credential covers that skill. Skills that
            are not in the gap carry no weight and so do not affect the objective.
        prerequisites: Ids of credentials that must be held or chosen as well.
        level_rank: 1 beginner, 2 intermediate, 3 advanced (0 unknown); used to order the pathway.

    Raises:
        ValueError: On a negative or non-finite number, a degree outside [0, 1] or an empty id; the
            message names the candidate and the field.
    """

    id: str
    hours: float = 0.0
    cost: float = 0.0
    coverage: Mapping[str, float] = field(default_factory=dict, hash=False)
    prerequisites: tuple[str, ...] = ()
    level_rank: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"candidate: field 'id' must be a non-empty string, got {self.id!r}")
        for name in ("hours", "cost"):
            value = getattr(self, name)
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"candidate {self.id!r}: field {name!r} must be a finite number >= 0, got {value!r}"
                )
            object.__setattr__(self, name, float(value))
        coverage: dict[str, float] = {}
        for skill, degree in dict(self.coverage).items():
            if not isinstance(skill, str) or not skill:
                raise ValueError(f"candidate {self.id!r}: field 'coverage' has an invalid skill id {skill!r}")
            if not _is_real(degree) or not 0.0 <= degree <= 1.0:
                raise ValueError(
                    f"candidate {self.id!r}: field 'coverage' degree for skill {skill!r} must be in "
                    f"[0, 1], got {degree!r}"
                )
            coverage[skill] = float(degree)
        object.__setattr__(self, "coverage", coverage)
        if isinstance(self.prerequisites, str):
            raise ValueError(
                f"candidate {self.id!r}: field 'prerequisites' must be a sequence of ids, "
                f"not the string {self.prerequisites!r}"
            )
        prerequisites = tuple(self.prerequisites)
        for prerequisite in prerequisites:
            if not isinstance(prerequisite, str) or not prerequisite:
                raise ValueError(
                    f"candidate {self.id!r}: field 'prerequisites' has an invalid id {prerequisite!r}"
                )
        object.__setattr__(self, "prerequisites", tuple(dict.fromkeys(prerequisites)))
        if not isinstance(self.level_rank, Integral) or isinstance(self.level_rank, bool):
            raise ValueError(
                f"candidate {self.id!r}: field 'level_rank' must be an integer, got {self.level_rank!r}"
            )


@dataclass(frozen=True)
class Budget:
    """The learner's limits; ``None`` means unlimited.

    Raises:
        ValueError: On a negative or non-finite limit, or a non-integer ``max_items``.
    """

    max_hours: float | None = None
    max_cost: float | None = None
    max_items: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_hours", "max_cost"):
            value = getattr(self, name)
            if value is None:
                continue
            if not _is_real(value) or not math.isfinite(value) or value < 0:
                raise ValueError(f"budget: field {name!r} must be a finite number >= 0, got {value!r}")
            object.__setattr__(self, name, float(value))
        items = self.max_items
        if items is not None and (not isinstance(items, Integral) or isinstance(items, bool) or items < 0):
            raise ValueError(f"budget: field 'max_items' must be an integer >= 0, got {items!r}")

    @property
    def limits(self) -> tuple[float, float, float]:
        """(hours, cost, items) limits with ``math.inf`` for the unlimited ones."""
        return (
            math.inf if self.max_hours is None else self.max_hours,
            math.inf if self.max_cost is None else self.max_cost,
            math.inf if self.max_items is None else float(self.max_items),
        )


@dataclass
class Selection:
    """The chosen credentials and how they close the gap.

    Attributes:
        picks: Chosen credential ids, ordered as a learning pathway (see :func:`order_pathway`).
        objective: f(picks), counting held credentials' coverage too.
        total_weight: Sum of the gap weights; ``objective`` can't exceed it.
        gains: Pick id -> marginal gain it contributed, in greedy replay order (see ``docs/optimizer.md``);
            the gains sum to ``objective - baseline``.
        brought_in_by: Pick id -> id of a pick that has it as a direct prerequisite (first in gain order).
        method: ``"exact"`` or ``"greedy"``.
        hours: Total hours of the picks.
        cost: Total cost of the picks.
        baseline: f(nothing chosen), i.e. what held credentials already cover.
        infeasible: Candidate id -> why it can never be chosen (unknown prerequisite, prerequisite cycle).
    """

    picks: list[str]
    objective: float
    total_weight: float
    gains: dict[str, float]
    brought_in_by: dict[str, str]
    method: str
    hours: float
    cost: float
    baseline: float = 0.0
    infeasible: dict[str, str] = field(default_factory=dict)

    @property
    def coverage_ratio(self) -> float:
        """``objective / total_weight`` (1.0 for an empty gap)."""
        return self.objective / self.total_weight if self.total_weight > 0 else 1.0


class GapReason(StrEnum):
    """Why part of a gap skill's weight is still open after a selection."""

    NOT_COVERABLE = "no candidate covers it (any better)"
    NOT_SELECTED = "a candidate covers it better but was not chosen (budget)"
    INFEASIBLE = "only candidates with unmet prerequisites cover it better"


@dataclass(frozen=True)
class RemainingGap:
    """The open part of one gap skill.

    Attributes:
        skill: Gap skill id.
        weight: Its gap weight.
        achieved: Best degree reached by the picks and held credentials.
        remaining: ``weight * (1 - achieved)``.
        best_possible: Best degree any candidate offers (0 when none covers it).
        best_candidate: The candidate behind ``reason`` (None for ``NOT_COVERABLE``).
        reason: Why the remainder is open.
    """

    skill: str
    weight: float
    achieved: float
    remaining: float
    best_possible: float
    best_candidate: str | None
    reason: GapReason


# --- public functions ---------------------------------------------------------------------------------


def objective(
    gap: Mapping[str, float],
    candidates_by_id: Mapping[str, Candidate],
    picks: Iterable[str],
    held: Collection[str] = (),
) -> float:
    """Weighted graded coverage ``f(picks) = sum_s w_s * max_{c in picks ∪ held} cov(c, s)``.

    Args:
        gap: Gap skill id -> weight > 0.
        candidates_by_id: Known credentials; held ids not in it contribute no coverage.
        picks: Chosen credential ids (each must be in ``candidates_by_id``).
        held: Ids of credentials the learner already has.

    Returns:
        The objective value.

    Raises:
        ValueError: On an invalid gap or an unknown pick.
    """
    weights = _validated_gap(gap)
    members = [_lookup(candidates_by_id, pick, "pick") for pick in picks]
    members += [candidates_by_id[h] for h in _as_id_set(held, "held") if h in candidates_by_id]
    return float(
        sum(w * max((c.coverage.get(s, 0.0) for c in members), default=0.0) for s, w in weights.items())
    )


def order_pathway(
    picks: Iterable[str],
    candidates_by_id: Mapping[str, Candidate],
    held: Collection[str] = (),
    gains: Mapping[str, float] | None = None,
) -> list[str]:
    """Order picks as a learning pathway.

    A topological order over prerequisites (prerequisites first); among the credentials whose
    prerequisites are all done it takes the lowest ``level_rank``, then the largest gain, then the
    smallest id.

    Args:
        picks: Chosen credential ids.
        candidates_by_id: Known credentials.
        held: Ids the learner already has (their prerequisites are satisfied).
        gains: Optional pick id -> marginal gain, used as a tie-breaker (missing ids count as 0).

    Returns:
        The picks in pathway order.

    Raises:
        ValueError: On an unknown or duplicate pick, a prerequisite that is neither held nor picked, or a
            prerequisite cycle among the picks.
    """
    pick_list = list(picks)
    if len(set(pick_list)) != len(pick_list):
        duplicates = sorted(p for p, n in Counter(pick_list).items() if n > 1)
        raise ValueError(f"order_pathway: duplicate picks {duplicates}")
    held_set = _as_id_set(held, "held")
    gains = gains or {}
    chosen = {p: _lookup(candidates_by_id, p, "pick") for p in pick_list}
    waiting_on: dict[str, int] = {}
    dependents: dict[str, list[str]] = {p: [] for p in chosen}
    for pid, candidate in chosen.items():
        needed = [q for q in candidate.prerequisites if q not in held_set]
        for q in needed:
            if q not in chosen:
                raise ValueError(
                    f"order_pathway: pick {pid!r} requires {q!r}, which is neither held nor picked"
                )
            dependents[q].append(pid)
        waiting_on[pid] = len(needed)

    def key(pid: str) -> tuple[int, float, str]:
        return (int(chosen[pid].level_rank), -float(gains.get(pid, 0.0)), pid)

    ready = [key(p) for p, n in waiting_on.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        pid = heapq.heappop(ready)[2]
        order.append(pid)
        for dependent in dependents[pid]:
            waiting_on[dependent] -= 1
            if waiting_on[dependent] == 0:
                heapq.heappush(ready, key(dependent))
    if len(order) != len(chosen):
        stuck = sorted(p for p, n in waiting_on.items() if n > 0)
        raise ValueError(f"order_pathway: prerequisite cycle among picks {stuck}")
    return order


def infeasible_candidates(candidates: Iterable[Candidate], held: Collection[str] = ()) -> dict[str, str]:
    """Find the candidates that can never be chosen because of their prerequisites.

    A candidate is infeasible when a prerequisite is neither held nor a candidate, when it lies on a
    prerequisite cycle (no member of which is held), or when it needs an infeasible prerequisite.
    Held candidates are never reported.

    Args:
        candidates: The candidate credentials (ids must be unique).
        held: Ids the learner already has.

    Returns:
        Candidate id -> human-readable reason, for the infeasible ones only.

    Raises:
        ValueError: On duplicate candidate ids.
    """
    by_id = _index_candidates(candidates)
    held_set = _as_id_set(held, "held")
    reasons: dict[str, str] = {}
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(cid: str) -> None:
        stack.append(cid)
        on_stack.add(cid)
        for prerequisite in by_id[cid].prerequisites:
            if prerequisite in held_set:
                continue
            if prerequisite not in by_id:
                reasons.setdefault(cid, f"prerequisite {prerequisite!r} is neither held nor a candidate")
            elif prerequisite in on_stack:
                cycle = [*stack[stack.index(prerequisite) :], prerequisite]
                text = "prerequisite cycle: " + " -> ".join(cycle)
                for member in cycle[:-1]:
                    reasons.setdefault(member, text)
            else:
                if prerequisite not in done:
                    visit(prerequisite)
                if prerequisite in reasons:
                    reasons.setdefault(
                        cid, f"prerequisite {prerequisite!r} is infeasible ({reasons[prerequisite]})"
                    )
        stack.pop()
        on_stack.discard(cid)
        done.add(cid)

    for cid in sorted(by_id):
        if cid not in held_set and cid not in done:
            visit(cid)
    return {cid: reasons[cid] for cid in sorted(reasons) if cid not in held_set}


def remaining_gap(
    gap: Mapping[str, float],
    candidates_by_id: Mapping[str, Candidate],
    picks: Iterable[str],
    held: Collection[str] = (),
    infeasible: Collection[str] = (),
) -> dict[str, RemainingGap]:
    """Explain the part of the gap that a selection leaves open.

    Args:
        gap: Gap skill id -> weight > 0.
        candidates_by_id: All candidates that were considered (held ones included).
        picks: The chosen ids.
        held: Ids the learner already has.
        infeasible: Ids that could never be chosen (e.g. ``Selection.infeasible``).

    Returns:
        Skill id -> :class:`RemainingGap` for every gap skill with remaining weight > 0, largest remaining
        weight first (ties by skill id).

    Raises:
        ValueError: On an invalid gap or an unknown pick.
    """
    weights = _validated_gap(gap)
    pick_list = list(picks)
    members = [_lookup(candidates_by_id, pick, "pick") for pick in pick_list]
    held_set = _as_id_set(held, "held")
    members += [candidates_by_id[h] for h in held_set if h in candidates_by_id]
    blocked = _as_id_set(infeasible, "infeasible")
    # the best cover of each gap skill among the open and among the blocked candidates: the first by id of the
    # highest degree (one pass over all coverage entries instead of one per skill)
    best: dict[bool, dict[str, tuple[float, str | None]]] = {False: {}, True: {}}
    for candidate in sorted(candidates_by_id.values(), key=lambda c: c.id):
        group = best[candidate.id in blocked]
        for skill, degree in candidate.coverage.items():
            if degree > group.get(skill, (0.0, None))[0]:
                group[skill] = (degree, candidate.id)
    out: list[RemainingGap] = []
    for skill, weight in weights.items():
        achieved = max((c.coverage.get(skill, 0.0) for c in members), default=0.0)
        remaining = weight * (1.0 - achieved)
        if remaining <= 0:
            continue
        best_open = best[False].get(skill, (0.0, None))
        best_blocked = best[True].get(skill, (0.0, None))
        best_possible = max(best_open[0], best_blocked[0])
        if best_open[0] > achieved:
            reason, best_id = GapReason.NOT_SELECTED, best_open[1]
        elif best_blocked[0] > achieved:
            reason, best_id = GapReason.INFEASIBLE, best_blocked[1]
        else:
            reason, best_id = GapReason.NOT_COVERABLE, None
        out.append(RemainingGap(skill, weight, achieved, remaining, best_possible, best_id, reason))
    out.sort(key=lambda r: (-r.remaining, r.skill))
    return {r.skill: r for r in out}


def solve(
    gap: Mapping[str, float],
    candidates: Sequence[Candidate],
    budget: Budget | None = None,
    held: Collection[str] = (),
    method: Literal["auto", "greedy", "exact"] = "auto",
    exact_limit: int = 14,
    enumerate_limit: int = 40,
) -> Selection:
    """Choose credentials that maximise the weighted gap coverage within the budget.

    Only *relevant* candidates are searched: feasible, not held, and either covering a gap skill or being a
    (transitive) prerequisite of one that does. ``method="auto"`` runs the exact branch and bound when
    there are at most ``exact_limit`` of them, the greedy otherwise.

    Args:
        gap: Gap skill id -> weight > 0.
        candidates: Candidate credentials with unique ids (held ones may be included: their coverage counts
            for free and they are never picked).
        budget: Hour, cost and item limits; ``None`` means no limits.
        held: Ids the learner already has; they satisfy prerequisites.
        method: ``"auto"``, ``"greedy"`` or ``"exact"``.
        exact_limit: Most relevant candidates for which ``"auto"`` goes exact and ``"exact"`` is allowed.
        enumerate_limit: The greedy is restarted from every feasible single option (partial enumeration)
            when there are at most this many options; otherwise only from the best single option.

    Returns:
        The :class:`Selection`.

    Raises:
        ValueError: On invalid input (message names the field), an unknown ``method``, or ``"exact"`` with
            more relevant candidates than ``exact_limit``.
    """
    if method not in ("auto", "greedy", "exact"):
        raise ValueError(f"solve: method must be 'auto', 'greedy' or 'exact', got {method!r}")
    for name, value in (("exact_limit", exact_limit), ("enumerate_limit", enumerate_limit)):
        if not isinstance(value, Integral) or isinstance(value, bool) or value < 0:
            raise ValueError(f"solve: {name} must be an integer >= 0, got {value!r}")
    budget = budget or Budget()
    if not isinstance(budget, Budget):
        raise ValueError(f"solve: budget must be a Budget, got {type(budget).__name__}")
    infeasible = infeasible_candidates(candidates, held)
    problem = _Problem.build(gap, candidates, budget, held, infeasible)
    use_exact = method == "exact" or (method == "auto" and problem.size <= exact_limit)
    if method == "exact" and problem.size > exact_limit:
        raise ValueError(
            f"solve: exact search over {problem.size} relevant candidates exceeds exact_limit={exact_limit}; "
            "raise exact_limit or use method='greedy'"
        )
    mask = _exact(problem) if use_exact else _greedy_best(problem, enumerate_limit)
    mask = _prune(problem, mask)
    return problem.selection(mask, "exact" if use_exact else "greedy", infeasible)


# --- internals ----------------------------------------------------------------------------------------


def _is_real(value: object) -> bool:
    if type(value) is float:  # the common case, without the abstract-class check (it is on every degree)
        return not math.isnan(value)
    return isinstance(value, Real) and not isinstance(value, bool) and not math.isnan(float(value))


def _as_id_set(ids: Collection[str], name: str) -> set[str]:
    if isinstance(ids, str):
        raise ValueError(f"{name} must be a collection of ids, not the string {ids!r}")
    return set(ids)


def _lookup(candidates_by_id: Mapping[str, Candidate], cid: str, what: str) -> Candidate:
    try:
        return candidates_by_id[cid]
    except KeyError:
        raise ValueError(f"{what} {cid!r} is not a known candidate") from None


def _validated_gap(gap: Mapping[str, float]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for skill, weight in gap.items():
        if not isinstance(skill, str) or not skill:
            raise ValueError(f"gap: invalid skill id {skill!r}")
        if not _is_real(weight) or not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"gap: weight for skill {skill!r} must be a finite number > 0, got {weight!r}")
        weights[skill] = float(weight)
    return weights


def _index_candidates(candidates: Iterable[Candidate]) -> dict[str, Candidate]:
    by_id: dict[str, Candidate] = {}
    for position, candidate in enumerate(candidates):
        if not isinstance(candidate, Candidate):
            raise ValueError(f"candidates[{position}]: expected a Candidate, got {type(candidate).__name__}")
        if candidate.id in by_id:
            raise ValueError(f"candidates[{position}]: duplicate candidate id {candidate.id!r}")
        by_id[candidate.id] = candidate
    return by_id


@dataclass
class _Problem:
    """Dense arrays over the relevant candidates (rows, in topological order) and gap skills (columns)."""

    ids: list[str]
    by_id: dict[str, Candidate]
    weights: np.ndarray  # (m,)
    total_weight: float
    cov: np.ndarray  # (n, m) coverage degrees
    base: np.ndarray  # (m,) coverage by held credentials
    use: np.ndarray  # (n, 3) hours, cost, 1 per item
    limits: np.ndarray  # (3,) with inf where unlimited
    prereqs: list[tuple[int, ...]]  # direct non-held prerequisites, as row indices
    members: list[np.ndarray]  # closure of each row: itself and its transitive prerequisites (row indices)
    dependents: list[np.ndarray]  # inverse: the rows whose closure contains this row
    closure_use: np.ndarray  # (n, 3) total use of each closure
    closure_cov: np.ndarray  # (n, m) max coverage over each closure
    anchors: np.ndarray  # (n,) bool: rows that cover some gap skill (options are anchored on them)
    id_rank: np.ndarray  # (n,) rank of each row's id in sorted order (for deterministic tie-breaks)
    held: set[str]
    cap: np.ndarray = field(init=False)  # (3,) limits plus round-off slack: what :meth:`fits` compares with
    divided_limits: list[int] = field(init=False)  # dimensions with a finite limit > 0 (cost: use / limit)
    zero_limits: list[int] = field(init=False)  # dimensions with a limit of 0 (any use costs infinitely)

    def __post_init__(self) -> None:
        limits = self.limits.tolist()
        finite = [math.isfinite(limit) for limit in limits]
        self.cap = np.array(
            [
                limit + _REL_TOL * max(1.0, limit if ok else 1.0)
                for limit, ok in zip(limits, finite, strict=True)
            ]
        )
        self.divided_limits = [d for d in range(3) if finite[d] and limits[d] > 0]
        self.zero_limits = [d for d in range(3) if limits[d] == 0]

    @property
    def size(self) -> int:
        return len(self.ids)

    @property
    def value_tol(self) -> float:
        """Objective differences up to this are round-off: ties (and gains that small count as none)."""
        return _REL_TOL * max(1.0, self.total_weight)

    @classmethod
    def build(
        cls,
        gap: Mapping[str, float],
        candidates: Sequence[Candidate],
        budget: Budget,
        held: Collection[str],
        infeasible: Mapping[str, str],
    ) -> _Problem:
        weights_by_skill = _validated_gap(gap)
        by_id = _index_candidates(candidates)
        held_set = _as_id_set(held, "held")
        skills = sorted(weights_by_skill)
        column = {s: k for k, s in enumerate(skills)}
        weights = np.array([weights_by_skill[s] for s in skills], dtype=float)

        rows: dict[str, np.ndarray] = {}

        def row(candidate: Candidate) -> np.ndarray:
            vector = rows.get(candidate.id)
            if vector is None:
                vector = np.zeros(len(skills))
                for skill, degree in candidate.coverage.items():
                    if skill in column:
                        vector[column[skill]] = degree
                rows[candidate.id] = vector
            return vector

        base = np.zeros(len(skills))
        for h in sorted(held_set & by_id.keys()):
            base = np.maximum(base, row(by_id[h]))
        selectable = {c for c in by_id if c not in held_set and c not in infeasible}
        # a candidate covers something new when one of its gap degrees beats the held credentials' (its other
        # entries of a row are zeros, which never do): checked on its coverage, without building its row
        floor = base.tolist()
        covering = {
            c
            for c in selectable
            if any(
                degree > floor[column[skill]]
                for skill, degree in by_id[c].coverage.items()
                if skill in column
            )
        }
        relevant: set[str] = set()
        todo = sorted(covering)
        while todo:
            cid = todo.pop()
            if cid in relevant:
                continue
            relevant.add(cid)
            todo.extend(p for p in by_id[cid].prerequisites if p not in held_set)
        ids = _topological(relevant, by_id, held_set)
        index = {cid: i for i, cid in enumerate(ids)}
        n = len(ids)
        cov = np.array([row(by_id[c]) for c in ids]).reshape(n, len(skills))
        prereqs = [tuple(index[p] for p in by_id[c].prerequisites if p not in held_set) for c in ids]
        closures: list[set[int]] = []
        for i in range(n):  # prerequisites come first, so their closures are complete already
            closures.append({i}.union(*(closures[j] for j in prereqs[i])))
        members = [np.array(sorted(c), dtype=int) for c in closures]
        inverse: list[list[int]] = [[] for _ in range(n)]
        for i, closure in enumerate(members):
            for j in closure:
                inverse[j].append(i)
        use = np.array([[by_id[c].hours, by_id[c].cost, 1.0] for c in ids]).reshape(n, 3)
        # a closure of one row (no prerequisites to bring in, the usual case) is that row itself
        closure_cov, closure_use = cov.copy(), use.copy()
        for i, m in enumerate(members):
            if len(m) > 1:
                closure_cov[i] = cov[m].max(axis=0)
                closure_use[i] = use[m].sum(axis=0)
        id_rank = np.empty(n, dtype=int)
        id_rank[sorted(range(n), key=ids.__getitem__)] = np.arange(n)
        return cls(
            ids=ids,
            by_id=by_id,
            weights=weights,
            total_weight=float(weights.sum()),
            cov=cov,
            base=base,
            use=use,
            limits=np.array(budget.limits, dtype=float),
            prereqs=prereqs,
            members=members,
            dependents=[np.array(d, dtype=int) for d in inverse],
            closure_use=closure_use,
            closure_cov=closure_cov,
            anchors=np.array([c in covering for c in ids], dtype=bool),
            id_rank=id_rank,
            held=held_set,
        )

    def vector(self, mask: np.ndarray) -> np.ndarray:
        """Achieved degree per gap skill when the rows in ``mask`` are chosen."""
        if not mask.any():
            return self.base.copy()
        return np.maximum(self.base, self.cov[mask].max(axis=0))

    def value(self, mask: np.ndarray) -> float:
        return float(self.vector(mask) @ self.weights)

    def fits(self, used: np.ndarray) -> np.ndarray:
        """Whether usage rows (..., 3) are within all limits (with round-off slack)."""
        return np.all(used <= self.cap, axis=-1)

    def normalised_cost(self, option_use: np.ndarray) -> np.ndarray:
        """Sum over the active budgets of use / limit, plus :data:`EPSILON`."""
        total = np.full(option_use.shape[0], EPSILON)
        for d in self.divided_limits:
            total += option_use[:, d] / self.limits[d]
        for d in self.zero_limits:
            total += np.where(option_use[:, d] > 0, np.inf, 0.0)
        return total

    def better(self, a: tuple[float, np.ndarray], b: tuple[float, np.ndarray] | None) -> bool:
        """Whether solution ``a`` (value, mask) beats ``b``.

        Higher value wins; near-ties go to fewer items, then fewer hours, lower cost, smaller sorted ids.
        """
        if b is None:
            return True
        if abs(a[0] - b[0]) > self.value_tol:
            return a[0] > b[0]
        return self.tie_key(a[1]) < self.tie_key(b[1])

    def tie_key(self, mask: np.ndarray) -> tuple[float, float, float, list[str]]:
        used = self.use[mask].sum(axis=0) if mask.any() else np.zeros(3)
        return (
            float(used[2]),
            float(used[0]),
            float(used[1]),
            sorted(self.ids[i] for i in np.flatnonzero(mask)),
        )

    def selection(self, mask: np.ndarray, method: str, infeasible: dict[str, str]) -> Selection:
        """Build the public result: replay gains, prerequisite links and pathway order."""
        chosen = [int(i) for i in np.flatnonzero(mask)]
        done = np.zeros(self.size, dtype=bool)
        current = self.base.copy()
        gains: dict[str, float] = {}
        remaining = set(chosen)
        while remaining:
            ready = sorted(
                (i for i in remaining if all(done[j] for j in self.prereqs[i])),
                key=lambda i: self.id_rank[i],
            )
            marginal = [float((np.maximum(current, self.cov[i]) - current) @ self.weights) for i in ready]
            best = ready[int(np.argmax(marginal))]  # argmax keeps the first (smallest id) on ties
            gains[self.ids[best]] = max(marginal)
            current = np.maximum(current, self.cov[best])
            done[best] = True
            remaining.discard(best)
        position = {cid: k for k, cid in enumerate(gains)}
        brought_in_by: dict[str, str] = {}
        for i in chosen:
            for j in self.prereqs[i]:
                pid, dep = self.ids[j], self.ids[i]
                if pid not in brought_in_by or position[dep] < position[brought_in_by[pid]]:
                    brought_in_by[pid] = dep
        picks = order_pathway(list(gains), self.by_id, self.held, gains)
        used = self.use[mask].sum(axis=0) if chosen else np.zeros(3)
        return Selection(
            picks=picks,
            objective=self.value(mask),
            total_weight=self.total_weight,
            gains=gains,
            brought_in_by={pid: brought_in_by[pid] for pid in gains if pid in brought_in_by},
            method=method,
            hours=float(used[0]),
            cost=float(used[1]),
            baseline=float(self.base @ self.weights),
            infeasible=dict(infeasible),
        )


def _topological(ids: set[str], by_id: Mapping[str, Candidate], held: set[str]) -> list[str]:
    """Order ``ids`` prerequisites first, smallest id first among the ready ones (the set is acyclic)."""
    waiting = {c: sum(1 for p in by_id[c].prerequisites if p not in held) for c in ids}
    dependents: dict[str, list[str]] = {c: [] for c in ids}
    for c in ids:
        for p in by_id[c].prerequisites:
            if p not in held:
                dependents[p].append(c)
    ready = [c for c, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        c = heapq.heappop(ready)
        order.append(c)
        for d in dependents[c]:
            waiting[d] -= 1
            if waiting[d] == 0:
                heapq.heappush(ready, d)
    return order


def _greedy(problem: _Problem, start: np.ndarray) -> np.ndarray:
    """Cost-normalised greedy over options (a candidate plus its missing prerequisites), from ``start``."""
    chosen = np.zeros(problem.size, dtype=bool)
    option_use = problem.closure_use.copy()  # use of each option's members that are not chosen yet

    def take(rows: Iterable[int]) -> None:
        for j in rows:
            if not chosen[j]:
                chosen[j] = True
                option_use[problem.dependents[j]] -= problem.use[j]

    take(np.flatnonzero(start))
    current = problem.vector(chosen)
    used = problem.use[chosen].sum(axis=0) if chosen.any() else np.zeros(3)
    while True:
        free = ~chosen
        gain = (np.maximum(problem.closure_cov, current) - current) @ problem.weights
        ok = problem.anchors & free & (gain > problem.value_tol) & problem.fits(used + option_use)
        if not ok.any():
            return chosen
        rows = np.flatnonzero(ok)
        ratio = gain[rows] / problem.normalised_cost(option_use[rows])
        # Best ratio, then larger gain, then fewer items, then smallest id.
        best = rows[np.lexsort((problem.id_rank[rows], option_use[rows, 2], -gain[rows], -ratio))[0]]
        used = used + option_use[best]
        take(problem.members[best])
        current = np.maximum(current, problem.closure_cov[best])


def _greedy_best(problem: _Problem, enumerate_limit: int) -> np.ndarray:
    """Greedy from nothing and from single options; the best result (ties broken deterministically)."""
    empty = np.zeros(problem.size, dtype=bool)
    if problem.size == 0:
        return empty
    gain = (np.maximum(problem.closure_cov, problem.base) - problem.base) @ problem.weights
    singles = np.flatnonzero(problem.anchors & (gain > problem.value_tol) & problem.fits(problem.closure_use))
    if len(singles) > enumerate_limit:
        # Only the best single option (the Khuller–Moss–Naor safeguard), continued greedily.
        sizes = problem.closure_use[singles, 2]
        singles = singles[np.lexsort((problem.id_rank[singles], sizes, -gain[singles]))[:1]]
    best_mask = _greedy(problem, empty)
    best = (problem.value(best_mask), best_mask)
    for i in singles:
        seed = np.zeros(problem.size, dtype=bool)
        seed[problem.members[i]] = True
        for mask in (seed, _greedy(problem, seed)):
            candidate = (problem.value(mask), mask)
            if problem.better(candidate, best):
                best = candidate
    return best[1]


def _exact(problem: _Problem) -> np.ndarray:
    """Branch and bound over subsets closed under prerequisites, rows taken in topological order."""
    n = problem.size
    suffix_cov = np.zeros((n + 1, problem.weights.size))
    for k in range(n - 1, -1, -1):
        suffix_cov[k] = np.maximum(suffix_cov[k + 1], problem.cov[k])
    tol = problem.value_tol
    mask = np.zeros(n, dtype=bool)
    best: list[tuple[float, np.ndarray] | None] = [None]

    def visit(k: int, current: np.ndarray, used: tuple[float, float, float]) -> None:
        if k == n:
            candidate = (float(current @ problem.weights), mask.copy())
            if problem.better(candidate, best[0]):
                best[0] = candidate
            return
        incumbent = best[0]
        if incumbent is not None:
            bound = float(np.maximum(current, suffix_cov[k]) @ problem.weights)
            if bound < incumbent[0] - tol:
                return
            # At best a tie from here on, and adding rows only makes the tie-break key worse.
            if bound <= incumbent[0] + tol and problem.tie_key(mask) >= problem.tie_key(incumbent[1]):
                return
        # hours, cost and items as Python floats: the same sums and comparisons as fits(), without numpy's
        # per-call cost on three numbers
        hours, cost, items = used[0] + use[k][0], used[1] + use[k][1], used[2] + use[k][2]
        if (
            all(mask[j] for j in problem.prereqs[k])
            and hours <= cap[0]
            and cost <= cap[1]
            and items <= cap[2]
        ):
            mask[k] = True
            visit(k + 1, np.maximum(current, problem.cov[k]), (hours, cost, items))
            mask[k] = False
        visit(k + 1, current, used)

    use: list[list[float]] = problem.use.tolist()
    cap: list[float] = problem.cap.tolist()
    visit(0, problem.base.copy(), (0.0, 0.0, 0.0))
    assert best[0] is not None  # the empty set is always feasible
    return best[0][1]


def _prune(problem: _Problem, mask: np.ndarray) -> np.ndarray:
    """Drop picks that add nothing and that no other pick needs, until none is left (smallest id first)."""
    mask = mask.copy()
    while True:
        chosen = np.flatnonzero(mask)
        needed = {j for i in chosen for j in problem.prereqs[i]}
        full = problem.vector(mask)
        for i in sorted(chosen, key=lambda r: problem.id_rank[r]):
            if i in needed:
                continue
            mask[i] = False
            if np.array_equal(problem.vector(mask), full):
                break
            mask[i] = True
        else:
            return mask
