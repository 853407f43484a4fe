"""Tests for skillmatch.evaluation.baselines on a tiny hand-built label set."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skillmatch.evaluation.baselines import LABEL_COLUMNS, BM25LabelRanker, TfidfLabelRanker, label_table

CONCEPTS = pd.DataFrame(
    {
        "id": ["py", "staff", "js", "team", "bake", "forklift"],
        "label": [
            "Python (computer programming)",
            "manage staff",
            "JavaScript",
            "teamwork principles",
            "bake bread",
            "operate forklift",
        ],
        "alt_labels": [
            ["python programming"],
            ["supervise personnel", "lead a team of employees"],
            ["ECMAScript"],
            ["work in teams", "collaborate with colleagues"],
            ["make loaves", "bake bread"],  # duplicate of the preferred label: kept once
            [],
        ],
    }
)

RANKERS = [TfidfLabelRanker, BM25LabelRanker]


@pytest.fixture(params=RANKERS, ids=lambda cls: cls.__name__)
def ranker_cls(request: pytest.FixtureRequest) -> type:
    return request.param


def _fitted(cls: type, **params: object) -> TfidfLabelRanker | BM25LabelRanker:
    return cls(**params).fit(label_table(CONCEPTS))


# --- label_table -----------------------------------------------------------------------------------------


def test_label_table_lists_preferred_then_alt_labels_once() -> None:
    table = label_table(CONCEPTS)
    assert list(table.columns) == LABEL_COLUMNS
    assert table[table.concept_id == "staff"].label.tolist() == [
        "manage staff",
        "supervise personnel",
        "lead a team of employees",
    ]
    assert table[table.concept_id == "bake"].label.tolist() == ["bake bread", "make loaves"]
    assert len(table) == 2 + 3 + 2 + 3 + 2 + 1


def test_label_table_rejects_bad_rows_naming_row_and_field() -> None:
    bad_alts = CONCEPTS.assign(alt_labels=[["x"], "not a list", [], [], [], []])
    with pytest.raises(ValueError, match=r"row 1 \[alt_labels\]"):
        label_table(bad_alts)
    empty_alt = CONCEPTS.assign(alt_labels=[["x"], [], [" "], [], [], []])
    with pytest.raises(ValueError, match=r"row 2 \[alt_labels\]"):
        label_table(empty_alt)
    missing_label = CONCEPTS.assign(label=["a", "b", "c", None, "e", "f"])
    with pytest.raises(ValueError, match=r"row 3 \[label\]"):
        label_table(missing_label)
    with pytest.raises(ValueError, match="missing columns"):
        label_table(CONCEPTS.drop(columns=["alt_labels"]))


# --- ranking behaviour -----------------------------------------------------------------------------------


def test_exact_label_ranks_its_concept_first(ranker_cls: type) -> None:
    ranker = _fitted(ranker_cls)
    table = label_table(CONCEPTS)
    rankings = ranker.rank(table.label.tolist(), k=3)
    for concept_id, ranking in zip(table.concept_id, rankings, strict=True):
        assert ranking[0][0] == concept_id


def test_synonyms_are_found_through_alt_labels(ranker_cls: type) -> None:
    ranker = _fitted(ranker_cls)
    texts = [
        "we supervise personnel daily",
        "experience with ECMAScript",
        "you will collaborate with colleagues",
    ]
    assert [r[0][0] for r in ranker.rank(texts, k=2)] == ["staff", "js", "team"]
    # without the alternative labels the synonym has nothing to match
    preferred_only = ranker_cls().fit(
        pd.DataFrame({"concept_id": CONCEPTS.id, "label": CONCEPTS.label}, columns=LABEL_COLUMNS)
    )
    assert all(cid != "staff" for cid, _ in preferred_only.rank(["supervise personnel"], k=6)[0])


def test_empty_text_gives_empty_ranking(ranker_cls: type) -> None:
    ranker = _fitted(ranker_cls)
    assert ranker.rank(["", "   "], k=5) == [[], []]
    assert ranker.rank([], k=5) == []


def test_k_is_respected_and_scores_descend(ranker_cls: type) -> None:
    ranker = _fitted(ranker_cls)
    text = "manage staff and lead a team, bake bread, operate a forklift, python programming"
    full = ranker.rank([text], k=6)[0]
    assert len(full) >= 4
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(full))
    for k in (1, 2, 3):
        top = ranker.rank([text], k=k)[0]
        assert len(top) == k
        assert top == full[:k]
    assert len({cid for cid, _ in full}) == len(full)
    assert all(score > 0 for _, score in full)


def test_ranking_is_deterministic_across_fits_and_batches(ranker_cls: type) -> None:
    texts = ["lead a team", "bread", "python and javascript", "teams of colleagues", "forklift staff"]
    first = _fitted(ranker_cls).rank(texts, k=4)
    again = _fitted(ranker_cls, batch_size=2).rank(texts, k=4)
    assert first == again


def test_ties_follow_concept_order(ranker_cls: type) -> None:
    labels = pd.DataFrame({"concept_id": ["b", "a", "c"], "label": ["data entry", "data entry", "welding"]})
    ranking = ranker_cls().fit(labels).rank(["data entry"], k=3)[0]
    assert [cid for cid, _ in ranking] == ["b", "a"]
    assert ranking[0][1] == ranking[1][1]


def test_concept_score_is_max_over_its_labels(ranker_cls: type) -> None:
    table = label_table(CONCEPTS)
    # same labels (hence same vocabulary and statistics), but each label as its own concept
    per_label = table.assign(concept_id=[f"{cid}#{i}" for i, cid in enumerate(table.concept_id)])
    text = "supervise a team of employees who bake bread"
    by_concept = dict(ranker_cls().fit(table).rank([text], k=10)[0])
    by_label = ranker_cls().fit(per_label).rank([text], k=20)[0]
    expected: dict[str, float] = {}
    for key, score in by_label:
        cid = key.split("#")[0]
        expected[cid] = max(expected.get(cid, 0.0), score)
    assert by_concept.keys() == expected.keys()
    for cid, score in expected.items():
        assert by_concept[cid] == pytest.approx(score)


def test_tfidf_exact_label_has_cosine_one() -> None:
    ranker = _fitted(TfidfLabelRanker)
    (top,) = ranker.rank(["operate forklift"], k=1)
    assert top[0] == ("forklift", pytest.approx(1.0))


def test_bm25_ignores_stopwords_by_default() -> None:
    assert _fitted(BM25LabelRanker).rank(["the of a with"], k=3) == [[]]
    assert _fitted(BM25LabelRanker, stopwords=None).rank(["the of a with"], k=3) != [[]]


# --- estimator contract and errors ------------------------------------------------------------------------


def test_estimator_contract(ranker_cls: type) -> None:
    ranker = ranker_cls(batch_size=7)
    assert ranker.get_params()["batch_size"] == 7
    assert not [name for name in vars(ranker) if name.endswith("_")]
    assert ranker.fit(label_table(CONCEPTS)) is ranker
    assert list(ranker.concept_ids_) == CONCEPTS.id.tolist()
    copy = clone(ranker)
    assert copy.get_params() == ranker.get_params()
    with pytest.raises(NotFittedError):
        copy.rank(["x"])


def test_bad_input_is_rejected(ranker_cls: type) -> None:
    with pytest.raises(ValueError, match="missing columns"):
        ranker_cls().fit(pd.DataFrame({"id": ["a"], "label": ["x"]}))
    with pytest.raises(ValueError, match="no rows"):
        ranker_cls().fit(pd.DataFrame(columns=LABEL_COLUMNS))
    bad = pd.DataFrame({"concept_id": ["a", "b"], "label": ["x", np.nan]})
    with pytest.raises(ValueError, match=r"row 1 \[label\]"):
        ranker_cls().fit(bad)
    ranker = _fitted(ranker_cls)
    with pytest.raises(TypeError, match="single string"):
        ranker.rank("manage staff")
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        ranker.rank(["ok", None])
    with pytest.raises(ValueError, match="positive integer"):
        ranker.rank(["manage staff"], k=0)
