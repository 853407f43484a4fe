"""The exact-label fast path: texts that are a label of the index are read back, not encoded.

A text that is (as the tokenizer sees it) a label of the index is not encoded; its vector is read back from
the label index.

A learner's skill list or a short query is often a taxonomy label ("Python", "project management"). Such a
text has exactly the vector its label has in the index, because the model sees the same tokens: the key of a
text is what the encoder's tokenizer normaliser makes of it (for all-MiniLM-L6-v2: lower case, accents
stripped) with white space collapsed. Results are therefore identical with and without the fast path; only the
encoding is skipped. Texts that are not labels go to the wrapped encoder as before.

It is the outermost layer of the query-time chain (:func:`skillmatch.encoding.factory.query_chain`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from skillmatch import nowait
from skillmatch.encoding.base import Encoder, EncoderWrapper, ProgressFn
from skillmatch.index import VectorIndex

#: Turns a text into its lookup key.
KeyFn = Callable[[str], str]


def _collapse(text: str) -> str:
    return " ".join(text.split())


def tokenizer_key(encoder: Encoder) -> KeyFn:
    """The key function of ``encoder``: its tokenizer's normaliser plus white-space collapsing.

    Exact matching with white space collapsed is safe for any WordPiece, BPE or SentencePiece tokenizer that
    splits on white space; the normaliser (e.g. lower case, accents stripped) makes more texts match.
    """
    return lambda text: _collapse(encoder.normalise_text(text))


class KnownVectorEncoder(EncoderWrapper):
    """An encoder that answers known texts from stored vectors and passes the rest to ``inner``.

    Args:
        inner: the encoder that made the stored vectors (and encodes everything else).
        texts: the known texts (e.g. the label table's ``text`` column).
        vectors_of: returns the stored vectors of an int64 array of positions in ``texts``.
        key: text -> lookup key (default: :func:`tokenizer_key` of ``inner``).
    """

    def __init__(
        self,
        inner: Encoder,
        texts: Sequence[str],
        vectors_of: Callable[[np.ndarray], np.ndarray],
        *,
        key: KeyFn | None = None,
    ) -> None:
        super().__init__(inner)
        self._key = key or tokenizer_key(inner)
        self._vectors_of = vectors_of
        self._rows: dict[str, int] = {}
        for row, text in enumerate(texts):
            self._rows.setdefault(self._key(str(text)), row)
        self.stats = {"requested": 0, "known": 0}

    @classmethod
    def from_index(
        cls, inner: Encoder, texts: Sequence[str], index: VectorIndex, *, key: KeyFn | None = None
    ) -> KnownVectorEncoder:
        """Known texts are the rows of ``index`` (row ``i`` of the index is the vector of ``texts[i]``)."""
        if len(texts) != index.rows:
            raise ValueError(f"{len(texts)} texts but the index has {index.rows} rows")
        return cls(inner, texts, index.reconstruct, key=key)

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, texts: Sequence[str]) -> list[int]:
        """For each text, the position of the known text with the same key, or -1."""
        return [self._rows.get(self._key(t), -1) for t in texts]

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Vectors of ``texts``: stored ones for known texts, the wrapped encoder's for the others.

        Raises:
            WouldWait: some text is not known and the call runs inside :func:`skillmatch.nowait.scope`.
        """
        texts = list(texts)
        rows = np.asarray(self.lookup(texts), dtype=np.int64)
        hit = rows >= 0
        stored: dict[str, np.ndarray] = {}
        if not hit.all() and nowait.forbidden():
            # where the call may not wait, vectors a cache below holds now serve too; the rest would wait
            rest = [t for t, h in zip(texts, hit, strict=True) if not h]
            stored = self.stored(rest)
            missing = [t for t in rest if t not in stored]
            if missing:  # before anything is counted: the call will run again
                nowait.check("texts to encode", list(dict.fromkeys(missing)))
        self.stats["requested"] += len(texts)
        self.stats["known"] += int(hit.sum())
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if hit.any():
            out[hit] = self._vectors_of(rows[hit])
        if stored:
            out[~hit] = np.stack([stored[t] for t, h in zip(texts, hit, strict=True) if not h])
        elif not hit.all():
            rest = [t for t, h in zip(texts, hit, strict=True) if not h]
            out[~hit] = self.inner.encode(rest, progress=progress)
        elif progress:
            progress(len(texts), len(texts))
        return out
