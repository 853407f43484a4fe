"""Export a recommended pathway: Open Badges 3.0 ``Achievement`` documents and a CSV table.

:func:`pathway_ob3` turns each pathway step into an OB 3.0 ``Achievement`` (the credential a learner would earn)
aligned to the taxonomy skills the step covers, wrapped in a small JSON document with the learner's target
roles and the pathway's totals. :func:`pathway_csv` writes one row per step. Both are described in
docs/data-formats.md ("Pathway export"). The achievements validate against the OB 3.0 schema subset of
:mod:`skillmatch.readers.ob3` and read back through :func:`skillmatch.readers.load_credentials` into the same
credential ids and (ESCO) skills.

Example:
    >>> from skillmatch.matching.export import EXPORT_FORMATS
    >>> EXPORT_FORMATS
    ('json', 'csv', 'ob3')
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from skillmatch.matching.recommend import PathwayStep, Recommendation

#: The formats a pathway can be written in: the recommender's own JSON, CSV, and Open Badges 3.0.
EXPORT_FORMATS = ("json", "csv", "ob3")

#: JSON-LD context of Open Badges 3.0 (named on the wrapper document; the achievements use its terms).
OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"

#: ``targetType`` of an alignment to a skill: a competency in the Credential Engine's CTDL-ASN terms, one of
#: OB 3.0's ``AlignmentTargetType`` values.
COMPETENCY_TARGET = "ceasn:Competency"

#: Columns of :func:`pathway_frame` / :func:`pathway_csv` (lists are ``|``-joined in the CSV).
PATHWAY_CSV_COLUMNS = [
    "step",
    "credential_id",
    "title",
    "provider",
    "url",
    "level",
    "mode",
    "language",
    "hours",
    "credits",
    "credit_system",
    "cost",
    "currency",
    "gain",
    "prerequisites",
    "required_by",
    "covered_skill_ids",
    "covered_skills",
    "covered_degrees",
]

_LIST_SEPARATOR = "|"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def _text(value: Any) -> str | None:
    """A non-empty string, else None (NaN, None and blanks are absent)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _alignment(skill_id: str, label: str, framework: str) -> dict[str, Any]:
    """An OB 3.0 ``Alignment`` to one taxonomy skill (``targetCode``: the last segment of a URI id)."""
    code = skill_id.rstrip("/").rsplit("/", 1)[-1]
    return {
        "type": ["Alignment"],
        "targetType": COMPETENCY_TARGET,
        "targetFramework": framework,
        "targetName": label,
        "targetUrl": skill_id,
        "targetCode": code,
    }


