"""One router per resource; :func:`skillmatch.api.app.create_app` mounts them under ``/v1``."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel

from skillmatch.api.deps import generation_header
from skillmatch.api.models import ErrorResponse
from skillmatch.api.state import Served

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


#: Error answers any route may give, added to every operation of the OpenAPI schema (:func:`add_common_errors`).
COMMON_ERRORS: dict[str, str] = {
    "414": "URL too long (SKILLMATCH_API_MAX_URL_BYTES); send long input in a POST body.",
    "504": "The request took longer than SKILLMATCH_API_REQUEST_TIMEOUT; its work was stopped.",
}


def add_common_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """Add :data:`COMMON_ERRORS` to every operation of an OpenAPI ``spec`` (in place; returned)."""
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                for code, description in COMMON_ERRORS.items():
                    operation["responses"].setdefault(code, {"description": description, "content": body})
    return spec


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry for the given error status codes."""
    return {code: ERRORS[code] for code in codes}


def json_response(model: BaseModel, served: Served) -> Response:
    """``model`` as a JSON response, serialised once, naming the generation of the bundle ``served``.

    The generation is given in the header :func:`skillmatch.api.deps.served` sets on responses FastAPI builds.

    Endpoints build their answer as a validated model and return it through this. Returning the model itself
    would make FastAPI validate it again against the route's ``response_model`` (for a plain ``def`` endpoint,
    in a second trip through the thread pool) and serialise it once more: about 0.5 ms and a thread hand-off per
    request (docs/performance.md). The route keeps ``response_model`` for its OpenAPI schema.
    """
    return Response(model.model_dump_json(), media_type="application/json", headers=generation_header(served))
