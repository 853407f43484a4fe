"""An on-disk embedding cache keyed by model fingerprint and text hash (SQLite, one file per model)."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_CHUNK = 900  # stays below SQLite's default limit of bound variables


def text_key(text: str) -> str:
    """The cache key of one text: a SHA-1 of its UTF-8 bytes (hex)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Stores float32 vectors of one model under the hash of their text.

    Args:
        folder: where the cache files live; created if missing.
        model_key: a string that identifies the model *and its weights* (see ``Encoder.fingerprint``).
        dim: the model's embedding dimension; vectors of another size are refused.
    """

    def __init__(self, folder: Path, model_key: str, dim: int) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model_key)[-80:]
        digest = hashlib.sha1(model_key.encode()).hexdigest()[:12]
        self.path = self.folder / f"emb-{slug}-{digest}.sqlite"
        self.dim = dim
        self._conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS emb (k TEXT PRIMARY KEY, v BLOB NOT NULL)")
        self._conn.commit()

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors found for ``texts``, by text (texts not in the cache are absent from the result)."""
        keys = {text_key(t): t for t in texts}
        found: dict[str, np.ndarray] = {}
        key_list = list(keys)
        for start in range(0, len(key_list), _CHUNK):
            chunk = key_list[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for k, blob in self._conn.execute(f"SELECT k, v FROM emb WHERE k IN ({marks})", chunk):
                vec = np.frombuffer(blob, dtype=np.float32)
                if vec.shape[0] == self.dim:
                    found[keys[k]] = vec
        return found

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text (overwriting what was there)."""
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        rows = [
            (text_key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO emb (k, v) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()
