"""Link free text to taxonomy concepts, with a score and the evidence for each link.

Text is split into sentences and skill-bearing phrases (:mod:`skillmatch.linking.phrases`); short phrases also yield
their word n-grams. Every segment is encoded and searched against the label index (preferred and alternative
labels, each row pointing to its concept). Three options refine the scores (all off in the class defaults, on
in the settings; see :func:`link_options` and docs/evaluation.md for what each is worth):

* lexical fusion: each segment is also matched against the labels' words (TF-IDF, fitted on the label table
  when the linker is made) and a label scores ``(1 - w) * cosine + w * lexical``;
* sentence context: a label hit by a phrase scores ``(1 - c) * phrase score + c * cosine(sentence, label)``;
* n-grams: phrases of at most ``ngram_max_words`` words add their word 1-3-grams as segments, those that pass
  the lexical pre-filter ``ngram_filter`` (:mod:`skillmatch.linking.vocabulary`; in the settings: every word of
  the n-gram is a word of some label).

Hits are aggregated per concept (best hit wins, and its segment and label are the evidence); the concepts
above the threshold are returned, best first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from skillmatch.config import Settings
from skillmatch.encoding.base import Encoder, ProgressFn
from skillmatch.encoding.lru import LRU
from skillmatch.index import VectorIndex
from skillmatch.linking.phrases import sentence_segments, word_ngrams
from skillmatch.linking.vocabulary import LabelVocabulary
from skillmatch.schema import looks_like_id

#: Columns of the label table that sits beside the label index (row i of the table is row i of the index).
LABEL_COLUMNS = ["concept_id", "text", "kind"]

#: Segments whose lexical similarities are computed at once (bounds the memory of the sparse result).
_LEXICAL_CHUNK = 1024

#: Texts :meth:`SkillLinker.link` links in one pass. A pass holds every segment of its texts with its vector and
#: candidate hits, so memory grew with the texts of one call (100,000 postings at once passed 10 GB); in passes of
#: this many it stays bounded, and a segment seen in an earlier pass comes back from the encoder's caches.
LINK_PASS_TEXTS = 1000

#: Words of the lexical matcher: letters/digits, keeping ``+`` and ``#`` inside words (C++, C#).
_TOKEN_PATTERN = r"(?u)\w[\w+#]*"


@dataclass(frozen=True)
class LinkedSkill:
    """One concept linked to a text."""

    id: str
    label: str
    score: float
    evidence: str
    matched_label: str

    def to_dict(self) -> dict[str, Any]:
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
        "ngram_filter": settings.link_ngram_filter,
        "multi_hit_bonus": settings.link_multi_hit_bonus,
    }


def exact_key(text: str) -> str:
    """The key of exact label matching: case-folded, white space collapsed."""
    return " ".join(str(text).casefold().split())


class ExactLabels:
    """Exact resolution of an explicit skill: a taxonomy id, else a preferred label, else an alternative label.

    Rules (docs/matching.md): a text that is a concept id is that concept; a text equal (case-folded, white space
    collapsed) to a preferred label is that concept, before any alternative label of another concept with the same
    text ("CSS" is the skill "CSS", not "style sheet languages" whose alternative label it also is); a text equal to
    the alternative labels of several concepts is ambiguous and goes to the one the dense ranking of that text puts
    first among them (the lowest id when none of them is ranked).

    Args:
        labels: the label table (``concept_id``, ``text``, ``kind``: ``preferred`` or ``alt``).
        concept_ids: every concept id of the taxonomy.
    """

    def __init__(self, labels: pd.DataFrame, concept_ids: Iterable[str]) -> None:
        self.ids = {str(c) for c in concept_ids}
        self.preferred: dict[str, list[str]] = {}
        self.alternative: dict[str, list[str]] = {}
        for cid, text, kind in zip(labels["concept_id"], labels["text"], labels["kind"], strict=True):
            table = self.preferred if kind == "preferred" else self.alternative
            found = table.setdefault(exact_key(text), [])
            if cid not in found:
                found.append(str(cid))

    def candidates(self, text: str) -> tuple[list[str], str]:
        """The concepts ``text`` names exactly and how (``id``, ``preferred label``, ``alternative label``)."""
        text = text.strip()
        if text in self.ids:
            return [text], "id"
        key = exact_key(text)
        if key in self.preferred:
            return self.preferred[key], "preferred label"
        if key in self.alternative:
            return self.alternative[key], "alternative label"
        return [], ""


def options_for(manifest: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The linker options of a bundle: those its manifest recorded at build time, unless set in ``settings``.

    An option set explicitly in ``settings`` (e.g. ``SKILLMATCH_LINK_MIN_SCORE``) wins; otherwise a served
    bundle links like it was built.
    """
    options = link_options(settings)
    explicit = settings.model_fields_set
    for key, value in manifest.get("linking", {}).items():
        if key in options and f"link_{key}" not in explicit:
            options[key] = value
    return options


