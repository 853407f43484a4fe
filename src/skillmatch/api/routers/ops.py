"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from skillmatch.api.deps import HolderDep
from skillmatch.api.models import HealthOut, ReadyOut
from skillmatch.api.prometheus import CONTENT_TYPE
from skillmatch.api.routers import errors

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthOut)
def health() -> HealthOut:
    """Liveness: the process answers."""
    return HealthOut()


@router.get("/ready", response_model=ReadyOut, responses=errors(503))
def ready(holder: HolderDep) -> ReadyOut:
    """Readiness: a bundle is loaded; describes it (path, generation, taxonomy, model, counts)."""
    if not holder.ready:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no bundle is loaded yet")
    return ReadyOut.model_validate({"bundle": holder.current.summary()})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text exposition."}},
)
def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency per route template, the served bundle, reloads."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
