"""Tests of skillmatch.readers.generic (the one-table taxonomy format) and load_taxonomy on it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from skillmatch.readers import load_taxonomy, read_generic_taxonomy
from skillmatch.readers.generic import ancestor_paths
from skillmatch.schema import (
    CONCEPT_COLUMNS,
    GROUP_COLUMNS,
    OCCUPATION_COLUMNS,
    RELATION_COLUMNS,
    InputError,
    Reject,
    Taxonomy,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "readers"


@pytest.fixture(scope="module")
def taxonomy_and_rejects() -> tuple[Taxonomy, list[Reject]]:
    return read_generic_taxonomy(FIXTURES / "taxonomy.csv", name="demo", version="1")


def test_tables_have_the_contract_columns(taxonomy_and_rejects: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, _ = taxonomy_and_rejects
    assert (taxonomy.name, taxonomy.version) == ("demo", "1")
    assert list(taxonomy.concepts.columns) == CONCEPT_COLUMNS
    assert list(taxonomy.occupations.columns) == OCCUPATION_COLUMNS
    assert list(taxonomy.relations.columns) == RELATION_COLUMNS
    assert list(taxonomy.groups.columns) == GROUP_COLUMNS


def test_concepts_groups_and_paths(taxonomy_and_rejects: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, _ = taxonomy_and_rejects
    concepts = taxonomy.concepts.set_index("id")
    assert list(concepts.index) == ["k:sql", "k:pg", "s:viz", "s:comm"]
    assert concepts.loc["k:sql", "alt_labels"] == ["structured query language"]  # own label removed
    assert concepts.loc["k:pg", "broader"] == ["k:sql"]
    assert concepts.loc["k:pg", "group_path"] == "data and analytics > databases > SQL"
    assert concepts.loc["k:sql", "group_path"] == "data and analytics > databases"
    assert concepts.loc["s:viz", "type"] == "skill"  # empty type defaults to skill
    assert concepts.loc["s:comm", "broader"] == [] and concepts.loc["s:comm", "group_path"] == ""
    assert pd.isna(concepts.loc["s:comm", "description"])
    assert taxonomy.groups["id"].tolist() == ["g:data", "g:db"]  # "Skill Group" is an alias of group


def test_occupations_and_relations(taxonomy_and_rejects: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, _ = taxonomy_and_rejects
    assert taxonomy.occupations.to_dict("records") == [
        {
            "id": "occ:analyst",
            "label": "data analyst",
            "alt_labels": ["analyst", "BI analyst"],
            "description": "Analyses data.",
            "isco_group": "2511",
        }
    ]
    relations = sorted(map(tuple, taxonomy.relations.to_numpy().tolist()))
    assert relations == [
        ("occ:analyst", "k:pg", "optional", 0.25 / 0.6),
        ("occ:analyst", "k:sql", "essential", 1.0),
        ("occ:analyst", "s:comm", "optional", 0.25 / 0.6),
        ("occ:analyst", "s:viz", "essential", 1.0),
    ]


def test_rejects_name_row_field_and_reason(taxonomy_and_rejects: tuple[Taxonomy, list[Reject]]) -> None:
    _, rejects = taxonomy_and_rejects
    got = [(r.row, r.field) for r in rejects]
    assert got == [
        (8, "essential_skills"),  # unknown skill id
        (8, "optional_skills"),  # already essential
        (8, "optional_skills"),  # a group is not a skill
        (9, "parent"),  # unknown parent
        (10, "parent"),  # parent was rejected
        (11, "type"),
        (12, "id"),  # duplicate
        (13, "isco_group"),  # only for occupations
        (14, "parent"),  # occupations have no parent
        (15, "parent"),  # cycle
        (16, "parent"),  # cycle
        (17, "id"),  # missing
    ]
    reasons = {(r.row, r.field): r.reason for r in rejects}
    assert "'k:missing'" in reasons[(8, "essential_skills")]
    assert "'g:nowhere'" in reasons[(9, "parent")]
    assert "first used on row 4" in reasons[(12, "id")]
    assert "cycle" in reasons[(15, "parent")]
    assert all(r.file == str(FIXTURES / "taxonomy.csv") for r in rejects)


def test_every_row_ends_in_a_table_or_in_rejects(taxonomy_and_rejects: tuple[Taxonomy, list[Reject]]) -> None:
    taxonomy, rejects = taxonomy_and_rejects
    rows = len(pd.read_csv(FIXTURES / "taxonomy.csv", dtype=str))
    kept = len(taxonomy.concepts) + len(taxonomy.groups) + len(taxonomy.occupations)
    rejected_rows = {r.row for r in rejects if r.field not in ("essential_skills", "optional_skills")}
    assert kept + len(rejected_rows) == rows


def test_type_column_is_optional_and_defaults_to_skill(tmp_path: Path) -> None:
    path = tmp_path / "skills.csv"
    path.write_text("id,label,alt_labels\na,Alpha,A1|A2\nb,Beta,\n", encoding="utf-8")
    taxonomy, rejects = load_taxonomy(path)
    assert rejects == []
    assert taxonomy.name == "skills" and taxonomy.version == "unknown"
    assert taxonomy.concepts["type"].tolist() == ["skill", "skill"]
    assert taxonomy.concepts["alt_labels"].tolist() == [["A1", "A2"], []]
    assert taxonomy.occupations.empty and taxonomy.relations.empty and taxonomy.groups.empty


def test_missing_label_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,name\na,Alpha\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t\.csv: missing required column\(s\): label"):
        read_generic_taxonomy(path)


def test_ancestor_paths_cut_cycles_and_collapse_repeats() -> None:
    labels = {"r": "root", "a": "same", "b": "same", "c": "leaf", "x": "x", "y": "y"}
    parents = {"a": "r", "b": "a", "c": "b", "x": "y", "y": "x"}
    paths = ancestor_paths(parents, labels, ["c", "b", "r", "x", "y"])
    assert paths["c"] == "root > same"
    assert paths["b"] == "root > same"
    assert paths["r"] == ""
    assert {paths["x"], paths["y"]} <= {"", "x", "y"}  # the cycle ends, whichever node it starts from


def test_demo_taxonomy_reads_cleanly_when_present() -> None:
    demo = Path(__file__).resolve().parents[3] / "data" / "demo" / "taxonomy.csv"
    if not demo.exists():
        pytest.skip("data/demo/taxonomy.csv is not written yet")
    taxonomy, rejects = load_taxonomy(demo)
    assert rejects == [], [str(r) for r in rejects[:5]]
    assert len(taxonomy.concepts) > 0 and len(taxonomy.occupations) > 0 and len(taxonomy.relations) > 0
    assert (taxonomy.concepts["group_path"] != "").all()
