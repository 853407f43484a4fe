"""``/v1/admin``: hot reload of the served bundle (API key required)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status
from starlette.concurrency import run_in_threadpool

from skillmatch.api.deps import ApiKey, HolderDep
from skillmatch.api.models import ReloadOut, ReloadRequest
from skillmatch.api.routers import API_PREFIX, errors
from skillmatch.api.state import ReloadRefused

router = APIRouter(prefix=f"{API_PREFIX}/admin", tags=["admin"], dependencies=[ApiKey])


@router.post("/reload", response_model=ReloadOut, responses=errors(400, 401, 409, 413, 422))
async def reload(holder: HolderDep, body: Annotated[ReloadRequest | None, Body()] = None) -> ReloadOut:
    """Load a bundle beside the served one and swap it in atomically.

    The bundle is read from ``body.bundle``, by default the served one's folder again. Requests in flight
    finish on the old bundle. A bundle that fails to load or validate is refused (409) and the old one keeps
    serving.
    """
    previous = holder.current.summary(full_path=True) if holder.ready else None
    path = Path(body.bundle) if body is not None and body.bundle else None
    try:
        served = await run_in_threadpool(holder.load, path)
    except ReloadRefused as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return ReloadOut.model_validate({"previous": previous, "current": served.summary(full_path=True)})
