"""Typed dependencies of the routes: the served bundle, payload limits, API keys, and library error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, Security, status
from fastapi.security import APIKeyHeader

from skillmatch.api.limits import PayloadLimits
from skillmatch.api.offload import LibraryRunner
from skillmatch.api.security import key_matches
from skillmatch.api.state import BundleHolder, NotReady, Served
from skillmatch.matching.gaps import UnknownCredentialError
from skillmatch.matching.roles import UnknownRoleError

#: Response header naming the generation of the bundle that answered.
GENERATION_HEADER = "X-Bundle-Generation"

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="An API key whose SHA-256 digest is listed in SKILLMATCH_API_KEY_HASHES.",
)


# The dependencies are ``async def``: they only read the app's state, and FastAPI runs a plain ``def`` dependency
# in its thread pool, a hop between threads per dependency per request (about 0.3 ms of server CPU per request
# on the development machine, and a wait for the interpreter lock behind the encoder and the other requests).


async def holder(request: Request) -> BundleHolder:
    """The app's bundle holder."""
    return request.app.state.bundles


def generation_header(current: Served) -> dict[str, str]:
    """The response header naming the generation of the bundle ``current``."""
    return {GENERATION_HEADER: str(current.generation)}


async def served(request: Request, response: Response) -> Served:
    """The bundle this request is served with: read once, at the start of the request.

    A reload swaps the holder's reference; a request that already holds this object keeps it to the end.
    """
    try:
        current = request.app.state.bundles.current
    except NotReady as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
    response.headers.update(generation_header(current))
    return current


async def limits(request: Request) -> PayloadLimits:
    """The app's payload limits."""
    return request.app.state.limits


async def runner(request: Request) -> LibraryRunner:
    """The app's :class:`~skillmatch.api.offload.LibraryRunner` (where routes' library calls run)."""
    return request.app.state.runner


async def require_api_key(
    request: Request, key: Annotated[str | None, Security(api_key_header)] = None
) -> None:
    """Refuse the request (401) unless ``X-API-Key`` holds a configured key."""
    digests: tuple[str, ...] = request.app.state.api_key_hashes
    if not key_matches(key, digests):
        # the same answer whether or not any key is configured: the answer must not tell a caller that
        # (the server logs a warning at start-up when no key is configured)
        detail = "invalid API key" if key else "this endpoint needs an API key in the X-API-Key header"
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "APIKey"}
        )


@contextmanager
def library_errors() -> Iterator[None]:
    """Map the library's expected errors: unknown ids -> 404, invalid values -> 422 with the message."""
    try:
        yield
    except (UnknownRoleError, UnknownCredentialError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except ValueError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body"], "msg": str(exc), "type": "value_error"}],
        ) from exc


ServedDep = Annotated[Served, Depends(served)]
LimitsDep = Annotated[PayloadLimits, Depends(limits)]
HolderDep = Annotated[BundleHolder, Depends(holder)]
RunnerDep = Annotated[LibraryRunner, Depends(runner)]
ApiKey = Depends(require_api_key)
