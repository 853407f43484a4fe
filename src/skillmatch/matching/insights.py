"""Summary tables for exploration (the notebooks plot these; they hold no logic of their own)."""

from __future__ import annotations

import pandas as pd

from skillmatch.bundle import Bundle
from skillmatch.matching.context import MatchContext


def taxonomy_summary(bundle: Bundle) -> pd.DataFrame:
    """Concepts per type and top-level group, with how many are taught by a credential or asked for by a posting."""
    concepts = bundle.taxonomy.concepts
    taught = set(bundle.credential_skills["skill_id"])
    asked = set(bundle.posting_skills["skill_id"])
    frame = pd.DataFrame(
        {
            "type": concepts["type"].fillna("unknown"),
            "group": [
                p.split(" > ")[0] if isinstance(p, str) and p else "(no group)"
                for p in concepts["group_path"]
            ],
            "taught": concepts["id"].isin(taught),
            "asked": concepts["id"].isin(asked),
        }
    )
    out = frame.groupby(["type", "group"]).agg(
        concepts=("taught", "size"), taught=("taught", "sum"), asked=("asked", "sum")
    )
    return out.reset_index().sort_values("concepts", ascending=False, ignore_index=True)


def catalogue_coverage(matcher: MatchContext, *, min_postings: int = 0) -> pd.DataFrame:
    """Per role: how much of its profile weight the credential catalogue can teach at all (best degree per skill).

    Columns: role_id, label, postings, skills, weight, teachable_weight, teachable_share, untaught (labels of the
    heaviest skills no credential teaches, up to five).
    """
    roles = matcher.bundle.roles
    rows = []
    for rid, label, postings in zip(roles["id"], roles["label"], roles["postings"], strict=True):
        if postings < min_postings:
            continue
        profile = matcher.roles.profile(rid)
        if profile.empty:
            continue
        related = matcher.space.related(profile["skill_id"])
        best = {}
        for sid in profile["skill_id"]:
            best[sid] = max(
                (
                    rel.credit * matcher.strength(score)
                    for rel in related[sid]
                    for _, score, _ in matcher.credentials_by_skill.get(rel.other, [])
                ),
                default=0.0,
            )
        weight = float(profile["weight"].sum())
        teachable = float(
            sum(w * best[s] for s, w in zip(profile["skill_id"], profile["weight"], strict=True))
        )
        untaught = [matcher.concept_labels.get(s, s) for s in profile["skill_id"] if best[s] == 0][:5]
        rows.append(
            {
                "role_id": rid,
                "label": label,
                "postings": int(postings),
                "skills": len(profile),
                "weight": round(weight, 4),
                "teachable_weight": round(teachable, 4),
                "teachable_share": round(teachable / weight, 4) if weight else 0.0,
                "untaught": untaught,
            }
        )
    return pd.DataFrame(rows).sort_values("teachable_share", ignore_index=True) if rows else pd.DataFrame()
