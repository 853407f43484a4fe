"""Bounded, thread-safe in-memory LRUs.

One keeps vectors by text (the encoder's first cache level), the other any value by key (the linker's cache
of normalised phrases).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from typing import Generic, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """Keeps the values of the ``capacity`` most recently used keys.

    Values are stored as given: store only values nobody changes afterwards (tuples, frozen dataclasses).

    Args:
        capacity: most entries kept (>= 1); the least recently used entry goes first.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The values held for ``keys`` (absent keys are left out); each hit becomes most recently used."""
        found: dict[K, V] = {}
        with self._lock:
            for key in keys:
                if key in self._data:
                    self._data.move_to_end(key)
                    found[key] = self._data[key]
        return found

    def put_many(self, items: Mapping[K, V]) -> None:
        """Store each value, evicting the least recently used entries beyond capacity."""
        with self._lock:
            for key, value in items.items():
                self._data[key] = value
                self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)


class VectorLRU(LRU[str, np.ndarray]):
    """An :class:`LRU` of vectors by text that stores a read-only float32 copy of each vector."""

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Store (a read-only copy of) each vector, evicting the least recently used entries beyond capacity."""
        copies = {}
        for text, vec in items.items():
            stored = np.array(vec, dtype=np.float32, copy=True)
            stored.flags.writeable = False
            copies[text] = stored
        super().put_many(copies)
