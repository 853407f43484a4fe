"""Tests of skillmatch.readers.esco on a small export in the official ESCO CSV layout."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from skillmatch.readers import load_taxonomy, read_esco
from skillmatch.readers.esco import esco_version
from skillmatch.schema import (
    CONCEPT_COLUMNS,
    OCCUPATION_COLUMNS,
    RELATION_COLUMNS,
    InputError,
    Reject,
    Taxonomy,
)

FOLDER = Path(__file__).resolve().parents[2] / "fixtures" / "readers" / "esco_v9.9.9"
LABEL_FILES = ["skills_en.csv", "skillGroups_en.csv", "occupations_en.csv"]
RELATION_FILES = ["broaderRelationsSkillPillar.csv", "occupationSkillRelations.csv"]


def _zip(path: Path, files: list[str], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in files:
            archive.write(FOLDER / name, prefix + name)
    return path


@pytest.fixture(scope="module")
def folder_result() -> tuple[Taxonomy, list[Reject]]:
    return read_esco(FOLDER)


def test_concepts(folder_result: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, _ = folder_result
    assert (taxonomy.name, taxonomy.version) == ("ESCO", "v9.9.9")
    concepts = taxonomy.concepts
    assert list(concepts.columns) == CONCEPT_COLUMNS
    by_id = concepts.set_index("id")
    assert list(by_id.index) == [
        "http://e.test/skill/sql",
        "http://e.test/skill/pg",
        "http://e.test/skill/viz",
        "http://e.test/skill/safety",
    ]
    sql = by_id.loc["http://e.test/skill/sql"]
    assert sql["alt_labels"] == [
        "structured query language",
        "sequel",
    ]  # one per line, trimmed, own label out
    assert (sql["type"], sql["reuse_level"]) == ("knowledge", "cross-sector")
    assert sql["description"] == "A query language."
    assert by_id.loc["http://e.test/skill/viz", "type"] == "skill"  # skill/competence -> skill
    assert by_id.loc["http://e.test/skill/safety", "type"] == "skill"  # empty skillType -> skill
    assert pd.isna(by_id.loc["http://e.test/skill/safety", "reuse_level"])


def test_hierarchy(folder_result: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, _ = folder_result
    by_id = taxonomy.concepts.set_index("id")
    pg = by_id.loc["http://e.test/skill/pg"]
    assert pg["broader"] == ["http://e.test/skill/sql", "http://e.test/group/db"]
    # the group parent is preferred for the path; the two alike-named ISCED levels are shown once
    assert pg["group_path"] == "knowledge > information and communication technologies > databases"
    assert by_id.loc["http://e.test/skill/viz", "group_path"] == "skills"
    assert by_id.loc["http://e.test/skill/safety", "group_path"] == ""
    assert len(taxonomy.groups) == 5


def test_occupations_and_relations(folder_result: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, _ = folder_result
    assert list(taxonomy.occupations.columns) == OCCUPATION_COLUMNS
    analyst = taxonomy.occupations.set_index("id").loc["http://e.test/occupation/analyst"]
    assert analyst["isco_group"] == "2511"
    assert analyst["alt_labels"] == ["BI analyst", "analytics specialist"]
    assert list(taxonomy.relations.columns) == RELATION_COLUMNS
    assert taxonomy.relations.to_numpy().tolist() == [
        ["http://e.test/occupation/analyst", "http://e.test/skill/sql", "essential", 1.0],
        ["http://e.test/occupation/analyst", "http://e.test/skill/viz", "optional", 0.25 / 0.6],
        ["http://e.test/occupation/dba", "http://e.test/skill/pg", "essential", 1.0],
        [
            "http://e.test/occupation/dba",
            "http://e.test/skill/sql",
            "essential",
            1.0,
        ],  # "Essential" normalised
    ]


def test_rejects(folder_result: tuple[Taxonomy, list[Reject]]) -> None:
    _, rejects = folder_result
    got = [(Path(r.file).name, r.row, r.field) for r in rejects]
    assert got == [
        ("broaderRelationsSkillPillar.csv", 9, "conceptUri"),
        ("broaderRelationsSkillPillar.csv", 10, "broaderUri"),
        ("occupationSkillRelations.csv", 6, "occupationUri"),
        ("occupationSkillRelations.csv", 7, "skillUri"),
        ("occupationSkillRelations.csv", 8, "relationType"),
        ("occupationSkillRelations.csv", 9, "skillUri"),
        ("skills_en.csv", 6, "skillType"),
        ("skills_en.csv", 7, "conceptUri"),  # rows count records: SQL's alt labels span lines 2-5
        ("skills_en.csv", 8, "conceptUri"),
    ]
    reasons = [r.reason for r in rejects]
    assert "http://e.test/occupation/ghost" in reasons[2]
    assert "'important'" in reasons[4]
    assert "first used on row 2" in reasons[8]


def test_release_zips_in_a_folder_equal_the_extracted_folder(
    tmp_path: Path, folder_result: tuple[Taxonomy, list[Reject]]
) -> None:
    zips = tmp_path / "download"
    zips.mkdir()
    _zip(zips / "ESCO dataset - v9.9.9 - classification - en - csv.zip", LABEL_FILES)
    _zip(zips / "ESCO dataset - v9.9.9 - classification -  - csv.zip", RELATION_FILES, prefix="csv/")
    taxonomy, rejects = load_taxonomy(zips)
    expected, expected_rejects = folder_result
    assert taxonomy.version == "v9.9.9"
    for table in ("concepts", "occupations", "relations", "groups"):
        pd.testing.assert_frame_equal(getattr(taxonomy, table), getattr(expected, table))
    assert [(r.row, r.field, r.reason) for r in rejects] == [
        (r.row, r.field, r.reason) for r in expected_rejects
    ]
    assert "(in " in rejects[0].file and ".zip" in rejects[0].file
    # a list of the two zips gives the same
    listed, _ = read_esco(sorted(zips.glob("*.zip")))
    pd.testing.assert_frame_equal(listed.relations, expected.relations)


def test_one_zip_with_everything(tmp_path: Path, folder_result: tuple[Taxonomy, list[Reject]]) -> None:
    archive = _zip(tmp_path / "esco-v1.2.0.zip", LABEL_FILES + RELATION_FILES)
    taxonomy, _ = load_taxonomy(archive)
    assert taxonomy.version == "v1.2.0"
    pd.testing.assert_frame_equal(taxonomy.concepts, folder_result[0].concepts)


def test_only_the_labels_zip_is_an_input_error(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "labels.zip", LABEL_FILES)
    with pytest.raises(InputError, match=r"not broaderRelationsSkillPillar\.csv.*two zips"):
        read_esco(archive)


def test_only_the_relations_zip_is_an_input_error(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "relations.zip", RELATION_FILES)
    with pytest.raises(InputError, match=r"no skills_en\.csv"):
        read_esco(archive)


def test_newer_relations_file_with_label_columns(
    tmp_path: Path, folder_result: tuple[Taxonomy, list[Reject]]
) -> None:
    folder = tmp_path / "esco"
    shutil.copytree(FOLDER, folder)
    old = pd.read_csv(folder / "occupationSkillRelations.csv", dtype=str)
    newer = old.assign(occupationLabel="x", skillLabel="y")[
        ["occupationUri", "occupationLabel", "relationType", "skillType", "skillUri", "skillLabel"]
    ]
    (folder / "occupationSkillRelations.csv").unlink()
    newer.to_csv(folder / "occupationSkillRelations_en.csv", index=False)
    taxonomy, rejects = read_esco(folder)
    pd.testing.assert_frame_equal(taxonomy.relations, folder_result[0].relations)
    assert len(rejects) == len(folder_result[1])
    assert taxonomy.version == "unknown"


def test_missing_column_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "esco"
    shutil.copytree(FOLDER, folder)
    frame = pd.read_csv(folder / "occupations_en.csv", dtype=str).drop(columns=["preferredLabel"])
    frame.to_csv(folder / "occupations_en.csv", index=False)
    with pytest.raises(
        InputError, match=r"occupations_en\.csv: missing required column\(s\): preferredLabel"
    ):
        read_esco(folder)


def test_latin1_file_is_an_input_error(tmp_path: Path) -> None:
    folder = tmp_path / "esco"
    shutil.copytree(FOLDER, folder)
    text = (folder / "skills_en.csv").read_text(encoding="utf-8").replace("A query language.", "Gestión")
    (folder / "skills_en.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(InputError, match=r"skills_en\.csv: not valid UTF-8"):
        read_esco(folder)


def test_load_taxonomy_detection(tmp_path: Path) -> None:
    taxonomy, _ = load_taxonomy(FOLDER / "skills_en.csv")  # an extracted skills file reads its folder
    assert taxonomy.name == "ESCO" and len(taxonomy.occupations) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="without ESCO files"):
        load_taxonomy(tmp_path / "empty")
    with pytest.raises(InputError, match="not found"):
        load_taxonomy(tmp_path / "nowhere")


def test_version_from_names(tmp_path: Path) -> None:
    assert esco_version([tmp_path / "ESCO dataset - v1.1.1 - classification - en - csv.zip"]) == "v1.1.1"
    assert esco_version([tmp_path / "esco"]) == "unknown"
