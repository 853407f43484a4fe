"""Read the real ESCO v1.1.1 export (folder and release zips) from ../shared/data."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from skillmatch.readers import load_taxonomy, read_esco
from skillmatch.schema import CONCEPT_COLUMNS, Reject, Taxonomy

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ESCO = DATA / "esco" / "v1.1.1"
ZIPS = DATA / "esco" / "zips"
POSTGRESQL = "http://data.europa.eu/esco/skill/a8d07b5a-c1a1-42c6-9d53-db9c7a2ca996"


def _rows(name: str) -> pd.DataFrame:
    return pd.read_csv(ESCO / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def folder() -> tuple[Taxonomy, list[Reject]]:
    if not (ESCO / "skills_en.csv").exists():
        pytest.skip(f"ESCO v1.1.1 export not found at {ESCO} (the shared data folder is absent)")
    return read_esco(ESCO)


def test_counts_match_the_files(folder: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, rejects = folder
    skills = _rows("skills_en.csv")
    assert len(skills) == 13_896
    assert len(taxonomy.concepts) == len(skills)
    assert not [r for r in rejects if r.file.endswith(("skills_en.csv", "occupations_en.csv"))]
    assert len(taxonomy.occupations) == 3_007 == len(_rows("occupations_en.csv"))
    assert len(taxonomy.groups) == len(_rows("skillGroups_en.csv"))
    assert (taxonomy.name, taxonomy.version) == ("ESCO", "v1.1.1")
    assert list(taxonomy.concepts.columns) == CONCEPT_COLUMNS
    assert taxonomy.concepts["type"].value_counts().to_dict() == {"skill": 10_837, "knowledge": 3_059}


def test_every_relation_row_is_kept_or_rejected(folder: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, rejects = folder
    relation_rejects = [r for r in rejects if r.file.endswith("occupationSkillRelations.csv")]
    assert len(taxonomy.relations) + len(relation_rejects) == 123_855
    # v1.1.1 links skills to one occupation that is not in occupations_en.csv; those rows are rejected
    occupations = set(taxonomy.occupations["id"])
    assert taxonomy.relations["occupation_id"].isin(occupations).all()
    assert taxonomy.relations["skill_id"].isin(set(taxonomy.concepts["id"])).all()
    assert {r.field for r in relation_rejects} <= {"occupationUri"}
    assert set(taxonomy.relations["relation"]) == {"essential", "optional"}


def test_postgresql_and_its_group_path(folder: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, _ = folder
    concepts = taxonomy.concepts.set_index("id")
    pg = concepts.loc[POSTGRESQL]
    assert pg["label"] == "PostgreSQL"
    assert pg["type"] == "knowledge"
    assert "Postgres" in pg["alt_labels"]
    path = pg["group_path"].split(" > ")
    assert path[0] == "knowledge"
    assert "database and network design and administration" in path
    assert "PostgreSQL" not in path
    assert (concepts["group_path"] != "").all()  # every skill hangs under the hierarchy
    assert all(isinstance(v, list) for v in concepts["broader"])


def test_alt_labels_are_split_per_line(folder: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, _ = folder
    alt = taxonomy.concepts["alt_labels"]
    assert all(isinstance(v, list) for v in alt)
    assert not any("\n" in label for labels in alt for label in labels)
    assert alt.map(len).sum() > 50_000


def test_the_release_zips_give_the_same_tables(folder: tuple[Taxonomy, list[Reject]]) -> None:
    if not ZIPS.exists():
        pytest.skip(f"ESCO release zips not found at {ZIPS}")
    start = time.perf_counter()
    taxonomy, rejects = load_taxonomy(ZIPS)
    assert time.perf_counter() - start < 30  # a few seconds normally; generous for slow CI machines
    expected, expected_rejects = folder
    assert taxonomy.version == "v1.1.1"
    for table in ("concepts", "occupations", "relations", "groups"):
        pd.testing.assert_frame_equal(getattr(taxonomy, table), getattr(expected, table))
    assert [(r.row, r.field, r.reason) for r in rejects] == [
        (r.row, r.field, r.reason) for r in expected_rejects
    ]
