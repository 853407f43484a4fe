"""Link free text to taxonomy concepts, with a score and the evidence for each link.

Text is split into sentences and skill-bearing phrases (:mod:`skillmatch.phrases`); short phrases also yield
their word n-grams. Every segment is encoded and searched against the label index (preferred and alternative
labels, each row pointing to its concept). Three options refine the scores (all off in the class defaults, on
in the settings; see :func:`link_options` and docs/evaluation.md for what each is worth):

* lexical fusion: each segment is also matched against the labels' words (TF-IDF, fitted on the label table
  when the linker is made) and a label scores ``(1 - w) * cosine + w * lexical``;
* sentence context: a label hit by a phrase scores ``(1 - c) * phrase score + c * cosine(sentence, label)``;
* n-grams: phrases of at most ``ngram_max_words`` words add their word 1-3-grams as segments.

Hits are aggregated per concept (best hit wins, and its segment and label are the evidence); the concepts
above the threshold are returned, best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from skillmatch.config import Settings
from skillmatch.encoder import Encoder, ProgressFn
from skillmatch.index import VectorIndex
from skillmatch.phrases import sentence_segments, word_ngrams

#: Columns of the label table that sits beside the label index (row i of the table is row i of the index).
LABEL_COLUMNS = ["concept_id", "text", "kind"]

#: Segments whose lexical similarities are computed at once (bounds the memory of the sparse result).
_LEXICAL_CHUNK = 1024

#: Words of the lexical matcher: letters/digits, keeping ``+`` and ``#`` inside words (C++, C#).
_TOKEN_PATTERN = r"(?u)\w[\w+#]*"


@dataclass
class LinkedSkill:
    """One concept linked to a text."""

    id: str
    label: str
    score: float
    evidence: str
    matched_label: str

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return asdict(self)


def label_table(frame: pd.DataFrame, *, include_alt: bool = True) -> pd.DataFrame:
    """One row per (concept, label text): the preferred label, then each alternative label.

    ``frame`` needs ``id``, ``label`` and ``alt_labels`` columns (concepts or occupations). Identical texts
    of one concept are kept once; the same text on two concepts is kept for both.
    """
    rows: list[tuple[str, str, str]] = []
    for cid, label, alts in zip(frame["id"], frame["label"], frame["alt_labels"], strict=True):
        seen = {str(label).strip().lower()}
        rows.append((cid, str(label).strip(), "preferred"))
        if include_alt:
            for alt in alts if isinstance(alts, (list, tuple, np.ndarray)) else []:
                text = str(alt).strip()
                if text and text.lower() not in seen:
                    seen.add(text.lower())
                    rows.append((cid, text, "alt"))
    return pd.DataFrame(rows, columns=LABEL_COLUMNS)


def link_options(settings: Settings) -> dict[str, Any]:
    """The :class:`SkillLinker` keyword options that ``settings`` (its ``link_*`` fields) describe.

    The class defaults give the plain dense linker; the tuned options of the product live in the settings
    (see docs/evaluation.md), so every place that makes a linker for a bundle should pass these.
    """
    return {
        "candidates": settings.link_candidates,
        "min_score": settings.link_min_score,
        "top_k": settings.link_top_k,
        "lexical_weight": settings.link_lexical_weight,
        "context_weight": settings.link_context_weight,
        "ngram_max_words": settings.link_ngram_max_words,
        "multi_hit_bonus": settings.link_multi_hit_bonus,
    }


class LabelLexicon:
    """Word TF-IDF vectors of the label texts, for the lexical half of hybrid scoring.

    Fitting on the full ESCO label table (99,145 labels) takes about 0.3 s, so it is done when a linker is made
    rather than stored in the bundle.

    Args:
        texts: The label texts, row-aligned with the label index.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        self.vectorizer = TfidfVectorizer(
            token_pattern=_TOKEN_PATTERN, sublinear_tf=True, strip_accents="unicode", dtype=np.float32
        )
        self.matrix = self.vectorizer.fit_transform(list(texts)).tocsr()
        self._matrix_t = self.matrix.T.tocsr()

    def similarity(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Cosine similarity of each text to every label, as a sparse ``(len(texts), n_labels)`` matrix."""
        return (self.vectorizer.transform(list(texts)) @ self._matrix_t).tocsr()


class SkillLinker:
    """Links texts to concepts through a label index.

    Args:
        encoder: the encoder that built the label index.
        labels: the label table (:data:`LABEL_COLUMNS`), row-aligned with ``index``.
        index: the label index.
        concept_labels: concept id -> preferred label, for the output.
        candidates: label hits fetched per segment (from each of the dense and lexical searches) before
            aggregation.
        min_score: default threshold.
        top_k: default number of concepts per text.
        lexical_weight: weight ``w`` of the lexical (word TF-IDF) similarity of a segment and a label in the
            label's score, ``(1 - w) * cosine + w * lexical``; 0 turns lexical fusion off.
        context_weight: weight ``c`` of the sentence a phrase comes from: a label hit by a phrase scores
            ``(1 - c) * phrase score + c * cosine(sentence, label)``, so a phrase's hits that do not fit the
            rest of its sentence sink; 0 turns this off.
        ngram_max_words: segments of at most this many words also contribute their word n-grams (1 to 3 words)
            as segments, so unpunctuated keyword lists ("javascript reactjs java") link each keyword; 0 turns
            this off.
        multi_hit_bonus: added to a concept's score for each further segment of the text that ranks it among
            its candidates (at most 3 further segments count); 0 turns it off.
    """

    def __init__(
        self,
        encoder: Encoder,
        labels: pd.DataFrame,
        index: VectorIndex,
        concept_labels: dict[str, str],
        *,
        candidates: int = 40,
        min_score: float = 0.6,
        top_k: int = 10,
        lexical_weight: float = 0.0,
        context_weight: float = 0.0,
        ngram_max_words: int = 0,
        multi_hit_bonus: float = 0.0,
    ) -> None:
        if len(labels) != index.rows:
            raise ValueError(f"label table has {len(labels)} rows but the index has {index.rows}")
        for name, value in (("lexical_weight", lexical_weight), ("context_weight", context_weight)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}")
        if ngram_max_words < 0 or candidates < 1:
            raise ValueError("ngram_max_words must be >= 0 and candidates >= 1")
        self.encoder = encoder
        self.index = index
        self.labels = labels.reset_index(drop=True)
        self.concept_labels = concept_labels
        self.candidates = candidates
        self.min_score = min_score
        self.top_k = top_k
        self.lexical_weight = lexical_weight
        self.context_weight = context_weight
        self.ngram_max_words = ngram_max_words
        self.multi_hit_bonus = multi_hit_bonus
        self._label_concepts = self.labels["concept_id"].to_numpy()
        self._label_texts = self.labels["text"].to_numpy()
        self.lexicon = LabelLexicon(self._label_texts) if lexical_weight > 0 and len(self.labels) else None

    def options(self) -> dict[str, Any]:
        """The keyword options of this linker (to make a like one, e.g. with :meth:`with_labels`)."""
        return {
            "candidates": self.candidates,
            "min_score": self.min_score,
            "top_k": self.top_k,
            "lexical_weight": self.lexical_weight,
            "context_weight": self.context_weight,
            "ngram_max_words": self.ngram_max_words,
            "multi_hit_bonus": self.multi_hit_bonus,
        }

    def with_labels(self, labels: pd.DataFrame, vectors: np.ndarray, **overrides: Any) -> SkillLinker:
        """A linker with the same encoder and options over another label table (e.g. with labels held out).

        Args:
            labels: The new label table (:data:`LABEL_COLUMNS`).
            vectors: Their unit vectors from this linker's encoder, row-aligned with ``labels``.
            **overrides: Options to change (see the class arguments).
        """
        index = VectorIndex(kind="flat").build(vectors)
        return SkillLinker(
            self.encoder, labels, index, self.concept_labels, **{**self.options(), **overrides}
        )

    # --- searching ----------------------------------------------------------------------------------------

    def _search_segments(
        self, unique: list[str], progress: ProgressFn | None, context: Sequence[str] = ()
    ) -> _Hits:
        """Encode the distinct segments (and the context sentences, which are encoded but not searched) and
        score the candidate label rows of each segment: dense, plus lexical when it is on."""
        extra = [c for c in dict.fromkeys(context) if c not in set(unique)]
        vectors = self.encoder.encode([*unique, *extra], progress=progress)
        hits = _Hits(position={text: i for i, text in enumerate([*unique, *extra])}, vectors=vectors)
        dense_scores, dense_rows = self.index.search(vectors[: len(unique)], self.candidates)
        w = self.lexical_weight
        lexical: sparse.csr_matrix | None = None
        for p in range(len(unique)):
            valid = dense_rows[p] >= 0
            rows, scores = dense_rows[p][valid].astype(np.int64), dense_scores[p][valid]
            if self.lexicon is not None and p % _LEXICAL_CHUNK == 0:
                # in chunks, to bound memory: a common word matches thousands of labels
                lexical = self.lexicon.similarity(unique[p : p + _LEXICAL_CHUNK])
                lexical.sort_indices()
            if lexical is not None:
                q = p % _LEXICAL_CHUNK
                lex_rows = lexical.indices[lexical.indptr[q] : lexical.indptr[q + 1]]
                lex_vals = lexical.data[lexical.indptr[q] : lexical.indptr[q + 1]]
                top = lex_rows
                if len(top) > self.candidates:
                    top = top[np.argpartition(-lex_vals, self.candidates - 1)[: self.candidates]]
                rows = np.union1d(rows, top).astype(np.int64)
                cosine = self._row_vectors(rows) @ vectors[p]
                scores = (1 - w) * cosine + w * _lookup(lex_rows, lex_vals, rows)
            hits.rows.append(rows)
            hits.scores.append(np.asarray(scores, dtype=np.float32))
        return hits

    def _row_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.index.index_.reconstruct_batch(rows) if len(rows) else np.zeros((0, self.index.info_.dim))

    def _aggregate(
        self,
        parts: Sequence[tuple[str, str | None]],
        hits: _Hits,
    ) -> dict[str, LinkedSkill]:
        """Best hit per concept over the ``(segment, parent sentence or None)`` parts of one text."""
        best: dict[str, LinkedSkill] = {}
        counts: dict[str, int] = {}
        beta = self.context_weight
        for seg, parent in parts:
            p = hits.position[seg]
            rows, scores = hits.rows[p], hits.scores[p]
            if beta and parent is not None and parent != seg and len(rows):
                context = self._row_vectors(rows) @ hits.vectors[hits.position[parent]]
                scores = (1 - beta) * scores + beta * context
            seen: set[str] = set()
            for score, row in zip(scores, rows, strict=True):
                cid = self._label_concepts[row]
                if cid not in seen:
                    seen.add(cid)
                    counts[cid] = counts.get(cid, 0) + 1
                current = best.get(cid)
                if current is None or score > current.score:
                    best[cid] = LinkedSkill(
                        id=cid,
                        label=self.concept_labels.get(cid, cid),
                        score=float(score),
                        evidence=seg,
                        matched_label=str(self._label_texts[row]),
                    )
        for cid, skill in best.items():
            skill.score = round(skill.score + self.multi_hit_bonus * min(3, counts[cid] - 1), 4)
        return best

    def _parts(self, text: str) -> list[tuple[str, str]]:
        """The ``(segment, parent sentence)`` parts of one text: phrases, then n-grams of the short ones."""
        parts: list[tuple[str, str]] = []
        groups = sentence_segments(text)
        seen = {seg.lower() for _, segs in groups for seg in segs}
        for sentence, segs in groups:
            parts.extend((seg, sentence) for seg in segs)
            if not self.ngram_max_words:
                continue
            for seg in segs:
                if len(seg.split()) > self.ngram_max_words:
                    continue
                for gram in word_ngrams(seg, 3):
                    if gram.lower() not in seen:
                        seen.add(gram.lower())
                        parts.append((gram, sentence))
        return parts

    def link(
        self,
        texts: Sequence[str],
        *,
        top_k: int | None = None,
        min_score: float | None = None,
        progress: ProgressFn | None = None,
    ) -> list[list[LinkedSkill]]:
        """Link each text to its best concepts, best first (same order and length as ``texts``)."""
        top_k = self.top_k if top_k is None else top_k
        threshold = self.min_score if min_score is None else min_score
        per_text = [self._parts(t) for t in texts]
        flat = [seg for parts in per_text for seg, _ in parts]
        if not flat:
            return [[] for _ in texts]
        parents = [parent for parts in per_text for _, parent in parts] if self.context_weight else []
        hits = self._search_segments(list(dict.fromkeys(flat)), progress, parents)
        return [self._ranked(self._aggregate(parts, hits), threshold, top_k) for parts in per_text]

    @staticmethod
    def _ranked(found: dict[str, LinkedSkill], threshold: float, top_k: int) -> list[LinkedSkill]:
        ranked = sorted((s for s in found.values() if s.score >= threshold), key=lambda s: (-s.score, s.id))
        return ranked[:top_k]

    def normalise(
        self, phrases: Sequence[str], *, min_score: float | None = None, top_k: int = 1
    ) -> list[list[LinkedSkill]]:
        """Map each phrase of an explicit skill list, as a whole, to its best concepts (no splitting)."""
        threshold = self.min_score if min_score is None else min_score
        clean = [p.strip() for p in phrases]
        non_empty = list(dict.fromkeys(p for p in clean if p))
        if not non_empty:
            return [[] for _ in phrases]
        hits = self._search_segments(non_empty, None)
        return [
            self._ranked(self._aggregate([(phrase, None)], hits), threshold, top_k) if phrase else []
            for phrase in clean
        ]


def _lookup(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``values`` at the positions of ``wanted`` in the sorted ``keys`` (0 where a key is absent)."""
    out = np.zeros(len(wanted), dtype=np.float32)
    if len(keys):
        where = np.searchsorted(keys, wanted)
        found = where < len(keys)
        found[found] = keys[where[found]] == wanted[found]
        out[found] = values[where[found]]
    return out


@dataclass
class _Hits:
    """Candidate label rows and their scores for each distinct segment of a batch."""

    position: dict[str, int]
    vectors: np.ndarray
    rows: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
