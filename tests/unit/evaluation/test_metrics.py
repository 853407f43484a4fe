"""Tests for skillmatch.evaluation.metrics: hand-computed cases, brute-force references, sklearn and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from skillmatch.evaluation.metrics import (
    accuracy_at_k,
    mean_metrics,
    ndcg_at_k,
    precision_at_k,
    r_precision_at_k,
    recall_at_k,
    reciprocal_rank,
)

RANKING = ["a", "b", "c", "d", "e", "f"]


# --- hand-computed values ------------------------------------------------------------------------------


def test_r_precision_uses_min_of_k_and_gold_size() -> None:
    # two gold ids, one of them in the top 5 -> 1 / min(5, 2)
    assert r_precision_at_k(RANKING, {"c", "z"}, 5) == pytest.approx(0.5)
    # one gold id at rank 3: perfect at k=5 (denominator 1), zero at k=2
    assert r_precision_at_k(RANKING, {"c"}, 5) == 1.0
    assert r_precision_at_k(RANKING, {"c"}, 2) == 0.0
    # seven gold ids, three in the top 5 -> 3 / 5
    assert r_precision_at_k(RANKING, {"a", "c", "e", "x", "y", "z", "w"}, 5) == pytest.approx(3 / 5)


def test_recall_precision_accuracy_by_hand() -> None:
    relevant = {"b", "e", "z"}
    assert recall_at_k(RANKING, relevant, 1) == 0.0
    assert recall_at_k(RANKING, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKING, relevant, 10) == pytest.approx(2 / 3)
    assert precision_at_k(RANKING, relevant, 5) == pytest.approx(2 / 5)
    # a short ranking is not rewarded: denominator stays k
    assert precision_at_k(["b"], relevant, 4) == pytest.approx(1 / 4)
    assert accuracy_at_k(RANKING, relevant, 1) == 0.0
    assert accuracy_at_k(RANKING, relevant, 2) == 1.0


def test_reciprocal_rank_by_hand() -> None:
    assert reciprocal_rank(RANKING, {"d", "f"}) == pytest.approx(1 / 4)
    assert reciprocal_rank(RANKING, {"z"}) == 0.0
    assert reciprocal_rank(RANKING, {"d"}, k=3) == 0.0
    assert reciprocal_rank(RANKING, {"d"}, k=4) == pytest.approx(1 / 4)
    assert reciprocal_rank([], {"d"}) == 0.0


def test_ndcg_binary_by_hand() -> None:
    # relevant at ranks 2 and 4; ideal puts them at ranks 1 and 2
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(RANKING, {"b", "d"}, 10) == pytest.approx(dcg / idcg)
    # cut at 3: only rank 2 counts, the ideal still has two relevant ids within 3
    assert ndcg_at_k(RANKING, {"b", "d"}, 3) == pytest.approx((1 / math.log2(3)) / idcg)
    assert ndcg_at_k(["b", "d", "a"], {"b", "d"}, 2) == pytest.approx(1.0)


def test_ndcg_graded_by_hand() -> None:
    gains = {"a": 1.0, "c": 3.0, "q": 2.0}
    dcg = 1.0 / math.log2(2) + 3.0 / math.log2(4)
    idcg = 3.0 / math.log2(2) + 2.0 / math.log2(3) + 1.0 / math.log2(4)
    assert ndcg_at_k(RANKING, gains, 5) == pytest.approx(dcg / idcg)
    # zero gains are not relevant, but do not make the query invalid when others are positive
    assert ndcg_at_k(["x"], {"x": 0.0, "y": 1.0}, 1) == 0.0


# --- brute force and sklearn on seeded synthetic data ----------------------------------------------------


def _synthetic(seed: int, n_queries: int = 60, universe: int = 30) -> tuple[list[list[str]], list[set[str]]]:
    rng = np.random.default_rng(seed)
    ids = [f"id{i:02d}" for i in range(universe)]
    rankings, relevants = [], []
    for _ in range(n_queries):
        length = int(rng.integers(0, universe + 1))
        rankings.append([ids[i] for i in rng.permutation(universe)[:length]])
        size = int(rng.integers(1, 12))
        relevants.append({ids[i] for i in rng.choice(universe, size=size, replace=False)})
    return rankings, relevants


def _brute(ranking: list[str], relevant: set[str], k: int) -> dict[str, float]:
    """Reference values computed from a 0/1 hit vector, independently of the library code."""
    hits = np.array([1.0 if r in relevant else 0.0 for r in ranking[:k]])
    hits = np.pad(hits, (0, k - len(hits)))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.zeros(k)
    ideal[: min(k, len(relevant))] = 1.0
    full = [i for i, r in enumerate(ranking) if r in relevant]
    return {
        "rp": hits.sum() / min(k, len(relevant)),
        "recall": hits.sum() / len(relevant),
        "precision": hits.mean(),
        "acc": float(hits.any()),
        "ndcg": float(hits @ discounts / (ideal @ discounts)),
        "rr": 1.0 / (full[0] + 1) if full else 0.0,
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [1, 3, 5, 10, 40])
def test_per_query_metrics_match_brute_force(seed: int, k: int) -> None:
    rankings, relevants = _synthetic(seed)
    for ranking, relevant in zip(rankings, relevants, strict=True):
        expected = _brute(ranking, relevant, k)
        assert r_precision_at_k(ranking, relevant, k) == pytest.approx(expected["rp"])
        assert recall_at_k(ranking, relevant, k) == pytest.approx(expected["recall"])
        assert precision_at_k(ranking, relevant, k) == pytest.approx(expected["precision"])
        assert accuracy_at_k(ranking, relevant, k) == expected["acc"]
        assert ndcg_at_k(ranking, relevant, k) == pytest.approx(expected["ndcg"])
        assert reciprocal_rank(ranking, relevant) == pytest.approx(expected["rr"])


@pytest.mark.parametrize("graded", [False, True])
@pytest.mark.parametrize("k", [1, 5, 10, 25])
def test_ndcg_matches_sklearn(graded: bool, k: int) -> None:
    rng = np.random.default_rng(42)
    universe = 25
    ids = [f"c{i}" for i in range(universe)]
    for _ in range(40):
        true = rng.integers(0, 4 if graded else 2, size=universe).astype(float)
        if not true.any():
            true[int(rng.integers(universe))] = 1.0
        scores = rng.permutation(universe).astype(float)  # distinct scores: no ties
        ranking = [ids[i] for i in np.argsort(-scores)]
        if graded:
            relevant: dict[str, float] | set[str] = {ids[i]: true[i] for i in range(universe)}
        else:
            relevant = {ids[i] for i in np.flatnonzero(true)}
        expected = ndcg_score(true[None, :], scores[None, :], k=k)
        assert ndcg_at_k(ranking, relevant, k) == pytest.approx(expected)


def test_mean_metrics_averages_per_query_values() -> None:
    rankings, relevants = _synthetic(7, n_queries=25)
    result = mean_metrics(rankings, relevants, ks=(1, 5, 10))
    assert result["n"] == 25
    expected_keys = {f"{m}@{k}" for m in ("rp", "recall", "precision", "acc", "ndcg") for k in (1, 5, 10)}
    assert set(result) == expected_keys | {"mrr", "n"}
    for k in (1, 5, 10):
        brute = [_brute(r, g, k) for r, g in zip(rankings, relevants, strict=True)]
        for name in ("rp", "recall", "precision", "acc", "ndcg"):
            assert result[f"{name}@{k}"] == pytest.approx(np.mean([b[name] for b in brute]))
    pairs = zip(rankings, relevants, strict=True)
    assert result["mrr"] == pytest.approx(np.mean([_brute(r, g, 1)["rr"] for r, g in pairs]))


def test_mean_metrics_perfect_and_empty_rankings() -> None:
    relevants = [{"a"}, {"b", "c"}]
    perfect = mean_metrics([["a", "x"], ["c", "b"]], relevants, ks=(1, 2))
    assert perfect["rp@2"] == 1.0 and perfect["mrr"] == 1.0 and perfect["ndcg@2"] == pytest.approx(1.0)
    assert perfect["acc@1"] == 1.0 and perfect["rp@1"] == 1.0
    nothing = mean_metrics([[], []], relevants, ks=(5,))
    assert all(v == 0.0 for key, v in nothing.items() if key != "n")


def test_mean_metrics_accepts_graded_relevance() -> None:
    result = mean_metrics([["a", "b"]], [{"a": 1.0, "b": 3.0}], ks=(2,))
    assert result["rp@2"] == 1.0
    assert result["ndcg@2"] == pytest.approx((1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))


# --- errors ----------------------------------------------------------------------------------------------


def test_query_without_relevant_ids_is_an_error_naming_the_index() -> None:
    with pytest.raises(ValueError, match=r"query 2: .*no relevant ids"):
        mean_metrics([["a"], ["b"], ["c"]], [{"a"}, {"b"}, set()])
    with pytest.raises(ValueError, match=r"query 0: .*no relevant ids"):
        mean_metrics([["a"]], [{"a": 0.0}])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: r_precision_at_k(["a"], {"a"}, 0), "positive integer"),
        (lambda: recall_at_k(["a"], {"a"}, -1), "positive integer"),
        (lambda: ndcg_at_k(["a"], {"a"}, 2.5), "positive integer"),  # type: ignore[arg-type]
        (lambda: precision_at_k(["a", "a"], {"a"}, 2), "duplicate ids"),
        (lambda: accuracy_at_k(["a"], set(), 1), "no relevant ids"),
        (lambda: ndcg_at_k(["a"], {"a": -1.0}, 1), ">= 0"),
        (lambda: mean_metrics([["a"]], [{"a"}, {"b"}]), "1 rankings but 2"),
        (lambda: mean_metrics([], []), "no queries"),
        (lambda: mean_metrics([["a"]], [{"a"}], ks=()), "at least one"),
    ],
)
def test_invalid_input_raises_value_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_bare_string_is_rejected() -> None:
    with pytest.raises(TypeError, match="single string"):
        recall_at_k("abc", {"a"}, 2)
    with pytest.raises(TypeError, match="single string"):
        recall_at_k(["abc"], "abc", 2)


# --- properties ------------------------------------------------------------------------------------------

_ids = st.sampled_from([f"x{i}" for i in range(15)])


@settings(max_examples=200, deadline=None)
@given(
    ranking=st.lists(_ids, unique=True, max_size=15),
    relevant=st.sets(_ids, min_size=1),
    k=st.integers(1, 20),
)
def test_metric_relations(ranking: list[str], relevant: set[str], k: int) -> None:
    rp = r_precision_at_k(ranking, relevant, k)
    recall = recall_at_k(ranking, relevant, k)
    precision = precision_at_k(ranking, relevant, k)
    ndcg = ndcg_at_k(ranking, relevant, k)
    acc = accuracy_at_k(ranking, relevant, k)
    for value in (rp, recall, precision, ndcg, acc):
        assert 0.0 <= value <= 1.0 + 1e-12
    assert rp >= recall - 1e-12 and rp >= precision - 1e-12
    if len(relevant) <= k:
        assert rp == pytest.approx(recall)
    assert precision * k == pytest.approx(recall * len(relevant))
    assert (acc > 0) == (rp > 0) == (ndcg > 0)
    assert (reciprocal_rank(ranking, relevant, k) >= 1 / k) == (acc == 1.0)
