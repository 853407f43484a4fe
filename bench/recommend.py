"""Optimiser against naive retrieval: weighted gap closed at equal hour budgets, and time per recommendation.

Naive retrieval ranks credentials by the similarity of their learning outcomes to the role's label and
description (the bundle's outcome index) and takes them in that order while they fit the hour budget. The
optimiser is ``skillmatch.matching.recommend.recommend``. Both are scored with the same objective: the share of the
learner's weighted gap that the picks close (graded coverage, see docs/matching.md).

Learners are generated per role: each knows a seeded random 0–60 % of the role's profile skills.

What this measures, and what it does not: the demo catalogue and the learners are written by the team, and the
score is the recommender's own objective, so this is a regression check of the optimiser against a retrieval
baseline on data that shares its assumptions. It says nothing about data we did not write: for that, see the
career-move benchmark built from ESCO alone (``bench/career.py``, docs/career-benchmark.md), scored with a
published metric.

    python bench/recommend.py --bundle models/bundles/demo --learners 10 --budgets 40 80 160
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from skillmatch.config import get_settings
from skillmatch.facade import load as load_service
from skillmatch.matching.context import MatchContext
from skillmatch.matching.gaps import Learner, analyse_gap, resolve_learner
from skillmatch.matching.recommend import Limits, credential_coverage, recommend


def naive_picks(matcher: MatchContext, role_id: str, max_hours: float, depth: int = 300) -> list[str]:
    """Credentials by outcome similarity to the role text, taken in order while they fit the hour budget."""
    bundle = matcher.bundle
    info = matcher.roles.info(role_id)
    text = f"{info['label']}. {info.get('description') or ''}"
    _scores, rows = bundle.outcome_index.search(matcher.encoder.encode([text]), depth)
    order = list(dict.fromkeys(bundle.outcomes["credential_id"].to_numpy()[rows[0][rows[0] >= 0]]))
    picks, hours = [], 0.0
    for cid in order:
        h = float(matcher.credentials_by_id[cid].get("duration_hours") or 0.0)
        if hours + h <= max_hours:
            picks.append(cid)
            hours += h
    return picks


def closed_share(
    matcher: MatchContext, learner: Learner, role_id: str, picks: list[str]
) -> tuple[float, float]:
    """(weighted gap closed by ``picks``, total gap) with the recommender's graded coverage."""
    report = analyse_gap(matcher, resolve_learner(matcher, learner), [role_id])
    gap = report.gap()
    coverage, _ = credential_coverage(matcher, gap, [i.skill_id for i in report.items])
    closed = sum(
        w * max((coverage.get(c, {}).get(s, (0.0,))[0] for c in picks), default=0.0) for s, w in gap.items()
    )
    return closed, sum(gap.values())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, default=Path("models/bundles/demo"))
    parser.add_argument("--learners", type=int, default=10, help="generated learners per role")
    parser.add_argument("--budgets", type=float, nargs="+", default=[40, 80, 160])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    matcher = load_service(args.bundle, settings=get_settings()).context
    roles = matcher.bundle.roles
    role_ids = roles[roles["source"] == "taxonomy"]["id"].tolist()
    rng = random.Random(args.seed)
    rows = []
    for budget in args.budgets:
        opt, naive, times = [], [], []
        for rid in role_ids:
            labels = [matcher.concept_labels[s] for s in matcher.roles.profile(rid)["skill_id"]]
            for _ in range(args.learners):
                known = rng.sample(labels, k=int(len(labels) * rng.uniform(0, 0.6)))
                learner = Learner(skills=known or ["communication"])
                start = time.perf_counter()
                result = recommend(matcher, learner, [rid], Limits(max_hours=budget))
                times.append(time.perf_counter() - start)
                total = result.gap_total
                if total <= 0:
                    continue
                opt.append(result.gap_closed / total)
                closed, total2 = closed_share(matcher, learner, rid, naive_picks(matcher, rid, budget))
                naive.append(closed / total2 if total2 else 0.0)
        rows.append(
            (
                budget,
                len(opt),
                statistics.mean(opt),
                statistics.mean(naive),
                statistics.median(times) * 1000,
                sorted(times)[int(0.95 * (len(times) - 1))] * 1000,
            )
        )
    print(f"bundle {args.bundle}: {len(role_ids)} roles x {args.learners} learners per budget")
    print(
        "| hour budget | cases | optimiser: gap closed | naive retrieval: gap closed | ratio | "
        "optimiser ms (median) | ms (p95) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for budget, n, o, nv, med, p95 in rows:
        print(
            f"| {budget:g} | {n} | {o:.1%} | {nv:.1%} | {o / nv if nv else float('inf'):.2f}x | {med:.1f} | {p95:.1f} |"
        )


if __name__ == "__main__":
    main()
