"""The career-move benchmark (skillmatch.evaluation.career and bench/career.py) on a small synthetic taxonomy."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from skillmatch.evaluation.career import (
    CATALOGUE_COLUMNS,
    SUMMARY_COLUMNS,
    CareerPair,
    Course,
    CourseIndex,
    apply_pathway,
    career_pairs,
    generate_catalogue,
    greedy_pathway,
    match,
    naive_pathway,
    parse_skill,
    run_methods,
    score,
    skill_group,
    summarise,
    write_jsonl,
)
from skillmatch.readers import read_credentials
from skillmatch.schema import CONCEPT_COLUMNS, GROUP_COLUMNS, OCCUPATION_COLUMNS, RELATION_COLUMNS, Taxonomy

BENCH = Path(__file__).resolve().parents[3] / "bench"
SKILL = "http://data.europa.eu/esco/skill/"
OCC = "http://data.europa.eu/esco/occupation/"


def sk(n: int) -> str:
    return f"{SKILL}s{n:02d}"


# --- the synthetic taxonomy ---------------------------------------------------------------------------------

#: skill group -> skills filed under it (g_small has only 2 essential skills: no courses)
GROUPS = {
    f"{SKILL}g_data": [1, 2, 3, 4, 5, 6, 7, 8],
    f"{SKILL}g_care": [9, 10, 11, 12, 13, 14, 15],
    f"{SKILL}g_small": [16, 17],
    f"{SKILL}g_misc": [20, 21, 22, 23, 24, 25, 26, 27],  # optional only
}

#: occupation -> (ISCO group, essential skills, optional skills)
OCCUPATIONS = {
    "analyst": ("2511", [1, 2, 3, 4, 5, 9], [20, 21]),
    "engineer": ("2511", [1, 2, 6, 7, 8, 10, 11], [22]),
    "scientist": ("2511", [3, 4, 5, 6, 12, 13, 16], [23]),
    "clone": ("2511", [1, 2, 3, 4, 5, 9], []),  # the analyst's skills exactly: never a target for the analyst
    "tiny": ("2511", [1, 2, 3, 4], [24]),  # fewer than 5 essential skills: skipped
    "nurse": ("2221", [9, 10, 11, 12, 13], [25]),
    "carer": ("2221", [13, 14, 15, 17, 1], [26, 27]),
    "loner": ("3111", [1, 2, 3, 4, 5, 6], []),  # alone in its ISCO group
}


def make_taxonomy() -> Taxonomy:
    groups = pd.DataFrame([(g, g.rsplit("g_", 1)[1] + " skills") for g in GROUPS], columns=GROUP_COLUMNS)
    concepts = pd.DataFrame(
        [
            {
                "id": sk(n),
                "label": f"skill {n}",
                "alt_labels": [],
                "description": "",
                "type": "knowledge" if n % 5 == 0 else "skill",
                "reuse_level": "sector-specific",
                "broader": [group],
                "group_path": f"skills > {group.rsplit('g_', 1)[1]}",
            }
            for group, numbers in GROUPS.items()
            for n in numbers
        ],
        columns=CONCEPT_COLUMNS,
    )
    occupations = pd.DataFrame(
        [(OCC + name, name, [], "", isco) for name, (isco, _, _) in OCCUPATIONS.items()],
        columns=OCCUPATION_COLUMNS,
    )
    relations = pd.DataFrame(
        [
            (OCC + name, sk(n), kind)
            for name, (_, essential, optional) in OCCUPATIONS.items()
            for kind, numbers in (("essential", essential), ("optional", optional))
            for n in numbers
        ],
        columns=RELATION_COLUMNS[:3],  # no weights: the type's default
    )
    return Taxonomy("synthetic", "1", concepts, occupations, relations, groups)


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return make_taxonomy()


@pytest.fixture(scope="module")
def catalogue(taxonomy: Taxonomy) -> pd.DataFrame:
    return generate_catalogue(taxonomy, seed=3, distractor_share=0.5)


def essential(name: str) -> set[str]:
    return {sk(n) for n in OCCUPATIONS[name][1]}


# --- the metric ---------------------------------------------------------------------------------------------


def test_match_is_the_mean_of_capped_level_ratios() -> None:
    assert match({"a": 2, "b": 1}, {"a": 2, "b": 2, "c": 2}) == pytest.approx((1 + 0.5 + 0) / 3)
    assert match({"a": 3}, {"a": 2}) == 1.0  # above the required level earns no more
    assert match({"a": 1}, {"a": 3, "b": 1}) == pytest.approx((1 / 3 + 0) / 2)
    assert match({}, {}) == 1.0
    with pytest.raises(ValueError, match="must be >= 1"):
        match({"a": 1}, {"a": 0})


def test_parse_skill_reads_the_level_suffix_of_a_uri() -> None:
    assert parse_skill(f"{sk(1)}: intermediate") == (sk(1), 2)
    assert parse_skill(f"{sk(1)}:Advanced") == (sk(1), 3)
    assert parse_skill(sk(1), default=1) == (sk(1), 1)  # the colon of "http:" is no level
    with pytest.raises(ValueError, match="no level suffix"):
        parse_skill(sk(1))


# --- pairs --------------------------------------------------------------------------------------------------


def test_pairs_follow_the_rules(taxonomy: Taxonomy) -> None:
    pairs = career_pairs(taxonomy, n_pairs=100, seed=1)
    isco = {OCC + name: v[0] for name, v in OCCUPATIONS.items()}
    assert pairs
    for pair in pairs:
        a, b = pair.source_id.rsplit("/", 1)[1], pair.target_id.rsplit("/", 1)[1]
        assert a != b
        assert isco[pair.source_id] == isco[pair.target_id] == pair.isco_group
        assert {a, b}.isdisjoint({"tiny", "loner"})
        held = essential(a)
        assert set(pair.learner) | set(pair.dropped) == held
        assert not set(pair.learner) & set(pair.dropped)
        assert len(pair.dropped) <= round(0.5 * len(held))
        assert set(pair.learner.values()) == {2}
        assert pair.target == dict.fromkeys(sorted(essential(b)), 2)
        assert match(pair.learner, pair.target) < 0.8
        assert pair.learner_skills() == [f"{s}: intermediate" for s in sorted(pair.learner)]
        assert pair.gaps() == sorted(s for s in pair.target if s not in pair.learner)
    # every eligible ordered pair that can be a move appears once (the taxonomy has fewer than 100)
    moves = {(p.source_id, p.target_id) for p in pairs}
    assert len(moves) == len(pairs)
    assert (OCC + "nurse", OCC + "carer") in moves


def test_pairs_skip_targets_the_learner_already_meets(taxonomy: Taxonomy) -> None:
    pairs = career_pairs(taxonomy, n_pairs=100, seed=0, drop=(0.0, 0.0))
    moves = {(p.source_id, p.target_id) for p in pairs}
    assert (OCC + "analyst", OCC + "clone") not in moves
    assert (OCC + "clone", OCC + "analyst") not in moves
    assert (OCC + "analyst", OCC + "engineer") in moves
    assert all(not p.dropped for p in pairs)


def test_pairs_are_deterministic_and_capped(taxonomy: Taxonomy) -> None:
    first = career_pairs(taxonomy, n_pairs=5, seed=7, drop=(0.5, 0.5))
    assert first == career_pairs(taxonomy, n_pairs=5, seed=7, drop=(0.5, 0.5))
    assert len(first) == 5
    # half of each source's skills dropped (rounded)
    assert all(len(p.dropped) == round(0.5 * len(essential(p.source_id.rsplit("/", 1)[1]))) for p in first)
    others = [career_pairs(taxonomy, n_pairs=5, seed=s, drop=(0.5, 0.5)) for s in range(8, 12)]
    assert any(o != first for o in others)
    with pytest.raises(ValueError, match="drop"):
        career_pairs(taxonomy, drop=(0.6, 0.2))


# --- the catalogue ------------------------------------------------------------------------------------------


def _skills(row: pd.Series) -> dict[str, int]:
    return dict(parse_skill(s) for s in row["skills"])


def test_catalogue_has_three_levels_per_chunk_of_one_group(
    catalogue: pd.DataFrame, taxonomy: Taxonomy
) -> None:
    assert list(catalogue.columns) == CATALOGUE_COLUMNS
    regular = catalogue[catalogue["id"].str.startswith("ESCO-C")]
    group_of = {sk(n): g for g, numbers in GROUPS.items() for n in numbers}
    taught: list[str] = []
    chunks = regular.groupby(regular["id"].str[:-2])
    for _chunk, rows in chunks:
        rows = rows.sort_values("id")
        assert rows["id"].str[-1].tolist() == ["1", "2", "3"]
        assert rows["level"].tolist() == ["beginner", "intermediate", "advanced"]
        skill_sets = [_skills(r) for _, r in rows.iterrows()]
        assert skill_sets[0].keys() == skill_sets[1].keys() == skill_sets[2].keys()
        assert 2 <= len(skill_sets[0]) <= 6
        assert [set(s.values()) for s in skill_sets] == [{1}, {2}, {3}]
        assert len({group_of[s] for s in skill_sets[0]}) == 1
        begin, inter, adv = (r for _, r in rows.iterrows())
        assert begin["prerequisite_skills"] == []
        for row, need in ((inter, 1), (adv, 2)):
            prereq = dict(parse_skill(s) for s in row["prerequisite_skills"])
            assert 1 <= len(prereq) <= 2
            assert set(prereq) <= set(skill_sets[0]) and set(prereq.values()) == {need}
        for row in (begin, inter, adv):
            low, high = {"beginner": (10, 25), "intermediate": (20, 40), "advanced": (30, 60)}[row["level"]]
            assert low <= row["duration_hours"] <= high
            assert 0 <= row["cost"] <= 600 and row["currency"] == "EUR"
            assert len(row["learning_outcomes"]) == len(row["skills"])
            assert all(o.startswith("Apply ") for o in row["learning_outcomes"])
            assert all(re.fullmatch(rf"{re.escape(SKILL)}s\d\d: \w+", s) for s in row["skills"])
        taught += list(skill_sets[0])
    # every essential skill of a group with >= 3 essential skills is taught by exactly one chunk
    all_essential = {sk(n) for _, e, _ in OCCUPATIONS.values() for n in e}
    expected = {s for s in all_essential if group_of[s] != f"{SKILL}g_small"}
    assert sorted(taught) == sorted(expected)
    assert sk(16) not in taught and sk(17) not in taught


def test_distractors_teach_one_essential_skill_and_unrelated_ones(catalogue: pd.DataFrame) -> None:
    distractors = catalogue[catalogue["id"].str.startswith("ESCO-D")]
    regular_chunks = catalogue["id"].str.startswith("ESCO-C").sum() // 3
    assert len(distractors) == round(0.5 * regular_chunks) > 0
    all_essential = {sk(n) for _, e, _ in OCCUPATIONS.values() for n in e}
    optional_only = {sk(n) for n in GROUPS[f"{SKILL}g_misc"]}
    for _, row in distractors.iterrows():
        skills = _skills(row)
        assert len(set(skills) & all_essential) == 1
        assert 4 <= len(set(skills) & optional_only) == len(skills) - 1
        assert row["level"] in {"beginner", "intermediate"} and row["prerequisite_skills"] == []
        assert 30 <= row["duration_hours"] <= 80


def test_catalogue_is_deterministic(taxonomy: Taxonomy, catalogue: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(generate_catalogue(taxonomy, seed=3, distractor_share=0.5), catalogue)
    other = generate_catalogue(taxonomy, seed=4, distractor_share=0.5)
    assert other["skills"].tolist() != catalogue["skills"].tolist()
    assert not generate_catalogue(taxonomy, seed=3, distractor_share=0)["id"].str.startswith("ESCO-D").any()


def test_catalogue_round_trips_through_the_credential_reader(catalogue: pd.DataFrame, tmp_path: Path) -> None:
    path = write_jsonl(catalogue, tmp_path / "catalogue.jsonl")
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(catalogue)
    result = read_credentials(path)
    assert result.rejects == []
    table = result.table.set_index("id")
    for _, row in catalogue.iterrows():
        read = table.loc[row["id"]]
        assert read["skills"] == row["skills"]
        assert read["learning_outcomes"] == row["learning_outcomes"]
        assert str(read["level"]) == row["level"]
        assert read["duration_hours"] == row["duration_hours"] and read["cost"] == row["cost"]
    # the extra column survives in the file and is indexed back
    index = CourseIndex.from_frame(pd.read_json(path, lines=True))
    intermediate = catalogue[catalogue["level"] == "intermediate"].iloc[0]
    assert dict(index[intermediate["id"]].prerequisite_skills) == dict(
        parse_skill(s) for s in intermediate["prerequisite_skills"]
    )


def test_skill_group_prefers_a_skill_group_parent() -> None:
    groups = {"g1"}
    assert skill_group({"broader": ["c9", "g1"], "group_path": "x"}, groups) == "g1"
    assert skill_group({"broader": ["c9"], "group_path": "x"}, groups) == "c9"
    assert skill_group({"broader": [], "group_path": "skills > x"}, groups) == "skills > x"
    assert skill_group({"broader": [], "group_path": ""}, groups) is None


# --- pathways -----------------------------------------------------------------------------------------------


def small_index() -> CourseIndex:
    return CourseIndex(
        [
            Course("b", 8, {"x": 1, "y": 1}),
            Course("i", 20, {"x": 2, "y": 2}, prerequisite_skills={"x": 1}),
            Course("a", 40, {"x": 3, "y": 3}, prerequisite_skills={"y": 2}),
            Course("z", 5, {"z": 2}, prerequisites=("b",)),
            Course("w", 30, {"w": 2, "q": 2, "x": 1}),
            Course("v", 12, {"x": 1, "y": 1, "w": 1}),
        ]
    )


def test_apply_pathway_raises_levels_and_counts_violations() -> None:
    index = small_index()
    levels = {"x": 2, "q": 1}
    new, violations = apply_pathway(levels, ["b", "i", "z"], index)
    assert new == {"x": 2, "y": 2, "q": 1, "z": 2}  # x stays at 2 (max), never lowered by the beginner course
    assert violations == 0
    assert levels == {"x": 2, "q": 1}
    _, violations = apply_pathway({}, ["i", "b"], index)  # x: beginner is met only after "b"
    assert violations == 1
    _, violations = apply_pathway({}, ["z", "a"], index)  # "z" needs credential "b"; "a" needs y >= 2
    assert violations == 2
    _, violations = apply_pathway({}, ["z"], index, held=["b"])
    assert violations == 0
    with pytest.raises(KeyError, match="unknown credential"):
        apply_pathway({}, ["nope"], index)


def test_admitted_only_skips_credentials_whose_prerequisites_are_unmet() -> None:
    index = small_index()
    # "i" needs x at beginner: alone it is not admitted and teaches nothing; after "b" it is
    alone, violations = apply_pathway({}, ["i"], index, admitted_only=True)
    assert violations == 1 and alone == {}
    ordered, violations = apply_pathway({}, ["b", "i"], index, admitted_only=True)
    assert violations == 0 and ordered == apply_pathway({}, ["b", "i"], index)[0]
    scored = score(pair_for({}, {"x": 2}), ["i"], index)
    assert scored["gain"] > 0 and scored["admitted_gain"] == 0


def test_apply_pathway_reads_a_catalogue_table(catalogue: pd.DataFrame) -> None:
    inter = catalogue[catalogue["level"] == "intermediate"].iloc[0]
    begin = catalogue[catalogue["id"] == inter["id"][:-1] + "1"].iloc[0]
    _, violations = apply_pathway({}, [inter["id"]], catalogue)
    assert violations == 1
    new, violations = apply_pathway({}, [begin["id"], inter["id"]], catalogue)
    assert violations == 0 and new == _skills(inter)


def pair_for(learner: dict[str, int], target: dict[str, int]) -> CareerPair:
    return CareerPair("A", "a", "B", "b", "1111", learner, target)


def test_naive_ranks_by_gap_skills_taught_with_ties_by_id() -> None:
    index = small_index()
    pair = pair_for({"q": 2}, {"x": 2, "y": 2, "q": 2, "w": 2})
    # gaps x, y, w: v teaches 3 of them; a, b, i and w 2 each (w also q, which is no gap); z none
    assert naive_pathway(pair, index) == ["v", "a", "b", "i", "w"]
    assert naive_pathway(pair, index, k=2) == ["v", "a"]
    # v (12 h), a (40 h) does not fit, b (8 h), then neither i (20 h) nor w (30 h) fits in the 15 h left
    assert naive_pathway(pair, index, max_hours=35) == ["v", "b"]


def test_greedy_takes_the_largest_gain_and_ignores_prerequisites() -> None:
    index = small_index()
    pair = pair_for({}, {"x": 2, "y": 2})
    # "i" and "a" both bring the target to 1.0; "i" has fewer hours; its prerequisite x: beginner is ignored
    assert greedy_pathway(pair, index) == ["i"]
    assert score(pair, ["i"], index)["violations"] == 1
    # per hour, under a budget: "b" (0.5 in 8 h) beats "i" (1.0 in 20 h), then "i" adds the rest if it fits
    assert greedy_pathway(pair, index, max_hours=30) == ["b", "i"]
    assert greedy_pathway(pair, index, max_hours=15) == ["b"]
    assert greedy_pathway(pair, index, k=1, max_hours=5) == []
    assert greedy_pathway(pair_for({"x": 2, "y": 2}, {"x": 2, "y": 2}), index) == []  # nothing to gain


def test_score_reports_before_after_and_violations() -> None:
    index = small_index()
    pair = pair_for({"q": 2}, {"x": 2, "y": 2, "q": 2, "w": 2})
    row = score(pair, ["i", "w"], index)
    assert row["match_before"] == pytest.approx(0.25)
    assert row["match_after"] == pytest.approx(1.0)
    assert row["gain"] == pytest.approx(0.75)
    assert row["applicable"] is True
    assert row["violations"] == 1  # "i" before x: beginner
    assert row["items"] == 2 and row["hours"] == 50
    assert score(pair, [], index)["applicable"] is False


def test_run_methods_and_summarise(taxonomy: Taxonomy, catalogue: pd.DataFrame) -> None:
    pairs = career_pairs(taxonomy, n_pairs=6, seed=0)
    rows = run_methods(pairs, catalogue, {"naive": naive_pathway, "greedy": greedy_pathway})
    assert len(rows) == 2 * 8 * len(pairs)
    table = summarise(rows)
    assert list(table.columns) == SUMMARY_COLUMNS
    assert table[["method", "limit", "value"]].values.tolist()[:8] == [
        *(["naive", "k", float(k)] for k in range(1, 6)),
        *(["naive", "hours", h] for h in (20.0, 40.0, 80.0)),
    ]
    assert (table["pairs"] == len(pairs)).all()
    greedy = table[(table["method"] == "greedy") & (table["limit"] == "k")]
    assert greedy["mean_gain"].is_monotonic_increasing and greedy["mean_gain"].iloc[-1] > 0
    assert (table[table["limit"] == "hours"]["mean_hours"] <= table[table["limit"] == "hours"]["value"]).all()
    # the summary's figures are those of the rows
    mine = [r for r in rows if r["method"] == "greedy" and r["limit"] == "k" and r["value"] == 5.0]
    last = greedy.iloc[-1]
    assert last["mean_gain"] == pytest.approx(sum(r["gain"] for r in mine) / len(mine))
    assert last["applicable"] == sum(r["applicable"] for r in mine)
    assert last["violations"] == sum(r["violations"] for r in mine)
    assert summarise([]).empty


def test_greedy_beats_naive_but_breaks_prerequisites(taxonomy: Taxonomy, catalogue: pd.DataFrame) -> None:
    """The gap the benchmark is about: the greedy baseline gains more and takes courses it is not ready for."""
    pairs = career_pairs(taxonomy, n_pairs=20, seed=0)
    table = summarise(
        run_methods(pairs, catalogue, {"naive": naive_pathway, "greedy": greedy_pathway}, budgets=())
    )
    at3 = table[table["value"] == 3.0].set_index("method")
    assert at3.loc["greedy", "mean_gain"] > at3.loc["naive", "mean_gain"]
    assert at3.loc["greedy", "violations"] > 0


# --- bench/career.py ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_career", BENCH / "career.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_career"] = module
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


class FakeService:
    """Stands in for skillmatch.load(bundle): records the calls and answers with fixed credentials."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.calls: list[tuple[Any, ...]] = []

    def recommend(self, role: str, skills: list[str], **limits: Any) -> SimpleNamespace:
        self.calls.append((role, skills, limits))
        k = limits.get("max_items") or len(self.ids)
        return SimpleNamespace(pathway=[SimpleNamespace(credential={"id": i}) for i in self.ids[:k]])


