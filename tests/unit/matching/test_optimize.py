"""Tests for the credential-selection optimiser (skillmatch.matching.optimize)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skillmatch.matching.optimize import (
    Budget,
    Candidate,
    GapReason,
    Selection,
    _greedy,
    _Problem,
    infeasible_candidates,
    objective,
    order_pathway,
    remaining_gap,
    solve,
)

BOUND = (1 - 1 / math.e) / 2


def by_id(candidates: list[Candidate]) -> dict[str, Candidate]:
    return {c.id: c for c in candidates}


def check_invariants(
    sel: Selection,
    gap: dict[str, float],
    candidates: list[Candidate],
    budget: Budget,
    held: tuple[str, ...] = (),
) -> None:
    """Properties every selection must have, whatever the method."""
    index = by_id(candidates)
    assert len(sel.picks) == len(set(sel.picks)), "duplicate picks"
    assert not set(sel.picks) & set(held), "held credential picked"
    hours = sum(index[p].hours for p in sel.picks)
    cost = sum(index[p].cost for p in sel.picks)
    assert sel.hours == pytest.approx(hours) and sel.cost == pytest.approx(cost)
    if budget.max_hours is not None:
        assert hours <= budget.max_hours + 1e-9
    if budget.max_cost is not None:
        assert cost <= budget.max_cost + 1e-9
    if budget.max_items is not None:
        assert len(sel.picks) <= budget.max_items
    done = set(held)
    for pick in sel.picks:
        assert set(index[pick].prerequisites) <= done, f"{pick} before its prerequisites"
        done.add(pick)
    assert set(sel.gains) == set(sel.picks)
    for pick in sel.picks:
        if pick in sel.brought_in_by:
            assert pick in index[sel.brought_in_by[pick]].prerequisites
            assert sel.brought_in_by[pick] in sel.picks
        else:
            assert sel.gains[pick] > 0, f"{pick} adds nothing and is nobody's prerequisite"
    assert sel.objective == pytest.approx(objective(gap, index, sel.picks, held), abs=1e-9)
    assert sel.baseline == pytest.approx(objective(gap, index, [], held), abs=1e-9)
    assert sel.baseline + sum(sel.gains.values()) == pytest.approx(sel.objective, abs=1e-9)
    assert sel.objective <= sel.total_weight + 1e-9
    assert sel.total_weight == pytest.approx(sum(gap.values()))
    assert not set(sel.picks) & set(sel.infeasible)


def random_instance(
    rng: random.Random,
    n: int,
    m: int,
    *,
    prerequisites: bool = True,
    budgets: str = "all",
) -> tuple[dict[str, float], list[Candidate], Budget, tuple[str, ...]]:
    """A random small instance: graded coverage, acyclic prerequisites, random budgets and held ids."""
    gap = {f"s{k}": round(rng.uniform(0.1, 3.0), 3) for k in range(m)}
    candidates = []
    for i in range(n):
        covered = rng.sample(sorted(gap), rng.randint(0, min(m, 4)))
        coverage = {s: rng.choice([1.0, round(rng.uniform(0.05, 1.0), 3)]) for s in covered}
        prereqs: tuple[str, ...] = ()
        if prerequisites and i > 0 and rng.random() < 0.3:
            prereqs = tuple(sorted({f"c{j:02d}" for j in rng.sample(range(i), rng.randint(1, min(i, 2)))}))
        candidates.append(
            Candidate(
                id=f"c{i:02d}",
                hours=rng.choice([0.0, float(rng.randint(1, 40))]),
                cost=float(rng.randint(0, 500)),
                coverage=coverage,
                prerequisites=prereqs,
                level_rank=rng.randint(0, 3),
            )
        )
    total_hours = sum(c.hours for c in candidates)
    total_cost = sum(c.cost for c in candidates)
    if budgets == "cost":
        budget = Budget(max_cost=rng.uniform(0.1, 0.6) * max(total_cost, 1.0))
    else:
        budget = Budget(
            max_hours=rng.choice([None, rng.uniform(0.25, 0.8) * max(total_hours, 1.0)]),
            max_cost=rng.choice([None, rng.uniform(0.25, 0.8) * max(total_cost, 1.0)]),
            max_items=rng.choice([None, rng.randint(1, 4)]),
        )
    held = tuple(c.id for c in candidates if rng.random() < 0.1)
    return gap, candidates, budget, held


# --- hand-built cases with known optima -----------------------------------------------------------------


def test_singleton_safeguard_beats_plain_ratio_greedy() -> None:
    gap = {"cheap": 2.0, "big": 10.0}
    candidates = [
        Candidate("a-cheap", cost=1.0, coverage={"cheap": 1.0}),  # ratio 2 / 0.1 = 20
        Candidate("b-big", cost=10.0, coverage={"big": 1.0}),  # ratio 10 / 1 = 10, fills the budget
    ]
    budget = Budget(max_cost=10.0)
    problem = _Problem.build(gap, candidates, budget, set(), {})
    plain = _greedy(problem, np.zeros(problem.size, dtype=bool))
    assert [problem.ids[i] for i in np.flatnonzero(plain)] == ["a-cheap"]  # plain greedy gets 2 of 12

    for method in ("greedy", "exact"):
        sel = solve(gap, candidates, budget, method=method, enumerate_limit=0)
        assert sel.picks == ["b-big"]
        assert sel.objective == pytest.approx(10.0)
        check_invariants(sel, gap, candidates, budget)


def test_prerequisite_chain_is_brought_in_and_ordered() -> None:
    gap = {"ml": 5.0, "stats": 1.0}
    candidates = [
        Candidate(
            "ml-advanced", hours=30, coverage={"ml": 1.0}, prerequisites=("stats-basics",), level_rank=3
        ),
        Candidate("stats-basics", hours=10, coverage={"stats": 0.2}, prerequisites=("maths",), level_rank=2),
        Candidate("maths", hours=10, level_rank=1),
        Candidate("stats-full", hours=25, coverage={"stats": 1.0}, level_rank=2),
    ]
    budget = Budget(max_hours=50)
    for method in ("greedy", "exact"):
        sel = solve(gap, candidates, budget, method=method)
        assert sel.picks == ["maths", "stats-basics", "ml-advanced"]
        assert sel.brought_in_by == {"maths": "stats-basics", "stats-basics": "ml-advanced"}
        assert sel.gains["maths"] == 0.0
        assert sel.objective == pytest.approx(5.2)
        assert sel.hours == 50
        check_invariants(sel, gap, candidates, budget)


def test_prerequisite_chain_over_budget_blocks_the_dependent() -> None:
    gap = {"ml": 5.0, "stats": 1.0}
    candidates = [
        Candidate("ml-advanced", hours=30, coverage={"ml": 1.0}, prerequisites=("stats-basics",)),
        Candidate("stats-basics", hours=15, coverage={"stats": 0.2}),
        Candidate("stats-full", hours=25, coverage={"stats": 1.0}),
    ]
    budget = Budget(max_hours=40)  # ml-advanced alone fits, but not with its prerequisite
    for method in ("greedy", "exact"):
        sel = solve(gap, candidates, budget, method=method)
        assert "ml-advanced" not in sel.picks
        assert sel.picks == ["stats-full"]
        check_invariants(sel, gap, candidates, budget)
    gaps = remaining_gap(gap, by_id(candidates), sel.picks)
    assert gaps["ml"].reason is GapReason.NOT_SELECTED
    assert gaps["ml"].best_candidate == "ml-advanced"
    assert "stats" not in gaps  # fully covered


def test_held_credentials_count_and_satisfy_prerequisites() -> None:
    gap = {"python": 2.0, "pandas": 3.0}
    candidates = [
        Candidate("python-101", hours=20, coverage={"python": 1.0}),
        Candidate("pandas", hours=10, coverage={"pandas": 1.0, "python": 0.3}, prerequisites=("python-101",)),
    ]
    budget = Budget(max_hours=10)
    sel = solve(gap, candidates, budget, held=("python-101",))
    assert sel.picks == ["pandas"]
    assert sel.baseline == pytest.approx(2.0)
    assert sel.objective == pytest.approx(5.0)
    assert sel.gains == {"pandas": pytest.approx(3.0)}  # python is already covered by the held credential
    assert sel.coverage_ratio == pytest.approx(1.0)
    check_invariants(sel, gap, candidates, budget, held=("python-101",))
    # Without holding it, the prerequisite does not fit the 10 hours.
    assert solve(gap, candidates, budget).picks == []
    # A held id that is not a candidate still satisfies prerequisites.
    sel = solve(gap, candidates[1:], budget, held=("python-101",))
    assert sel.picks == ["pandas"] and sel.baseline == 0.0


def test_free_credentials_are_picked_and_counted_as_items() -> None:
    gap = {"a": 1.0, "b": 1.0, "c": 1.0}
    candidates = [
        Candidate("free-a", coverage={"a": 0.5}),
        Candidate("free-b", coverage={"b": 1.0}),
        Candidate("paid-c", hours=5, cost=100, coverage={"c": 1.0}),
    ]
    for method in ("greedy", "exact"):
        sel = solve(gap, candidates, Budget(max_hours=0, max_cost=0), method=method)
        assert sorted(sel.picks) == ["free-a", "free-b"]
        assert sel.objective == pytest.approx(1.5)
        sel = solve(gap, candidates, Budget(max_items=1, max_cost=100), method=method)
        assert sel.picks == ["free-b"]  # free-b and paid-c are both worth 1; free-b is cheaper


def test_no_budgets_takes_everything_useful_and_nothing_else() -> None:
    gap = {"a": 1.0, "b": 2.0}
    candidates = [
        Candidate("full-a", hours=10, coverage={"a": 1.0}),
        Candidate("part-a", hours=1, coverage={"a": 0.4}),  # dominated by full-a
        Candidate("full-b", hours=100, cost=1000, coverage={"b": 1.0}),
        Candidate("nothing", coverage={"zzz": 1.0}),  # not a gap skill
    ]
    for method in ("greedy", "exact"):
        sel = solve(gap, candidates, method=method)
        assert sorted(sel.picks) == ["full-a", "full-b"]
        assert sel.objective == pytest.approx(3.0) and sel.coverage_ratio == pytest.approx(1.0)
        assert remaining_gap(gap, by_id(candidates), sel.picks) == {}


def test_dominated_pick_is_pruned_when_later_picks_cover_it() -> None:
    gap = {"a": 1.0, "b": 1.0, "d": 3.0}
    candidates = [
        Candidate("only-a", cost=1, coverage={"a": 1.0}),  # best ratio, taken first...
        Candidate("big-d", cost=6, coverage={"d": 1.0}),
        Candidate("both", cost=3, coverage={"a": 1.0, "b": 1.0}),  # ...taken last, makes only-a redundant
    ]
    budget = Budget(max_cost=10)
    problem = _Problem.build(gap, candidates, budget, set(), {})
    plain = _greedy(problem, np.zeros(problem.size, dtype=bool))
    assert sorted(problem.ids[i] for i in np.flatnonzero(plain)) == ["big-d", "both", "only-a"]
    for method in ("greedy", "exact"):
        sel = solve(gap, candidates, budget, method=method, enumerate_limit=0)
        assert sorted(sel.picks) == ["big-d", "both"]
        assert sel.objective == pytest.approx(5.0) and sel.cost == 9


def test_infeasible_candidates_are_reported_and_never_picked() -> None:
    gap = {"a": 1.0, "b": 1.0, "c": 1.0}
    candidates = [
        Candidate("ghost-dep", coverage={"a": 1.0}, prerequisites=("not-in-catalogue",)),
        Candidate("loop-1", coverage={"b": 1.0}, prerequisites=("loop-2",)),
        Candidate("loop-2", coverage={"b": 1.0}, prerequisites=("loop-1",)),
        Candidate("self", coverage={"c": 1.0}, prerequisites=("self",)),
        Candidate("after-ghost", coverage={"c": 0.5}, prerequisites=("ghost-dep",)),
        Candidate("ok", coverage={"c": 0.3}),
    ]
    reasons = infeasible_candidates(candidates)
    assert set(reasons) == {"ghost-dep", "loop-1", "loop-2", "self", "after-ghost"}
    assert "not-in-catalogue" in reasons["ghost-dep"]
    assert "cycle" in reasons["loop-1"] and "cycle" in reasons["loop-2"] and "cycle" in reasons["self"]
    assert "ghost-dep" in reasons["after-ghost"]
    sel = solve(gap, candidates)
    assert sel.picks == ["ok"]
    assert sel.infeasible == reasons
    gaps = remaining_gap(gap, by_id(candidates), sel.picks, infeasible=sel.infeasible)
    assert gaps["a"].reason is GapReason.INFEASIBLE and gaps["a"].best_candidate == "ghost-dep"
    # Holding a cycle member breaks the cycle.
    assert set(infeasible_candidates(candidates, held=("loop-1",))) == {"ghost-dep", "self", "after-ghost"}


def test_remaining_gap_explains_uncoverable_and_over_budget() -> None:
    gap = {"covered": 1.0, "half": 2.0, "nobody": 3.0, "expensive": 4.0}
    candidates = [
        Candidate("cheap", cost=1, coverage={"covered": 1.0, "half": 0.5}),
        Candidate("pricey", cost=100, coverage={"expensive": 0.9}),
    ]
    sel = solve(gap, candidates, Budget(max_cost=10))
    assert sel.picks == ["cheap"]
    gaps = remaining_gap(gap, by_id(candidates), sel.picks)
    assert list(gaps) == ["expensive", "nobody", "half"]  # largest remaining weight first
    assert gaps["nobody"].reason is GapReason.NOT_COVERABLE and gaps["nobody"].best_possible == 0.0
    assert gaps["half"].reason is GapReason.NOT_COVERABLE and gaps["half"].remaining == pytest.approx(1.0)
    assert gaps["expensive"].reason is GapReason.NOT_SELECTED
    assert gaps["expensive"].best_possible == pytest.approx(0.9)
    assert sum(g.remaining for g in gaps.values()) == pytest.approx(sel.total_weight - sel.objective)


def test_order_pathway_levels_gains_and_errors() -> None:
    candidates = by_id(
        [
            Candidate("adv", level_rank=3, prerequisites=("held-one",)),
            Candidate("beg-b", level_rank=1),
            Candidate("beg-a", level_rank=1),
            Candidate("int", level_rank=2, prerequisites=("zz-beg",)),
            Candidate("zz-beg", level_rank=1),
        ]
    )
    picks = ["adv", "int", "beg-b", "beg-a", "zz-beg"]
    assert order_pathway(picks, candidates, held=("held-one",)) == ["beg-a", "beg-b", "zz-beg", "int", "adv"]
    gains = {"beg-b": 2.0, "beg-a": 1.0}
    assert order_pathway(picks, candidates, ("held-one",), gains)[:2] == ["beg-b", "beg-a"]
    with pytest.raises(ValueError, match="'adv' requires 'held-one'"):
        order_pathway(picks, candidates)
    with pytest.raises(ValueError, match="duplicate"):
        order_pathway(["beg-a", "beg-a"], candidates)
    with pytest.raises(ValueError, match="'nope' is not a known candidate"):
        order_pathway(["nope"], candidates)
    cyclic = by_id([Candidate("x", prerequisites=("y",)), Candidate("y", prerequisites=("x",))])
    with pytest.raises(ValueError, match="cycle"):
        order_pathway(["x", "y"], cyclic)


def test_ties_go_to_the_smallest_id() -> None:
    gap = {"s": 1.0, "t": 1.0}
    twins = [
        Candidate("b-twin", hours=5, coverage={"s": 1.0}),
        Candidate("a-twin", hours=5, coverage={"s": 1.0}),
        Candidate("c-other", hours=5, coverage={"t": 1.0}),
    ]
    for method in ("greedy", "exact"):
        for enumerate_limit in (0, 40):
            sel = solve(gap, twins, Budget(max_items=2), method=method, enumerate_limit=enumerate_limit)
            assert sorted(sel.picks) == ["a-twin", "c-other"]
            sel = solve(gap, twins, Budget(max_items=1), method=method, enumerate_limit=enumerate_limit)
            assert sel.picks == ["a-twin"]


def test_results_do_not_depend_on_input_order() -> None:
    rng = random.Random(7)
    for _ in range(20):
        gap, candidates, budget, held = random_instance(rng, 12, 6)
        shuffled = candidates[:]
        rng.shuffle(shuffled)
        for method in ("greedy", "exact"):
            a = solve(gap, candidates, budget, held, method=method)
            b = solve(gap, shuffled, budget, held, method=method)
            assert a == b


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Candidate("x", hours=-1), "'x': field 'hours'"),
        (lambda: Candidate("x", cost=math.nan), "'x': field 'cost'"),
        (lambda: Candidate("x", coverage={"s": 1.5}), "'x': field 'coverage' degree for skill 's'"),
        (lambda: Candidate("x", prerequisites="y"), "'x': field 'prerequisites'"),
        (lambda: Candidate(""), "field 'id'"),
        (lambda: Budget(max_hours=-5), "'max_hours'"),
        (lambda: Budget(max_items=1.5), "'max_items'"),
        (lambda: solve({"s": 0.0}, []), "weight for skill 's'"),
        (lambda: solve({"s": 1.0}, [Candidate("x"), Candidate("x")]), r"candidates\[1\]: duplicate .*'x'"),
        (lambda: solve({"s": 1.0}, [], held="x"), "held"),
        (lambda: solve({"s": 1.0}, [], method="magic"), "method"),
        (lambda: objective({"s": 1.0}, {}, ["ghost"]), "pick 'ghost'"),
    ],
)
def test_bad_input_gives_clear_errors(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_exact_refuses_large_instances() -> None:
    candidates = [Candidate(f"c{i}", coverage={"s": i / 20}) for i in range(1, 20)]
    with pytest.raises(ValueError, match="exceeds exact_limit=14"):
        solve({"s": 1.0}, candidates, method="exact")
    assert solve({"s": 1.0}, candidates).method == "greedy"
    assert solve({"s": 1.0}, candidates[:5]).method == "exact"


def test_empty_inputs() -> None:
    sel = solve({}, [Candidate("x", coverage={"s": 1.0})])
    assert sel.picks == [] and sel.objective == 0.0 and sel.coverage_ratio == 1.0
    sel = solve({"s": 1.0}, [])
    assert sel.picks == [] and sel.coverage_ratio == 0.0


# --- greedy against exact -------------------------------------------------------------------------------


def test_greedy_matches_exact_on_random_instances() -> None:
    rng = random.Random(20240601)
    ratios, equal, nontrivial = [], 0, 0
    trials = 150
    for _ in range(trials):
        gap, candidates, budget, held = random_instance(rng, rng.randint(3, 11), rng.randint(2, 8))
        exact = solve(gap, candidates, budget, held, method="exact")
        greedy = solve(gap, candidates, budget, held, method="greedy")
        check_invariants(exact, gap, candidates, budget, held)
        check_invariants(greedy, gap, candidates, budget, held)
        assert exact.objective >= greedy.objective - 1e-9
        assert greedy.objective >= BOUND * exact.objective - 1e-9
        ratios.append(greedy.objective / exact.objective if exact.objective else 1.0)
        equal += math.isclose(greedy.objective, exact.objective, rel_tol=1e-9, abs_tol=1e-9)
        nontrivial += len(exact.picks) >= 2
    assert nontrivial / trials >= 0.5, "the random instances are too easy to tell anything"
    assert equal / trials >= 0.9, f"greedy equals exact on only {equal}/{trials} instances"
    assert min(ratios) >= 0.75


def test_unseeded_greedy_keeps_the_knapsack_bound() -> None:
    """One budget, no prerequisites: greedy + best singleton is within (1 - 1/e)/2 of the optimum."""
    rng = random.Random(99)
    equal = 0
    trials = 150
    for _ in range(trials):
        gap, candidates, budget, held = random_instance(
            rng, rng.randint(3, 11), rng.randint(2, 8), prerequisites=False, budgets="cost"
        )
        exact = solve(gap, candidates, budget, held, method="exact")
        greedy = solve(gap, candidates, budget, held, method="greedy", enumerate_limit=0)
        assert greedy.objective >= BOUND * exact.objective - 1e-9
        equal += math.isclose(greedy.objective, exact.objective, rel_tol=1e-9, abs_tol=1e-9)
    assert equal / trials >= 0.6, f"plain greedy equals exact on only {equal}/{trials} instances"


# --- hypothesis properties ------------------------------------------------------------------------------


@st.composite
def instances(draw: st.DrawFn) -> tuple[dict[str, float], list[Candidate], Budget, tuple[str, ...]]:
    m = draw(st.integers(1, 5))
    skills = [f"s{k}" for k in range(m)]
    gap = {s: draw(st.floats(0.01, 10)) for s in skills}
    n = draw(st.integers(0, 8))
    ids = [f"c{i}" for i in range(n)]
    candidates = []
    for i, cid in enumerate(ids):
        coverage = draw(st.dictionaries(st.sampled_from(skills), st.floats(0, 1), max_size=m))
        # Mostly earlier ids (acyclic), sometimes anything, including unknown ids and cycles.
        pool = [*ids[:i], "unknown"] if draw(st.booleans()) else [*ids, "unknown"]
        prereqs = draw(st.lists(st.sampled_from(pool), max_size=2)) if draw(st.integers(0, 3)) == 0 else []
        candidates.append(
            Candidate(
                cid,
                hours=draw(st.sampled_from([0.0, 1.0, 5.0, 12.5])),
                cost=draw(st.floats(0, 100)),
                coverage=coverage,
                prerequisites=tuple(prereqs),
                level_rank=draw(st.integers(0, 3)),
            )
        )
    budget = Budget(
        max_hours=draw(st.none() | st.floats(0, 30)),
        max_cost=draw(st.none() | st.floats(0, 200)),
        max_items=draw(st.none() | st.integers(0, 4)),
    )
    held = tuple(draw(st.lists(st.sampled_from([*ids, "outside"]), max_size=2, unique=True))) if ids else ()
    return gap, candidates, budget, held


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_properties_hold_for_both_methods(
    instance: tuple[dict[str, float], list[Candidate], Budget, tuple[str, ...]],
) -> None:
    gap, candidates, budget, held = instance
    exact = solve(gap, candidates, budget, held, method="exact")
    greedy = solve(gap, candidates, budget, held, method="greedy")
    for sel in (exact, greedy):
        check_invariants(sel, gap, candidates, budget, held)
    assert exact.objective >= greedy.objective - 1e-9
    assert exact.infeasible == greedy.infeasible == infeasible_candidates(candidates, held)
    assert solve(gap, candidates, budget, held, method="auto") == exact
