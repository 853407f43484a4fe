"""Credential standards (Open Badges 3.0, ELM / Europass EDC, CTDL) read into the catalogue, field by field.

The shared examples (``../shared/data/credentials/examples``) are read where present; the fixtures in
``tests/fixtures/standards`` are the team's own (a CTDL graph with prerequisites and stacking, its CSV equivalent,
and one file per standard whose malformed records must each become a reject with a reason).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fakes import HashingEncoder
from typer.testing import CliRunner

from skillmatch.build import build_bundle, read_inputs
from skillmatch.cli import app
from skillmatch.config import Settings
from skillmatch.facade import load as load_service
from skillmatch.readers import load_credentials, read_credentials
from skillmatch.readers.standard_values import iso_hours
from skillmatch.readers.standards import detect_standard, sniff
from skillmatch.schema import CREDENTIAL_COLUMNS, InputError

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO.parent / "shared" / "data" / "credentials" / "examples"
FIXTURES = REPO / "tests" / "fixtures" / "standards"
OB3_EXAMPLE = EXAMPLES / "open-badge-mc-example.json"
EDC_EXAMPLE = EXAMPLES / "edc-mc-example.json"
ELM_SAMPLE = EXAMPLES / "elm" / "Sample-MC-Annex1-unsigned.jsonld"
needs_examples = pytest.mark.skipif(
    not ELM_SAMPLE.exists() or not OB3_EXAMPLE.exists(),
    reason=f"the shared credential examples are not in {EXAMPLES}",
)
ESCO = "http://data.europa.eu/esco/skill/"


def only(path: Path) -> dict[str, Any]:
    result = load_credentials(path)
    assert result.rejects == [], [str(r) for r in result.rejects]
    assert len(result.table) == 1
    return dict(result.table.iloc[0])


def absent(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


@needs_examples
def test_the_ec_elm_sample_keeps_every_catalogue_field() -> None:
    row = only(ELM_SAMPLE)
    assert row["id"] == "urn:credential:3ef0ac26-9a1f-41c6-871b-2b82e670907b"
    assert row["title"] == "Digital micro-credential creation"
    assert row["learning_outcomes"] == [
        "Communication, collaboration and creativity",
        "Developing digital content",
    ]
    assert row["skills"] == [
        f"{ESCO}ccdf3597-5c80-410f-896d-e1bdfa223de9",
        f"{ESCO}80f308e6-0e09-404a-80cd-ec5f50f6f304",
        f"{ESCO}326809fc-238d-40c2-881e-40042f7f2f0d",
        f"{ESCO}5fd5c985-eaaa-47aa-8314-62359c54505a",
    ]
    assert (row["eqf_level"], row["duration_hours"], row["credits"], row["credit_system"]) == (
        6,
        60.0,
        2.0,
        "ECTS",
    )
    assert (row["mode"], row["language"]) == ("hybrid", "en")  # "Blended", language/ENG
    assert (row["provider"], row["issuer"], row["issuer_country"]) == ("University of Zed",) * 2 + ("IE",)
    assert row["entry_requirements"].startswith(
        "The learner needs to have an EDC Online Credential Builder account"
    )
    assert (
        row["assessment"]
        == "Digital artefact assessment; artefact assessment; Unsupervised without ID Verification"
    )
    # DigComp skills, the national level and the ISCED-F fields are kept as tags, not linked
    assert row["tags"][:3] == [
        "skill: Developing digital content",
        "skill: Developing digital content Level 4",
        "NQF: RQF Level 6",
    ]
    assert absent(row["cost"]) and absent(row["level"]) and row["prerequisites"] == []


@needs_examples
def test_the_ob3_example_keeps_every_catalogue_field() -> None:
    row = only(OB3_EXAMPLE)
    assert row["id"] == "urn:uuid:5300c688-6bfc-498a-a976-230af55b5ca6"  # the achievement, not one issuance
    assert row["title"] == "Data Science Fundamentals"
    assert (
        row["description"]
        == "This microcredential demonstrates proficiency in fundamental data science concepts"
    )
    assert row["skills"] == [
        f"{ESCO}f10142ce-d522-49c3-9fd1-054fb63529d4",
        f"{ESCO}81a2db2c-7e55-44d0-9cd9-74c25147d7cd",
    ]
    assert (row["credits"], row["language"], row["provider"], row["issuer"]) == (
        5.0,
        "en",
        "NETIS d.o.o.",
        "NETIS d.o.o.",
    )
    assert row["assessment"].startswith("Complete all coursework")
    assert row["tags"] == ["Data Science", "Analytics", "Python"]
    assert absent(row["duration_hours"]) and absent(row["mode"]) and absent(row["eqf_level"])


@needs_examples
def test_the_edc_example_reads_labels_where_skills_have_no_esco_uri() -> None:
    row = only(EDC_EXAMPLE)
    # its relatedESCOSkill ids are urn:epass:... placeholders: the English labels are kept (linked at build)
    assert row["skills"] == ["Game theory", "Rear game", "Manage frustration", "Blow moulding machine parts"]
    assert (row["eqf_level"], row["duration_hours"], row["credits"], row["credit_system"]) == (
        6,
        45.0,
        5.0,
        "ECTS",
    )
    assert (row["mode"], row["language"], row["issuer"], row["issuer_country"]) == (
        "online",
        "en",
        "NETIS d.o.o.",
        "SI",
    )
    assert row["tags"] == ["NQF: MECU Level 7"]


@needs_examples
def test_the_elm_sample_and_the_ob3_example_build_into_a_bundle(tmp_path: Path) -> None:
    """Through ``read_inputs`` (as ``skillmatch build --credentials FOLDER``) into a bundle, fields intact."""
    folder = tmp_path / "creds"
    folder.mkdir()
    for source in (ELM_SAMPLE, OB3_EXAMPLE, EXAMPLES / "elm" / "edc-ap-context.jsonld"):
        (folder / source.name).symlink_to(source)
    ids = {
        "ccdf3597-5c80-410f-896d-e1bdfa223de9": "stimulate creativity in the team",
        "80f308e6-0e09-404a-80cd-ec5f50f6f304": "communicate with target community",
        "326809fc-238d-40c2-881e-40042f7f2f0d": "establish collaborative relations",
        "5fd5c985-eaaa-47aa-8314-62359c54505a": "develop digital content",
        "f10142ce-d522-49c3-9fd1-054fb63529d4": "develop test procedures",
        "81a2db2c-7e55-44d0-9cd9-74c25147d7cd": "analyse test data",
    }
    taxonomy = tmp_path / "taxonomy.csv"
    pd.DataFrame(
        [{"id": f"{ESCO}{k}", "label": v, "type": "skill"} for k, v in ids.items()]
        + [
            {
                "id": "occ:1",
                "label": "digital trainer",
                "type": "occupation",
                "essential_skills": f"{ESCO}{next(iter(ids))}",
            }
        ]
    ).to_csv(taxonomy, index=False)
    inputs = read_inputs(taxonomy, folder)
    assert inputs.rejects == []
    settings = Settings(use_cache=False)
    build_bundle(inputs, tmp_path / "bundle", encoder=HashingEncoder(), settings=settings)
    bundle = load_service(tmp_path / "bundle", settings=settings, encoder=HashingEncoder()).bundle
    creds = bundle.credentials.set_index("id")
    elm = creds.loc["urn:credential:3ef0ac26-9a1f-41c6-871b-2b82e670907b"]
    ob3 = creds.loc["urn:uuid:5300c688-6bfc-498a-a976-230af55b5ca6"]
    assert (elm["duration_hours"], elm["credits"], elm["eqf_level"], elm["mode"], elm["language"]) == (
        60.0,
        2.0,
        6,
        "hybrid",
        "en",
    )
    assert (ob3["credits"], ob3["language"]) == (5.0, "en")
    explicit = bundle.credential_skills[bundle.credential_skills["source"] == "explicit"]
    taught = explicit.groupby("credential_id")["skill_id"].apply(set)
    assert taught[elm.name] == {f"{ESCO}{k}" for k in list(ids)[:4]}
    assert taught[ob3.name] == {f"{ESCO}{k}" for k in list(ids)[4:]}


def test_ctdl_and_its_csv_equivalent_give_the_same_catalogue() -> None:
    ctdl = load_credentials(FIXTURES / "ctdl_pathway.jsonld")
    csv = load_credentials(FIXTURES / "ctdl_pathway.csv")
    assert ctdl.rejects == [] and csv.rejects == []
    pd.testing.assert_frame_equal(ctdl.table, csv.table)
    by_id = ctdl.table.set_index("id")
    analysts = by_id.loc["ce-a0000000-0000-4000-8000-000000000012"]
    assert analysts["prerequisites"] == ["ce-a0000000-0000-4000-8000-000000000011"]  # requires
    assert analysts["stackable_into"] == ["ce-a0000000-0000-4000-8000-000000000031"]  # isPreparationFor
    assert (analysts["mode"], analysts["cost"], analysts["currency"]) == ("hybrid", 150.0, "USD")
    assert by_id.loc["ce-a0000000-0000-4000-8000-000000000011", "stackable_into"] == [
        "ce-a0000000-0000-4000-8000-000000000031"
    ]


def _pathway(catalogue: Path, tmp_path: Path) -> list[str]:
    sql, python, stats = (f"{ESCO}00000000-0000-4000-8000-0000000000a{i}" for i in (1, 2, 3))
    taxonomy = tmp_path / "taxonomy.csv"
    pd.DataFrame(
        [
            {"id": sql, "label": "SQL", "type": "knowledge"},
            {"id": python, "label": "Python", "type": "knowledge"},
            {"id": stats, "label": "statistics", "type": "knowledge"},
            {
                "id": "occ:analyst",
                "label": "data analyst",
                "type": "occupation",
                "essential_skills": f"{sql}|{python}|{stats}",
            },
        ]
    ).to_csv(taxonomy, index=False)
    settings = Settings(use_cache=False, link_min_score=0.5)
    out = tmp_path / catalogue.suffix.strip(".")
    build_bundle(read_inputs(taxonomy, catalogue), out, encoder=HashingEncoder(), settings=settings)
    service = load_service(out, settings=settings, encoder=HashingEncoder())
    result = service.recommend("data analyst", ["SQL: beginner"], currency="USD")
    return [step.credential["id"] for step in result.pathway]


def test_ctdl_prerequisites_give_the_same_pathway_as_the_csv(tmp_path: Path) -> None:
    from_ctdl = _pathway(FIXTURES / "ctdl_pathway.jsonld", tmp_path)
    from_csv = _pathway(FIXTURES / "ctdl_pathway.csv", tmp_path)
    assert from_ctdl == from_csv
    assert "ce-a0000000-0000-4000-8000-000000000012" in from_ctdl
    # the prerequisite comes first
    assert from_ctdl.index("ce-a0000000-0000-4000-8000-000000000011") < from_ctdl.index(
        "ce-a0000000-0000-4000-8000-000000000012"
    )


MALFORMED = {
    "ob3_malformed.json": (
        ["urn:uuid:ach-1"],
        [
            (2, "credentialSubject.achievement", "'name' is a required property"),
            (3, "credentialSubject.achievement.creditsAvailable", "'five' is not of type 'number'"),
            (4, "credentialSubject.achievement.inLanguage", "'english!!' does not match"),
            (5, "type", "expected an OB 3.0, ELM/EDC or CTDL credential, got int"),
            (6, "issuer.address.addressCountryCode", "unknown country 'XX'"),
            (7, "credentialSubject.achievement.id", "duplicate id 'urn:uuid:ach-1' (first used on row 1)"),
            (8, "(record)", "'issuer' is a required property"),
        ],
    ),
    "elm_malformed.jsonld": (
        ["urn:credential:e1"],
        [
            (
                2,
                "credentialSubject.hasClaim.specifiedBy.volumeOfLearning",
                "duration 'P3M' is in weeks, months or years",
            ),
            (3, "credentialSubject.hasClaim.specifiedBy.volumeOfLearning", "not an ISO 8601 duration"),
            (4, "credentialSubject.hasClaim.specifiedBy.eqfLevel", "less than or equal to 8 (got 9)"),
            (5, "credentialSubject.hasClaim.specifiedBy.language", "unknown language 'XYZ'"),
            (6, "credentialSubject.hasClaim.specifiedBy.title", "required value is missing"),
            (7, "credentialSubject.hasClaim", "an ELM credential without a claim"),
            (8, "credentialSubject.hasClaim.specifiedBy.priceDetail.currency", "unknown currency"),
        ],
    ),
    "ctdl_malformed.jsonld": (
        ["ce-b0000000-0000-4000-8000-000000000011"],
        [
            (3, "ceterms:estimatedCost.ceterms:currency", "unknown currency 'DOLLARS'"),
            (4, "ceterms:estimatedCost.ceterms:currency", "a price needs its ISO 4217 currency"),
            (5, "ceterms:deliveryType", "unknown delivery type 'deliverytype:teleportation'"),
            (6, "@type", "CTDL type 'ceterms:Widget' is not a credential"),
            (7, "ceterms:name", "required value is missing"),
            (8, "ceterms:estimatedDuration.ceterms:exactDuration", "duration 'P2W' is in weeks"),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_every_malformed_record_is_a_reject_with_field_and_reason(name: str) -> None:
    kept, expected = MALFORMED[name]
    result = load_credentials(FIXTURES / name)
    assert result.table["id"].tolist() == kept
    got = [(r.file, r.row, r.field, r.reason) for r in result.rejects]
    assert len(got) == len(expected), got
    for (file, row, field, reason), (want_row, want_field, want_reason) in zip(got, expected, strict=True):
        assert file == str(FIXTURES / name)
        assert (row, field) == (want_row, want_field)
        assert want_reason in reason


def test_files_are_recognised_by_content(tmp_path: Path) -> None:
    assert sniff(FIXTURES / "ctdl_pathway.jsonld") == "ctdl"
    assert sniff(FIXTURES / "ob3_malformed.json") == "ob3"
    assert sniff(FIXTURES / "elm_malformed.jsonld") == "elm"
    assert sniff(FIXTURES / "ctdl_pathway.csv") == "catalogue"
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([{"id": "A", "title": "T", "description": "D"}]))
    assert sniff(plain) == "catalogue" and load_credentials(plain).table["id"].tolist() == ["A"]
    # an OB 3.0 credential saved under a neutral name is still an OB 3.0 credential
    badge = json.loads((FIXTURES / "ob3_malformed.json").read_text())[0]
    single = tmp_path / "export.json"
    single.write_text(json.dumps(badge))
    assert sniff(single) == "ob3" and load_credentials(single).table["id"].tolist() == ["urn:uuid:ach-1"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(InputError, match="not a credential document"):
        load_credentials(other)
    assert detect_standard({"@context": ["http://data.europa.eu/snb/model/context/edc-ap"]}) is None


def test_a_folder_mixes_standards_and_rejects_ids_seen_in_an_earlier_file(tmp_path: Path) -> None:
    for name in ("ctdl_pathway.jsonld", "ctdl_pathway.csv", "ob3_malformed.json"):
        (tmp_path / name).symlink_to(FIXTURES / name)
    (tmp_path / "notes.txt").write_text("not read")
    result = load_credentials(tmp_path)
    assert list(result.table.columns) == CREDENTIAL_COLUMNS
    assert len(result.table) == 5  # 4 from the CSV (read first), 1 badge; the CTDL copies are duplicates
    dupes = [r for r in result.rejects if r.file.endswith("ctdl_pathway.jsonld")]
    assert len(dupes) == 4 and all("first read from" in r.reason and r.field == "id" for r in dupes)


@pytest.mark.parametrize(
    ("text", "hours"), [("PT60H", 60.0), ("PT90M", 1.5), ("P2DT4H", 52.0), ("PT1H30M", 1.5)]
)
def test_iso_durations_become_hours(text: str, hours: float) -> None:
    assert iso_hours(text) == hours


@pytest.mark.parametrize("text", ["P1Y", "P3M", "P2W", "60 hours", ""])
def test_calendar_or_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        iso_hours(text)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_convert_writes_a_catalogue_the_reader_reads_back(tmp_path: Path, fmt: str) -> None:
    source = FIXTURES / "ctdl_pathway.jsonld"
    out = tmp_path / f"catalogue.{fmt}"
    run = CliRunner().invoke(app, ["convert", "credentials", str(source), "--to", fmt, "--out", str(out)])
    assert run.exit_code == 0, run.output
    again = read_credentials(out)
    assert again.rejects == []
    pd.testing.assert_frame_equal(again.table, load_credentials(source).table)


def test_convert_reports_rejects_and_strict_fails(tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    run = CliRunner().invoke(
        app,
        [
            "convert",
            "credentials",
            str(FIXTURES / "ctdl_malformed.jsonld"),
            "--to",
            "jsonl",
            "--rejects",
            str(rejects),
            "--strict",
        ],
    )
    assert run.exit_code == 1
    assert json.loads(run.stdout.splitlines()[0])["id"] == "ce-b0000000-0000-4000-8000-000000000011"
    table = pd.read_csv(rejects)
    assert list(table.columns) == ["file", "row", "field", "reason"] and len(table) == 6
