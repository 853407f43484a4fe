"""Roles, gap analysis, recommendation and cohorts on a tiny hand-built world (fake encoder)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from fakes import HashingEncoder, concept_row, posting_row

from skillmatch.build import BuildInputs, build_bundle
from skillmatch.config import Settings
from skillmatch.facade import load as load_service
from skillmatch.matching.cohort import cohort_gaps
from skillmatch.matching.context import MatchContext
from skillmatch.matching.gaps import Learner, analyse_gap, resolve_learner
from skillmatch.matching.recommend import Limits
from skillmatch.matching.recommend import recommend as recommend_pathway
from skillmatch.matching.roles import CLUSTER_PREFIX, UnknownRoleError, clean_title
from skillmatch.schema import (
    CREDENTIAL_COLUMNS,
    OCCUPATION_COLUMNS,
    POSTING_COLUMNS,
    Taxonomy,
    split_skill_level,
)


def recommend(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """The recommendation as its JSON dict (these tests read the API's shape)."""
    return recommend_pathway(*args, **kwargs).to_dict()


SQL, PY, STATS, EXCEL, COMM, PROG, NURSE = (
    "c:sql",
    "c:python",
    "c:statistics",
    "c:excel",
    "c:communication",
    "c:programming",
    "c:nursing",
)


def credential(
    cid: str,
    outcomes: list[str],
    *,
    level: str,
    hours: float,
    cost: float,
    currency: str = "EUR",
    prerequisites: list[str] | None = None,
    language: str = "en",
    mode: str = "online",
    provider: str = "Uni",
) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(CREDENTIAL_COLUMNS)
    row.update(
        id=cid,
        title=f"Course {cid}",
        provider=provider,
        description="",
        learning_outcomes=outcomes,
        skills=[],
        level=level,
        mode=mode,
        language=language,
        duration_hours=hours,
        cost=cost,
        currency=currency,
        prerequisites=prerequisites or [],
        stackable_into=[],
    )
    return row


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> MatchContext:
    concepts = pd.DataFrame(
        [
            concept_row(SQL, "SQL", ["structured query language"]),
            concept_row(PROG, "computer programming", ["programming"]),
            concept_row(PY, "Python", ["python programming"], [PROG]),
            concept_row(STATS, "statistics", ["statistical analysis"]),
            concept_row(EXCEL, "spreadsheets", ["excel"]),
            concept_row(COMM, "communication", ["communicate"]),
            concept_row(NURSE, "nursing care", ["nursing"]),
            concept_row("c:wounds", "wound care", ["dress wounds"]),
            concept_row("c:palliative", "palliative care", ["end of life care"]),
        ]
    )
    occupations = pd.DataFrame(
        [
            {
                "id": "o:analyst",
                "label": "data analyst",
                "alt_labels": ["analytics specialist"],
                "description": "",
                "isco_group": "2511",
            },
            {
                "id": "o:nurse",
                "label": "nurse",
                "alt_labels": ["staff nurse"],
                "description": "",
                "isco_group": "2221",
            },
        ],
        columns=OCCUPATION_COLUMNS,
    )
    relations = pd.DataFrame(
        [
            ("o:analyst", SQL, "essential"),
            ("o:analyst", PY, "essential"),
            ("o:analyst", STATS, "essential"),
            ("o:analyst", EXCEL, "optional"),
            ("o:analyst", COMM, "optional"),
            ("o:nurse", NURSE, "essential"),
            ("o:nurse", "c:wounds", "essential"),
            ("o:nurse", "c:palliative", "optional"),
        ],
        columns=["occupation_id", "skill_id", "relation"],
    )
    tax = Taxonomy("test", "1", concepts, occupations, relations)
    creds = pd.DataFrame(
        [
            credential("C-SQL", ["Query data with SQL"], level="beginner", hours=20, cost=100),
            credential("C-PY1", ["Write code with Python"], level="beginner", hours=30, cost=0),
            credential(
                "C-PY2",
                ["Python programming", "statistical analysis"],
                level="intermediate",
                hours=40,
                cost=200,
                prerequisites=["C-PY1"],
            ),
            credential("C-STAT", ["statistics"], level="advanced", hours=60, cost=500, currency="USD"),
            credential("C-DE", ["statistics", "SQL"], level="beginner", hours=10, cost=10, language="de"),
            credential("C-NURSE", ["nursing care"], level="beginner", hours=50, cost=50, mode="physical"),
            credential(
                "C-CARE",
                ["nursing care", "wound care", "palliative care", "communicate"],
                level="beginner",
                hours=5,
                cost=0,
            ),
        ],
        columns=CREDENTIAL_COLUMNS,
    )
    posts = pd.DataFrame(
        [
            posting_row("P1", "Data Analyst (m/f/d)", "SQL and Python"),
            posting_row("P2", "data analyst", "SQL, statistics"),
            posting_row("P3", "Analyst", "SQL", occupation="o:analyst"),
            posting_row("P4", "Barista", "communicate with guests"),
            posting_row("P5", "Barista - weekends", "communicate"),
        ],
        columns=POSTING_COLUMNS,
    )
    settings = Settings(use_cache=False, link_min_score=0.5)
    out = tmp_path_factory.mktemp("m") / "bundle"
    enc = HashingEncoder()
    build_bundle(BuildInputs(tax, creds, posts), out, encoder=enc, settings=settings)
    return load_service(out, settings=settings, encoder=enc).context


def test_clean_title() -> None:
    assert clean_title("Data Analyst (m/f/d) - Berlin") == "Data Analyst"
    assert clean_title("Staff Nurse | NHS") == "Staff Nurse"


def test_postings_assigned_to_roles_and_unmatched_titles_clustered(matcher: MatchContext) -> None:
    assign = matcher.bundle.posting_roles.set_index("posting_id")
    assert assign.loc["P3", "method"] == "given"
    assert assign.loc["P1", "role_id"] == assign.loc["P2", "role_id"] == "o:analyst"
    assert assign.loc["P1", "method"] == "title"
    assert assign.loc["P4", "role_id"] == assign.loc["P5", "role_id"]
    assert assign.loc["P4", "role_id"].startswith(CLUSTER_PREFIX)
    roles = matcher.bundle.roles.set_index("id")
    assert roles.loc["o:analyst", "postings"] == 3
    assert roles.loc["o:nurse", "postings"] == 0
    assert roles.loc[assign.loc["P4", "role_id"], "label"] == "Barista"


def test_role_profiles_blend_postings_and_taxonomy(matcher: MatchContext) -> None:
    prof = matcher.roles.profile("o:analyst").set_index("skill_id")
    assert prof.loc[SQL, "postings"] == 3
    assert prof.loc[SQL, "relation"] == "essential"
    # essential and asked for by every posting > essential and asked for by some > optional
    assert prof.loc[SQL, "weight"] > prof.loc[STATS, "weight"] > prof.loc[EXCEL, "weight"]
    weights = prof["weight"].tolist()
    assert weights == sorted(weights, reverse=True)
    # a role without postings still has a profile from the taxonomy
    nurse = matcher.roles.profile("o:nurse")
    assert nurse["skill_id"].tolist() == [NURSE, "c:wounds", "c:palliative"]  # ties by id
    assert nurse["weight"].tolist() == pytest.approx([0.6, 0.6, 0.25])
    cluster = matcher.roles.resolve("Barista")
    assert COMM in set(matcher.roles.profile(cluster)["skill_id"])


def test_role_search_and_resolve(matcher: MatchContext) -> None:
    [hits] = matcher.roles.search(["Data Analyst (f/m/d)"], top_k=2)
    assert hits[0].id == "o:analyst"
    assert matcher.roles.resolve("staff nurse") == "o:nurse"
    assert matcher.roles.resolve("o:nurse") == "o:nurse"
    with pytest.raises(UnknownRoleError, match="unknown role"):
        matcher.roles.resolve("astronaut")


def test_split_skill_level() -> None:
    assert split_skill_level("Python: advanced") == ("Python", "advanced")
    assert split_skill_level("Python (beginner)") == ("Python", "beginner")
    assert split_skill_level("C++ (language)") == ("C++ (language)", None)


def test_gap_analysis_exact_partial_and_missing(matcher: MatchContext) -> None:
    learner = Learner(skills=["SQL", "Python: beginner", "juggling"])
    report = analyse_gap(matcher, resolve_learner(matcher, learner), ["o:analyst"])
    items = {i.skill_id: i for i in report.items}
    assert items[SQL].status == "covered" and items[SQL].gap_weight == 0
    assert items[PY].status == "partial" and items[PY].coverage == pytest.approx(0.5)
    assert items[PY].match_kind == "level"
    assert items[STATS].status == "missing"
    assert items[STATS].gap_weight == items[STATS].weight
    assert report.learner.unmatched == ["juggling"]
    assert 0 < report.coverage < 1
    # programming is broader than Python: knowing it counts in part through the hierarchy
    report2 = analyse_gap(
        matcher, resolve_learner(matcher, Learner(skills=["computer programming"])), ["o:analyst"]
    )
    py = next(i for i in report2.items if i.skill_id == PY)
    assert py.status == "partial" and py.match_kind == "broader"
    assert py.coverage == pytest.approx(0.5)


def test_recommend_brings_in_prerequisites_and_explains(matcher: MatchContext) -> None:
    limits = Limits(languages=["en"], levels=["beginner", "intermediate"])  # C-STAT is advanced
    result = recommend(matcher, Learner(skills=["SQL"]), ["o:analyst"], limits)
    ids = [s["credential"]["id"] for s in result["pathway"]]
    assert "C-PY2" in ids and "C-PY1" in ids
    assert ids.index("C-PY1") < ids.index("C-PY2")
    assert "C-SQL" not in ids  # SQL is already covered: it would add nothing
    step = next(s for s in result["pathway"] if s["credential"]["id"] == "C-PY2")
    assert {c["skill_id"] for c in step["covers"]} >= {PY, STATS}
    assert all(c["outcome"] for c in step["covers"])
    assert result["coverage_after"] > result["coverage_before"]
    assert result["excluded"]["language"] == ["C-DE"]
    assert result["excluded"]["level"] == ["C-STAT"]
    assert all(0 < s["relevance"] <= 1 for s in result["pathway"])


def test_recommend_respects_budget_and_reports_remaining_gap(matcher: MatchContext) -> None:
    result = recommend(
        matcher, Learner(skills=["SQL"]), ["o:analyst"], Limits(max_hours=35, languages=["en"])
    )
    assert result["totals"]["hours"] <= 35
    reasons = {r["skill_id"]: r["reason"] for r in result["remaining_gap"]}
    assert reasons[STATS] == "over_budget"
    assert reasons[EXCEL] == "not_taught"


def test_recommend_filters_and_currency(matcher: MatchContext) -> None:
    result = recommend(
        matcher,
        Learner(skills=["SQL", "Python"]),
        ["o:analyst"],
        Limits(max_cost=300, currency="EUR", levels=["advanced"]),
    )
    ids = [s["credential"]["id"] for s in result["pathway"]]
    assert ids == []  # C-STAT costs 500 USD (> 300 EUR); nothing else is advanced
    assert result["remaining_gap"][0]["reason"] in {"over_budget", "excluded_by_filters"}
    cheap = recommend(
        matcher,
        Learner(skills=["SQL", "Python"]),
        ["o:analyst"],
        Limits(max_cost=500, currency="EUR", levels=["advanced"]),
    )
    assert [s["credential"]["id"] for s in cheap["pathway"]] == ["C-STAT"]
    assert cheap["totals"]["cost"] == pytest.approx(460.0)  # 500 USD at 0.92


def test_off_target_credentials_are_left_out(matcher: MatchContext) -> None:
    result = recommend(matcher, Learner(skills=["SQL", "Python", "statistics", "excel"]), ["o:analyst"])
    # C-CARE teaches "communicate" among nursing skills: mostly off target for a data analyst
    assert "C-CARE" not in [s["credential"]["id"] for s in result["pathway"]]
    assert result["excluded"]["off_target"] == ["C-CARE"]
    reasons = {r["skill_id"]: r["reason"] for r in result["remaining_gap"]}
    assert reasons[COMM] == "taught_only_off_target"
    # for a nurse the same credential is on target
    nurse = recommend(matcher, Learner(skills=["SQL"]), ["o:nurse"])
    assert "C-CARE" in [s["credential"]["id"] for s in nurse["pathway"]]


def test_limits_validation() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        Limits(modes=["telepathy"])
    with pytest.raises(ValueError, match="max_hours"):
        Limits(max_hours=-1)
    with pytest.raises(ValueError, match="proficiency level"):
        Limits(levels=["guru"])


def test_several_roles_union(matcher: MatchContext) -> None:
    report = analyse_gap(
        matcher, resolve_learner(matcher, Learner(skills=["nursing"])), ["o:analyst", "o:nurse"]
    )
    assert [r["weight"] for r in report.roles] == [0.5, 0.5]
    nurse = next(i for i in report.items if i.skill_id == NURSE)
    assert nurse.status == "covered"
    assert nurse.weight == pytest.approx(0.3)


def test_cohort(matcher: MatchContext) -> None:
    learners = [
        Learner(id="a", skills=["SQL"]),
        Learner(id="b", skills=["statistics", "SQL"]),
        Learner(id="c", credentials_held=["C-PY2", "C-PY1"]),
    ]
    result = cohort_gaps(matcher, learners, ["o:analyst"])
    rows = {r["skill_id"]: r for r in result["gaps"]}
    assert rows[SQL]["share_missing"] == pytest.approx(1 / 3, abs=1e-3)
    assert rows[STATS]["share_missing"] == pytest.approx(1 / 3, abs=1e-3)
    assert rows[EXCEL]["share_missing"] == 1.0
    assert result["credentials"][0]["learners_helped"] >= 1
    by_id = {c["id"]: c for c in result["credentials"]}
    assert by_id["C-PY2"]["learners_helped"] == 2  # learner c already holds it
    assert by_id["C-SQL"]["learners_helped"] == 1  # only learner c lacks SQL
    with pytest.raises(ValueError, match="duplicate learner ids"):
        cohort_gaps(matcher, [Learner(id="x", skills=["SQL"])] * 2, ["o:analyst"])


def test_unknown_credential_held(matcher: MatchContext) -> None:
    from skillmatch.matching.gaps import UnknownCredentialError

    with pytest.raises(UnknownCredentialError, match="C-NOPE"):
        resolve_learner(matcher, Learner(credentials_held=["C-NOPE"]))


def test_profile_weights_and_noise_floor() -> None:
    from skillmatch.matching.roles import RoleParams, role_profiles

    roles = pd.DataFrame({"id": ["r"]})
    assignments = pd.DataFrame({"posting_id": ["p1", "p2", "p3", "p4"], "role_id": "r"})
    posting_skills = pd.DataFrame(
        {
            "posting_id": ["p1", "p2", "p3", "p4", "p1", "p1", "p2"],
            "skill_id": ["a", "a", "a", "a", "b", "noise", "b"],
        }
    )
    relations = pd.DataFrame(
        {"occupation_id": ["r", "r"], "skill_id": ["a", "c"], "relation": ["essential", "optional"]}
    )
    prof = role_profiles(roles, assignments, posting_skills, relations, RoleParams()).set_index("skill_id")
    lam = 4 / 9
    assert prof.loc["a", "weight"] == pytest.approx((1 - lam) * 0.6 + lam * 4.5 / 5, abs=1e-4)
    assert prof.loc["b", "weight"] == pytest.approx(lam * 2.5 / 5, abs=1e-4)  # no relation: postings only
    assert prof.loc["c", "weight"] == pytest.approx((1 - lam) * 0.25 + lam * 0.5 / 5, abs=1e-4)
    assert "noise" not in prof.index  # one mention in four postings, no taxonomy relation
    assert prof.loc["a", "postings"] == 4 and prof.loc["a", "postings_total"] == 4


def test_credential_relevance_is_kept_per_skill_set_and_never_mixed(matcher: MatchContext) -> None:
    ids = sorted(matcher.credentials_by_id)
    data = matcher.relevance([SQL, PY], ids)
    care = matcher.relevance([NURSE], ids)
    assert data != care and max(data.values()) > 0 and max(care.values()) > 0
    # a context that never saw either set computes the same values, whatever the order of the skills
    fresh = MatchContext(matcher.bundle, matcher.encoder, matcher.linker, matcher.params)
    assert fresh.relevance([NURSE], ids) == care
    assert fresh.relevance([PY, SQL, SQL], ids) == data
    assert matcher.relevance([PY, SQL], ids[:1]) == {ids[0]: data[ids[0]]}
