"""Roles: the role catalogue, assignment of postings to roles, and weighted skill profiles per role.

Roles come from the taxonomy's occupations and from the postings. A posting is assigned to its given
occupation, else its title is normalised against occupation labels and alternative titles; titles that match
no occupation well are clustered into roles of their own rather than forced into a wrong one.

A role profile weights each skill by blending the taxonomy's relation prior with the smoothed share of the
role's postings that ask for it (see docs/matching.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import AgglomerativeClustering

from skillmatch.index import VectorIndex
from skillmatch.matching.titles import TitleLexicon, clean_title, title_variants
from skillmatch.readers.crosswalk import crosswalk_key, match_rank

if TYPE_CHECKING:
    from skillmatch.bundle import Bundle
    from skillmatch.encoding.base import Encoder

ROLE_COLUMNS = ["id", "label", "source", "description", "isco_group", "postings"]
ASSIGNMENT_COLUMNS = ["posting_id", "role_id", "confidence", "method"]
PROFILE_COLUMNS = ["role_id", "skill_id", "weight", "postings", "postings_total", "share", "relation"]
ROLE_LABEL_COLUMNS = ["role_id", "text", "kind", "vector"]
#: The bundle's role tables and their columns.
ROLE_TABLE_COLUMNS = {
    "roles": ROLE_COLUMNS,
    "posting_roles": ASSIGNMENT_COLUMNS,
    "role_profiles": PROFILE_COLUMNS,
    "role_labels": ROLE_LABEL_COLUMNS,
}

CLUSTER_PREFIX = "urn:skillmatch:role:"


@dataclass(frozen=True)
class RoleParams:
    """Parameters of role assignment and profiling (defaults documented in docs/matching.md)."""

    title_threshold: float = 0.72
    cluster_threshold: float = 0.75
    prior_essential: float = 0.6
    prior_optional: float = 0.25
    prior_strength: float = 5.0
    min_weight: float = 0.05
    #: postings that must ask for a skill the taxonomy does not relate to the role (when it has >= 3 postings)
    min_support: int = 2
    max_skills: int = 60
    #: weight of character n-gram similarity in role search (the rest is the encoder's cosine)
    search_lexical_weight: float = 0.2
    #: labels taken from each of the dense and the character n-gram search, per query variant
    search_candidates: int = 50
    #: score taken off a part of a title with separators ("Nurse – London": "Nurse"), against the whole title
    search_part_penalty: float = 0.05
    #: score taken off a variant whose misspelt words were corrected
    search_correction_penalty: float = 0.05
    #: a role found through the crosswalk scores 1.0 for an exactMatch and this much less per step down the
    #: match types (closeMatch, narrowMatch, broadMatch, then any other)
    search_crosswalk_step: float = 0.01


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "role"


def assign_postings(
    bundle: Bundle, encoder: Encoder, params: RoleParams
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Assign each posting to a role: ``(assignments, cluster_roles, cluster_role_labels)``."""
    postings = bundle.postings
    occupations = set(bundle.taxonomy.occupations["id"])
    rows: list[tuple[str, str, float, str]] = []
    pending: list[tuple[str, str]] = []
    for pid, occ, title in zip(postings["id"], postings["occupation"], postings["title"], strict=True):
        if isinstance(occ, str) and occ in occupations:
            rows.append((pid, occ, 1.0, "given"))
        else:
            pending.append((pid, clean_title(title) if isinstance(title, str) and title.strip() else ""))

    titled = [(pid, t) for pid, t in pending if t]
    untitled = [pid for pid, t in pending if not t]
    unmatched: list[tuple[str, str, np.ndarray]] = []
    if titled:
        vectors = encoder.encode([t for _, t in titled])
        if bundle.occupation_index.rows:
            scores, hits = bundle.occupation_index.search(vectors, 1)
        else:
            scores, hits = np.zeros((len(titled), 1)), np.full((len(titled), 1), -1)
        occ_ids = bundle.occupation_labels["concept_id"].to_numpy()
        for (pid, title), vec, score, hit in zip(titled, vectors, scores[:, 0], hits[:, 0], strict=True):
            if hit >= 0 and score >= params.title_threshold:
                rows.append((pid, str(occ_ids[hit]), round(float(score), 4), "title"))
            else:
                unmatched.append((pid, title, vec))
    cluster_roles, cluster_labels, cluster_rows = _cluster_titles(unmatched, params)
    rows.extend(cluster_rows)
    if untitled:
        # a posting with no title and no occupation still belongs somewhere: one explicit role for them
        rid = f"{CLUSTER_PREFIX}untitled"
        rows.extend((pid, rid, 0.0, "untitled") for pid in untitled)
        cluster_roles.append(
            (rid, "untitled postings", "postings", "Postings with neither title nor occupation.")
        )
    assignments = pd.DataFrame(rows, columns=ASSIGNMENT_COLUMNS)
    roles = pd.DataFrame(cluster_roles, columns=["id", "label", "source", "description"])
    return assignments, roles, pd.DataFrame(cluster_labels, columns=ROLE_LABEL_COLUMNS)