def test_skillmatch_pathway_calls_the_service(bench: ModuleType) -> None:
    service = FakeService(["c2", "c1", "c3"])
    pair = pair_for({sk(2): 2, sk(1): 2}, {sk(3): 2})
    assert bench.skillmatch_pathway(service, pair, k=2, max_hours=40.0) == ["c2", "c1"]
    assert service.calls == [
        ("B", [f"{sk(1)}: intermediate", f"{sk(2)}: intermediate"], {"max_items": 2, "max_hours": 40.0})
    ]


def test_bench_runs_skillmatch_with_a_bundle(
    bench: ModuleType, taxonomy: Taxonomy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import skillmatch

    service = FakeService(["ESCO-C00001-1", "ESCO-C00001-2"])
    monkeypatch.setattr(bench, "load_taxonomy", lambda path: (taxonomy, []))
    monkeypatch.setattr(skillmatch, "load", lambda path: service)
    out = tmp_path / "out"
    results = bench.main(["--esco", "x", "--pairs", "4", "--out", str(out), "--bundle", str(tmp_path / "b")])
    assert results["pairs"] == 4
    assert {r["method"] for r in results["summary"]} == {"naive", "greedy", "skillmatch"}
    assert len(service.calls) == 4 * 8
    assert {c[2]["max_items"] for c in service.calls} == {1, 2, 3, 4, 5, None}
    assert {c[2]["max_hours"] for c in service.calls} == {None, 20.0, 40.0, 80.0}
    assert {c[0] for c in service.calls} <= {OCC + n for n in OCCUPATIONS}
    ours = [r for r in results["summary"] if r["method"] == "skillmatch" and r["limit"] == "k"]
    assert [r["mean_items"] for r in ours] == [1, 2, 2, 2, 2]
    assert all(r["violations"] == 0 for r in ours)  # beginner, then intermediate: prerequisites met
    assert read_credentials(out / "catalogue.jsonl").rejects == []
    assert (out / "results.json").is_file() and (out / "pairs.jsonl").is_file()
