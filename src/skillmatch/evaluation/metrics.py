"""Ranking metrics for linking evaluation.

Every function works on one query: ``ranking`` is a sequence of ids, best first, and ``relevant`` is either a
collection of relevant ids (binary relevance) or a mapping ``id -> gain`` (graded relevance; ids with gain 0
count as not relevant). :func:`mean_metrics` averages them over a set of queries.

R-Precision@k follows Decorte et al. 2022 (arXiv 2209.05987): the number of relevant ids in the top ``k``
divided by ``min(k, |relevant|)``, so a query with fewer than ``k`` gold ids can still reach 1.0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence

#: Relevance of one query: a collection of relevant ids, or graded gains per id.
Relevance = Collection[str] | Mapping[str, float]


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _check_ranking(ranking: Sequence[str]) -> None:
    if isinstance(ranking, str):
        raise TypeError("ranking must be a sequence of ids, not a single string")
    if len(set(ranking)) != len(ranking):
        dupes = sorted(item for item, count in Counter(ranking).items() if count > 1)
        raise ValueError(f"ranking contains duplicate ids: {dupes[:5]}")


def _gains(relevant: Relevance) -> dict[str, float]:
    """Normalise ``relevant`` to a dict of positive gains; raise if nothing is relevant."""
    if isinstance(relevant, str):
        raise TypeError("relevant must be a collection of ids or a mapping id -> gain, not a single string")
    if isinstance(relevant, Mapping):
        gains: dict[str, float] = {}
        for key, value in relevant.items():
            gain = float(value)
            if not math.isfinite(gain) or gain < 0:
                raise ValueError(f"relevance gain of {key!r} must be a finite number >= 0, got {value!r}")
            if gain > 0:
                gains[key] = gain
    else:
        gains = dict.fromkeys(relevant, 1.0)
    if not gains:
        raise ValueError("the query has no relevant ids")
    return gains


def _hits(ranking: Sequence[str], relevant: Relevance, k: int | None) -> tuple[list[str], dict[str, float]]:
    if k is not None:
        _check_k(k)
    _check_ranking(ranking)
    gains = _gains(relevant)
    top = list(ranking if k is None else ranking[:k])
    return top, gains


def r_precision_at_k(ranking: Sequence[str], relevant: Relevance, k: int) -> float:
    """R-Precision@k (Decorte et al. 2022): relevant ids in the top ``k`` / ``min(k, |relevant|)``.

    Args:
        ranking: Predicted ids, best first (no duplicates).
        relevant: The gold ids of the query (non-empty).
        k: Cut-off, a positive integer.

    Returns:
        A value in ``[0, 1]``.

    Raises:
        ValueError: If ``k`` is not positive, the ranking has duplicates, or nothing is relevant.
    """
    top, gains = _hits(ranking, relevant, k)
    return sum(1 for r in top if r in gains) / min(k, len(gains))


def recall_at_k(ranking: Sequence[str], relevant: Relevance, k: int) -> float:
    """Recall@k: the share of the relevant ids found in the top ``k``.

    Args:
        ranking: Predicted ids, best first (no duplicates).
        relevant: The gold ids of the query (non-empty).
        k: Cut-off, a positive integer.

    Returns:
        A value in ``[0, 1]``.
    """
    top, gains = _hits(ranking, relevant, k)
    return sum(1 for r in top if r in gains) / len(gains)


def precision_at_k(ranking: Sequence[str], relevant: Relevance, k: int) -> float:
    """Precision@k: relevant ids in the top ``k`` divided by ``k`` (a short ranking is not rewarded).

    Args:
        ranking: Predicted ids, best first (no duplicates).
        relevant: The gold ids of the query (non-empty).
        k: Cut-off, a positive integer.

    Returns:
        A value in ``[0, 1]``.
    """
    top, gains = _hits(ranking, relevant, k)
    return sum(1 for r in top if r in gains) / k


def accuracy_at_k(ranking: Sequence[str], relevant: Relevance, k: int) -> float:
    """Accuracy@k (hit rate): 1.0 if any relevant id is in the top ``k``, else 0.0.

    Args:
        ranking: Predicted ids, best first (no duplicates).
        relevant: The gold ids of the query (non-empty).
        k: Cut-off, a positive integer.
    """
    top, gains = _hits(ranking, relevant, k)
    return 1.0 if any(r in gains for r in top) else 0.0


def reciprocal_rank(ranking: Sequence[str], relevant: Relevance, k: int | None = None) -> float:
    """Reciprocal rank of the first relevant id (0.0 if none is ranked, or none within ``k`` when given).

    Args:
        ranking: Predicted ids, best first (no duplicates).
        relevant: The gold ids of the query (non-empty).
        k: Optional cut-off, a positive integer.
    """
    top, gains = _hits(ranking, relevant, k)
    for position, item in enumerate(top, start=1):
        if item in gains:
            return 1.0 / position
    return 0.0


def ndcg_at_k(ranking: Sequence[str], relevant: Relevance, k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` with linear gains and ``log2(rank + 1)`` discount.

    With a collection of ids every relevant id has gain 1; with a mapping the gains are graded. This matches
    :func:`sklearn.metrics.ndcg_score` on rankings without ties.

    Args:
        ranking: Predicted ids, best first (no duplicates).
        relevant: Gold ids, or a mapping id -> gain (>= 0, at least one positive).
        k: Cut-off, a positive integer.

    Returns:
        A value in ``[0, 1]``.
    """
    top, gains = _hits(ranking, relevant, k)
    dcg = sum(gains.get(item, 0.0) / math.log2(position + 1) for position, item in enumerate(top, start=1))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(position + 1) for position, gain in enumerate(ideal, start=1))
    return dcg / idcg


