"""Response formats of ``/v1/recommendations``: the recommender's JSON, CSV or Open Badges 3.0 achievements.

The format comes from the ``format`` query parameter, else from the ``Accept`` header (``text/csv``;
``application/ld+json`` or ``application/vnd.openbadges+json`` for OB 3.0; ``application/json`` or anything else:
JSON). The documents themselves are written by :mod:`skillmatch.matching.export`.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from fastapi import Response

from skillmatch.api.deps import generation_header
from skillmatch.api.models import RecommendationOut
from skillmatch.api.state import Served
from skillmatch.matching.export import pathway_csv, pathway_ob3
from skillmatch.matching.recommend import Recommendation


class PathwayFormat(StrEnum):
    """Formats of a recommended pathway."""

    json = "json"
    csv = "csv"
    ob3 = "ob3"


#: Media type of each format's response.
MEDIA_TYPES = {
    PathwayFormat.json: "application/json",
    PathwayFormat.csv: "text/csv; charset=utf-8",
    PathwayFormat.ob3: "application/ld+json",
}

#: Accept-header media types and the format each asks for.
ACCEPTED = {
    "application/json": PathwayFormat.json,
    "text/csv": PathwayFormat.csv,
    "application/ld+json": PathwayFormat.ob3,
    "application/vnd.openbadges+json": PathwayFormat.ob3,
}

#: The OpenAPI ``responses`` entry of the 200 answer's other media types.
PATHWAY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/ld+json": {"schema": {"type": "object"}},
        },
        "description": "The pathway: JSON (default), CSV (`format=csv` or `Accept: text/csv`) or Open Badges 3.0 "
        "achievements (`format=ob3` or `Accept: application/ld+json`).",
    }
}


def negotiate(requested: PathwayFormat | None, accept: str | None) -> PathwayFormat:
    """The format to answer in: ``requested`` when given, else the best known type of ``accept``, else JSON.

    Args:
        requested: the ``format`` query parameter.
        accept: the ``Accept`` header; entries are ranked by their ``q`` value (default 1), ties in the order
            given; unknown types and ``*/*`` are skipped.

    Returns:
        The format.
    """
    if requested is not None:
        return requested
    best: tuple[float, int, PathwayFormat] | None = None
    for position, entry in enumerate((accept or "").split(",")):
        media, *params = (part.strip() for part in entry.split(";"))
        found = ACCEPTED.get(media.lower())
        if found is None:
            continue
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and (best is None or (quality, -position) > (best[0], -best[1])):
            best = (quality, position, found)
    return best[2] if best else PathwayFormat.json


def pathway_response(result: Recommendation, fmt: PathwayFormat, served: Served) -> Response:
    """``result`` as a response in ``fmt``, naming the generation of the bundle ``served``."""
    headers = generation_header(served)
    if fmt is PathwayFormat.csv:
        return Response(pathway_csv(result), media_type=MEDIA_TYPES[fmt], headers=headers)
    if fmt is PathwayFormat.ob3:
        document = pathway_ob3(
            result,
            framework=served.bundle.taxonomy.name,
            credentials=served.matcher.credentials_by_id,
        )
        return Response(
            json.dumps(document, ensure_ascii=False), media_type=MEDIA_TYPES[fmt], headers=headers
        )
    model = RecommendationOut.model_validate(result, from_attributes=True)
    return Response(model.model_dump_json(), media_type=MEDIA_TYPES[fmt], headers=headers)
