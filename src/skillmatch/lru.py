"""A bounded, thread-safe in-memory LRU of vectors by text (the encoder's first cache level)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping

import numpy as np


class VectorLRU:
    """Keeps the vectors of the ``capacity`` most recently used texts.

    Args:
        capacity: most entries kept (>= 1); the least recently used entry goes first.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get_many(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors held for ``texts`` (absent texts are left out); each hit becomes most recently used."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vec = self._data.get(text)
                if vec is not None:
                    self._data.move_to_end(text)
                    found[text] = vec
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        """Store (a read-only copy of) each vector, evicting the least recently used entries beyond capacity."""
        with self._lock:
            for text, vec in items.items():
                stored = np.array(vec, dtype=np.float32, copy=True)
                stored.flags.writeable = False
                self._data[text] = stored
                self._data.move_to_end(text)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)
