"""Tests for skillmatch.evaluation.benchmarks: small synthetic files, then the real benchmark and ESCO files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from skillmatch.evaluation.baselines import BM25LabelRanker, TfidfLabelRanker, label_table
from skillmatch.evaluation.benchmarks import (
    MATCH_KINDS,
    load_job_titles,
    load_skill_extraction,
    match_labels,
)
from skillmatch.evaluation.metrics import mean_metrics
from skillmatch.schema import InputError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ESCO = DATA / "esco" / "v1.1.1"
BENCH = DATA / "benchmarks"

CONCEPTS = pd.DataFrame(
    {
        "id": ["s:py", "s:java", "s:team", "s:lead1", "s:lead2"],
        "label": [
            "Python (computer programming)",
            "Java (computer programming)",
            "teamwork",
            "lead",
            "direct",
        ],
        "alt_labels": [["python"], [], ["work in teams", "team working"], ["guide others"], ["guide others"]],
    }
)


# --- label matching and the skill-extraction loader on synthetic files -------------------------------------


def test_match_labels_steps_and_ambiguity() -> None:
    matches = match_labels(
        ["Python (computer programming)", "TEAMWORK", "Team  Working", "guide others", "cooking", "teamwork"],
        CONCEPTS,
    )
    assert [(m.kind, m.concept_id) for m in matches.values()] == [
        ("exact", "s:py"),
        ("casefold", "s:team"),
        ("alt", "s:team"),
        ("ambiguous", None),
        ("unmapped", None),
        ("exact", "s:team"),
    ]
    assert matches["guide others"].candidates == ("s:lead1", "s:lead2")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_skill_extraction_groups_maps_and_counts(tmp_path: Path) -> None:
    csv_path = _write(
        tmp_path / "bench.csv",
        "sentence,span,sub_span,label\n"
        "we use python and java,python,,Python (computer programming)\n"
        "be nice,nice,,LABEL NOT PRESENT\n"
        "we use python and java,java,,java (computer programming)\n"
        "we use python and java,and,,UNDERSPECIFIED\n"
        "great cook,cook,,cooking\n"
        '"work well, in teams",teams,,team working\n'
        "great cook,great,,guide others\n"
        "we use python and java,python,,Python (computer programming)\n",
    )
    result = load_skill_extraction(csv_path, CONCEPTS)
    assert result.queries == ["we use python and java", "work well, in teams"]
    assert result.relevant == [{"s:py", "s:java"}, {"s:team"}]
    assert result.gold_labels[0] == ["Python (computer programming)", "java (computer programming)"]
    assert result.n_rows == 8 and result.n_sentences == 4 and len(result) == 2
    assert result.no_gold == ["be nice"]
    assert result.unmapped_only == ["great cook"]
    assert result.unmapped == ["cooking", "guide others"]
    assert result.match_counts == dict(zip(MATCH_KINDS, [1, 1, 1, 1, 1], strict=True))
    assert result.mapping_rate == pytest.approx(3 / 5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("sentence,span,label\na,b,c\n", r"missing columns \['sub_span'\]"),
        ("sentence,span,sub_span,label\na,b,,c\n ,b,,c\n", r"row 2 \[sentence\]: empty sentence"),
        ("sentence,span,sub_span,label\na,b,,c\nd,e,,\n", r"row 2 \[label\]: empty label"),
    ],
)
def test_load_skill_extraction_rejects_bad_files(tmp_path: Path, body: str, message: str) -> None:
    path = _write(tmp_path / "bad.csv", body)
    with pytest.raises(InputError, match=message) as info:
        load_skill_extraction(path, CONCEPTS)
    assert "bad.csv" in str(info.value)
    with pytest.raises(InputError, match="file not found"):
        load_skill_extraction(tmp_path / "absent.csv", CONCEPTS)


def test_bad_concept_table_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.csv", "sentence,span,sub_span,label\na,b,,teamwork\n")
    with pytest.raises(ValueError, match=r"row 0 \[alt_labels\]"):
        load_skill_extraction(path, CONCEPTS.assign(alt_labels=["python", [], [], [], []]))


# --- job titles on synthetic files -----------------------------------------------------------------------

OCCUPATIONS = pd.DataFrame(
    {
        "id": ["o:dev", "o:nurse", "o:agent", "o:recruiter"],
        "label": ["software developer", "nurse", "employment agent", "recruitment consultant"],
        "alt_labels": [
            ["programmer", "application developer"],
            ["registered nurse"],
            ["job placement officer"],
            ["employment agent", "job placement officer"],
        ],
    }
)


def _melo(folder: Path, queries: str, corpus: str, annotations: str, prefix: str = "x_") -> Path:
    folder.mkdir(exist_ok=True)
    _write(folder / f"{prefix}queries.tsv", queries)
    _write(folder / f"{prefix}corpus_elements.tsv", corpus)
    _write(folder / f"{prefix}annotations.tsv", annotations)
    return folder


def test_load_job_titles_majority_vote_ties_and_counts(tmp_path: Path) -> None:
    folder = _melo(
        tmp_path / "melo",
        "Q1\tSoftware Developers\nQ2\tNurses\nQ3\tPlacement agents\nQ4\tArmed forces\nQ5\tNo annotation\n",
        "C1_en_000\tSoftware developer\nC1_en_001\tPROGRAMMER\nC1_en_002\tcoder\n"
        "C2_en_000\tregistered  nurse\n"
        "C3_en_000\temployment agent\nC3_en_001\tjob placement officer\n"
        "C4_en_000\tArmed forces occupations\n",
        "Q1\t0\tC1_en_001\t1\nQ1\t0\tC1_en_000\t1\nQ2\t0\tC2_en_000\t1\n"
        "Q3\t0\tC3_en_001\t1\nQ3\t0\tC1_en_000\t0\nQ4\t0\tC4_en_000\t1\n",
    )
    result = load_job_titles(folder, OCCUPATIONS, prefix="x_")
    assert result.query_ids == ["Q1", "Q2", "Q3"]
    assert result.queries == ["Software Developers", "Nurses", "Placement agents"]
    # relevance 0 (Q3 -> C1) is not relevant
    assert result.relevant == [{"o:dev"}, {"o:nurse"}, {"o:agent"}]
    # C3 ties 2-2 between agent and recruiter; the preferred label equal to its first text wins
    assert result.concept_map == {"C1": "o:dev", "C2": "o:nurse", "C3": "o:agent"}
    assert result.tied_concepts == ["C3"]
    assert result.unmapped_concepts == ["C4"]
    assert result.n_concepts == 4 and result.n_queries_total == 5
    assert result.unmapped_queries == ["Q4"] and result.unannotated_queries == ["Q5"]
    assert result.concept_mapping_rate == pytest.approx(0.75)


def test_load_job_titles_accepts_unprefixed_files(tmp_path: Path) -> None:
    folder = _melo(
        tmp_path / "plain", "Q1\tnurse\n", "C2_en_000\tnurse\n", "Q1\t0\tC2_en_000\t1\n", prefix=""
    )
    assert load_job_titles(folder, OCCUPATIONS).relevant == [{"o:nurse"}]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (("Q1\tnurse\nQ1\tagain\n", "C2_en_000\tnurse\n", ""), r"queries.tsv, row 2 \[query_id\]: duplicate"),
        (("Q1\tnurse\n", "C2_en_000\tnurse\nC2-1\tx\n", ""), r"corpus_elements.tsv, row 2 \[element_id\]"),
        (("Q1\tnurse\n", "C2_en_000\t\n", ""), r"corpus_elements.tsv, row 1 \[text\]: empty"),
        (("Q1\tnurse\n", "C2_en_000\tnurse\n", "Q9\t0\tC2_en_000\t1\n"), r"row 1 \[query_id\]: unknown"),
        (("Q1\tnurse\n", "C2_en_000\tnurse\n", "Q1\t0\tC7_en_000\t1\n"), r"row 1 \[element_id\]: unknown"),
        (("Q1\tnurse\n", "C2_en_000\tnurse\n", "Q1\t0\tC2_en_000\tyes\n"), r"row 1 \[relevance\]"),
        (("Q1\tnurse\n", "C2_en_000\tnurse\n", "Q1\tC2_en_000\t1\n"), r"row 1: expected 4 tab-separated"),
    ],
)
def test_load_job_titles_rejects_bad_files(tmp_path: Path, files: tuple[str, str, str], message: str) -> None:
    folder = _melo(tmp_path / "bad", *files)
    with pytest.raises(InputError, match=message):
        load_job_titles(folder, OCCUPATIONS, prefix="x_")


def test_load_job_titles_names_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"x_queries.tsv: file not found"):
        load_job_titles(tmp_path, OCCUPATIONS, prefix="x_")


# --- the real files ---------------------------------------------------------------------------------------


def _require(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"shared benchmark data not found at {path} (expected ../shared/data next to the repo)")


def _esco_table(csv_name: str) -> pd.DataFrame:
    """Read an ESCO CSV into id/label/alt_labels (altLabels hold one label per line)."""
    path = ESCO / csv_name
    _require(path)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame(
        {
            "id": raw["conceptUri"],
            "label": raw["preferredLabel"].str.strip(),
            "alt_labels": [[a.strip() for a in alts.split("\n") if a.strip()] for alts in raw["altLabels"]],
        }
    )


@pytest.fixture(scope="module")
def skills() -> pd.DataFrame:
    return _esco_table("skills_en.csv")


@pytest.fixture(scope="module")
def occupations() -> pd.DataFrame:
    return _esco_table("occupations_en.csv")


SKILL = "http://data.europa.eu/esco/skill/"
OCCUPATION = "http://data.europa.eu/esco/occupation/"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("split", "rows", "sentences", "queries", "no_gold"),
    [("tech", 293, 101, 75, 26), ("house", 231, 77, 61, 16)],
)
def test_real_skill_extraction_sets(
    skills: pd.DataFrame, split: str, rows: int, sentences: int, queries: int, no_gold: int
) -> None:
    path = BENCH / "skill-extraction" / f"{split}_validation.csv"
    _require(path)
    result = load_skill_extraction(path, skills)
    assert (result.n_rows, result.n_sentences, len(result), len(result.no_gold)) == (
        rows,
        sentences,
        queries,
        no_gold,
    )
    assert result.mapping_rate >= 0.95
    assert len(result.unmapped) + sum(result.match_counts[k] for k in ("exact", "casefold", "alt")) == len(
        result.matches
    )
    assert len(result.no_gold) + len(result.unmapped_only) + len(result) == result.n_sentences
    assert all(result.relevant) and len(result.relevant) == len(result.queries) == len(result.gold_labels)


@pytest.mark.integration
def test_real_skill_extraction_known_pairs(skills: pd.DataFrame) -> None:
    _require(BENCH / "skill-extraction")
    tech = load_skill_extraction(BENCH / "skill-extraction" / "tech_validation.csv", skills)
    assert tech.queries[0] == "javascript reactjs java"
    assert tech.relevant[0] == {
        SKILL + "3cd569a2-4f88-4c1e-9995-8dce8c5e51a7",  # JavaScript
        SKILL + "19a8293b-8e95-4de3-983f-77484079c389",  # Java (computer programming)
    }
    house = load_skill_extraction(BENCH / "skill-extraction" / "house_validation.csv", skills)
    assert house.queries[0].startswith("Description Position <ORGANIZATION> is looking for smart")
    assert house.relevant[0] == {SKILL + "19a64e91-bfe3-4c48-9225-3bb1229b12f0"}  # show determination


@pytest.mark.integration
def test_real_job_titles(occupations: pd.DataFrame) -> None:
    folder = BENCH / "job-titles"
    _require(folder)
    result = load_job_titles(folder, occupations)
    assert result.n_queries_total == 633 and result.n_concepts == 3627
    assert not result.unannotated_queries
    # ESCO occupations map; the unmapped concepts are ISCO groups, which are not ESCO occupations
    assert len(result.concept_map) >= 3000
    assert set(result.concept_map.values()) == set(occupations["id"])
    assert len(result.concept_map) + len(result.unmapped_concepts) == result.n_concepts
    assert len(result) + len(result.unmapped_queries) == 633
    assert len(result) >= 0.9 * 633
    by_query = dict(zip(result.query_ids, result.relevant, strict=True))
    assert by_query["Q000001"] == {
        OCCUPATION + "6c3fd65e-2d24-47d8-bc22-9e93512bdcc2"
    }  # chief executive officer
    assert by_query["Q000006"] == {OCCUPATION + "6fcf4638-e7c7-4978-9302-9a7b63a3d57c"}  # marketing manager
    assert "Q000004" in result.unmapped_queries  # "Legislators" is annotated with an ISCO group only


@pytest.mark.integration
def test_lexical_baselines_on_real_benchmarks(skills: pd.DataFrame, occupations: pd.DataFrame) -> None:
    _require(BENCH)
    titles = load_job_titles(BENCH / "job-titles", occupations)
    ranked = TfidfLabelRanker().fit(label_table(occupations)).rank(titles.queries, k=10)
    scores = mean_metrics([[cid for cid, _ in r] for r in ranked], titles.relevant)
    assert scores["n"] == len(titles)
    assert scores["acc@10"] > 0.5 and scores["mrr"] > 0.3  # TF-IDF reaches about 0.78 and 0.58

    tech = load_skill_extraction(BENCH / "skill-extraction" / "tech_validation.csv", skills)
    ranked = BM25LabelRanker().fit(label_table(skills)).rank(tech.queries, k=10)
    scores = mean_metrics([[cid for cid, _ in r] for r in ranked], tech.relevant)
    assert scores["rp@5"] > 0.3  # BM25 reaches about 0.57
