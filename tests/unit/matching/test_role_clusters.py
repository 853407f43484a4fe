"""Clustering of posting titles that match no occupation: one point per distinct title, bounded memory for many."""

from __future__ import annotations

import numpy as np
import pytest

from skillmatch.matching import roles
from skillmatch.matching.roles import RoleParams, _cluster_titles

DIM = 16


def _titles(groups: int, per_group: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """``per_group`` distinct titles around each of ``groups`` well-separated unit directions."""
    rng = np.random.default_rng(seed)
    out = []
    for g in range(groups):
        centre = np.zeros(DIM, dtype=np.float32)
        centre[g] = 1.0
        for t in range(per_group):
            vec = centre + 0.05 * rng.standard_normal(DIM).astype(np.float32)
            out.append((f"title {g}-{t}", vec / np.linalg.norm(vec)))
    return out


def _role_of_each_posting(unmatched: list[tuple[str, str, np.ndarray]]) -> dict[str, str]:
    _, _, rows = _cluster_titles(unmatched, RoleParams())
    return {pid: rid for pid, rid, _, _ in rows}


def test_each_distinct_title_is_clustered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    titles = _titles(groups=3, per_group=2)
    unmatched = [(f"p{n}", *titles[n % len(titles)]) for n in range(600)]  # 600 postings, 6 titles
    fitted: list[int] = []
    real = roles.AgglomerativeClustering.fit_predict

    def spy(self: object, x: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        fitted.append(len(x))
        return real(self, x, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(roles.AgglomerativeClustering, "fit_predict", spy)
    role_of = _role_of_each_posting(unmatched)
    assert fitted == [6]
    assert len(role_of) == 600
    by_title: dict[str, set[str]] = {}
    for pid, title, _ in unmatched:
        by_title.setdefault(title, set()).add(role_of[pid])
    assert all(len(r) == 1 for r in by_title.values())  # a title's postings share its role
    assert len({next(iter(r)) for r in by_title.values()}) == 3  # the three groups


def test_many_titles_cluster_along_neighbours_like_all_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    unmatched = [(f"p{n}", title, vec) for n, (title, vec) in enumerate(_titles(groups=4, per_group=30))]
    exact = _role_of_each_posting(unmatched)
    monkeypatch.setattr(roles, "EXACT_CLUSTER_TITLES", 10)
    graphs: list[int] = []
    real = roles._neighbour_graph

    def spy(vectors: np.ndarray, k: int) -> object:
        graphs.append(len(vectors))
        return real(vectors, k)

    monkeypatch.setattr(roles, "_neighbour_graph", spy)
    bounded = _role_of_each_posting(unmatched)
    assert graphs == [120]
    assert len(set(exact.values())) == 4
    # the same partition of the postings (role ids are named after each cluster's most common title)
    groups = {frozenset(p for p in exact if exact[p] == r) for r in set(exact.values())}
    assert groups == {frozenset(p for p in bounded if bounded[p] == r) for r in set(bounded.values())}
