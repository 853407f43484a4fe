"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, Security, status

from skillmatch.api.deps import HolderDep, api_key_header
from skillmatch.api.models import HealthOut, ReadyOut
from skillmatch.api.prometheus import CONTENT_TYPE
from skillmatch.api.routers import errors
from skillmatch.api.security import key_matches

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    """Liveness: the process answers."""
    return HealthOut()


@router.get("/ready", response_model=ReadyOut, responses=errors(503))
def ready(
    holder: HolderDep, request: Request, key: Annotated[str | None, Security(api_key_header)] = None
) -> ReadyOut:
    """Readiness: a bundle is loaded; describes it (name, generation, taxonomy, model, counts).

    The bundle's absolute path is given only with a valid API key; without one (or with a wrong one) it is
    null and the answer is otherwise the same.
    """
    if not holder.ready:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no bundle is loaded yet")
    full_path = key_matches(key, request.app.state.api_key_hashes)
    return ReadyOut.model_validate({"bundle": holder.current.summary(full_path=full_path)})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text exposition."}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency per route template, the served bundle, reloads."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
