"""Link free text to taxonomy concepts, with a score and the evidence for each link.

Text is split into sentences and skill-bearing phrases (:mod:`skillmatch.phrases`); every segment is
encoded and searched against the label index (preferred and alternative labels, each row pointing to its
concept); hits are aggregated per concept (best hit wins, and its segment and label are the evidence); the
concepts above the threshold are returned, best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from skillmatch.encoder import Encoder, ProgressFn
from skillmatch.index import VectorIndex
from skillmatch.phrases import segments

#: Columns of the label table that sits beside the label index (row i of the table is row i of the index).
LABEL_COLUMNS = ["concept_id", "text", "kind"]


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


class SkillLinker:
    """Links texts to concepts through a label index.

    Args:
        encoder: the encoder that built the label index.
        labels: the label table (:data:`LABEL_COLUMNS`), row-aligned with ``index``.
        index: the label index.
        concept_labels: concept id -> preferred label, for the output.
        candidates: label hits fetched per segment before aggregation.
        min_score: default threshold.
        top_k: default number of concepts per text.
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
    ) -> None:
        if len(labels) != index.rows:
            raise ValueError(f"label table has {len(labels)} rows but the index has {index.rows}")
        self.encoder = encoder
        self.index = index
        self.concept_labels = concept_labels
        self.candidates = candidates
        self.min_score = min_score
        self.top_k = top_k
        self._label_concepts = labels["concept_id"].to_numpy()
        self._label_texts = labels["text"].to_numpy()

    def _search_segments(
        self, all_segments: list[str], progress: ProgressFn | None
    ) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
        unique = list(dict.fromkeys(all_segments))
        position = {seg: i for i, seg in enumerate(unique)}
        vectors = self.encoder.encode(unique, progress=progress)
        scores, rows = self.index.search(vectors, self.candidates)
        return position, scores, rows

    def _aggregate(
        self, segs: Sequence[str], position: dict[str, int], scores: np.ndarray, rows: np.ndarray
    ) -> dict[str, LinkedSkill]:
        best: dict[str, LinkedSkill] = {}
        for seg in segs:
            p = position[seg]
            for score, row in zip(scores[p], rows[p], strict=True):
                if row < 0:
                    continue
                cid = self._label_concepts[row]
                current = best.get(cid)
                if current is None or score > current.score:
                    best[cid] = LinkedSkill(
                        id=cid,
                        label=self.concept_labels.get(cid, cid),
                        score=round(float(score), 4),
                        evidence=seg,
                        matched_label=str(self._label_texts[row]),
                    )
        return best

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
        per_text = [segments(t) for t in texts]
        flat = [s for segs in per_text for s in segs]
        if not flat:
            return [[] for _ in texts]
        position, scores, rows = self._search_segments(flat, progress)
        out: list[list[LinkedSkill]] = []
        for segs in per_text:
            found = self._aggregate(segs, position, scores, rows)
            ranked = sorted(
                (s for s in found.values() if s.score >= threshold), key=lambda s: (-s.score, s.id)
            )
            out.append(ranked[:top_k])
        return out

    def normalise(
        self, phrases: Sequence[str], *, min_score: float | None = None, top_k: int = 1
    ) -> list[list[LinkedSkill]]:
        """Map each phrase of an explicit skill list, as a whole, to its best concepts (no splitting)."""
        threshold = self.min_score if min_score is None else min_score
        clean = [p.strip() for p in phrases]
        non_empty = [p for p in clean if p]
        if not non_empty:
            return [[] for _ in phrases]
        position, scores, rows = self._search_segments(non_empty, None)
        out: list[list[LinkedSkill]] = []
        for phrase in clean:
            if not phrase:
                out.append([])
                continue
            found = self._aggregate([phrase], position, scores, rows)
            ranked = sorted(
                (s for s in found.values() if s.score >= threshold), key=lambda s: (-s.score, s.id)
            )
            out.append(ranked[:top_k])
        return out