#: Distinct unmatched titles up to which they are clustered with full average linkage (its pairwise distances
#: take n^2 / 2 floats: 100 MB at 5,000 titles). Above it, a title is only merged along its nearest neighbours'
#: edges (:func:`_neighbour_graph`), so memory grows with n instead of n^2.
EXACT_CLUSTER_TITLES = 5000

#: Nearest neighbours per title in the graph that bounds the clustering of many titles.
CLUSTER_NEIGHBOURS = 15


def _neighbour_graph(vectors: np.ndarray, k: int) -> sparse.csr_matrix:
    """Symmetric k-nearest-neighbour graph (cosine, unit vectors) of ``vectors``, as a sparse adjacency matrix."""
    index = VectorIndex(kind="auto").build(vectors)
    _, hits = index.search(vectors, min(k + 1, len(vectors)))
    rows = np.repeat(np.arange(len(vectors)), hits.shape[1])
    cols = hits.ravel()
    keep = (cols >= 0) & (cols != rows)
    graph = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int8), (rows[keep], cols[keep])),
        shape=(len(vectors), len(vectors)),
    )
    return (graph + graph.T).tocsr()


def _average_linkage(
    vectors: np.ndarray, params: RoleParams, connectivity: sparse.csr_matrix | None = None
) -> np.ndarray:
    """Average-linkage cluster ids on cosine distance, cut at ``1 - cluster_threshold``.

    With ``connectivity``, only clusters joined by one of its edges are merged.
    """
    if len(vectors) == 1:
        return np.zeros(1, dtype=int)
    return np.asarray(
        AgglomerativeClustering(
            n_clusters=None,
            metric="cosine",
            linkage="average",
            distance_threshold=1.0 - params.cluster_threshold,
            connectivity=connectivity,
        ).fit_predict(vectors)
    )


def _cluster_labels(vectors: np.ndarray, params: RoleParams) -> np.ndarray:
    """Cluster ids of unit vectors: average linkage on cosine distance, cut at ``1 - cluster_threshold``.

    Up to :data:`EXACT_CLUSTER_TITLES` vectors every pair counts. Above, vectors are linked to their
    :data:`CLUSTER_NEIGHBOURS` nearest neighbours; each connected part of that graph is clustered on its own (all
    pairs when it is small enough, else only along the graph's edges), so memory grows with n, not n^2.
    """
    if len(vectors) <= EXACT_CLUSTER_TITLES:
        return _average_linkage(vectors, params)
    graph = _neighbour_graph(vectors, CLUSTER_NEIGHBOURS)
    count, component = connected_components(graph, directed=False)
    labels = np.empty(len(vectors), dtype=int)
    offset = 0
    for part in range(count):
        members = np.flatnonzero(component == part)
        edges = graph[members][:, members] if len(members) > EXACT_CLUSTER_TITLES else None
        found = _average_linkage(vectors[members], params, edges)
        labels[members] = found + offset
        offset += int(found.max()) + 1
    return labels


