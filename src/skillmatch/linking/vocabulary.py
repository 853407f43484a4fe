"""The lexical pre-filter of the linker's n-grams: an n-gram that cannot name a label is not encoded.

The linker adds the word 1-3-grams of short phrases as segments so that a keyword in an unpunctuated list
("javascript reactjs java") can match its label exactly (docs/evaluation.md). They are most of a posting's
segments (393 of 504 in a SkillSpan posting), many of them words that no label uses ("please", "shortlisted
applicants", "8.30 pm"), and each costs an encoding, an index search and lexical scoring. :class:`LabelVocabulary` is built once per linker from the label table (preferred and
alternative labels) and tells, without the model, whether an n-gram is worth a segment. The modes
(:data:`NGRAM_FILTERS`), from gentlest to strictest:

* ``off``: every n-gram is kept;
* ``words``: every word of the n-gram is a word of some label;
* ``cooccur``: all words of the n-gram occur together in one label (any order);
* ``contiguous``: the words occur in one label in this order, next to each other;
* ``label``: the n-gram is a whole label (up to case, accents and plural/verb endings).

The settings' default (``link_ngram_filter``) is ``words``: on full ESCO it leaves 18 % fewer segments per
posting with the same RP@5 and MRR on TECH and HOUSE; the stricter modes leave 42-75 % fewer but lose 1.3-6
RP@5 points, because the 2-3-grams they drop include paraphrases of a label ("achieve organizational goals" for
"meet commitments") that no lexical test can tell from noise (docs/evaluation.md, "Encoding fewer n-grams").

Words are compared as :func:`word_key` makes them: lower case, accents stripped, the word pattern of the
lexical matcher (``+`` and ``#`` stay inside words: C++, C#) and a light English suffix stripping (``databases``
and ``database``, ``managing`` and ``manage`` meet). Sentences and phrases are never filtered (they are the
context and the paraphrases), and an n-gram that is a label passes every mode, so an exact mention still links
exactly (and takes the label's stored vector through the exact-label shortcut of the query-time encoder).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
from scipy import sparse

#: The n-gram filter modes (see the module doc), gentlest first.
NgramFilter = Literal["off", "words", "cooccur", "contiguous", "label"]
NGRAM_FILTERS: tuple[str, ...] = get_args(NgramFilter)

#: Words: letters/digits, keeping ``+`` and ``#`` inside words (the lexical matcher's pattern).
_WORD = re.compile(r"\w[\w+#]*")

#: Suffixes stripped from a word (first match wins) when at least three letters remain, and what replaces them;
#: a final "e" is dropped afterwards.
_SUFFIXES = (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))


@lru_cache(maxsize=65536)
def word_key(word: str) -> str:
    """The key of one (already lower-cased) word: accents stripped and a light English suffix removed."""
    word = unicodedata.normalize("NFKD", word)
    word = "".join(c for c in word if not unicodedata.combining(c))
    if not word.endswith("ss"):
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: len(word) - len(suffix)] + replacement
                break
    # "manage", "manages", "managed" and "managing" all become "manag"
    return word[:-1] if word.endswith("e") and len(word) >= 4 else word


def word_keys(text: str) -> list[str]:
    """The word keys of a text, in order (:func:`word_key` of each word of the lexical matcher's pattern)."""
    return [word_key(w) for w in _WORD.findall(text.casefold())]


class LabelVocabulary:
    """The word keys of a label table, for deciding without the model whether an n-gram can name a label.

    Built in about 0.3 s for ESCO's 99,145 labels (2 cores): an inverted index (word key -> the labels that use
    it, as a sparse matrix) and, for the modes that need word order, each label's word keys joined by spaces.

    Args:
        texts: the label texts (preferred and alternative labels).
        mode: the filter (:data:`NGRAM_FILTERS`); ``off`` keeps everything and builds nothing.
    """

    def __init__(self, texts: Iterable[str], mode: str = "words") -> None:
        if mode not in NGRAM_FILTERS:
            raise ValueError(f"ngram filter must be one of {', '.join(NGRAM_FILTERS)}, got {mode!r}")
        self.mode = mode
        self._words: dict[str, int] = {}
        self._keys: list[str] = []
        self._labels_of = sparse.csr_matrix((0, 0), dtype=np.int8)
        if mode != "off":
            self._build([" ".join(word_keys(str(t))) for t in texts])

    def _build(self, keys: list[str]) -> None:
        """The inverted index of the labels' word keys (row: word key, columns: the labels using it)."""
        rows: list[int] = []
        cols: list[int] = []
        for label, key in enumerate(keys):
            for word in set(key.split()):
                rows.append(self._words.setdefault(word, len(self._words)))
                cols.append(label)
        data = np.ones(len(rows), dtype=np.int8)
        matrix = sparse.coo_matrix((data, (rows, cols)), shape=(len(self._words), len(keys)))
        self._labels_of = matrix.tocsr()
        self._labels_of.sort_indices()
        if self.mode in {"contiguous", "label"}:
            self._keys = keys  # only these modes look at a label's words in order

    def __len__(self) -> int:
        """The number of distinct word keys of the labels."""
        return len(self._words)

    def _labels_with_all(self, words: Sequence[str]) -> np.ndarray:
        """The labels that use every one of ``words`` (sorted label rows; empty if a word is in no label)."""
        rows = [self._words.get(w, -1) for w in dict.fromkeys(words)]
        if not rows or min(rows) < 0:
            return np.zeros(0, dtype=np.int32)
        m = self._labels_of
        lists = sorted((m.indices[m.indptr[r] : m.indptr[r + 1]] for r in rows), key=len)
        found = lists[0]
        for other in lists[1:]:
            found = np.intersect1d(found, other, assume_unique=True)
            if not len(found):
                break
        return found

    def keeps(self, gram: str) -> bool:
        """Whether the n-gram ``gram`` can name a label under this filter's mode (see the module doc)."""
        if self.mode == "off":
            return True
        words = word_keys(gram)
        if not words:
            return False
        if self.mode == "words":
            return all(w in self._words for w in words)
        found = self._labels_with_all(words)
        if self.mode == "cooccur" or not len(found):
            return bool(len(found))
        key = " ".join(words)
        if self.mode == "label":
            return any(self._keys[i] == key for i in found)
        return any(f" {key} " in f" {self._keys[i]} " for i in found)
