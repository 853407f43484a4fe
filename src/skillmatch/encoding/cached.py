"""De-duplication and the two vector caches in front of a backend.

Texts of the same normal form (as the tokenizer's normaliser sees them) in one call are encoded once. Vectors
are looked up first in an in-memory LRU (it serves the phrases a server sees again and again), then in the
on-disk SQLite cache (keyed by the model's fingerprint and the hash of the text's normal form), and only the rest
is encoded, longest first and in chunks that go to the disk cache at once, so an interrupted run keeps its work.
See docs/performance.md for what each is worth.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from skillmatch.encoding.base import Encoder, EncoderWrapper, ProgressFn
from skillmatch.encoding.disk_cache import EmbeddingCache
from skillmatch.encoding.lru import VectorLRU

_CHUNK = 2048  # texts per progress step and per write to the disk cache


class CachedEncoder(EncoderWrapper):
    """A backend with in-call de-duplication, an in-memory LRU and an on-disk cache.

    Args:
        inner: the backend that computes vectors.
        cache_dir: folder of the on-disk embedding cache; ``None`` disables it.
        memory_cache: entries of the in-memory LRU of vectors (0 turns it off).
    """

    def __init__(self, inner: Encoder, *, cache_dir: Path | None = None, memory_cache: int = 0) -> None:
        super().__init__(inner)
        self._cache = EmbeddingCache(cache_dir, inner.fingerprint, inner.dim) if cache_dir else None
        self._memory = VectorLRU(memory_cache) if memory_cache > 0 else None
        #: texts asked for, distinct texts, found in a cache, found in memory, encoded by the backend
        self.stats = {"requested": 0, "unique": 0, "cache_hits": 0, "memory_hits": 0, "encoded": 0}

    @property
    def backend(self) -> str:
        """The name of the backend under this cache (``torch``, ``onnx``, ...)."""
        return str(getattr(self.unwrap(), "backend", type(self.unwrap()).__name__))

    @property
    def thread_safe(self) -> bool:
        """True when the backend is and there is no on-disk cache (its SQLite connection is not shareable).

        The counters in :attr:`stats` may then miss a few increments.
        """
        return self.inner.thread_safe and self._cache is None

    @property
    def max_seq_length(self) -> int:
        """The backend's maximum input length in tokens."""
        return int(getattr(self.unwrap(), "max_seq_length", 0))

    @property
    def remembers(self) -> bool:
        """Whether it keeps vectors in memory (what :meth:`stored` reads)."""
        return self._memory is not None

    def stored(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of ``texts`` in the in-memory LRU now, by text (the LRU is thread-safe; the disk is not read)."""
        if self._memory is None:
            return {}
        keys = {t: self.inner.normalise_text(t) for t in texts}
        found = self._memory.get_many(list(dict.fromkeys(keys.values())))
        return {t: found[k] for t, k in keys.items() if k in found}

    def _encode_raw(self, texts: list[str], keys: list[str], progress: ProgressFn | None) -> np.ndarray:
        """Encode ``texts`` in chunks, storing each chunk's vectors under ``keys`` in the disk cache at once."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), _CHUNK):
            chunk = texts[start : start + _CHUNK]
            vecs = self.inner.encode(chunk)
            out[start : start + len(chunk)] = vecs
            if self._cache is not None:
                self._cache.put_many(keys[start : start + len(chunk)], vecs)
            if progress:
                progress(start + len(chunk), len(texts))
        return out

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Encode ``texts``; texts of the same normal form are encoded once and cached vectors are reused.

        Texts that the tokenizer's normaliser maps to the same string (e.g. "Python" and "python" for an
        uncased model) become the same tokens and so the same vector: one of them is encoded, and the caches are
        keyed by the normal form.
        """
        texts = list(texts)
        self.stats["requested"] += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys = [self.inner.normalise_text(t) for t in texts]
        unique = dict(zip(keys, texts, strict=True))  # normal form -> a text of that form to encode
        self.stats["unique"] += len(unique)
        known = self._memory.get_many(list(unique)) if self._memory is not None else {}
        self.stats["memory_hits"] += len(known)
        if self._cache is not None and len(known) < len(unique):
            from_disk = self._cache.get_many([k for k in unique if k not in known])
            if self._memory is not None:
                self._memory.put_many(from_disk)
            known.update(from_disk)
        self.stats["cache_hits"] += len(known)
        todo = [k for k in unique if k not in known]
        if todo:
            # longest first: each chunk (and each torch batch) holds texts of similar length; the ONNX backend
            # also sorts its texts by token count and splits them into runs (onnx_backend.plan_runs)
            ordered = sorted(todo, key=len, reverse=True)
            vecs = self._encode_raw([unique[k] for k in ordered], ordered, progress)
            self.stats["encoded"] += len(todo)
            fresh = dict(zip(ordered, vecs, strict=True))
            if self._memory is not None:
                self._memory.put_many(fresh)
            known.update(fresh)
        elif progress:
            progress(len(unique), len(unique))
        return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)
