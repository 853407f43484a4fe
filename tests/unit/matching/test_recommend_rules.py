"""Recommendation rules that real catalogues need: taxonomy ids and exact labels resolve exactly, skill
prerequisites with levels are honoured, a credential closes a gap only up to the level it teaches, and essential
skills come before optional ones and partial matches."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fakes import HashingEncoder, concept_row

from skillmatch.build import BuildInputs, build_bundle, screen_ids
from skillmatch.config import Settings
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service
from skillmatch.matching.gaps import UnknownSkillError
from skillmatch.readers import read_credentials
from skillmatch.schema import CREDENTIAL_COLUMNS, OCCUPATION_COLUMNS, POSTING_COLUMNS, Taxonomy

ESCO = "http://data.europa.eu/esco/skill/"
SQL, PY, PROG, STATS, CSS, SHEETS, EXCEL, COMM, TEAM, ETHICS = (
    f"{ESCO}{name}"
    for name in ("sql", "python", "prog", "stats", "css", "sheets", "excel", "comm", "team", "ethics")
)
INTERP, NURSE, WOUND, PALL = (f"{ESCO}{name}" for name in ("interp", "nurse", "wound", "pall"))
ANALYST = "http://data.europa.eu/esco/occupation/analyst"


def course(cid: str, skills: list[str], *, level: str, hours: float, **more: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(CREDENTIAL_COLUMNS)
    row.update(
        id=cid,
        title=f"Course {cid}",
        provider="Uni",
        description="",
        learning_outcomes=[f"Course {cid} outcome"],
        skills=skills,
        level=level,
        mode="online",
        language="en",
        duration_hours=hours,
        cost=0.0,
        currency="EUR",
        prerequisites=[],
        prerequisite_skills=[],
        stackable_into=[],
    )
    row.update(more)
    return row


CONCEPTS = pd.DataFrame(
    [
        concept_row(SQL, "SQL", ["structured query language"]),
        concept_row(PROG, "computer programming", ["coding"]),
        concept_row(PY, "Python", ["python programming"], [PROG]),
        concept_row(STATS, "statistics", ["statistical analysis"]),
        concept_row(CSS, "CSS", ["cascading style sheets"]),
        concept_row(SHEETS, "style sheet languages", ["CSS", "stylesheet languages"]),
        concept_row(EXCEL, "spreadsheets", ["excel"]),
        concept_row(COMM, "communication", ["communicate"]),
        concept_row(TEAM, "teamwork", ["team work"]),
        concept_row(ETHICS, "work ethics", ["ethics at work"]),
        concept_row(INTERP, "data interpretation", ["interpret data"]),
        concept_row(NURSE, "nursing care", ["nursing"]),
        concept_row(WOUND, "wound care", ["dress wounds"]),
        concept_row(PALL, "palliative care", ["end of life care"]),
    ]
)
RELATIONS = pd.DataFrame(
    [
        (ANALYST, SQL, "essential"),
        (ANALYST, PY, "essential"),
        (ANALYST, STATS, "essential"),
        (ANALYST, INTERP, "essential"),
        (ANALYST, EXCEL, "optional"),
        (ANALYST, COMM, "optional"),
        (ANALYST, TEAM, "optional"),
        (ANALYST, ETHICS, "optional"),
        (ANALYST, CSS, "optional"),
    ],
    columns=["occupation_id", "skill_id", "relation"],
)
CATALOGUE = [
    course("SQL-1", [f"{SQL}: beginner"], level="beginner", hours=10),
    course(
        "SQL-2",
        [f"{SQL}: intermediate"],
        level="intermediate",
        hours=15,
        prerequisite_skills=["SQL: beginner"],
    ),
    course("STATS-2", ["statistics"], level="intermediate", hours=20),
    # teaches every optional skill of the role and the parent of an essential one: much optional weight, no
    # essential skill exactly
    course(
        "BROAD",
        [EXCEL, COMM, TEAM, ETHICS, "computer programming"],
        level="intermediate",
        hours=20,
    ),
    # a care course that also teaches an essential analyst skill, and an on-target course (in German) teaching it
    course("CARE", [INTERP, NURSE, WOUND, PALL], level="intermediate", hours=5),
    course("INTERP-2", [INTERP, EXCEL], level="intermediate", hours=30, language="de"),
    course("BADID", [f"{ESCO}no-such-skill"], level="beginner", hours=5),
    course(
        "BADPRE", ["statistics"], level="advanced", hours=5, prerequisite_skills=[f"{ESCO}nope: beginner"]
    ),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Skillmatch:
    occupations = pd.DataFrame(
        [{"id": ANALYST, "label": "data analyst", "alt_labels": [], "description": "", "isco_group": "2511"}],
        columns=OCCUPATION_COLUMNS,
    )
    tax = Taxonomy("test", "1", CONCEPTS, occupations, RELATIONS)
    path = tmp_path_factory.mktemp("rules") / "catalogue.jsonl"
    pd.DataFrame(CATALOGUE, columns=CREDENTIAL_COLUMNS).to_json(path, orient="records", lines=True)
    inputs = inputs_with_catalogue(tax, path)
    settings = Settings(use_cache=False, link_min_score=0.5)
    out = tmp_path_factory.mktemp("rules") / "bundle"
    encoder = HashingEncoder()
    build_bundle(inputs, out, encoder=encoder, settings=settings)
    return load_service(out, settings=settings, encoder=encoder)


def inputs_with_catalogue(tax: Taxonomy, catalogue: Path) -> BuildInputs:
    """Build inputs as ``read_inputs`` makes them: the catalogue through its reader, then the id screening."""
    result = read_credentials(catalogue)
    rejects = list(result.rejects)
    creds = screen_ids(result.table, set(tax.concepts["id"]), str(catalogue), "credential", rejects)
    return BuildInputs(
        tax, creds, pd.DataFrame(columns=POSTING_COLUMNS), rejects, {"credentials": str(catalogue)}
    )


def test_ids_and_exact_labels_resolve_exactly(service: Skillmatch) -> None:
    found = service.linker.normalise(
        [SQL, "sql", "  Structured  Query Language ", "CSS", "stylesheet languages"]
    )
    assert [f[0].id for f in found] == [SQL, SQL, SQL, CSS, SHEETS]
    assert all(f[0].score == 1.0 for f in found)
    # "CSS" is the preferred label of CSS and an alternative label of "style sheet languages": preferred wins
    assert found[3][0].matched_label == "CSS"


def test_every_preferred_label_resolves_to_its_concept(service: Skillmatch) -> None:
    labels = CONCEPTS["label"].tolist()
    assert [f[0].id for f in service.linker.normalise(labels)] == CONCEPTS["id"].tolist()


def test_unknown_ids_are_rejects_at_build_and_errors_for_learners(service: Skillmatch) -> None:
    rejects = service.bundle.rejects
    reasons = " | ".join(rejects["reason"])
    assert (
        "credential 'BADID': unknown taxonomy id 'http://data.europa.eu/esco/skill/no-such-skill'" in reasons
    )
    assert "credential 'BADPRE': unknown taxonomy id 'http://data.europa.eu/esco/skill/nope'" in reasons
    assert set(rejects["field"]) >= {"skills", "prerequisite_skills"}
    assert {"BADID", "BADPRE"}.isdisjoint(service.bundle.credentials["id"])
    with pytest.raises(UnknownSkillError, match="no-such"):
        service.gaps("data analyst", [f"{ESCO}no-such: beginner", "SQL"])


def test_a_credential_closes_a_gap_only_up_to_the_level_it_teaches(service: Skillmatch) -> None:
    taught = service.context.taught_rank
    assert taught[("SQL-1", SQL)] == 1 and taught[("SQL-2", SQL)] == 2
    from skillmatch.matching.recommend import credential_coverage

    coverage, _ = credential_coverage(service.context, {SQL: 1.0}, [SQL], {SQL: 0.0})
    assert coverage["SQL-1"][SQL][0] == pytest.approx(coverage["SQL-2"][SQL][0] / 2, abs=0.01)
    coverage_at_intermediate = coverage["SQL-2"][SQL][0]
    # a learner who already has SQL at beginner level gains nothing from the beginner course
    coverage, _ = credential_coverage(service.context, {SQL: 0.5}, [SQL], {SQL: 0.5})
    assert "SQL-1" not in coverage and coverage["SQL-2"][SQL][0] > 0
    # what a course brings is kept per skill and required level: asking at another level is not served the first
    advanced, _ = credential_coverage(
        service.context, {SQL: 1.0}, [SQL], {SQL: 0.0}, required_level="advanced"
    )
    assert advanced["SQL-2"][SQL][0] == pytest.approx(coverage_at_intermediate * 2 / 3, abs=0.01)


def test_skill_prerequisites_are_met_by_the_learner_or_an_earlier_step(service: Skillmatch) -> None:
    beginner = service.recommend("data analyst", ["SQL: beginner", "Python", "statistics"])
    ids = [s.credential["id"] for s in beginner.pathway]
    assert "SQL-2" in ids and "SQL-1" not in ids
    step = beginner.pathway[ids.index("SQL-2")]
    assert [(r.skill_id, r.level, r.met_by) for r in step.requires] == [(SQL, "beginner", "learner")]

    novice = service.recommend("data analyst", ["Python", "statistics"])
    ids = [s.credential["id"] for s in novice.pathway]
    assert ids.index("SQL-1") < ids.index("SQL-2")
    step = novice.pathway[ids.index("SQL-2")]
    assert [(r.skill_id, r.met_by) for r in step.requires] == [(SQL, "SQL-1")]
    assert "SQL-1" in step.prerequisites


def test_no_pathway_breaks_a_skill_prerequisite(service: Skillmatch) -> None:
    for k in (1, 2, 3):
        result = service.recommend("data analyst", ["Python", "statistics"], max_items=k)
        ids = [s.credential["id"] for s in result.pathway]
        if "SQL-2" in ids:
            assert "SQL-1" in ids[: ids.index("SQL-2")], ids


def test_essential_skills_come_before_optional_and_partial_ones(service: Skillmatch) -> None:
    # BROAD covers four optional skills and, partly, the essential Python (via its parent); STATS-2 covers one
    # essential skill exactly: it must come first
    result = service.recommend(
        "data analyst", ["SQL: intermediate", "Python", "data interpretation"], max_items=1
    )
    assert [s.credential["id"] for s in result.pathway] == ["STATS-2"]
    params = service.context.params
    assert params.optional_weight < params.essential_weight
    assert 0.8 * params.space.hierarchy_credit * params.partial_factor < 1.0


def test_a_credential_that_meets_a_requirement_must_pass_the_learners_filters(service: Skillmatch) -> None:
    # only intermediate courses allowed: SQL-1 (beginner) may not meet SQL-2's requirement, so SQL-2 is out too
    result = service.recommend("data analyst", ["Python", "statistics"], levels=["intermediate"])
    ids = [s.credential["id"] for s in result.pathway]
    assert "SQL-1" not in ids and "SQL-2" not in ids
    assert "SQL-2" in result.excluded["prerequisite_skills_unmet"]
    assert "SQL-1" in result.excluded["level"]


def test_off_target_courses_are_left_out_unless_nothing_on_target_teaches_the_skill(
    service: Skillmatch,
) -> None:
    learner = ["SQL: intermediate", "Python", "statistics"]
    # an on-target course teaches data interpretation: the care course that also teaches it is off target
    result = service.recommend("data analyst", learner)
    assert "CARE" in result.excluded["off_target"]
    assert "INTERP-2" in [s.credential["id"] for s in result.pathway]
    # the learner only takes English courses: the care course is the only way left to learn it, and stays
    english = service.recommend("data analyst", learner, languages=["en"])
    assert "CARE" not in english.excluded.get("off_target", [])
    step = next(s for s in english.pathway if s.credential["id"] == "CARE")
    assert [c.skill_id for c in step.covers] == [INTERP] and step.relevance < 1 / 3


def test_limits_are_given_one_way(service: Skillmatch) -> None:
    from skillmatch.matching.recommend import Limits

    with pytest.raises(ValueError, match=r"max_hours\), not both"):
        service.recommend("data analyst", ["SQL"], limits=Limits(max_items=1), max_hours=10)
