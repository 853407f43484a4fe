"""``/v1/skills``: link free text to taxonomy skills."""

from __future__ import annotations

from fastapi import APIRouter, Response

from skillmatch.api.deps import LimitsDep, ServedDep, library_errors
from skillmatch.api.models import ExtractRequest, ExtractResponse, ExtractResult, LinkedSkillOut
from skillmatch.api.routers import API_PREFIX, errors, json_response

router = APIRouter(prefix=f"{API_PREFIX}/skills", tags=["skills"])


@router.post("/extract", response_model=ExtractResponse, responses=errors(400, 413, 422, 503))
def extract(body: ExtractRequest, served: ServedDep, limits: LimitsDep) -> Response:
    """Link each text to its best taxonomy skills, with the evidence for each link (one result per text)."""
    limits.texts(("body", "texts"), body.texts, limits.max_texts, "texts")
    limits.request_chars(("body", "texts"), body)
    with library_errors():
        found = served.service.linker.link(body.texts, top_k=body.top_k, min_score=body.min_score)
    return json_response(
        ExtractResponse(
            results=[
                ExtractResult(text=text, skills=[LinkedSkillOut(**s.to_dict()) for s in skills])
                for text, skills in zip(body.texts, found, strict=True)
            ]
        ),
        served,
    )
