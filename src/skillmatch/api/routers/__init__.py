"""One router per resource; :func:`skillmatch.api.app.create_app` mounts them under ``/v1``."""

from __future__ import annotations

from typing import Any

from skillmatch.api.models import ErrorResponse

#: Prefix of the versioned API. Routers carry it in their own prefix (not through ``include_router``) so that
#: a matched route's ``path`` is the full template, which the metrics label requests with.
API_PREFIX = "/v1"

#: OpenAPI descriptions of the error answers routes share.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body cannot be decoded (e.g. it is not UTF-8)."},
    401: {"model": ErrorResponse, "description": "Missing or invalid API key."},
    404: {"model": ErrorResponse, "description": "Unknown role or credential id."},
    409: {"model": ErrorResponse, "description": "The bundle was refused; the old one keeps serving."},
    413: {"model": ErrorResponse, "description": "Payload too large (body size, text length or count)."},
    422: {"model": ErrorResponse, "description": "Invalid input, with the field(s) at fault."},
    503: {"model": ErrorResponse, "description": "No bundle is loaded yet."},
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry for the given error status codes."""
    return {code: ERRORS[code] for code in codes}
