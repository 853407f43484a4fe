"""The on-disk embedding cache and the encoder's de-duplication."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skillmatch.encoding.disk_cache import EmbeddingCache


def test_cache_round_trip_and_persistence(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "model-a@123", 4)
    vecs = np.arange(8, dtype=np.float32).reshape(2, 4)
    cache.put_many(["alpha", "beta"], vecs)
    cache.close()
    again = EmbeddingCache(tmp_path, "model-a@123", 4)
    found = again.get_many(["beta", "gamma", "alpha"])
    assert set(found) == {"alpha", "beta"}
    np.testing.assert_array_equal(found["beta"], vecs[1])
    assert len(again) == 2


def test_cache_is_keyed_by_model(tmp_path: Path) -> None:
    EmbeddingCache(tmp_path, "model-a", 4).put_many(["x"], np.ones((1, 4), np.float32))
    assert EmbeddingCache(tmp_path, "model-b", 4).get_many(["x"]) == {}


def test_cache_refuses_vectors_of_another_dimension(tmp_path: Path) -> None:
    EmbeddingCache(tmp_path, "m", 4).put_many(["x"], np.ones((1, 4), np.float32))
    assert EmbeddingCache(tmp_path, "m", 8).get_many(["x"]) == {}


def test_many_keys_beyond_sqlite_variable_limit(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "m", 2)
    texts = [f"t{i}" for i in range(2500)]
    cache.put_many(texts, np.ones((2500, 2), np.float32))
    assert len(cache.get_many(texts)) == 2500
