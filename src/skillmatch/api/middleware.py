"""ASGI middleware: request ids, access logs and metrics.

The request body size limit is FastAPI's own (``FastAPI(max_body_size=...)``: by ``Content-Length`` and by
counting the bytes of chunked bodies), set from ``SKILLMATCH_API_MAX_BODY_BYTES``.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skillmatch.api.errors import internal_error_body, url_too_long_detail
from skillmatch.api.prometheus import UNMATCHED, Metrics

access_log = logging.getLogger("skillmatch.api.access")
error_log = logging.getLogger("skillmatch.api.errors")

REQUEST_ID_HEADER = "x-request-id"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class ObservabilityMiddleware:
    """Gives each request an id, returns it in the response, and logs and counts the request.

    The id is kept from a safe ``X-Request-ID`` header, else new. The request is logged and counted by its
    route template once it is done. It is also the catch-all error handler: an exception from the app becomes a
    JSON 500 with the request id (if no answer was started) and one log line naming the exception's type only:
    an exception's text and traceback can quote the request, and request text never reaches the logs. Nothing is
    re-raised to the server, which would log the traceback.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI event: tag, time, log and count HTTP requests; pass anything else through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and _SAFE_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send_with_id(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:  # the catch-all: a JSON 500, a log line without the exception's text
            status = 500
            error_log.error(
                "unhandled error",
                extra={
                    "request_id": request_id,
                    "error_type": type(exc).__qualname__,
                    "method": scope["method"],
                },
            )
            if not started:
                body = internal_error_body(request_id)
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"%d" % len(body)),
                        ],
                    }
                )
                await send_with_id({"type": "http.response.body", "body": body, "more_body": False})
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            self.metrics.observe(scope["method"], template, status, elapsed)
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )


def url_bytes(scope: Scope) -> int:
    """The length in bytes of a request's URL as sent: path and query string."""
    path = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    query = scope.get("query_string", b"")
    return len(path) + (len(query) + 1 if query else 0)


class UrlLimitMiddleware:
    """Refuses a request whose URL (path and query, in bytes) is longer than ``max_bytes``: a JSON 414.

    Longer URLs than the server's HTTP parser can take apart never reach the app: the server's protocol
    answers those (:mod:`skillmatch.api.protocol`).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer an HTTP request with too long a URL with a 414; pass anything else through."""
        if scope["type"] == "http" and (length := url_bytes(scope)) > self.max_bytes:
            body = json.dumps(
                {
                    "detail": url_too_long_detail(length, self.max_bytes),
                    "request_id": scope.get("state", {}).get("request_id"),
                }
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
            await send({"type": "http.response.start", "status": 414, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        await self.app(scope, receive, send)


class JsonTooLargeMiddleware:
    """Answers the request body limiter's plain-text 413 as JSON, like every other error of the API.

    FastAPI's body limit (``max_body_size``) answers ``Content Too Large`` as text/plain when a request declares
    too large a ``Content-Length`` and the endpoint answers before reading the body (e.g. a refused API key, a
    reload already running). It sits outside the application's own middleware, so this wraps the whole stack
    (see :class:`skillmatch.api.app.SkillmatchAPI`).
    """

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.body = json.dumps({"detail": f"request body larger than {max_body_size} bytes"}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI event, sending a plain-text 413 answer of an HTTP request as JSON instead."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_json(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/plain"):
                    replaced = True
                    kept = [(k, v) for k, v in message.get("headers", []) if k not in _BODY_HEADERS]
                    kept += [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"%d" % len(self.body)),
                    ]
                    await send({**message, "headers": kept})
                    await send({"type": "http.response.body", "body": self.body, "more_body": False})
                    return
            if replaced and message["type"] == "http.response.body":
                return  # the plain-text body, replaced above
            await send(message)

        await self.app(scope, receive, send_json)


_BODY_HEADERS = {b"content-type", b"content-length"}
