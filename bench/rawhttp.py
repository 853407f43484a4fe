"""A lean HTTP/1.1 client for the load generator, so that it takes as little of the server's CPU as it can.

``bench/load.py`` runs its client on the machine it measures. httpx's ``AsyncClient`` cost 1.3-1.8 ms of CPU per
request there (a tenth of a 2-core machine at the server's pace), which came off the server's throughput and so
off its ratio to the encoder ceiling. This client keeps one keep-alive connection per worker, sends bodies that are
serialised before the clock starts, and reads only the status line, the headers it needs and the body
(``Content-Length`` or chunked). It is not a general client: no redirects, no TLS, no proxies.
"""

from __future__ import annotations

import asyncio
import contextlib


class HttpError(Exception):
    """The connection failed or the server's answer was not HTTP/1.1 this client understands."""


class Connection:
    """One keep-alive HTTP/1.1 connection to ``host:port``; opened on first use and again after the server closes it.

    Not for concurrent use: one coroutine sends a request and reads its answer before the next.
    """

    def __init__(self, host: str, port: int, timeout: float = 120.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        """POST ``body`` (JSON bytes) to ``path``; returns the status code and the response body.

        Raises:
            HttpError: the connection failed, timed out, or the answer could not be read.
        """
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        try:
            return await asyncio.wait_for(self._exchange(head + body), self.timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            raise HttpError(f"{exc.__class__.__name__}: {exc}") from exc

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        reused = self._writer is not None
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(request)
        status_line = await self._reader.readline()
        if not status_line and reused:
            # the server closed the idle connection (keep-alive timeout) before it read this request: the request
            # was never seen, so it goes once more on a new connection, as browsers and httpx do
            await self.close()
            return await self._exchange(request)
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ValueError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        status = int(parts[1])
        length, chunked, close = -1, False, parts[0] == b"HTTP/1.0"
        while (line := await self._reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif key == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            body = await self._chunks()
        elif length >= 0:
            body = await self._reader.readexactly(length)
        else:  # no length: the body runs to the end of the connection
            body, close = await self._reader.read(), True
        if close:
            await self.close()
        return status, body

    async def _chunks(self) -> bytes:
        assert self._reader is not None
        out = bytearray()
        while size := int((await self._reader.readline()).split(b";", 1)[0], 16):
            out += await self._reader.readexactly(size)
            await self._reader.readline()
        while (await self._reader.readline()) not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return bytes(out)

    async def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