def mean_metrics(
    rankings: Sequence[Sequence[str]],
    relevants: Sequence[Relevance],
    ks: Sequence[int] = (1, 5, 10),
) -> dict[str, float]:
    """Average the per-query metrics over a query set.

    Args:
        rankings: One ranking per query, best first.
        relevants: The relevant ids (or graded gains) of each query, aligned with ``rankings``.
        ks: Cut-offs; for each ``k`` the result has ``rp@k``, ``recall@k``, ``precision@k``, ``acc@k`` and
            ``ndcg@k``.

    Returns:
        A dict with the metrics above, ``mrr`` (uncut mean reciprocal rank) and ``n`` (number of queries).

    Raises:
        ValueError: If the inputs differ in length, are empty, or a query is invalid (no relevant ids,
            duplicate ids in its ranking); the message names the query index.
    """
    if len(rankings) != len(relevants):
        raise ValueError(f"got {len(rankings)} rankings but {len(relevants)} relevance sets")
    if not rankings:
        raise ValueError("no queries to evaluate")
    ks = list(dict.fromkeys(ks))
    if not ks:
        raise ValueError("ks must name at least one cut-off")
    for k in ks:
        _check_k(k)
    per_k = {
        "rp": r_precision_at_k,
        "recall": recall_at_k,
        "precision": precision_at_k,
        "acc": accuracy_at_k,
        "ndcg": ndcg_at_k,
    }
    totals: dict[str, float] = {f"{name}@{k}": 0.0 for k in ks for name in per_k}
    totals["mrr"] = 0.0
    for index, (ranking, relevant) in enumerate(zip(rankings, relevants, strict=True)):
        try:
            for k in ks:
                for name, fn in per_k.items():
                    totals[f"{name}@{k}"] += fn(ranking, relevant, k)
            totals["mrr"] += reciprocal_rank(ranking, relevant)
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"query {index}: {exc}") from exc
    n = len(rankings)
    result: dict[str, float] = {key: value / n for key, value in totals.items()}
    result["n"] = n
    return result