def linker_for(
    encoder: Encoder,
    labels: pd.DataFrame,
    label_index: VectorIndex,
    concepts: pd.DataFrame,
    options: Mapping[str, Any],
    *,
    memory_cache: int = 0,
) -> SkillLinker:
    """The linker over a label table and its index, with ``options`` (:func:`link_options`, :func:`options_for`).

    ``encoder`` should be the query-time chain (:func:`skillmatch.encoding.factory.query_chain`), so a segment that
    is a label takes its vector from the index; normalised phrases are kept in an LRU of ``memory_cache`` entries.
    Neither changes results.
    """
    names = dict(zip(concepts["id"], concepts["label"], strict=True))
    return SkillLinker(encoder, labels, label_index, names, memory_cache=memory_cache, **dict(options))


class LabelLexicon:
    """Word TF-IDF vectors of the label texts, for the lexical half of hybrid scoring.

    Fitting on the full ESCO label table (99,145 labels) takes about 0.3 s, so it is done when a linker is made
    rather than stored in the bundle.

    Args:
        texts: The label texts, row-aligned with the label index.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        self.vectorizer = TfidfVectorizer(
            token_pattern=_TOKEN_PATTERN, sublinear_tf=True, strip_accents="unicode", dtype=np.float32
        )
        self.matrix = self.vectorizer.fit_transform(list(texts)).tocsr()
        self._matrix_t = self.matrix.T.tocsr()
        self._analyse = self.vectorizer.build_analyzer()
        self._vocabulary: dict[str, int] = self.vectorizer.vocabulary_
        self._idf = np.asarray(self.vectorizer.idf_, dtype=np.float32)

    def vectors(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """The texts' TF-IDF vectors (what the fitted vectorizer's ``transform`` gives).

        This skips scikit-learn's per-call input checks, which cost more than the work itself for the few
        phrases of a request.
        """
        indptr: list[int] = [0]
        indices: list[int] = []
        counts: list[int] = []
        for text in texts:
            words = Counter(j for w in self._analyse(text) if (j := self._vocabulary.get(w)) is not None)
            indices.extend(words)
            counts.extend(words.values())
            indptr.append(len(indices))
        cols = np.asarray(indices, dtype=np.int64)
        data = (1 + np.log(np.asarray(counts, dtype=np.float32))) * self._idf[cols]
        starts = np.asarray(indptr, dtype=np.int64)
        row_of = np.repeat(np.arange(len(texts)), np.diff(starts))
        norms = np.sqrt(np.bincount(row_of, weights=data * data, minlength=len(texts)))
        data /= norms[row_of].astype(np.float32)
        return sparse.csr_matrix((data, cols, starts), shape=(len(texts), len(self._idf)), dtype=np.float32)

    def similarity(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Cosine similarity of each text to every label, as a sparse ``(len(texts), n_labels)`` matrix."""
        return (self.vectors(texts) @ self._matrix_t).tocsr()


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
        ngram_filter: which n-grams become segments (:data:`~skillmatch.linking.vocabulary.NGRAM_FILTERS`):
            ``off`` keeps all; ``words``, ``cooccur``, ``contiguous`` and ``label`` keep only those whose words
            are label words, occur together in one label, occur there in order, or make up a whole label. The
            others are neither encoded nor searched (sentences and phrases always are).
        multi_hit_bonus: added to a concept's score for each further segment of the text that ranks it among
            its candidates (at most 3 further segments count); 0 turns it off.
        memory_cache: entries of an in-memory LRU of :meth:`normalise` results by (phrase, threshold, top_k),
            so a phrase that comes back (a server sees the same skills again and again) is neither encoded nor
            searched again; 0 turns it off. Not a linking option: results are the same either way.
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
        ngram_filter: str = "off",
        multi_hit_bonus: float = 0.0,
        memory_cache: int = 0,
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
        self.ngram_filter = ngram_filter
        self.multi_hit_bonus = multi_hit_bonus
        codes, concept_ids = pd.factorize(self.labels["concept_id"])
        self._label_codes = np.asarray(codes, dtype=np.int64)
        self._concept_ids = np.asarray(concept_ids, dtype=object)
        self._label_texts = self.labels["text"].to_numpy()
        self.lexicon = LabelLexicon(self._label_texts) if lexical_weight > 0 and len(self.labels) else None
        # validates the mode; builds its index only when n-grams are on and filtered
        self.vocabulary = LabelVocabulary(self._label_texts, ngram_filter if ngram_max_words else "off")
        self.exact = ExactLabels(self.labels, concept_labels)
        self._normalised: LRU[tuple[str, float, int], tuple[LinkedSkill, ...]] | None = (
            LRU(memory_cache) if memory_cache > 0 else None
        )

    def options(self) -> dict[str, Any]:
        """The keyword options of this linker (to make a like one, e.g. with :meth:`with_labels`)."""
        return {
            "candidates": self.candidates,
            "min_score": self.min_score,
            "top_k": self.top_k,
            "lexical_weight": self.lexical_weight,
            "context_weight": self.context_weight,
            "ngram_max_words": self.ngram_max_words,
            "ngram_filter": self.ngram_filter,
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
        """Encode the distinct segments and score the candidate label rows of each segment.

        The context sentences are encoded too but not searched. Scores are dense, plus lexical when it is on.
        """
        known = set(unique)
        extra = [c for c in dict.fromkeys(context) if c not in known]
        vectors = self.encoder.encode([*unique, *extra], progress=progress)
        hits = _Hits(position={text: i for i, text in enumerate([*unique, *extra])}, vectors=vectors)
        dense_scores, dense_rows = self.index.search(vectors[: len(unique)], self.candidates)
        w = self.lexical_weight
        lexical: sparse.csr_matrix | None = None
        # one segment's lexical similarities scattered over all label rows (zeroed again after each segment)
        scratch = np.zeros(self.index.rows if self.lexicon is not None else 0, dtype=np.float32)
        for p in range(len(unique)):
            valid = dense_rows[p] >= 0
            rows, scores = dense_rows[p][valid].astype(np.int64), dense_scores[p][valid]
            if self.lexicon is not None and p % _LEXICAL_CHUNK == 0:
                # in chunks, to bound memory: a common word matches thousands of labels
                lexical = self.lexicon.similarity(unique[p : p + _LEXICAL_CHUNK])
            if lexical is not None:
                q = p % _LEXICAL_CHUNK
                lex_rows = lexical.indices[lexical.indptr[q] : lexical.indptr[q + 1]]
                lex_vals = lexical.data[lexical.indptr[q] : lexical.indptr[q + 1]]
                top = lex_rows
                if len(top) > self.candidates:
                    top = top[np.argpartition(-lex_vals, self.candidates - 1)[: self.candidates]]
                rows = np.union1d(rows, top).astype(np.int64)
                cosine = self._row_vectors(rows) @ vectors[p]
                scratch[lex_rows] = lex_vals
                scores = (1 - w) * cosine + w * scratch[rows]
                scratch[lex_rows] = 0.0
            hits.rows.append(rows)
            hits.scores.append(np.asarray(scores, dtype=np.float32))
        return hits

    def _row_vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.index.reconstruct(rows)

    def _aggregate(self, parts: Sequence[tuple[str, str | None]], hits: _Hits) -> _Found:
        """Best hit per concept over the ``(segment, parent sentence or None)`` parts of one text.

        Vectorised over all label hits of the text: each hit's score gets the sentence context of its part, the
        best hit per concept wins (the first one on ties, in part and candidate order) and its segment and label
        are the evidence; the multi-hit bonus counts the distinct parts that hit a concept.
        """
        if not parts:
            return _Found.empty()
        positions = np.fromiter((hits.position[seg] for seg, _ in parts), dtype=np.int64, count=len(parts))
        lengths = np.fromiter((len(hits.rows[p]) for p in positions), dtype=np.int64, count=len(parts))
        if not lengths.sum():
            return _Found.empty()
        rows = np.concatenate([hits.rows[p] for p in positions])
        scores = np.concatenate([hits.scores[p] for p in positions])
        part_of = np.repeat(np.arange(len(parts)), lengths)
        beta = self.context_weight
        if beta:
            parent_of = np.fromiter(
                (
                    hits.position[parent] if parent is not None and parent != seg else -1
                    for seg, parent in parts
                ),
                dtype=np.int64,
                count=len(parts),
            )[part_of]
            mask = parent_of >= 0
            if mask.any():
                # cosine of each hit's label with its part's sentence, over the distinct labels and sentences
                labels, label_at = np.unique(rows[mask], return_inverse=True)
                sentences, sentence_at = np.unique(parent_of[mask], return_inverse=True)
                cosine = self._row_vectors(labels) @ hits.vectors[sentences].T
                scores = scores.copy()
                scores[mask] = (1 - beta) * scores[mask] + beta * cosine[label_at, sentence_at]
        concepts = self._label_codes[rows]
        # best first within each concept, the earliest hit first among equal scores
        order = np.lexsort((np.arange(len(rows)), -scores, concepts))
        first = np.ones(len(order), dtype=bool)
        first[1:] = concepts[order[1:]] != concepts[order[:-1]]
        best = order[first]
        final = scores[best].astype(np.float64)
        if self.multi_hit_bonus:
            pairs = np.unique(concepts * len(parts) + part_of)
            counts = np.bincount(pairs // len(parts), minlength=len(self._concept_ids))[concepts[best]]
            final = final + self.multi_hit_bonus * np.minimum(3, counts - 1)
        return _Found(concepts[best], final, part_of[best], rows[best], parts)

    def _ranked(self, found: _Found, threshold: float, top_k: int) -> list[LinkedSkill]:
        """The concepts of ``found`` scoring at least ``threshold`` (scores rounded to 4 places), best first."""
        if top_k <= 0:
            return []
        keep = np.flatnonzero(found.scores >= threshold - 1e-4)
        if len(keep) > top_k:
            # only the concepts that can still be among the best top_k once scores are rounded
            kth = np.partition(found.scores[keep], len(keep) - top_k)[len(keep) - top_k]
            keep = keep[found.scores[keep] >= kth - 1e-4]
        skills = [
            LinkedSkill(
                id=(cid := str(self._concept_ids[found.concepts[i]])),
                label=self.concept_labels.get(cid, cid),
                score=round(float(found.scores[i]), 4),
                evidence=found.parts[found.part[i]][0],
                matched_label=str(self._label_texts[found.rows[i]]),
            )
            for i in keep
        ]
        ranked = sorted((s for s in skills if s.score >= threshold), key=lambda s: (-s.score, s.id))
        return ranked[:top_k]

    def parts(self, text: str) -> list[tuple[str, str]]:
        """The ``(segment, parent sentence)`` parts of one text: the segments that :meth:`link` searches.

        These are the sentences and phrases, then the n-grams of the short ones that pass the n-gram filter.
        """
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
                        if self.vocabulary.keeps(gram):
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
        """Link each text to its best concepts, best first (same order and length as ``texts``).

        Texts are linked in passes of :data:`LINK_PASS_TEXTS`; ``progress`` gets ``(texts done, texts)``.
        """
        top_k = self.top_k if top_k is None else top_k
        threshold = self.min_score if min_score is None else min_score
        out: list[list[LinkedSkill]] = []
        for start in range(0, len(texts), LINK_PASS_TEXTS):
            part = texts[start : start + LINK_PASS_TEXTS]
            step = None
            if progress is not None:

                def step(done: int, total: int, start: int = start, size: int = len(part)) -> None:
                    progress(start + (size * done // total if total else size), len(texts))

            out.extend(self._link_pass(part, top_k, threshold, step))
        return out

    def _link_pass(
        self, texts: Sequence[str], top_k: int, threshold: float, progress: ProgressFn | None
    ) -> list[list[LinkedSkill]]:
        """One pass of :meth:`link`: the texts' distinct segments encoded and searched at once."""
        per_text = [self.parts(t) for t in texts]
        flat = [seg for parts in per_text for seg, _ in parts]
        if not flat:
            if progress is not None:
                progress(len(texts), len(texts))
            return [[] for _ in texts]
        parents = [parent for parts in per_text for _, parent in parts] if self.context_weight else []
        hits = self._search_segments(list(dict.fromkeys(flat)), progress, parents)
        return [self._ranked(self._aggregate(parts, hits), threshold, top_k) for parts in per_text]

    def normalise(
        self, phrases: Sequence[str], *, min_score: float | None = None, top_k: int = 1
    ) -> list[list[LinkedSkill]]:
        """Map each phrase of an explicit skill list, as a whole, to its best concepts (no splitting).

        A phrase that names a concept exactly (its id, a preferred label, an alternative label; see
        :class:`ExactLabels`) resolves to it with score 1.0, ahead of any embedding neighbour. A phrase written as
        a taxonomy id that the taxonomy does not have links to nothing (see :meth:`unknown_ids`).
        """
        threshold = self.min_score if min_score is None else min_score
        clean = [p.strip() for p in phrases]
        keys = {p: (p, float(threshold), top_k) for p in dict.fromkeys(p for p in clean if p)}
        cache = self._normalised
        done: dict[tuple[str, float, int], tuple[LinkedSkill, ...]] = (
            cache.get_many(keys.values()) if cache is not None else {}
        )
        todo = [p for p, key in keys.items() if key not in done]
        exact = {p: self.exact.candidates(p) for p in todo}
        unknown = {p for p in todo if not exact[p][0] and looks_like_id(p)}
        # the dense ranking decides ambiguous exact matches and fills the places after an exact match
        dense = [p for p in todo if p not in unknown and (len(exact[p][0]) != 1 or top_k > 1)]
        ranked: dict[str, list[LinkedSkill]] = {}
        if dense:
            hits = self._search_segments(dense, None)
            for p in dense:
                floor = -1.0 if exact[p][0] else threshold
                depth = top_k + len(exact[p][0]) + 10 if exact[p][0] else top_k
                ranked[p] = self._ranked(self._aggregate([(p, None)], hits), floor, depth)
        new: dict[tuple[str, float, int], tuple[LinkedSkill, ...]] = {}
        for p in todo:
            candidates, how = exact[p]
            if p in unknown:
                new[keys[p]] = ()
            elif not candidates:
                new[keys[p]] = tuple(ranked[p])
            else:
                order = [s.id for s in ranked.get(p, []) if s.id in candidates]
                chosen = order[0] if order else sorted(candidates)[0]
                label = self.concept_labels.get(chosen, chosen)
                matched = label if how in {"id", "preferred label"} else p
                first = LinkedSkill(chosen, label, 1.0, p, matched)
                rest = [s for s in ranked.get(p, []) if s.id != chosen and s.score >= threshold]
                new[keys[p]] = (first, *rest[: top_k - 1])
        if cache is not None:
            cache.put_many(new)
        done.update(new)
        return [list(done[keys[phrase]]) if phrase else [] for phrase in clean]

    def unknown_ids(self, phrases: Sequence[str]) -> list[str]:
        """The phrases written as taxonomy ids (URIs, URNs) that are not ids of this taxonomy, in order."""
        return [p.strip() for p in phrases if looks_like_id(p) and p.strip() not in self.exact.ids]


@dataclass
class _Hits:
    """Candidate label rows and their scores for each distinct segment of a batch."""

    position: dict[str, int]
    vectors: np.ndarray
    rows: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)


@dataclass
class _Found:
    """The best hit of each concept found in one text (parallel arrays), before thresholding."""

    concepts: np.ndarray  # concept codes (positions in the linker's concept ids)
    scores: np.ndarray  # the concept's score (float64, unrounded)
    part: np.ndarray  # the part (segment) of the text that gave the best hit
    rows: np.ndarray  # the label row of the best hit
    parts: Sequence[tuple[str, str | None]]

    @classmethod
    def empty(cls) -> _Found:
        """No concept found."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, np.zeros(0), none, none, ())
