"""The front door for notebooks and scripts: ``sm.load(bundle)`` -> :class:`Skillmatch`.

    >>> import skillmatch as sm
    >>> b = sm.load("models/bundles/demo")                      # doctest: +SKIP
    >>> b.extract(["We need SQL and Power BI"]).to_frame()      # doctest: +SKIP
    >>> b.roles("junior data analyst").to_frame()               # doctest: +SKIP
    >>> b.gaps("data analyst", ["Excel", "SQL: beginner"]).to_frame()          # doctest: +SKIP
    >>> b.recommend("data analyst", ["Excel"], max_hours=120).to_frame()       # doctest: +SKIP

The CLI and the API use the same object: it opens the bundle once (:func:`skillmatch.bundle.open_bundle`), loads
the encoder that made its vectors, assembles the query-time chain (:func:`skillmatch.encoding.factory.query_chain`),
the linker and the matching context, and answers with typed results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from skillmatch.bundle import Bundle, check_encoder, model_for, open_bundle
from skillmatch.config import Settings, get_settings
from skillmatch.currencies import rate_table
from skillmatch.encoding.base import Encoder
from skillmatch.encoding.factory import make_encoder, query_chain
from skillmatch.linking.linker import LinkedSkill, SkillLinker, linker_for, options_for
from skillmatch.matching.context import MatchContext, MatchParams
from skillmatch.matching.gaps import GapReport, Learner, analyse_gap, make_learner, resolve_learner
from skillmatch.matching.recommend import Limits, Recommendation, recommend
from skillmatch.matching.roles import RoleHit
from skillmatch.readers.crosswalk import crosswalk_for, read_crosswalk


@dataclass(frozen=True)
class Extraction:
    """Skills linked to each of several texts (same order as the texts)."""

    texts: list[str]
    skills: list[list[LinkedSkill]]

    def to_frame(self) -> pd.DataFrame:
        """One row per (text, linked skill), best first within each text."""
        rows = [
            {"text_index": i, "text": text, "rank": rank, **s.to_dict()}
            for i, (text, found) in enumerate(zip(self.texts, self.skills, strict=True))
            for rank, s in enumerate(found, start=1)
        ]
        return pd.DataFrame(
            rows, columns=["text_index", "text", "rank", "id", "label", "score", "evidence", "matched_label"]
        )


@dataclass(frozen=True)
class RoleSearch:
    """Roles found for each of several queries."""

    queries: list[str]
    hits: list[list[RoleHit]]

    def to_frame(self) -> pd.DataFrame:
        """One row per (query, role hit), best first within each query."""
        rows = [
            {
                "query": q,
                "rank": rank,
                "id": h.id,
                "label": h.label,
                "score": h.score,
                "postings": h.postings,
                "matched_label": h.matched_label,
                "match": h.match,
            }
            for q, hits in zip(self.queries, self.hits, strict=True)
            for rank, h in enumerate(hits, start=1)
        ]
        return pd.DataFrame(
            rows, columns=["query", "rank", "id", "label", "score", "postings", "matched_label", "match"]
        )


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class Skillmatch:
    """A loaded bundle with its encoder, linker and matching context; see the module's text.

    Args:
        bundle: the opened bundle.
        encoder: the model encoder that made the bundle's vectors (checked against the manifest).
        settings: settings (linking options set explicitly there override the bundle's).
        coalesce_texts: 0 for one caller at a time (a lock guards a non-thread-safe encoder); above 0, concurrent
            callers' texts are encoded together in runs of up to this many (the API's setting).
        params: gap and recommendation parameters.
    """

    def __init__(
        self,
        bundle: Bundle,
        encoder: Encoder,
        *,
        settings: Settings | None = None,
        coalesce_texts: int = 0,
        params: MatchParams | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        check_encoder(bundle.manifest, encoder, bundle.path)
        self.bundle = bundle
        self.model_encoder = encoder
        self.encoder = query_chain(
            encoder,
            bundle.labels["text"].tolist(),
            bundle.label_index.reconstruct,
            coalesce_texts=coalesce_texts,
        )
        self.linker: SkillLinker = linker_for(
            self.encoder,
            bundle.labels,
            bundle.label_index,
            bundle.taxonomy.concepts,
            options_for(bundle.manifest, self.settings),
            memory_cache=self.settings.linker_memory_cache,
        )
        if params is None and self.settings.fx_rates_file is not None:
            params = MatchParams(fx_to_eur=rate_table(str(self.settings.fx_rates_file)).pairs())
        crosswalk = None
        if self.settings.crosswalk_file is not None:  # roles asked for in the other taxonomy (O*NET <-> ESCO)
            crosswalk = crosswalk_for(read_crosswalk(self.settings.crosswalk_file), bundle.roles["id"])
        self.context = MatchContext(bundle, self.encoder, self.linker, params, crosswalk=crosswalk)

    @property
    def path(self) -> Path:
        """The bundle folder."""
        return self.bundle.path

    def extract(
        self, texts: str | Sequence[str], *, top_k: int | None = None, min_score: float | None = None
    ) -> Extraction:
        """Link each text to its best taxonomy skills (default ``top_k`` and threshold: the bundle's)."""
        items = _as_list(texts)
        return Extraction(items, self.linker.link(items, top_k=top_k, min_score=min_score))

    def roles(self, queries: str | Sequence[str], *, top_k: int = 5) -> RoleSearch:
        """Roles (occupations and posting-derived roles) for each query, best first.

        A query that is an O*NET-SOC code on an ESCO bundle, or an ESCO occupation URI on an O*NET bundle, finds
        the roles the crosswalk (``Settings.crosswalk_file``) maps it to first, with their match type.
        """
        items = _as_list(queries)
        return RoleSearch(items, self.context.roles.search(items, top_k=top_k))

    def resolve_roles(self, roles: str | Sequence[str]) -> list[str]:
        """Role ids from ids, exact titles or close names.

        Raises:
            UnknownRoleError: a role that the bundle does not know (the message names the closest).
        """
        return [self.context.roles.resolve(r) for r in _as_list(roles)]

    def learner(
        self,
        skills: str | Sequence[str] | None = None,
        *,
        cv: str | None = None,
        held: Sequence[str] = (),
        learner_id: str = "learner",
    ) -> Learner:
        """A learner from skills (``"SQL: beginner"`` sets a level), a CV text and held credential ids."""
        return make_learner(_as_list(skills), cv, held, learner_id)

    def gaps(
        self,
        roles: str | Sequence[str],
        skills: str | Sequence[str] | Learner | None = None,
        *,
        cv: str | None = None,
        held: Sequence[str] = (),
        role_weights: Sequence[float] | None = None,
    ) -> GapReport:
        """The learner against the role(s): each profile skill covered, partly covered or missing."""
        learner = skills if isinstance(skills, Learner) else self.learner(skills, cv=cv, held=held)
        profile = resolve_learner(self.context, learner)
        return analyse_gap(self.context, profile, self.resolve_roles(roles), role_weights)

    def recommend(
        self,
        roles: str | Sequence[str],
        skills: str | Sequence[str] | Learner | None = None,
        *,
        cv: str | None = None,
        held: Sequence[str] = (),
        limits: Limits | None = None,
        role_weights: Sequence[float] | None = None,
        method: Literal["auto", "greedy", "exact"] = "auto",
        **limit_fields: Any,
    ) -> Recommendation:
        """A pathway of credentials towards the role(s) within the learner's limits.

        Limits come as a :class:`~skillmatch.matching.recommend.Limits` or as its fields (``max_hours=120``,
        ``max_cost=500``, ``currency="EUR"``, ``max_items``, ``levels``, ``modes``, ``languages``,
        ``exclude_providers``), not both.

        Raises:
            ValueError: both ``limits`` and limit fields, or an invalid limit.
            UnknownRoleError: a role the bundle does not know.
        """
        if limits is not None and limit_fields:
            raise ValueError(f"give limits or their fields ({', '.join(sorted(limit_fields))}), not both")
        learner = skills if isinstance(skills, Learner) else self.learner(skills, cv=cv, held=held)
        limits = limits or Limits(**limit_fields)
        return recommend(
            self.context, learner, self.resolve_roles(roles), limits, role_weights=role_weights, method=method
        )

    def role_profile(self, role: str, *, top: int | None = None) -> pd.DataFrame:
        """The weighted skill profile of a role (id or name), heaviest first, with skill labels."""
        [role_id] = self.resolve_roles(role)
        profile = self.context.roles.profile(role_id)
        profile = profile.head(top) if top else profile
        return profile.assign(label=profile["skill_id"].map(self.context.concept_labels))

    def taxonomy_summary(self) -> pd.DataFrame:
        """Concepts per taxonomy group: how many, how many the catalogue teaches, how many postings ask for."""
        from skillmatch.matching.insights import taxonomy_summary

        return taxonomy_summary(self.bundle)

    def catalogue_coverage(self, *, min_postings: int = 1) -> pd.DataFrame:
        """Per role: the share of its profile weight that some credential teaches, and what no credential does."""
        from skillmatch.matching.insights import catalogue_coverage

        return catalogue_coverage(self.context, min_postings=min_postings)

    def evaluate(self, data_dir: str | Path, *, normalisation_sample: int = 2000) -> dict[str, Any]:
        """Every evaluation of :func:`skillmatch.evaluation.runner.run_all` that the data allows."""
        from skillmatch.evaluation.runner import run_all

        return run_all(self, Path(data_dir), normalisation_sample=normalisation_sample)


def load(
    path: str | Path,
    *,
    settings: Settings | None = None,
    encoder: Encoder | None = None,
    coalesce_texts: int = 0,
    verify_checksums: bool = True,
) -> Skillmatch:
    """Open the bundle at ``path`` with the encoder that made it (or ``encoder``).

    Raises:
        BundleError: not a bundle, a damaged one, or an encoder that did not make its vectors.
        ModelLoadError: the bundle's model cannot be loaded here.
    """
    settings = settings or get_settings()
    bundle = open_bundle(Path(path), ef_search=settings.hnsw_ef_search, verify_checksums=verify_checksums)
    encoder = encoder or make_encoder(settings, model_for(bundle.manifest, settings))
    return Skillmatch(bundle, encoder, settings=settings, coalesce_texts=coalesce_texts)


def build_demo(out: str | Path, *, settings: Settings | None = None, rebuild: bool = False) -> Skillmatch:
    """Build the embedded demo data (``data/demo``) into ``out`` unless a bundle is there, then load it."""
    from skillmatch.build import demo_paths, read_inputs, run_build

    settings = settings or get_settings()
    if rebuild or not (Path(out) / "manifest.json").is_file():
        run_build(read_inputs(*demo_paths()), Path(out), settings=settings)
    return load(out, settings=settings)
