"""Error answers that stay valid JSON whatever the input was."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def json_safe(value: Any) -> Any:
    """``value`` made JSON-safe: NaN and infinite floats by their names, unencodable text replaced.

    JSON has no NaN or infinite numbers, and text with lone surrogates (a JSON body may hold the escape for one)
    cannot be encoded; such characters become the replacement character, and so do bytes that are not UTF-8.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):  # e.g. a body that is not UTF-8, echoed in a validation error
        return json_safe(value.decode("utf-8", "replace"))
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8", "replace") if _unencodable(value) else value
    if isinstance(value, dict):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _unencodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def request_id(request: Request) -> str | None:
    """The id :class:`~skillmatch.api.middleware.ObservabilityMiddleware` gave the request."""
    return request.scope.get("state", {}).get("request_id")


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's field-level detail and the request id; input is echoed only in JSON-safe form.

    A body such as ``{"min_score": NaN}`` would otherwise make the error answer itself fail.
    """
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={
            "detail": json_safe(jsonable_encoder(json_safe(exc.errors()))),
            "request_id": request_id(request),
        },
    )


async def http_error(request: Request, exc: Exception) -> Response:
    """Any HTTP error (404, 405, 401, 413, 503, ...) as JSON ``{"detail", "request_id"}``, headers kept."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304):  # pragma: no cover - no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse(
        status_code=exc.status_code,
        content={"detail": json_safe(jsonable_encoder(exc.detail)), "request_id": request_id(request)},
        headers=exc.headers,
    )


def internal_error_body(request_id: str) -> bytes:
    """The JSON body of a 500: no exception text (it may quote the request), only the id to find the log line."""
    return json.dumps(
        {"detail": "internal error; quote the request id when reporting it", "request_id": request_id}
    ).encode()


def url_too_long_detail(length: int, limit: int) -> str:
    """The ``detail`` of a 414: how long the URL is, the limit, and what to do instead."""
    return (
        f"URL too long: {length} bytes, the limit is {limit}; send long input in a POST body "
        "(e.g. POST /v1/recommendations instead of GET)"
    )
