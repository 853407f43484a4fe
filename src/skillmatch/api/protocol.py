"""The server's HTTP protocol: uvicorn's, with the answers it gives on its own in JSON like the app's.

uvicorn answers a request its HTTP parser refuses, before the app sees it, with a plain-text 400 ("Invalid
HTTP request received."). With the httptools parser (uvicorn's choice when it is installed) that includes every
URL longer than 65,535 bytes: ``httptools.parse_url`` cannot split longer ones. :class:`JsonHttpToolsProtocol`
(and :class:`JsonH11Protocol` for the h11 parser) answer such requests with JSON instead: a 414 naming the limit
when the URL is too long, else a 400, each with ``detail`` and a ``request_id`` that is also in the access log.
URLs within the limit reach the app, which refuses those over ``SKILLMATCH_API_MAX_URL_BYTES`` itself
(:class:`skillmatch.api.middleware.UrlLimitMiddleware`).
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import uuid

from uvicorn.protocols.http.h11_impl import H11Protocol

from skillmatch.api.errors import url_too_long_detail

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is not installed
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

access_log = logging.getLogger("skillmatch.api.access")

#: The longest URL (path and query, in bytes) the httptools parser can take apart.
PARSER_MAX_URL_BYTES = 65_535


def error_response(status: int, detail: str, request_id: str) -> bytes:
    """A complete HTTP/1.1 response with a JSON body ``{"detail", "request_id"}`` that closes the connection."""
    body = json.dumps({"detail": detail, "request_id": request_id}).encode()
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        f"x-request-id: {request_id}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class JsonErrorsMixin:
    """Replaces uvicorn's plain-text 400 of a request its parser refused by a JSON 414 or 400."""

    transport: asyncio.Transport
    url: bytes

    def send_400_response(self, msg: str) -> None:
        """Answer a request the parser refused (``msg`` is uvicorn's text) with JSON, and close."""
        request_id = uuid.uuid4().hex
        length = len(getattr(self, "url", b"") or b"")
        if length > PARSER_MAX_URL_BYTES:
            status, detail = 414, url_too_long_detail(length, PARSER_MAX_URL_BYTES)
        else:
            status, detail = 400, "invalid HTTP request: malformed, or its request line or headers too long"
        access_log.info(
            "request",
            extra={"request_id": request_id, "method": None, "route": "<unparsed>", "status": status},
        )
        self.transport.write(error_response(status, detail, request_id))
        self.transport.close()


if HttpToolsProtocol is not None:

    class JsonHttpToolsProtocol(JsonErrorsMixin, HttpToolsProtocol):
        """uvicorn's httptools protocol with JSON answers to requests the parser refuses."""


class JsonH11Protocol(JsonErrorsMixin, H11Protocol):
    """uvicorn's h11 protocol with JSON answers to requests the parser refuses."""


def http_protocol() -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's ``http`` option: httptools when installed (uvicorn's own choice)."""
    return JsonHttpToolsProtocol if HttpToolsProtocol is not None else JsonH11Protocol
