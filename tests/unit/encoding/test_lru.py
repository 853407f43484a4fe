"""The encoder's in-memory LRU of vectors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from skillmatch.encoding.lru import VectorLRU


def vec(value: float) -> np.ndarray:
    return np.full(4, value, dtype=np.float32)


def test_keeps_the_most_recently_used_entries() -> None:
    lru = VectorLRU(2)
    lru.put_many({"a": vec(1), "b": vec(2)})
    assert set(lru.get_many(["a"])) == {"a"}  # "a" becomes most recent
    lru.put_many({"c": vec(3)})  # evicts "b", the least recently used
    found = lru.get_many(["a", "b", "c"])
    assert set(found) == {"a", "c"}
    assert len(lru) == 2
    np.testing.assert_array_equal(found["c"], vec(3))


def test_stores_read_only_copies() -> None:
    source = vec(1)
    lru = VectorLRU(4)
    lru.put_many({"a": source})
    source[:] = 9  # the caller's array changes later: the stored vector must not
    stored = lru.get_many(["a"])["a"]
    np.testing.assert_array_equal(stored, vec(1))
    with pytest.raises(ValueError):
        stored[0] = 5


def test_a_put_larger_than_capacity_keeps_the_last_entries() -> None:
    lru = VectorLRU(3)
    lru.put_many({str(i): vec(i) for i in range(10)})
    assert set(lru.get_many([str(i) for i in range(10)])) == {"7", "8", "9"}


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        VectorLRU(0)


def test_concurrent_use_stays_within_capacity() -> None:
    lru = VectorLRU(50)

    def work(offset: int) -> None:
        for i in range(200):
            lru.put_many({f"{offset}-{i}": vec(i)})
            lru.get_many([f"{offset}-{i - 1}", f"{offset}-{i}"])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lru) == 50