def step_achievement(
    step: PathwayStep, *, framework: str = "ESCO", credential: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One pathway step as an OB 3.0 ``Achievement``.

    Args:
        step: the pathway step.
        framework: the taxonomy's name, written as each alignment's ``targetFramework``.
        credential: the full catalogue row of the step's credential, if at hand (``description``,
            ``assessment`` and ``issuer`` are taken from it); otherwise the step's credential summary is used
            and the description is written from the title, provider and covered skills.

    Returns:
        The achievement: ``id`` (the credential id), ``type``, ``name``, ``description``, ``criteria``
        (``id``: the credential's http(s) URL; ``narrative``: its assessment, else how to earn it),
        ``alignment`` (one per covered skill), and ``creditsAvailable``, ``inLanguage``, ``creator`` when known.
    """
    summary = {**step.credential, **(credential or {})}
    cid = str(summary["id"])
    title = _text(summary.get("title")) or cid
    provider = _text(summary.get("provider"))
    skills = [c.label for c in step.covers]
    description = _text(summary.get("description")) or (
        f"{title}{f' ({provider})' if provider else ''}"
        + (f". Covers: {', '.join(skills)}." if skills else ".")
    )
    criteria: dict[str, Any] = {
        "narrative": _text(summary.get("assessment")) or f"Complete the credential {title!r}."
    }
    url = _text(summary.get("url"))
    if url and url.startswith(("http://", "https://")):
        criteria["id"] = url
    achievement: dict[str, Any] = {
        "id": cid,
        "type": ["Achievement"],
        "achievementType": "MicroCredential",
        "name": title,
        "description": description,
        "criteria": criteria,
        "alignment": [_alignment(c.skill_id, c.label, framework) for c in step.covers],
    }
    credits = summary.get("credits")
    if isinstance(credits, int | float) and credits == credits:
        achievement["creditsAvailable"] = float(credits)
    language = _text(summary.get("language"))
    if language:
        achievement["inLanguage"] = language
    if provider:
        achievement["creator"] = {
            "id": f"urn:skillmatch:provider:{_slug(provider)}",
            "type": ["Profile"],
            "name": provider,
        }
    return achievement


def pathway_ob3(
    recommendation: Recommendation,
    *,
    framework: str = "ESCO",
    credentials: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A pathway as Open Badges 3.0 achievements in a small JSON document.

    Args:
        recommendation: the pathway (:func:`skillmatch.matching.recommend.recommend`).
        framework: the taxonomy's name (``targetFramework`` of the alignments).
        credentials: full catalogue rows by credential id (optional; see :func:`step_achievement`).

    Returns:
        ``{"@context", "type": "SkillmatchPathway", "targetRoles", "totals", "coverageBefore", "coverageAfter",
        "steps", "achievements"}``: ``steps`` gives each step's achievement id, gain and prerequisites in study
        order; ``achievements`` holds one OB 3.0 ``Achievement`` per step (same order). Save
        ``achievements`` as a JSON array to read it back with ``skillmatch build --credentials``.
    """
    credentials = credentials or {}
    totals = recommendation.totals
    return {
        "@context": [OB3_CONTEXT],
        "type": "SkillmatchPathway",
        "targetRoles": [
            {"id": r.get("id"), "label": r.get("label"), "weight": r.get("weight")}
            for r in recommendation.roles
        ],
        "totals": {
            "items": totals.items,
            "hours": totals.hours,
            "cost": totals.cost,
            "currency": totals.currency,
            "costUnknown": totals.cost_unknown,
        },
        "coverageBefore": recommendation.coverage_before,
        "coverageAfter": recommendation.coverage_after,
        "steps": [
            {
                "step": s.step,
                "achievement": s.credential["id"],
                "gain": s.gain,
                "prerequisites": list(s.prerequisites),
                "requiredBy": s.required_by,
            }
            for s in recommendation.pathway
        ],
        "achievements": [
            step_achievement(s, framework=framework, credential=credentials.get(s.credential["id"]))
            for s in recommendation.pathway
        ],
    }


def pathway_frame(recommendation: Recommendation) -> pd.DataFrame:
    """The pathway as a table with :data:`PATHWAY_CSV_COLUMNS`, one row per step in study order.

    ``cost`` is the step's cost in the learner's currency (``currency``; empty when the price is unknown);
    list columns hold Python lists.
    """
    rows = []
    for step in recommendation.pathway:
        c = step.credential
        rows.append(
            {
                "step": step.step,
                "credential_id": c.get("id"),
                "title": c.get("title"),
                "provider": c.get("provider"),
                "url": c.get("url"),
                "level": c.get("level"),
                "mode": c.get("mode"),
                "language": c.get("language"),
                "hours": c.get("duration_hours"),
                "credits": c.get("credits"),
                "credit_system": c.get("credit_system"),
                "cost": step.cost_in_currency,
                "currency": recommendation.totals.currency,
                "gain": step.gain,
                "prerequisites": list(step.prerequisites),
                "required_by": step.required_by,
                "covered_skill_ids": [x.skill_id for x in step.covers],
                "covered_skills": [x.label for x in step.covers],
                "covered_degrees": [x.degree for x in step.covers],
            }
        )
    return pd.DataFrame(rows, columns=PATHWAY_CSV_COLUMNS)


def pathway_csv(recommendation: Recommendation) -> str:
    """The pathway as CSV text (:data:`PATHWAY_CSV_COLUMNS`; list cells ``|``-joined, as the catalogue reads them).

    An empty pathway gives the header line alone.
    """
    frame = pathway_frame(recommendation)
    for column in ("prerequisites", "covered_skill_ids", "covered_skills", "covered_degrees"):
        frame[column] = [_LIST_SEPARATOR.join(str(v) for v in values) for values in frame[column]]
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def export_pathway(
    recommendation: Recommendation,
    fmt: str,
    *,
    framework: str = "ESCO",
    credentials: Mapping[str, Mapping[str, Any]] | None = None,
) -> str | dict[str, Any]:
    """A pathway in one of :data:`EXPORT_FORMATS`: a dict for ``json`` and ``ob3``, CSV text for ``csv``.

    Raises:
        ValueError: an unknown format.
    """
    if fmt == "json":
        return recommendation.to_dict()
    if fmt == "ob3":
        return pathway_ob3(recommendation, framework=framework, credentials=credentials)
    if fmt == "csv":
        return pathway_csv(recommendation)
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
