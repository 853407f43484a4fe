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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from sklearn.cluster import AgglomerativeClustering

from skillmatch.index import VectorIndex

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

_TITLE_NOISE = re.compile(
    r"\((?:[mwfdxhi]\s*/\s*)+[mwfdxhi]\)|\b[mwf]/[mwf]/[dx]\b|\([^)]*\)|<[A-Z_]+>|\bremote\b|\bhybrid\b|"
    r"\bfull[- ]time\b|\bpart[- ]time\b|\bjob\b|\bvacancy\b|\bposition\b|\bhiring\b|\burgent(?:ly)?\b",
    re.IGNORECASE,
)
_TITLE_SPLIT = re.compile(r"\s+[-–—|@:]\s+|\s*\|\s*")


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


def clean_title(title: str) -> str:
    """A job title without gender markers, placeholders, employment terms or trailing qualifiers."""
    text = _TITLE_NOISE.sub(" ", str(title or ""))
    text = _TITLE_SPLIT.split(text)[0]
    return re.sub(r"\s+", " ", text).strip(" ,-/") or str(title or "").strip()


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


def _cluster_titles(
    unmatched: list[tuple[str, str, np.ndarray]], params: RoleParams
) -> tuple[
    list[tuple[str, str, str, str]],
    list[tuple[str, str, str, list[float]]],
    list[tuple[str, str, float, str]],
]:
    """Group unmatched titles by similarity (average-linkage, cosine) into roles of their own."""
    if not unmatched:
        return [], [], []
    vectors = np.stack([v for _, _, v in unmatched])
    if len(unmatched) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = AgglomerativeClustering(
            n_clusters=None,
            metric="cosine",
            linkage="average",
            distance_threshold=1.0 - params.cluster_threshold,
        ).fit_predict(vectors)
    roles, role_labels, rows = [], [], []
    used: set[str] = set()
    for cluster in sorted(set(labels.tolist())):
        members = [i for i, c in enumerate(labels) if c == cluster]
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
            vec = vectors[next(i for i in members if unmatched[i][1] == text)]
            role_labels.append((rid, text, "title", vec.astype(float).tolist()))
        for i in members:
            confidence = float(np.dot(vectors[i], centroid))
            rows.append((unmatched[i][0], rid, round(confidence, 4), "cluster"))
    return roles, role_labels, rows


def role_profiles(
    roles: pd.DataFrame,
    assignments: pd.DataFrame,
    posting_skills: pd.DataFrame,
    relations: pd.DataFrame,
    params: RoleParams,
) -> pd.DataFrame:
    """Weighted skills per role (see module doc and docs/matching.md)."""
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
    for rid, sid, rel in zip(
        relations["occupation_id"], relations["skill_id"], relations["relation"], strict=True
    ):
        current = rel_by_role.setdefault(rid, {}).get(sid)
        if current != "essential":
            rel_by_role[rid][sid] = rel
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
            prior = prior_of.get(rels.get(sid, ""), 0.0)
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


class UnknownRoleError(LookupError):
    """A role id or name that the bundle does not know."""


class RoleCatalog:
    """Search and look up roles of a loaded bundle (occupations plus posting-derived roles).

    Args:
        bundle: the bundle.
        encoder: encodes queries (the query-time chain, :func:`skillmatch.encoding.factory.query_chain`).
    """

    def __init__(self, bundle: Bundle, encoder: Encoder) -> None:
        self.bundle = bundle
        self.encoder = encoder
        self.roles = bundle.roles.set_index("id", drop=False)
        self.profiles = bundle.role_profiles
        self._profile_groups = dict(tuple(self.profiles.groupby("role_id", sort=False)))
        occ_labels = bundle.occupation_labels
        role_labels = bundle.role_labels
        vectors = [bundle.occupation_index.reconstruct()] if len(occ_labels) else []
        if len(role_labels):
            vectors.append(np.asarray(role_labels["vector"].tolist(), dtype=np.float32))
        self._label_roles = np.concatenate(
            [occ_labels["concept_id"].to_numpy(dtype=object), role_labels["role_id"].to_numpy(dtype=object)]
        )
        self._label_texts = np.concatenate(
            [occ_labels["text"].to_numpy(dtype=object), role_labels["text"].to_numpy(dtype=object)]
        )
        dim = encoder.dim
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32)
        self._index = VectorIndex(kind="flat").build(matrix)
        self._by_label: dict[str, str] = {}
        for rid, text in zip(self._label_roles, self._label_texts, strict=True):
            self._by_label.setdefault(str(text).lower(), str(rid))

    def search(self, queries: list[str], top_k: int = 5) -> list[list[RoleHit]]:
        """The best roles for each query (by its best-matching label), best first."""
        non_empty = [q.strip() for q in queries]
        out: list[list[RoleHit]] = [[] for _ in queries]
        todo = [i for i, q in enumerate(non_empty) if q]
        if not todo or not self._index.rows:
            return out
        vectors = self.encoder.encode([clean_title(non_empty[i]) for i in todo])
        scores, rows = self._index.search(vectors, min(self._index.rows, top_k * 8))
        for i, score_row, hit_row in zip(todo, scores, rows, strict=True):
            seen: dict[str, RoleHit] = {}
            for score, row in zip(score_row, hit_row, strict=True):
                if row < 0:
                    continue
                rid = str(self._label_roles[row])
                if rid not in seen and rid in self.roles.index:
                    role = cast("pd.Series", self.roles.loc[rid])  # one row per role id
                    seen[rid] = RoleHit(
                        rid,
                        str(role["label"]),
                        round(float(score), 4),
                        int(role["postings"]),
                        str(self._label_texts[row]),
                    )
            out[i] = sorted(seen.values(), key=lambda h: (-h.score, h.id))[:top_k]
        return out

    def resolve(self, role: str) -> str:
        """A role id from an id, an exact label/alternative title, or else the best search hit (score >= 0.8)."""
        role = role.strip()
        if role in self.roles.index:
            return role
        by_label = self._by_label.get(role.lower())
        if by_label:
            return by_label
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

    def info(self, role_id: str) -> dict[str, Any]:
        """The catalogue row of a role as a dict."""
        if role_id not in self.roles.index:
            raise UnknownRoleError(f"unknown role id {role_id!r}")
        row = self.roles.loc[role_id]
        values = cast("dict[str, Any]", row.to_dict())
        return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in values.items()}
