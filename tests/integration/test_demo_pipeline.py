"""End to end on the demo data with the real encoder, through the CLI as a user runs it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from skillmatch.cli import app
from skillmatch.config import Settings
from skillmatch.facade import load as load_service
from skillmatch.matching.context import MatchContext

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ANALYST = "http://data.europa.eu/esco/occupation/d3edb8f8-3a06-47a0-8fb9-9b212c006aa2"
SQL = "http://data.europa.eu/esco/skill/598de5b0-5b58-4ea7-8058-a4bc4d18c742"


@pytest.fixture(autouse=True)
def private_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SKILLMATCH_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def matcher(demo_bundle_path: Path, real_encoder: object) -> MatchContext:
    return load_service(demo_bundle_path, settings=Settings(use_cache=False), encoder=real_encoder).context


def run(*args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_demo_bundle_manifest(demo_bundle_path: Path) -> None:
    manifest = json.loads((demo_bundle_path / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["credentials"] >= 60 and counts["postings"] >= 80 and counts["occupations"] >= 8
    assert manifest["rejects"]["total"] == 0
    assert manifest["model"]["id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["model"]["dim"] == 384
    assert manifest["indexes"]["labels"]["kind"] == "flat"
    every = {"labels.faiss", "credentials.parquet", "roles.parquet", "role_profiles.parquet", "rejects.csv"}
    assert every <= set(manifest["files"])


def test_every_credential_and_posting_is_linked(matcher: MatchContext) -> None:
    bundle = matcher.bundle
    linked_creds = set(bundle.credential_skills["credential_id"])
    assert linked_creds == set(bundle.credentials["id"])
    linked_posts = set(bundle.posting_skills["posting_id"])
    assert len(linked_posts) / len(bundle.postings) > 0.95


def test_cli_extract_keeps_order_and_ranks(demo_bundle_path: Path) -> None:
    texts = "Write SQL queries to join tables\n\nProvide wound care to patients after surgery"
    lines = run("extract", "--bundle", str(demo_bundle_path), "--top-k", "3", stdin=texts).splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["text"] for r in rows] == texts.split("\n")
    assert rows[0]["skills"][0]["id"] == SQL
    assert rows[1]["skills"] == []
    assert "wound" in rows[2]["skills"][0]["label"].lower()
    scores = [s["score"] for s in rows[0]["skills"]]
    assert scores == sorted(scores, reverse=True)
    assert all(s["evidence"] for s in rows[0]["skills"])


def test_cli_roles(demo_bundle_path: Path) -> None:
    out = run("roles", "--bundle", str(demo_bundle_path), "--query", "Junior Data Analyst (m/f/d)", "-k", "3")
    [row] = [json.loads(line) for line in out.splitlines()]
    assert row["roles"][0]["id"] == ANALYST
    assert row["roles"][0]["postings"] > 0


def test_postings_with_unknown_titles_form_their_own_roles(matcher: MatchContext) -> None:
    roles = matcher.bundle.roles
    derived = roles[roles["source"] == "postings"]
    assert len(derived) >= 1
    assignments = matcher.bundle.posting_roles
    assert set(assignments["posting_id"]) == set(matcher.bundle.postings["id"])
    given = matcher.bundle.postings.dropna(subset=["occupation"])
    merged = given.merge(assignments, left_on="id", right_on="posting_id")
    assert (merged["occupation"] == merged["role_id"]).all()


def test_cli_gaps_and_recommend(demo_bundle_path: Path) -> None:
    gaps = json.loads(
        run(
            "gaps",
            "--bundle",
            str(demo_bundle_path),
            "--role",
            "data analyst",
            "--skills",
            "Excel, SQL: beginner",
            "--format",
            "json",
        )
    )
    statuses = {s["status"] for s in gaps["skills"]}
    assert statuses == {"covered", "partial", "missing"}
    assert 0 < gaps["coverage"] < 1
    rec = json.loads(
        run(
            "recommend",
            "--bundle",
            str(demo_bundle_path),
            "--role",
            "data analyst",
            "--skills",
            "Excel, SQL",
            "--max-hours",
            "120",
            "--language",
            "en",
            "--format",
            "json",
        )
    )
    assert rec["totals"]["hours"] <= 120
    assert rec["pathway"], rec
    assert rec["coverage_after"] > rec["coverage_before"]
    ids = [s["credential"]["id"] for s in rec["pathway"]]
    for step in rec["pathway"]:
        for pre in step["prerequisites"]:
            assert pre in ids[: ids.index(step["credential"]["id"])]
    table = run("recommend", "--bundle", str(demo_bundle_path), "--role", "data analyst", "--skills", "Excel")
    assert "coverage" in table
    human = run("gaps", "--bundle", str(demo_bundle_path), "--role", "data analyst", "--skills", "Excel, SQL")
    counts = json.loads(
        run(
            "gaps",
            "--bundle",
            str(demo_bundle_path),
            "--role",
            "data analyst",
            "--skills",
            "Excel, SQL",
            "-f",
            "json",
        )
    )["counts"]
    assert (
        f"{counts['covered']} covered, {counts['partial']} partly covered, {counts['missing']} missing"
        in human
    )
    assert "{" not in human.splitlines()[0]


def test_cli_recommend_exports_csv_and_ob3(demo_bundle_path: Path, tmp_path: Path) -> None:
    from skillmatch.readers import load_credentials
    from skillmatch.readers.ob3 import schema_problems

    args = [
        "recommend",
        "--bundle",
        str(demo_bundle_path),
        "--role",
        "data analyst",
        "--skills",
        "Excel, SQL",
    ]
    rec = json.loads(run(*args, "--format", "json"))
    ids = [s["credential"]["id"] for s in rec["pathway"]]
    assert ids
    rows = pd.read_csv(io.StringIO(run(*args, "--format", "csv")), dtype=str, keep_default_na=False)
    assert rows["credential_id"].tolist() == ids
    assert rows["covered_skill_ids"].tolist() == [
        "|".join(c["skill_id"] for c in s["covers"]) for s in rec["pathway"]
    ]
    doc = json.loads(run(*args, "--format", "ob3"))
    assert [a["id"] for a in doc["achievements"]] == ids
    assert all(schema_problems(a) == [] for a in doc["achievements"])
    path = tmp_path / "achievements.json"
    path.write_text(json.dumps(doc["achievements"]), encoding="utf-8")
    assert load_credentials(path).table["id"].tolist() == ids


@pytest.mark.parametrize(("command", "bad"), [("gaps", "csv"), ("recommend", "xml"), ("cohort", "table")])
def test_cli_format_accepts_only_its_values(demo_bundle_path: Path, command: str, bad: str) -> None:
    extra = (
        ["--learners", str(REPO / "data/demo/learners.csv")] if command == "cohort" else ["--skills", "SQL"]
    )
    result = CliRunner().invoke(
        app, [command, "--bundle", str(demo_bundle_path), "--role", "data analyst", *extra, "--format", bad]
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output and bad in result.output


def test_cli_extract_shows_progress_for_long_inputs(demo_bundle_path: Path) -> None:
    texts = "\n".join(f"Write SQL queries for report {i}" for i in range(60))
    result = CliRunner().invoke(app, ["extract", "--bundle", str(demo_bundle_path)], input=texts)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 60
    assert "linking" in result.stderr and "60/60" in result.stderr


def test_cli_cohort_csv(demo_bundle_path: Path, tmp_path: Path) -> None:
    out = run(
        "cohort",
        "--bundle",
        str(demo_bundle_path),
        "--learners",
        str(REPO / "data/demo/learners.csv"),
        "--role",
        "data analyst",
        "--format",
        "csv",
    )
    path = tmp_path / "gaps.csv"
    path.write_text(out)
    table = pd.read_csv(path)
    assert list(table.columns) == [
        "skill_id",
        "label",
        "weight",
        "share_missing",
        "share_partial",
        "mean_gap_weight",
        "learners",
    ]
    assert (table["learners"] == 8).all()
    assert table["share_missing"].between(0, 1).all()


def test_cli_errors_are_clear(demo_bundle_path: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["gaps", "--bundle", str(demo_bundle_path), "--role", "astronaut on mars", "--skills", "SQL"]
    )
    assert result.exit_code == 1  # a run-time error; usage errors exit 2
    assert "unknown role" in result.output
    result = CliRunner().invoke(app, ["extract", "--bundle", str(tmp_path)])
    assert result.exit_code == 1 and "not a skillmatch bundle" in result.output
    bad = tmp_path / "creds.csv"
    bad.write_text("id,title,learning_outcomes,cost\nA,Course A,Do things,-5\n")
    result = CliRunner().invoke(
        app, ["build", "--demo", "--credentials", str(bad), "--strict", "--out", str(tmp_path / "b")]
    )
    assert result.exit_code == 1
    assert "creds.csv, row 2 [cost]" in result.output
    assert not (tmp_path / "b").exists()


def test_rebuild_uses_the_cache(tmp_path: Path, integration_settings: Settings) -> None:
    from skillmatch.build import demo_paths, read_inputs, run_build
    from skillmatch.encoding.factory import make_encoder

    settings = Settings(cache_dir=tmp_path / "cache")
    first = make_encoder(settings)
    run_build(read_inputs(*demo_paths()), tmp_path / "a", settings=settings, encoder=first)
    # within one build, texts met again in a later stage (a phrase equal to a label) come from the cache
    assert first.stats["encoded"] > 1000
    assert first.stats["encoded"] + first.stats["cache_hits"] == first.stats["unique"]
    second = make_encoder(settings)
    run_build(read_inputs(*demo_paths()), tmp_path / "b", settings=settings, encoder=second)
    assert second.stats["encoded"] == 0
    assert second.stats["cache_hits"] == second.stats["unique"] > 1000
    a = pd.read_parquet(tmp_path / "a" / "credential_skills.parquet")
    b = pd.read_parquet(tmp_path / "b" / "credential_skills.parquet")
    pd.testing.assert_frame_equal(a, b)
