"""The exact-label fast path: known texts come from stored vectors, everything else from the encoder."""

from __future__ import annotations

import numpy as np
import pytest
from fakes import HashingEncoder

from skillmatch.encoding.concurrency import LockedEncoder
from skillmatch.encoding.known_vectors import KnownVectorEncoder, tokenizer_key
from skillmatch.index import VectorIndex

LABELS = ["Python (computer programming)", "manage a team", "SQL"]


class CaseFoldingEncoder(HashingEncoder):
    """A fake whose tokenizer lower-cases (like all-MiniLM-L6-v2's)."""

    def normalise_text(self, text: str) -> str:
        return text.lower()


def known_encoder(inner: HashingEncoder) -> tuple[KnownVectorEncoder, np.ndarray]:
    # stored vectors that differ from what the encoder would give, to see where each vector comes from
    stored = np.eye(len(LABELS), inner.dim, dtype=np.float32)
    index = VectorIndex(kind="flat").build(stored)
    return KnownVectorEncoder.from_index(inner, LABELS, index), stored


def test_known_texts_are_read_back_and_the_rest_is_encoded() -> None:
    inner = CaseFoldingEncoder()
    encoder, stored = known_encoder(inner)
    texts = ["sql", "  Manage   a team ", "cook pasta", "SQL"]
    out = encoder.encode(texts)
    np.testing.assert_array_equal(out[0], stored[2])
    np.testing.assert_array_equal(out[1], stored[1])
    np.testing.assert_array_equal(out[3], stored[2])
    np.testing.assert_allclose(out[2], inner.encode(["cook pasta"])[0])
    assert inner.calls[0] == 1  # only the unknown text reached the encoder
    assert encoder.stats == {"requested": 4, "known": 3}


def test_all_known_texts_never_reach_the_encoder() -> None:
    inner = CaseFoldingEncoder()
    encoder, _ = known_encoder(inner)
    done: list[tuple[int, int]] = []
    encoder.encode(["sql", "manage a team"], progress=lambda d, t: done.append((d, t)))
    assert inner.calls == []
    assert done == [(2, 2)]


def test_without_a_normaliser_matching_is_exact_up_to_white_space() -> None:
    inner = HashingEncoder()
    encoder, _ = known_encoder(inner)
    assert encoder.lookup(["SQL", " SQL  ", "sql"]) == [2, 2, -1]


def test_the_key_function_is_found_through_wrappers() -> None:
    key = tokenizer_key(LockedEncoder(CaseFoldingEncoder()))
    assert key("  Manage  A Team") == "manage a team"
    assert tokenizer_key(LockedEncoder(HashingEncoder()))("  Manage  A Team") == "Manage A Team"


def test_identity_is_the_wrapped_encoders() -> None:
    inner = HashingEncoder()
    encoder, _ = known_encoder(inner)
    assert (encoder.model_id, encoder.dim, encoder.fingerprint) == (
        inner.model_id,
        inner.dim,
        inner.fingerprint,
    )
    assert len(encoder) == len(LABELS)


def test_texts_and_index_must_align() -> None:
    index = VectorIndex(kind="flat").build(np.eye(2, 8, dtype=np.float32))
    with pytest.raises(ValueError, match="3 texts but the index has 2 rows"):
        KnownVectorEncoder.from_index(HashingEncoder(), LABELS, index)
