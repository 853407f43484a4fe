"""O*NET 29.2 as the taxonomy, with the real encoder: a small bundle of five occupations (the real files' rows,
written to a temporary folder) answers roles, gaps and recommend for Data Scientists with weighted profiles."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from skillmatch.cli import app

pytestmark = pytest.mark.integration

ONET = Path(__file__).resolve().parents[3] / "shared" / "data" / "onet" / "29.2"
DS = "15-2051.00"
CODES = [DS, "15-2051.01", "15-2041.00", "15-1252.00", "29-1141.00"]
CATALOGUE = [
    {
        "id": "PY-101",
        "title": "Python programming for data science",
        "learning_outcomes": "Write Python programs|Use pandas and NumPy",
        "skills": "Python",
        "duration_hours": 30,
        "level": "beginner",
    },
    {
        "id": "SQL-101",
        "title": "SQL for analysts",
        "learning_outcomes": "Write SQL queries",
        "skills": "Structured query language SQL",
        "duration_hours": 15,
        "level": "beginner",
    },
    {
        "id": "TAB-101",
        "title": "Dashboards with Tableau",
        "learning_outcomes": "Build Tableau dashboards",
        "skills": "Tableau",
        "duration_hours": 10,
        "level": "beginner",
    },
]


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def onet_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ONET / "Occupation Data.txt").exists():
        pytest.skip(f"O*NET 29.2 not found at {ONET} (../shared/data is absent)")
    folder = tmp_path_factory.mktemp("onet") / "29.2"
    folder.mkdir()
    for name in (
        "Occupation Data.txt",
        "Alternate Titles.txt",
        "Task Statements.txt",
        "Technology Skills.txt",
    ):
        frame = pd.read_csv(ONET / name, sep="\t", dtype=str, keep_default_na=False, quoting=3)
        frame[frame["O*NET-SOC Code"].isin(CODES)].to_csv(folder / name, sep="\t", index=False, quoting=3)
    skills = pd.read_excel(ONET / "Skills.xlsx", dtype=str, keep_default_na=False, engine="openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(skills.columns))
    for row in skills[skills["O*NET-SOC Code"].isin(CODES)].itertuples(index=False):
        values = list(row)
        values[6] = float(values[6])  # Data Value as a number, as O*NET writes it
        sheet.append(values)
    book.save(folder / "Skills.xlsx")
    catalogue = folder.parent / "catalogue.csv"
    pd.DataFrame(CATALOGUE).to_csv(catalogue, index=False)
    out = tmp_path_factory.mktemp("bundles") / "onet"
    run("build", "--taxonomy", str(folder), "--credentials", str(catalogue), "--out", str(out))
    return out


def test_roles_resolve_data_scientists(onet_bundle: Path) -> None:
    found = json.loads(run("roles", "--bundle", str(onet_bundle), "--query", "data scientist"))
    assert found["roles"][0]["id"] == DS


def test_gaps_and_recommend_for_data_scientists(onet_bundle: Path) -> None:
    gaps = json.loads(
        run("gaps", "--bundle", str(onet_bundle), "--role", DS, "--skills", "Tableau", "-f", "json")
    )
    weights = {s["label"]: s["weight"] for s in gaps["skills"]}
    # a hot and in-demand technology weighs 0.75 (prior 0.6 x 0.75); others less
    assert weights["Python"] == pytest.approx(0.45) and min(weights.values()) < 0.45
    rec = json.loads(
        run(
            "recommend",
            "--bundle",
            str(onet_bundle),
            "--role",
            "Data Scientists",
            "--skills",
            "Tableau",
            "-f",
            "json",
        )
    )
    ids = {s["credential"]["id"] for s in rec["pathway"]}
    assert {"PY-101", "SQL-101"} <= ids and "TAB-101" not in ids


def test_bi_analysts_are_weighted_by_importance(onet_bundle: Path) -> None:
    from skillmatch.bundle import open_bundle

    bundle = open_bundle(onet_bundle)
    profile = bundle.role_profiles[bundle.role_profiles["role_id"] == "15-2051.01"]
    rel = bundle.taxonomy.relations.set_index(["occupation_id", "skill_id"])["weight"]
    skills = profile[profile["skill_id"].str.match(r"^\d")]
    assert len(skills) > 10 and skills["weight"].nunique() > 5
    for sid, weight in zip(skills["skill_id"], skills["weight"], strict=True):
        assert weight == pytest.approx(0.6 * rel[("15-2051.01", sid)], abs=1e-4)
