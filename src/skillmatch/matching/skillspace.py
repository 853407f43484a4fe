"""How close two taxonomy skills are: the same, broader/narrower in the hierarchy, or semantically similar.

Gap analysis and recommendation both ask "does having (or learning) skill t count towards skill s, and how
much?". The answer is a credit in [0, 1]:

* 1.0 for the same concept;
* ``hierarchy_credit`` (0.5) when one is the direct broader concept of the other;
* the cosine similarity of their preferred labels, capped at ``similar_cap`` (0.8), when it is at least
  ``similar_threshold`` (0.75) — a close skill counts in part, never in full.

Similar concepts are found with a flat index over the concepts' preferred-label vectors, so a request
touches only the few concepts near each gap skill, whatever the catalogue size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from skillmatch.index import VectorIndex


@dataclass(frozen=True)
class Relation:
    """Skill ``other`` counts towards a skill with ``credit``; ``kind`` is exact|broader|narrower|similar."""

    other: str
    credit: float
    kind: str


@dataclass(frozen=True)
class SpaceParams:
    """Credits for partial matches (documented in docs/matching.md)."""

    hierarchy_credit: float = 0.5
    similar_threshold: float = 0.75
    similar_cap: float = 0.8
    neighbours: int = 12


class SkillSpace:
    """Relations between concepts of one bundle.

    Args:
        concepts: the taxonomy's concepts table (needs ``id`` and ``broader``).
        labels: the label table (``concept_id``, ``text``, ``kind``) row-aligned with ``label_index``.
        label_index: the bundle's label index (vectors of preferred labels are reconstructed from it).
        params: credits.
    """

    def __init__(
        self,
        concepts: pd.DataFrame,
        labels: pd.DataFrame,
        label_index: VectorIndex,
        params: SpaceParams | None = None,
    ) -> None:
        self.params = params or SpaceParams()
        preferred = labels.index[labels["kind"] == "preferred"].to_numpy()
        self.ids = labels["concept_id"].to_numpy()[preferred]
        self.row_of = {cid: i for i, cid in enumerate(self.ids)}
        vectors = label_index.reconstruct(preferred)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = VectorIndex(kind="flat").build(self.vectors)
        known = set(self.ids)
        self.broader: dict[str, set[str]] = {}
        self.narrower: dict[str, set[str]] = {}
        for cid, parents in zip(concepts["id"], concepts["broader"], strict=True):
            for parent in parents if isinstance(parents, (list, tuple, np.ndarray)) else []:
                if parent in known:
                    self.broader.setdefault(cid, set()).add(parent)
                    self.narrower.setdefault(parent, set()).add(cid)
        self._cache: dict[str, list[Relation]] = {}

    def warm(self) -> None:
        """Compute the related concepts of every skill now (a server does this once, before serving)."""
        self.related(self.ids.tolist())

    def related(self, skill_ids: Iterable[str]) -> dict[str, list[Relation]]:
        """For each skill, the concepts that count towards it (itself first), with their credit."""
        ids = list(dict.fromkeys(skill_ids))
        todo = [s for s in ids if s not in self._cache and s in self.row_of]
        if todo:
            p = self.params
            queries = self.vectors[[self.row_of[s] for s in todo]]
            scores, rows = self.index.search(queries, p.neighbours + 1)
            for sid, score_row, hit_row in zip(todo, scores, rows, strict=True):
                best: dict[str, Relation] = {sid: Relation(sid, 1.0, "exact")}
                for other in self.broader.get(sid, ()):
                    best.setdefault(other, Relation(other, p.hierarchy_credit, "broader"))
                for other in self.narrower.get(sid, ()):
                    best.setdefault(other, Relation(other, p.hierarchy_credit, "narrower"))
                for score, row in zip(score_row, hit_row, strict=True):
                    if row < 0 or score < p.similar_threshold:
                        continue
                    other = str(self.ids[row])
                    credit = round(min(p.similar_cap, float(score)), 4)
                    if other not in best or best[other].credit < credit:
                        best[other] = Relation(other, credit, "similar")
                self._cache[sid] = sorted(best.values(), key=lambda r: (-r.credit, r.other))
        cache = self._cache
        return {s: cache[s] if s in cache else [Relation(s, 1.0, "exact")] for s in ids}
