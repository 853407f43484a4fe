"""The cache layer: texts of one normal form are encoded once, and both caches are keyed by the normal form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import HashingEncoder

from skillmatch.encoding.cached import CachedEncoder


class UncasedEncoder(HashingEncoder):
    """A hashing encoder whose 'tokenizer' lower-cases, as all-MiniLM-L6-v2's does."""

    def normalise_text(self, text: str) -> str:
        return text.lower()

    def encode(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
        return super().encode([t.lower() for t in texts], progress=progress)


def test_texts_of_one_normal_form_are_encoded_once() -> None:
    inner = UncasedEncoder()
    encoder = CachedEncoder(inner)
    vectors = encoder.encode(["Python", "python", "SQL", "PYTHON", "sql"])
    assert inner.calls == [2]  # "python" and "sql"
    np.testing.assert_array_equal(vectors[0], vectors[1])
    np.testing.assert_array_equal(vectors[2], vectors[4])
    np.testing.assert_allclose(vectors, inner.encode(["python", "python", "sql", "python", "sql"]))
    assert encoder.stats["unique"] == 2 and encoder.stats["encoded"] == 2


def test_the_caches_are_keyed_by_the_normal_form(tmp_path: Path) -> None:
    inner = UncasedEncoder()
    first = CachedEncoder(inner, cache_dir=tmp_path, memory_cache=10)
    first.encode(["Data Analysis"])
    first.encode(["data analysis"])  # memory hit
    assert inner.calls == [1] and first.stats["memory_hits"] == 1
    second = CachedEncoder(UncasedEncoder(), cache_dir=tmp_path)  # a new process: disk hit
    second.encode(["DATA ANALYSIS"])
    assert second.stats["cache_hits"] == 1 and second.stats["encoded"] == 0


def test_a_cased_model_keeps_case_variants_apart() -> None:
    inner = HashingEncoder()  # no normaliser: "Python" and "python" may differ
    CachedEncoder(inner).encode(["Python", "python"])
    assert inner.calls == [2]
