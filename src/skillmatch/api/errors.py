"""Error answers that stay valid JSON whatever the input was."""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def json_safe(value: Any) -> Any:
    """``value`` made JSON-safe: NaN and infinite floats by their names, unencodable text replaced.

    JSON has no NaN or infinite numbers, and text with lone surrogates (a JSON body may hold the escape for one)
    cannot be encoded; such characters become the replacement character.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
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


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's field-level detail; the offending input is echoed only in JSON-safe form.

    A body such as ``{"min_score": NaN}`` would otherwise make the error answer itself fail.
    """
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": json_safe(jsonable_encoder(exc.errors()))},
    )
