"""Cohorts for career offices: many learners against one or more roles.

The result is a gap table (per role skill: share of learners missing it, share with partial coverage, mean gap
weight) and the credentials that close the most gap across the cohort (the sum over learners of what each
credential alone would close for them, with the number of learners it helps).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pandas as pd

from skillmatch import deadline
from skillmatch.matching.context import MatchContext
from skillmatch.matching.gaps import Learner, analyse_gap, resolve_learner
from skillmatch.matching.recommend import Limits, credential_coverage, exclusion_reason

GAP_TABLE_COLUMNS = [
    "skill_id",
    "label",
    "weight",
    "share_missing",
    "share_partial",
    "mean_gap_weight",
    "learners",
]


def cohort_gaps(
    matcher: MatchContext,
    learners: Sequence[Learner],
    role_ids: Sequence[str],
    *,
    limits: Limits | None = None,
    top_credentials: int = 10,
) -> dict[str, Any]:
    """Gap table and best credentials for a cohort (JSON-ready dict; ``gaps`` rows follow GAP_TABLE_COLUMNS)."""
    if not learners:
        raise ValueError("the cohort has no learners")
    duplicates = sorted(i for i, n in Counter(lr.id for lr in learners).items() if n > 1)
    if duplicates:
        raise ValueError(f"duplicate learner ids in the cohort: {', '.join(duplicates[:10])}")
    limits = limits or Limits()
    per_skill: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    weights: dict[str, float] = {}
    gains: dict[str, float] = defaultdict(float)
    helped: dict[str, int] = defaultdict(int)
    learner_rows: list[dict[str, Any]] = []
    for learner in learners:
        deadline.check()  # a cohort is long work: stop between learners once the request is given up
        report = analyse_gap(matcher, resolve_learner(matcher, learner), role_ids)
        learner_rows.append(
            {
                "id": learner.id,
                "coverage": report.coverage,
                "missing": sum(1 for i in report.items if i.status == "missing"),
                "unmatched_skills": report.learner.unmatched,
            }
        )
        for item in report.items:
            weights[item.skill_id] = item.weight
            stats = per_skill[item.skill_id]
            stats["missing"] += item.status == "missing"
            stats["partial"] += item.status == "partial"
            stats["gap"] += item.gap_weight
        gap = report.gap()
        held = set(learner.credentials_held)
        coverage, relevance = credential_coverage(matcher, gap, [i.skill_id for i in report.items])
        for cid, cov in coverage.items():
            off_target = relevance[cid] < matcher.params.min_relevance
            if cid in held or off_target or exclusion_reason(matcher, cid, limits):
                continue
            value = sum(gap[s] * v[0] for s, v in cov.items())
            if value > 0:
                gains[cid] += value
                helped[cid] += 1
    n = len(learners)
    rows: list[dict[str, Any]] = [
        {
            "skill_id": sid,
            "label": matcher.concept_labels.get(sid, sid),
            "weight": round(weights[sid], 4),
            "share_missing": round(s["missing"] / n, 4),
            "share_partial": round(s["partial"] / n, 4),
            "mean_gap_weight": round(s["gap"] / n, 4),
            "learners": n,
        }
        for sid, s in per_skill.items()
    ]
    rows.sort(key=lambda r: (-r["mean_gap_weight"], -r["share_missing"], r["skill_id"]))
    best = sorted(gains, key=lambda c: (-gains[c], c))[:top_credentials]
    credentials = []
    for cid in best:
        c = matcher.credentials_by_id[cid]
        credentials.append(
            {
                "id": cid,
                "title": c.get("title"),
                "provider": c.get("provider"),
                "level": c.get("level"),
                "duration_hours": c.get("duration_hours"),
                "cost": c.get("cost"),
                "currency": c.get("currency"),
                "total_gap_closed": round(gains[cid], 4),
                "learners_helped": helped[cid],
                "mean_gap_closed": round(gains[cid] / n, 4),
            }
        )
    roles = [matcher.roles.info(r) | {"id": r} for r in role_ids]
    return {
        "roles": [{"id": r["id"], "label": r["label"]} for r in roles],
        "learners": n,
        "mean_coverage": round(sum(r["coverage"] for r in learner_rows) / n, 4),
        "gaps": rows,
        "credentials": credentials,
        "per_learner": learner_rows,
    }


def gap_table(result: dict[str, Any]) -> pd.DataFrame:
    """The cohort gap table as a DataFrame (for CSV output and notebooks)."""
    return pd.DataFrame(result["gaps"], columns=GAP_TABLE_COLUMNS)
