"""Pathway export: OB 3.0 achievements that pass the OB 3.0 schema subset and read back into the same credential
ids and skills, and a CSV with one row per step."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from skillmatch.matching.export import (
    PATHWAY_CSV_COLUMNS,
    export_pathway,
    pathway_csv,
    pathway_ob3,
    step_achievement,
)
from skillmatch.matching.recommend import CoveredSkill, PathwayStep, Recommendation, Totals
from skillmatch.readers import load_credentials, parse_list
from skillmatch.readers.ob3 import schema_problems

ESCO = "http://data.europa.eu/esco/skill/"
SQL = f"{ESCO}598de5b0-5b58-4ea7-8058-a4bc4d18c742"
PY = f"{ESCO}ccd0a1d9-afda-43d9-b901-96344886e14d"
STATS = f"{ESCO}a0cdbbc6-8bfb-4d3f-9d18-5dba2de1d1e1"


def cover(sid: str, label: str, degree: float) -> CoveredSkill:
    return CoveredSkill(sid, label, 0.6, degree, f"uses {label}", label, "exact")


def summary(cid: str, **more: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": cid,
        "title": f"Course {cid}",
        "provider": "Open University",
        "url": f"https://uni.example/{cid}",
        "level": "beginner",
        "mode": "online",
        "language": "en",
        "duration_hours": 10.0,
        "cost": 100.0,
        "currency": "EUR",
        "credits": 2.0,
        "credit_system": "ECTS",
        "eqf_level": None,
        "stackable_into": [],
    }
    base.update(more)
    return base


@pytest.fixture()
def recommendation() -> Recommendation:
    steps = [
        PathwayStep(
            1,
            summary("MC-PY-1"),
            100.0,
            0.5,
            1.0,
            [cover(PY, "Python", 1.0)],
            [],
            "MC-STATS-2",
        ),
        PathwayStep(
            2,
            summary("MC-STATS-2", provider=None, url=None, credits=None, language="de"),
            None,
            0.8,
            0.9,
            [cover(STATS, "statistics", 0.9), cover(SQL, "SQL", 0.4)],
            ["MC-PY-1"],
            None,
        ),
    ]
    return Recommendation(
        roles=[{"id": "http://data.europa.eu/esco/occupation/x", "label": "data analyst", "weight": 1.0}],
        coverage_before=0.2,
        coverage_after=0.7,
        gap_total=1.5,
        gap_closed=0.9,
        method="exact",
        totals=Totals(items=2, hours=20.0, cost=100.0, currency="EUR", cost_unknown=1),
        pathway=steps,
        remaining_gap=[],
        excluded={},
        learner={},
    )


def test_achievements_pass_the_ob3_schema_and_align_to_the_covered_skills(
    recommendation: Recommendation,
) -> None:
    doc = pathway_ob3(recommendation)
    assert [a["id"] for a in doc["achievements"]] == ["MC-PY-1", "MC-STATS-2"]
    for achievement in doc["achievements"]:
        assert schema_problems(achievement) == []
    first, second = doc["achievements"]
    assert first["alignment"] == [
        {
            "type": ["Alignment"],
            "targetType": "ceasn:Competency",
            "targetFramework": "ESCO",
            "targetName": "Python",
            "targetUrl": PY,
            "targetCode": PY.rsplit("/", 1)[1],
        }
    ]
    assert first["criteria"]["id"] == "https://uni.example/MC-PY-1"
    assert first["creditsAvailable"] == 2.0 and first["inLanguage"] == "en"
    assert first["creator"]["name"] == "Open University"
    # nothing invented for what the credential lacks
    assert "creditsAvailable" not in second and "creator" not in second and "id" not in second["criteria"]
    assert second["inLanguage"] == "de" and "statistics" in second["description"]
    assert doc["targetRoles"] == [recommendation.roles[0]]
    assert doc["totals"] == {"items": 2, "hours": 20.0, "cost": 100.0, "currency": "EUR", "costUnknown": 1}
    assert [s["requiredBy"] for s in doc["steps"]] == ["MC-STATS-2", None]


def test_the_schema_check_can_fail(recommendation: Recommendation) -> None:
    achievement = step_achievement(recommendation.pathway[0])
    del achievement["description"]
    achievement["alignment"][0].pop("targetUrl")
    fields = [where for where, _ in schema_problems(achievement)]
    assert "(record)" in fields and "alignment.0" in fields


def test_achievements_read_back_into_the_same_credentials_and_skills(
    recommendation: Recommendation, tmp_path: Path
) -> None:
    doc = pathway_ob3(
        recommendation, credentials={"MC-PY-1": {"description": "Learn Python.", "assessment": "Project"}}
    )
    path = tmp_path / "pathway.json"
    path.write_text(json.dumps(doc["achievements"]), encoding="utf-8")
    result = load_credentials(path)
    assert result.rejects == []
    table = result.table.set_index("id")
    assert list(table.index) == ["MC-PY-1", "MC-STATS-2"]
    assert table.loc["MC-PY-1", "skills"] == [PY]
    assert table.loc["MC-STATS-2", "skills"] == [STATS, SQL]
    assert table.loc["MC-PY-1", "description"] == "Learn Python."
    assert table.loc["MC-PY-1", "assessment"] == "Project"
    assert table.loc["MC-PY-1", "url"] == "https://uni.example/MC-PY-1"
    assert table.loc["MC-PY-1", "credits"] == 2.0 and table.loc["MC-STATS-2", "language"] == "de"


def test_csv_has_one_row_per_step_with_the_covered_skills(recommendation: Recommendation) -> None:
    text = pathway_csv(recommendation)
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert list(frame.columns) == PATHWAY_CSV_COLUMNS
    assert frame["credential_id"].tolist() == [s.credential["id"] for s in recommendation.pathway]
    assert frame["step"].tolist() == ["1", "2"]
    assert [parse_list(v) for v in frame["covered_skill_ids"]] == [
        [c.skill_id for c in s.covers] for s in recommendation.pathway
    ]
    assert frame.loc[1, "covered_skills"] == "statistics|SQL"
    assert frame.loc[1, "prerequisites"] == "MC-PY-1" and frame.loc[0, "required_by"] == "MC-STATS-2"
    assert frame.loc[1, "cost"] == "" and frame.loc[0, "cost"] == "100.0"


def test_an_empty_pathway_and_an_unknown_format(recommendation: Recommendation) -> None:
    empty = Recommendation(**{**recommendation.__dict__, "pathway": []})
    assert pathway_csv(empty).strip() == ",".join(PATHWAY_CSV_COLUMNS)
    assert pathway_ob3(empty)["achievements"] == []
    assert export_pathway(recommendation, "json") == recommendation.to_dict()
    with pytest.raises(ValueError, match="unknown export format 'xml'"):
        export_pathway(recommendation, "xml")
