"""The matching context, built once per loaded bundle: roles, skill relations, credential lookups.

The CLI builds one :class:`MatchContext` per command; the API builds one at start-up (and on reload) and shares it
between requests. Nothing here is rebuilt per request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from skillmatch.bundle import Bundle
from skillmatch.currencies import RateTable, rate_table
from skillmatch.encoding.base import Encoder
from skillmatch.encoding.lru import LRU
from skillmatch.linking.linker import SkillLinker
from skillmatch.matching.roles import RoleCatalog
from skillmatch.matching.skillspace import SkillSpace, SpaceParams
from skillmatch.schema import LEVEL_RANK, looks_like_id

#: Conversion rates to EUR used to compare costs across currencies: the packaged, dated table
#: (:mod:`skillmatch.currencies`; override in MatchParams or with ``SKILLMATCH_FX_RATES_FILE``).
DEFAULT_FX_TO_EUR: dict[str, float] = dict(rate_table().pairs())


#: Sets of profile skills (in practice: roles and role mixes) whose credential relevance is kept.
RELEVANCE_CACHE = 4096

#: The fields of a credential shown in recommendations and search results.
CREDENTIAL_SUMMARY_FIELDS = (
    "id",
    "title",
    "provider",
    "url",
    "level",
    "mode",
    "language",
    "duration_hours",
    "cost",
    "currency",
    "credits",
    "credit_system",
    "eqf_level",
    "stackable_into",
)


@dataclass(frozen=True)
class MatchParams:
    """Parameters of gap analysis and recommendation (documented in docs/matching.md)."""

    strong_link: float = 0.85
    #: credentials teaching less than this share of on-target skills are left out as off-target
    min_relevance: float = 1 / 3
    #: a credential's degrees are scaled by relevance ** relevance_exponent
    relevance_exponent: float = 0.5
    space: SpaceParams = field(default_factory=SpaceParams)
    fx_to_eur: tuple[tuple[str, float], ...] = tuple(DEFAULT_FX_TO_EUR.items())
    #: the recommender's weight of a gap skill the taxonomy marks essential for the role (and of skills only the
    #: role's postings ask for) ...
    essential_weight: float = 1.0
    #: ... and of an optional one: an optional skill counts a tenth of an essential one of the same profile weight
    optional_weight: float = 0.1
    #: a credential that teaches a broader, narrower or similar skill instead of the gap skill itself earns this
    #: share of the partial credit of :class:`SpaceParams`, so that partial credit on an essential skill (at most
    #: 0.8 x 0.5 = 0.4) stays below covering an essential skill exactly (1.0)
    partial_factor: float = 0.5
    #: the level a learner is taken to hold a skill at when they gave none (for skill prerequisites)
    assumed_level: str = "intermediate"


def _clean(value: Any) -> Any:
    """NaN/NA -> None; numpy scalars/arrays -> Python values (JSON-ready)."""
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if value is None or (
        not isinstance(value, (str, list, dict, bool, int, float)) and str(value) in {"NaT", "<NA>"}
    ):
        return None
    return value


class MatchContext:
    """Everything gap analysis, recommendation and cohorts need from a bundle, indexed for fast lookups.

    Args:
        bundle: the bundle.
        encoder: the query-time encoder chain (:func:`skillmatch.encoding.factory.query_chain`).
        linker: the bundle's linker (learners' skills and CVs are linked with it).
        params: gap and recommendation parameters.
        crosswalk: finds roles asked for in another taxonomy (:class:`~skillmatch.matching.roles.RoleCatalog`).
    """

    def __init__(
        self,
        bundle: Bundle,
        encoder: Encoder,
        linker: SkillLinker,
        params: MatchParams | None = None,
        *,
        crosswalk: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        self.bundle = bundle
        self.encoder = encoder
        self.linker = linker
        self.params = params or MatchParams()
        self.roles = RoleCatalog(bundle, encoder, crosswalk=crosswalk)
        concepts = bundle.taxonomy.concepts
        self.concept_labels: dict[str, str] = dict(zip(concepts["id"], concepts["label"], strict=True))
        self.space = SkillSpace(concepts, bundle.labels, bundle.label_index, self.params.space)
        records = cast("list[dict[str, Any]]", bundle.credentials.to_dict("records"))
        self.credentials_by_id: dict[str, dict[str, Any]] = {
            row["id"]: {k: _clean(v) for k, v in row.items()} for row in records
        }
        self.credential_links: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
        self.credentials_by_skill: dict[str, list[tuple[str, float, str]]] = defaultdict(list)
        #: (credential id, skill id) -> rank of the level the credential teaches the skill at (absent: unknown)
        self.taught_rank: dict[tuple[str, str], int] = {}
        links = bundle.credential_skills
        # a credential whose skills are given as taxonomy ids is taken at its word: it teaches those skills, and
        # what its outcomes link to only adds evidence for them (docs/matching.md)
        by_id = links["phrase"].map(looks_like_id) & (links["source"] == "explicit")
        declared = set(links.loc[by_id, "credential_id"])
        keep = ~links["credential_id"].isin(declared) | by_id
        evidence_of = {
            (cid, sid): str(ev)
            for cid, sid, ev, src in zip(
                links["credential_id"], links["skill_id"], links["evidence"], links["source"], strict=True
            )
            if src == "outcome" and cid in declared
        }
        links = links[keep]
        evidences = [
            evidence_of.get((cid, sid), str(ev))
            for cid, sid, ev in zip(links["credential_id"], links["skill_id"], links["evidence"], strict=True)
        ]
        levels = links["level"] if "level" in links.columns else [None] * len(links)
        for cid, sid, score, evidence, level in zip(
            links["credential_id"], links["skill_id"], links["score"], evidences, levels, strict=True
        ):
            self.credential_links[cid].append((sid, float(score), str(evidence)))
            self.credentials_by_skill[sid].append((cid, float(score), str(evidence)))
            if isinstance(level, str) and level in LEVEL_RANK:
                self.taught_rank[(cid, sid)] = LEVEL_RANK[level]
        #: credential id -> the skills it requires, with the rank of the level required
        self.requirements: dict[str, list[tuple[str, int]]] = defaultdict(list)
        pre = bundle.credential_prerequisites
        for cid, sid, level in zip(pre["credential_id"], pre["skill_id"], pre["level"], strict=True):
            self.requirements[cid].append((str(sid), LEVEL_RANK.get(str(level), 1)))
        self.fx = dict(self.params.fx_to_eur)
        #: credential id -> the sum of its link scores (what :meth:`relevance` divides by)
        self._link_totals = {cid: sum(s for _, s, _ in found) for cid, found in self.credential_links.items()}
        self._teachers: dict[tuple[str, int], list[tuple[str, float, str, str, str]]] = {}
        #: a set of profile skills -> (credential id -> relevance so far, skill -> best credit towards the set)
        self._relevance: LRU[frozenset[str], tuple[dict[str, float], dict[str, float]]] = LRU(RELEVANCE_CACHE)

    def teachers(self, skill_id: str, required_rank: int) -> list[tuple[str, float, str, str, str]]:
        """What each credential that teaches ``skill_id`` or a related skill brings it to, learner aside.

        One ``(credential id, reached, outcome evidence, taught skill id, match kind)`` per credential link of
        each related skill (see :func:`~skillmatch.matching.recommend.credential_coverage`), ``reached`` being
        ``credit * strength(link score) * min(1, rank taught / required_rank)``. Computed once per skill and
        required rank: none of it depends on the learner.
        """
        key = (skill_id, required_rank)
        found = self._teachers.get(key)
        if found is None:
            partial = self.params.partial_factor
            found = []
            for rel in self.space.related([skill_id])[skill_id]:
                credit = rel.credit if rel.kind == "exact" else rel.credit * partial
                for cid, score, evidence in self.credentials_by_skill.get(rel.other, []):
                    taught = self.taught_rank.get((cid, rel.other), required_rank)
                    reached = credit * self.strength(score) * min(1.0, taught / required_rank)
                    found.append((cid, reached, evidence, rel.other, rel.kind))
            self._teachers[key] = found
        return found

    def strength(self, link_score: float) -> float:
        """How fully a credential teaches a skill it links to at ``link_score`` (1.0 from ``strong_link`` up)."""
        return max(0.0, min(1.0, link_score / self.params.strong_link))

    def relevance(self, profile_skills: Iterable[str], credential_ids: Iterable[str]) -> dict[str, float]:
        """Share of what each credential teaches (weighted by link score) that the target profile needs.

        A taught skill counts with its best credit towards any profile skill (same, broader/narrower or similar;
        see :mod:`skillmatch.matching.skillspace`). 1.0: everything it teaches is on target; 0.0: nothing is.
        """
        skills = list(dict.fromkeys(profile_skills))
        key = frozenset(skills)
        known = self._relevance.get_many([key]).get(key)
        if known is None:
            # a role's profile asks this for each of its learners: the values are kept per set of skills
            near: dict[str, float] = {}
            for relations in self.space.related(skills).values():
                for rel in relations:
                    near[rel.other] = max(near.get(rel.other, 0.0), rel.credit)
            known = ({}, near)
            self._relevance.put_many({key: known})
        # the values only grow, each computed the same way by whichever thread gets there first
        values, near = known
        out: dict[str, float] = {}
        for cid in credential_ids:
            value = values.get(cid)
            if value is None:
                links = self.credential_links.get(cid, [])
                total = self._link_totals.get(cid, 0)
                on = sum(score * near.get(sid, 0.0) for sid, score, _ in links)
                value = values[cid] = round(on / total, 4) if total else 0.0
            out[cid] = value
        return out

    def check_currency(self, code: str) -> str:
        """``code`` as ISO 4217 if this context's rates can convert it.

        Raises:
            skillmatch.currencies.UnknownCurrencyError: Not ISO 4217.
            skillmatch.currencies.UnconvertibleCurrencyError: No rate for it.
        """
        return RateTable(self.fx, source="the exchange-rate table").check(code)

    def cost_in(self, cost: float | None, currency: str | None, target: str) -> float | None:
        """Convert a cost between currencies with the configured rates (None when unknown or unconvertible)."""
        if cost is None:
            return None
        src = (currency or target).upper()
        if src == target.upper():
            return float(cost)
        if src not in self.fx or target.upper() not in self.fx:
            return None
        return float(cost) * self.fx[src] / self.fx[target.upper()]

    def credential_summary(self, cid: str) -> dict[str, Any]:
        """The summary fields of one credential (:data:`CREDENTIAL_SUMMARY_FIELDS`)."""
        c = self.credentials_by_id[cid]
        return {k: c.get(k) for k in CREDENTIAL_SUMMARY_FIELDS}
