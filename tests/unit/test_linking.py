"""Linking logic with a deterministic fake encoder: label table, aggregation, thresholds, evidence."""

from __future__ import annotations

import pandas as pd
from fakes import HashingEncoder, make_concepts

from skillmatch.index import VectorIndex
from skillmatch.linking import SkillLinker, label_table

CONCEPTS = make_concepts(
    [
        ("c:sql", "SQL", ["structured query language", "sql"]),
        ("c:python", "Python (computer programming)", ["python programming", "python"]),
        ("c:excel", "use spreadsheets software", ["excel", "microsoft excel"]),
        ("c:nursing", "provide nursing care", ["nursing care"]),
    ]
)


def make_linker(encoder: HashingEncoder, **kwargs: object) -> SkillLinker:
    labels = label_table(CONCEPTS)
    index = VectorIndex().build(encoder.encode(labels["text"].tolist()))
    names = dict(zip(CONCEPTS["id"], CONCEPTS["label"], strict=True))
    return SkillLinker(encoder, labels, index, names, **kwargs)  # type: ignore[arg-type]


def test_label_table_rows_and_dedup() -> None:
    labels = label_table(CONCEPTS)
    assert list(labels.columns) == ["concept_id", "text", "kind"]
    sql = labels[labels.concept_id == "c:sql"]
    # "sql" duplicates the preferred label case-insensitively and is kept once
    assert sql["text"].tolist() == ["SQL", "structured query language"]
    assert sql["kind"].tolist() == ["preferred", "alt"]
    assert len(label_table(CONCEPTS, include_alt=False)) == 4


def test_link_aggregates_per_concept_with_evidence() -> None:
    linker = make_linker(HashingEncoder(), min_score=0.5)
    [found] = linker.link(["We need Python programming, Excel and SQL skills."])
    ids = [s.id for s in found]
    assert set(ids) >= {"c:python", "c:excel", "c:sql"}
    assert "c:nursing" not in ids
    assert len(ids) == len(set(ids))
    scores = [s.score for s in found]
    assert scores == sorted(scores, reverse=True)
    excel = next(s for s in found if s.id == "c:excel")
    assert excel.evidence == "Excel"
    assert excel.matched_label == "excel"
    assert excel.label == "use spreadsheets software"
    assert excel.score > 0.99


def test_threshold_and_top_k_and_order_of_texts() -> None:
    linker = make_linker(HashingEncoder(), min_score=0.5)
    texts = ["nursing care for patients", "", "excel"]
    results = linker.link(texts, top_k=1)
    assert [len(r) for r in results] == [1, 0, 1]
    assert results[0][0].id == "c:nursing"
    assert results[2][0].id == "c:excel"
    assert linker.link(["zzzz qqqq"], min_score=0.9) == [[]]
    # a low threshold gives a full ranking to depth k
    assert len(linker.link(["zzzz qqqq"], min_score=-1, top_k=4)[0]) == 4


def test_identical_segments_are_encoded_once() -> None:
    encoder = HashingEncoder()
    linker = make_linker(encoder)
    encoder.calls.clear()
    linker.link(["SQL", "SQL", "sql"], min_score=-1)
    assert encoder.calls == [2]  # "SQL" and "sql" (case kept for the model)


def test_normalise_explicit_skill_lists() -> None:
    linker = make_linker(HashingEncoder(), min_score=0.5)
    result = linker.normalise(
        ["Microsoft Excel", "", "structured query language", "underwater basket weaving"]
    )
    assert result[0][0].id == "c:excel"
    assert result[1] == []
    assert result[2][0].id == "c:sql"
    assert result[3] == []


def test_label_table_handles_missing_alt_labels() -> None:
    frame = pd.DataFrame({"id": ["a"], "label": ["x"], "alt_labels": [None]})
    assert label_table(frame)["text"].tolist() == ["x"]
