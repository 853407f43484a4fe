"""The FAISS wrapper against brute force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skillmatch.index import VectorIndex


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mat = rng.normal(size=(n, dim)).astype(np.float32)
    return mat / np.linalg.norm(mat, axis=1, keepdims=True)


def brute_force(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ data.T), axis=1, kind="stable")[:, :k]


def test_flat_index_matches_brute_force() -> None:
    data, queries = unit_rows(500, 32, 1), unit_rows(20, 32, 2)
    index = VectorIndex().build(data)
    scores, ids = index.search(queries, 5)
    assert index.info_.kind == "flat"
    np.testing.assert_array_equal(ids, brute_force(data, queries, 5))
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ data.T, ids, axis=1), rtol=1e-5)


def test_auto_switches_to_hnsw_above_limit_and_measures_recall() -> None:
    data = unit_rows(3000, 32, 3)
    index = VectorIndex(exact_limit=1000).build(data, recall_queries=200)
    assert index.info_.kind == "hnsw"
    assert index.info_.recall_queries == 200
    assert 0.9 <= index.info_.recall_at_10 <= 1.0
    queries = unit_rows(50, 32, 4)
    _, got = index.search(queries, 10)
    truth = brute_force(data, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got, strict=True)])
    assert recall > 0.9


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    data = unit_rows(200, 16, 5)
    index = VectorIndex().build(data)
    index.save(tmp_path / "x.faiss")
    again = VectorIndex.load(tmp_path / "x.faiss")
    assert again.info_ == index.info_
    q = unit_rows(3, 16, 6)
    np.testing.assert_array_equal(again.search(q, 4)[1], index.search(q, 4)[1])
    np.testing.assert_allclose(again.reconstruct(np.array([7])), data[[7]], rtol=1e-6)


def test_k_larger_than_rows_and_empty_index() -> None:
    index = VectorIndex().build(unit_rows(3, 8, 7))
    _, ids = index.search(unit_rows(2, 8, 8), 10)
    assert ids.shape == (2, 3)
    empty = VectorIndex().build(np.zeros((0, 8), np.float32))
    _scores, ids = empty.search(unit_rows(2, 8, 9), 5)
    assert (ids == -1).all()


def test_wrong_dimension_is_refused() -> None:
    index = VectorIndex().build(unit_rows(10, 8, 10))
    with pytest.raises(ValueError, match="shape"):
        index.search(unit_rows(1, 9, 11), 1)
