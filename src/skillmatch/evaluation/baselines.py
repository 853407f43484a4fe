"""Lexical baselines: rank taxonomy concepts for free text by matching the text against concept labels.

Both rankers fit on a table of ``(concept_id, label)`` rows (preferred and alternative labels; build one from
a concept or occupation table with :func:`label_table`), score every label for a text and give each concept
the best score of its labels. The vocabulary is learnt from the labels, so words of a text that occur in no
label are ignored (scores compare concepts for one text; they are not absolute similarities). Concepts with
no lexical overlap (score 0) are not returned, so a ranking can be shorter than ``k`` and is empty for an
empty text. Ties are broken by the order of the concepts in the fitted table, so rankings are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Self

import bm25s
import numpy as np
import pandas as pd
from bm25s.tokenization import Tokenizer
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

#: Columns of the table the rankers are fitted on.
LABEL_COLUMNS = ["concept_id", "label"]

#: One ranking: ``(concept_id, score)`` pairs, best first.
Ranking = list[tuple[str, float]]


def label_table(concepts: pd.DataFrame) -> pd.DataFrame:
    """Turn a concept or occupation table into ``(concept_id, label)`` rows (preferred, then alternatives).

    Labels are stripped; a label repeated within one concept is kept once.

    Args:
        concepts: A table with columns ``id``, ``label`` and ``alt_labels`` (a list of strings per row), e.g.
            :data:`skillmatch.schema.CONCEPT_COLUMNS` or :data:`skillmatch.schema.OCCUPATION_COLUMNS`.

    Returns:
        A table with :data:`LABEL_COLUMNS`, one row per distinct label of each concept, in input order.

    Raises:
        ValueError: If a column is missing or a row holds an empty id/label or a non-list ``alt_labels``;
            the message names the row and field.
    """
    missing = [c for c in ("id", "label", "alt_labels") if c not in concepts.columns]
    if missing:
        raise ValueError(f"concept table is missing columns {missing}")
    rows: list[tuple[str, str]] = []
    for position, (concept_id, label, alts) in enumerate(
        zip(concepts["id"], concepts["label"], concepts["alt_labels"], strict=True)
    ):
        if isinstance(alts, str) or not isinstance(alts, list | tuple | np.ndarray):
            raise ValueError(f"concept table, row {position} [alt_labels]: expected a list of strings")
        seen: set[str] = set()
        for field, value in [("label", label), *(("alt_labels", alt) for alt in alts)]:
            text = value.strip() if isinstance(value, str) else ""
            if not text:
                raise ValueError(
                    f"concept table, row {position} [{field}]: empty or non-string label {value!r}"
                )
            if text not in seen:
                seen.add(text)
                rows.append((concept_id, text))
    return _validated_labels(pd.DataFrame(rows, columns=LABEL_COLUMNS))


def _validated_labels(labels: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise ValueError(f"label table is missing columns {missing} (expected {LABEL_COLUMNS})")
    if labels.empty:
        raise ValueError("label table has no rows")
    for field in LABEL_COLUMNS:
        values = labels[field]
        bad = [i for i, v in enumerate(values) if not isinstance(v, str) or not v.strip()]  # positions
        if bad:
            raise ValueError(
                f"label table, row {bad[0]} [{field}]: empty or non-string value {values.iloc[bad[0]]!r}"
            )
    return labels[LABEL_COLUMNS].reset_index(drop=True)


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not a single string")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{position}] is {type(text).__name__}, expected str")


class _LabelRanker(BaseEstimator):
    """Shared fitting and per-concept aggregation; subclasses score labels."""

    def fit(self, labels: pd.DataFrame, y: None = None) -> Self:
        """Index the labels.

        Args:
            labels: A table with columns ``concept_id`` and ``label`` (see :func:`label_table`).
            y: Ignored; present for the scikit-learn estimator contract.

        Returns:
            The fitted ranker.

        Raises:
            ValueError: If a column is missing, the table is empty, or a row has an empty id or label.
        """
        table = _validated_labels(labels)
        codes, uniques = pd.factorize(table["concept_id"])  # concepts in order of first appearance
        order = np.argsort(codes, kind="stable")
        self.concept_ids_ = np.asarray(uniques, dtype=object)
        self.labels_ = table["label"].to_numpy()[order]
        self.label_concepts_ = codes[order]
        self.label_starts_ = np.flatnonzero(np.r_[True, np.diff(self.label_concepts_) != 0])
        self._fit_labels(list(self.labels_))
        return self

    def rank(self, texts: Sequence[str], k: int = 10) -> list[Ranking]:
        """Rank the fitted concepts for each text.

        Args:
            texts: The texts to link.
            k: Maximum number of concepts per text (positive).

        Returns:
            One list of ``(concept_id, score)`` per text, best first, at most ``k`` long, without concepts
            whose score is 0.
        """
        check_is_fitted(self, "concept_ids_")
        _check_texts(texts)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        results: list[Ranking] = []
        for start in range(0, len(texts), self.batch_size):
            label_scores = self._score_labels(list(texts[start : start + self.batch_size]))
            concept_scores = np.maximum.reduceat(label_scores, self.label_starts_, axis=1)
            results.extend(self._top_k(row, k) for row in concept_scores)
        return results

    def _top_k(self, scores: np.ndarray, k: int) -> Ranking:
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            # keep everything tied with the k-th best so the stable tie-break below sees all of them
            threshold = np.partition(scores[candidates], -k)[-k]
            candidates = candidates[scores[candidates] >= threshold]
        order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
        return [(str(self.concept_ids_[i]), float(scores[i])) for i in order]

    def _fit_labels(self, labels: list[str]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _score_labels(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class TfidfLabelRanker(_LabelRanker):
    """Cosine similarity of word and character n-gram TF-IDF vectors between text and labels.

    Args:
        word_ngram_range: n-gram range of the word analyser.
        char_ngram_range: n-gram range of the ``char_wb`` analyser.
        sublinear_tf: Use ``1 + log(tf)``.
        strip_accents: Passed to :class:`~sklearn.feature_extraction.text.TfidfVectorizer`.
        batch_size: Texts scored at once (bounds memory: ``batch_size x n_labels`` floats).
    """

    def __init__(
        self,
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (3, 5),
        sublinear_tf: bool = True,
        strip_accents: str | None = "unicode",
        batch_size: int = 64,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.sublinear_tf = sublinear_tf
        self.strip_accents = strip_accents
        self.batch_size = batch_size

    def _fit_labels(self, labels: list[str]) -> None:
        common = {"sublinear_tf": self.sublinear_tf, "strip_accents": self.strip_accents}
        self.vectorizer_ = FeatureUnion(
            [
                ("word", TfidfVectorizer(analyzer="word", ngram_range=self.word_ngram_range, **common)),
                ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=self.char_ngram_range, **common)),
            ]
        )
        self.label_matrix_ = normalize(self.vectorizer_.fit_transform(labels))

    def _score_labels(self, texts: list[str]) -> np.ndarray:
        queries = normalize(self.vectorizer_.transform(texts))
        return (queries @ self.label_matrix_.T).toarray()


class BM25LabelRanker(_LabelRanker):
    """Okapi BM25 (the ``bm25s`` package) with each label as a document.

    Args:
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.
        method: BM25 variant understood by ``bm25s`` ("lucene", "robertson", "atire", "bm25l", "bm25+").
        stopwords: Stop-word list or language name for ``bm25s`` ("en"), or None to keep every word.
        stemmer: Optional callable ``word -> stem`` applied to text and labels.
        batch_size: Texts scored at once.
    """

    def __init__(
        self,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        stopwords: str | list[str] | None = "en",
        stemmer: Callable[[str], str] | None = None,
        batch_size: int = 64,
    ) -> None:
        self.k1 = k1
        self.b = b
        self.method = method
        self.stopwords = stopwords
        self.stemmer = stemmer
        self.batch_size = batch_size

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        return self.tokenizer_.tokenize(texts, return_as="string", show_progress=False)

    def _fit_labels(self, labels: list[str]) -> None:
        self.tokenizer_ = Tokenizer(stopwords=self.stopwords or [], stemmer=self.stemmer)
        self.bm25_ = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        self.bm25_.index(self._tokenize(labels), show_progress=False)

    def _score_labels(self, texts: list[str]) -> np.ndarray:
        scores = np.zeros((len(texts), len(self.labels_)), dtype=np.float32)
        for row, tokens in enumerate(self._tokenize(texts)):
            known = [t for t in tokens if t and t in self.bm25_.vocab_dict]  # '' marks an empty text
            if known:
                scores[row] = self.bm25_.get_scores(known)
        return scores