def _cluster_titles(
    unmatched: list[tuple[str, str, np.ndarray]], params: RoleParams
) -> tuple[
    list[tuple[str, str, str, str]],
    list[tuple[str, str, str, list[float]]],
    list[tuple[str, str, float, str]],
]:
    """Group unmatched titles by similarity (average-linkage, cosine) into roles of their own.

    Each distinct title is clustered once (postings that share a title share its vector and its role), so
    100,000 postings with a few hundred titles cluster as a few hundred points.
    """
    if not unmatched:
        return [], [], []
    vectors = np.stack([v for _, _, v in unmatched])
    first_of: dict[str, int] = {}
    for i, (_, title, _) in enumerate(unmatched):
        first_of.setdefault(title, i)
    distinct = list(first_of.values())
    distinct_labels = _cluster_labels(vectors[distinct], params)
    label_of = {unmatched[i][1]: int(c) for i, c in zip(distinct, distinct_labels, strict=True)}
    labels = np.array([label_of[title] for _, title, _ in unmatched], dtype=int)
    members_of: dict[int, list[int]] = {}
    for i, cluster in enumerate(labels.tolist()):
        members_of.setdefault(cluster, []).append(i)
    roles: list[tuple[str, str, str, str]] = []
    role_labels: list[tuple[str, str, str, list[float]]] = []
    rows: list[tuple[str, str, float, str]] = []
    used: set[str] = set()
    for cluster in sorted(members_of):
        members = members_of[cluster]
        titles = Counter(unmatched[i][1].lower() for i in members)
        top = sorted(titles.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        label = next(unmatched[i][1] for i in members if unmatched[i][1].lower() == top)
        rid = f"{CLUSTER_PREFIX}{_slug(label)}"
        while rid in used:
            rid += "-2"
        used.add(rid)
        centroid = vectors[members].mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        roles.append((rid, label, "postings", f"Role grouped from {len(members)} posting title(s)."))
        for text in sorted({unmatched[i][1] for i in members}):
            vec = vectors[first_of[text]]
            role_labels.append((rid, text, "title", vec.astype(float).tolist()))
        confidence = vectors[members] @ centroid
        rows.extend(
            (unmatched[i][0], rid, round(float(c), 4), "cluster")
            for i, c in zip(members, confidence, strict=True)
        )
    return roles, role_labels, rows


def role_profiles(
    roles: pd.DataFrame,
    assignments: pd.DataFrame,
    posting_skills: pd.DataFrame,
    relations: pd.DataFrame,
    params: RoleParams,
) -> pd.DataFrame:
    """Weighted skills per role (see module doc and docs/matching.md).

    A relation's prior is ``prior_essential * weight`` when ``relations`` has a ``weight`` for it (0–1: O*NET
    importance, or the type's default, which gives the same priors), else ``prior_essential`` /
    ``prior_optional`` by its type (tables written before relations had weights).
    """
    prior_of = {"essential": params.prior_essential, "optional": params.prior_optional}
    totals = assignments.groupby("role_id")["posting_id"].nunique().to_dict()
    merged = assignments[["posting_id", "role_id"]].merge(
        posting_skills[["posting_id", "skill_id"]], on="posting_id"
    )
    counts = merged.groupby(["role_id", "skill_id"])["posting_id"].nunique()
    by_role_counts: dict[str, dict[str, int]] = {}
    for (rid, sid), c in cast("Iterable[tuple[tuple[str, str], int]]", counts.items()):
        by_role_counts.setdefault(rid, {})[sid] = int(c)
    rel_by_role: dict[str, dict[str, str]] = {}
    prior_by_pair: dict[tuple[str, str], float] = {}
    weights = relations["weight"] if "weight" in relations.columns else [None] * len(relations)
    for rid, sid, rel, relation_weight in zip(
        relations["occupation_id"], relations["skill_id"], relations["relation"], weights, strict=True
    ):
        current = rel_by_role.setdefault(rid, {}).get(sid)
        if current != "essential":
            rel_by_role[rid][sid] = rel
        if relation_weight is None or pd.isna(relation_weight):
            prior = prior_of.get(rel, 0.0)
        else:
            prior = params.prior_essential * float(relation_weight)
        prior_by_pair[(rid, sid)] = max(prior, prior_by_pair.get((rid, sid), 0.0))
    rows: list[tuple[str, str, float, int, int, float, str | None]] = []
    for rid in roles["id"]:
        n = int(totals.get(rid, 0))
        role_counts = by_role_counts.get(rid, {})
        rels = rel_by_role.get(rid, {})
        lam = n / (n + params.prior_strength) if rels else 1.0
        skill_rows = []
        for sid in set(role_counts) | set(rels):
            c = role_counts.get(sid, 0)
            if sid not in rels and n >= 3 and c < params.min_support:
                continue  # one mention among several postings is more likely noise than demand
            share = (c + 0.5) / (n + 1.0) if n else 0.0
            prior = prior_by_pair.get((rid, sid), 0.0)
            weight = (1 - lam) * prior + lam * share if rels else share
            if weight >= params.min_weight:
                skill_rows.append(
                    (rid, sid, round(weight, 4), c, n, round(c / n, 4) if n else 0.0, rels.get(sid))
                )
        skill_rows.sort(key=lambda r: (-r[2], r[1]))
        rows.extend(skill_rows[: params.max_skills])
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def role_tables(
    bundle: Bundle, encoder: Encoder, params: RoleParams | None = None
) -> dict[str, pd.DataFrame]:
    """The role catalogue, posting assignments, role profiles and posting-derived role labels of a bundle.

    The tables (:data:`ROLE_TABLE_COLUMNS`) are built from the bundle's taxonomy, postings and posting links;
    ``encoder`` encodes titles.
    """
    params = params or RoleParams()
    assignments, cluster_roles, cluster_labels = assign_postings(bundle, encoder, params)
    occ = bundle.taxonomy.occupations
    taxonomy_roles = pd.DataFrame(
        {
            "id": occ["id"],
            "label": occ["label"],
            "source": "taxonomy",
            "description": occ["description"],
            "isco_group": occ["isco_group"],
        }
    )
    cluster_roles["isco_group"] = None
    roles = pd.concat([taxonomy_roles, cluster_roles], ignore_index=True)
    counts = assignments.groupby("role_id")["posting_id"].nunique()
    roles["postings"] = roles["id"].map(counts).fillna(0).astype(int)
    roles = roles[ROLE_COLUMNS]
    profiles = role_profiles(roles, assignments, bundle.posting_skills, bundle.taxonomy.relations, params)
    return {
        "roles": roles,
        "posting_roles": assignments,
        "role_profiles": profiles,
        "role_labels": cluster_labels,
    }


@dataclass
class RoleHit:
    """One role found for a query."""

    id: str
    label: str
    score: float
    postings: int
    matched_label: str
    #: the crosswalk's match type ("exactMatch", "closeMatch", ...) when found through the crosswalk, else None
    match: str | None = None


class UnknownRoleError(LookupError):
    """A role id or name that the bundle does not know."""


class RoleCatalog:
    """Search and look up roles of a loaded bundle (occupations plus posting-derived roles).

    Args:
        bundle: the bundle.
        encoder: encodes queries (the query-time chain, :func:`skillmatch.encoding.factory.query_chain`).
        params: search parameters.
        exclude_labels: ``(role id, label)`` pairs left out of the search (evaluations hold titles out).
        crosswalk: a code or URI of another taxonomy -> ``[(role id, match type), ...]``, best first
            (:func:`skillmatch.readers.crosswalk.crosswalk_for`); targets that are not roles here are ignored.
    """

    def __init__(
        self,
        bundle: Bundle,
        encoder: Encoder,
        *,
        params: RoleParams | None = None,
        exclude_labels: Collection[tuple[str, str]] = (),
        crosswalk: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        self.bundle = bundle
        self.encoder = encoder
        self.params = params or RoleParams()
        self.roles = bundle.roles.set_index("id", drop=False)
        self.crosswalk: dict[str, list[tuple[str, str]]] = {}
        for key, targets in (crosswalk or {}).items():
            known = [(str(rid), str(match)) for rid, match in targets if rid in self.roles.index]
            if known:
                self.crosswalk[str(key)] = sorted(known, key=lambda t: (match_rank(t[1]), t[0]))
        self.profiles = bundle.role_profiles
        self._profile_groups = dict(tuple(self.profiles.groupby("role_id", sort=False)))
        # per-role answers as plain Python, computed for every role at once (about 0.1 s for ESCO's 3,000 roles): a
        # request reads them for every role it names, and a pandas row lookup costs about 0.5 ms each time
        self._info = {
            str(record["id"]): {
                k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()
            }
            for record in self.roles.to_dict("records")
        }
        self._profile_rows: dict[str, list[tuple[str, float, str | None]]] = {}
        for rid, sid, weight, relation in zip(
            self.profiles["role_id"].tolist(),
            self.profiles["skill_id"].tolist(),
            self.profiles["weight"].tolist(),
            self.profiles["relation"].tolist(),
            strict=True,
        ):
            self._profile_rows.setdefault(str(rid), []).append(
                (str(sid), float(weight), relation if isinstance(relation, str) else None)
            )
        occ_labels = bundle.occupation_labels
        role_labels = bundle.role_labels
        vectors = [bundle.occupation_index.reconstruct()] if len(occ_labels) else []
        if len(role_labels):
            vectors.append(np.asarray(role_labels["vector"].tolist(), dtype=np.float32))
        label_roles = np.concatenate(
            [occ_labels["concept_id"].to_numpy(dtype=object), role_labels["role_id"].to_numpy(dtype=object)]
        )
        label_texts = np.concatenate(
            [occ_labels["text"].to_numpy(dtype=object), role_labels["text"].to_numpy(dtype=object)]
        )
        dim = encoder.dim
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
        if exclude_labels:
            dropped = {(str(rid), " ".join(str(text).split()).casefold()) for rid, text in exclude_labels}
            keep = np.array(
                [
                    (str(rid), " ".join(str(text).split()).casefold()) not in dropped
                    for rid, text in zip(label_roles, label_texts, strict=True)
                ],
                dtype=bool,
            )
            label_roles, label_texts, matrix = label_roles[keep], label_texts[keep], matrix[keep]
        label_kinds = np.concatenate(
            [occ_labels["kind"].to_numpy(dtype=object), role_labels["kind"].to_numpy(dtype=object)]
        )
        if exclude_labels:
            label_kinds = label_kinds[keep]
        self._label_roles, self._label_texts, self._vectors = label_roles, label_texts, matrix
        self._preferred = label_kinds == "preferred"
        self._index = VectorIndex(kind="flat").build(matrix)
        self._lexicon = TitleLexicon(list(label_texts)) if self.params.search_lexical_weight else None
        self._by_label: dict[str, str] = {}
        for rid, text in zip(self._label_roles, self._label_texts, strict=True):
            self._by_label.setdefault(str(text).lower(), str(rid))

    def crosswalked(self, query: str) -> list[tuple[str, str]]:
        """The roles a crosswalk key (an O*NET-SOC code, ``.00`` optional, or an ESCO URI) maps to, best first.

        Returns:
            ``[(role id, match type), ...]``; empty for a query that is no key (or without a crosswalk).
        """
        return self.crosswalk.get(crosswalk_key(query), []) if self.crosswalk else []

    def search(self, queries: list[str], top_k: int = 5) -> list[list[RoleHit]]:
        """The best roles for each query, best first.

        A query that is a crosswalk key (:meth:`crosswalked`) returns its crosswalked roles first, best match
        first (score 1.0 for ``exactMatch``, ``search_crosswalk_step`` less per type down), each with its
        ``match``; ordinary hits fill the rest of ``top_k``.

        Each query is searched as its :func:`~skillmatch.matching.titles.title_variants` (the cleaned title and
        its parts between separators). A label's score is ``(1 - w) * cosine + w * character n-gram
        similarity`` (``w`` = ``RoleParams.search_lexical_weight``) for its best variant, over the union of the
        dense and the character n-gram candidates; a role scores as its best label.
        """
        out = self._search(queries, top_k)
        for i, query in enumerate(queries):
            targets = self.crosswalked(query)[:top_k]
            if not targets:
                continue
            key = crosswalk_key(query)
            hits = []
            for rid, match in targets:
                role = cast("pd.Series", self.roles.loc[rid])
                score = 1.0 - self.params.search_crosswalk_step * match_rank(match)
                hits.append(
                    RoleHit(rid, str(role["label"]), round(score, 4), int(role["postings"]), key, match)
                )
            taken = {rid for rid, _ in targets}
            out[i] = (hits + [h for h in out[i] if h.id not in taken])[:top_k]
        return out

    def _search(self, queries: list[str], top_k: int) -> list[list[RoleHit]]:
        """The label search of :meth:`search`, without the crosswalk."""
        out: list[list[RoleHit]] = [[] for _ in queries]
        variants = [self._variants(q) for q in queries]
        flat = [text for vs in variants for text, _ in vs]
        penalty = np.array([cost for vs in variants for _, cost in vs], dtype=np.float32)
        if not flat or not self._index.rows:
            return out
        owner = np.repeat(np.arange(len(queries)), [len(vs) for vs in variants])
        vectors = self.encoder.encode(flat)
        depth = min(self._index.rows, max(top_k * 8, self.params.search_candidates))
        _, dense_rows = self._index.search(vectors, depth)
        weight = self.params.search_lexical_weight
        if self._lexicon is not None:
            _, lexical_rows = self._lexicon.top(flat, depth)
            candidates = np.concatenate([dense_rows, lexical_rows], axis=1)
        else:
            candidates = dense_rows
        safe = np.where(candidates >= 0, candidates, 0)
        cosine = np.empty(candidates.shape, dtype=np.float32)
        for start in range(0, len(flat), 256):  # bounded memory: 256 variants x candidates x dim at a time
            chunk = slice(start, start + 256)
            cosine[chunk] = np.einsum("vd,vkd->vk", vectors[chunk], self._vectors[safe[chunk]])
        lexical = self._lexicon.score(flat, candidates) if self._lexicon is not None else 0.0
        fused = (1 - weight) * cosine + weight * lexical - penalty[:, None]
        fused = np.where(candidates >= 0, fused, -np.inf)
        best: list[dict[str, tuple[float, bool, int]]] = [{} for _ in queries]
        for v, (row_scores, row_hits) in enumerate(zip(fused, candidates, strict=True)):
            found = best[int(owner[v])]
            for score, row in zip(row_scores.tolist(), row_hits.tolist(), strict=True):
                if row < 0:
                    continue
                rid = str(self._label_roles[row])
                key = (round(score, 6), bool(self._preferred[row]), row)
                if rid not in found or key[:2] > found[rid][:2]:
                    found[rid] = key
        for i, found in enumerate(best):
            hits = []
            ranked = sorted(found.items(), key=lambda kv: (-kv[1][0], not kv[1][1], kv[0]))
            for rid, (score, _, row) in ranked:
                if rid not in self.roles.index:
                    continue
                role = cast("pd.Series", self.roles.loc[rid])  # one row per role id
                hits.append(
                    RoleHit(
                        rid,
                        str(role["label"]),
                        round(score, 4),
                        int(role["postings"]),
                        str(self._label_texts[row]),
                    )
                )
                if len(hits) == top_k:
                    break
            out[i] = hits
        return out

    def _variants(self, query: str) -> list[tuple[str, float]]:
        """The texts searched for a query with the score each gives up: title variants and their corrections.

        The first variant is the cleaned whole title (no penalty); parts of a title with separators give up
        ``search_part_penalty``; a variant with misspelt words corrected gives up ``search_correction_penalty``
        more.
        """
        if not query.strip():
            return []
        found: dict[str, float] = {}
        for number, text in enumerate(title_variants(query)):
            cost = self.params.search_part_penalty if number else 0.0
            options = [(text, cost)]
            if self._lexicon is not None:
                options.append((self._lexicon.correct(text), cost + self.params.search_correction_penalty))
            for option, option_cost in options:
                if option not in found or option_cost < found[option]:
                    found[option] = option_cost
        return list(found.items())

    def resolve(self, role: str) -> str:
        """A role id from an id, an exact label/alternative title, a crosswalk key, or the best search hit.

        An O*NET-SOC code may leave out ``.00``. A crosswalk key (:meth:`crosswalked`) resolves to its best
        match (exactMatch > closeMatch > narrowMatch > broadMatch, then by id); a search hit must score >= 0.8.

        Raises:
            UnknownRoleError: none of these finds a role (the message names the closest).
        """
        role = role.strip()
        if role in self.roles.index:
            return role
        if crosswalk_key(role) in self.roles.index:
            return crosswalk_key(role)
        by_label = self._by_label.get(role.lower())
        if by_label:
            return by_label
        crosswalked = self.crosswalked(role)
        if crosswalked:
            return crosswalked[0][0]
        hits = self.search([role], top_k=1)[0]
        if hits and hits[0].score >= 0.8:
            return hits[0].id
        hint = f"; closest: {hits[0].label!r} ({hits[0].id})" if hits else ""
        raise UnknownRoleError(
            f"unknown role {role!r}{hint}; use 'skillmatch roles --query ...' to find role ids"
        )

    def profile(self, role_id: str) -> pd.DataFrame:
        """The weighted skill profile of a role (PROFILE_COLUMNS), heaviest first."""
        if role_id not in self.roles.index:
            raise UnknownRoleError(f"unknown role id {role_id!r}")
        frame = self._profile_groups.get(role_id)
        return frame.reset_index(drop=True) if frame is not None else pd.DataFrame(columns=PROFILE_COLUMNS)

    def profile_rows(self, role_id: str) -> list[tuple[str, float, str | None]]:
        """The role's profile as ``(skill_id, weight, relation)`` tuples, heaviest first (shared: do not modify)."""
        if role_id not in self._info:
            raise UnknownRoleError(f"unknown role id {role_id!r}")
        return self._profile_rows.get(role_id, [])

    def info(self, role_id: str) -> dict[str, Any]:
        """The catalogue row of a role as a dict (a fresh copy)."""
        cached = self._info.get(role_id)
        if cached is None:
            raise UnknownRoleError(f"unknown role id {role_id!r}")
        return dict(cached)
