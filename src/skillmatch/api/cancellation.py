"""Per-request deadline and disconnect detection: work nobody waits for any more is stopped.

:class:`RequestDeadlineMiddleware` gives every HTTP request a :class:`~skillmatch.deadline.CancelToken` (its
deadline ``api_request_timeout`` seconds away; 0: none) in the context the route runs in. The token follows
the route into the thread pool (AnyIO copies the context), and the library checks it between steps of long work
(the encoder between runs, texts still queued for the encoder are dropped; the cohort analysis between
learners). The middleware cancels the token

* when the deadline passes: the client gets a JSON 504 with ``detail`` and ``request_id`` at once, even while
  the route's thread finishes its current step;
* when the client disconnects (the server's ``http.disconnect`` message, read while the route works): the work
  stops the same way, and the request is logged with status 499 (nobody is left to read an answer);
* when the server stops (uvicorn cancels requests still running after its graceful-shutdown timeout).

The deadline ends once the answer is sent. The request body is read on the app's behalf one message ahead (so a
disconnect is seen while the route runs), never more: the body size limit and flow control are unchanged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import suppress

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from skillmatch import deadline
from skillmatch.deadline import CancelToken, WorkCancelled

#: Status logged for a request whose client went away before the answer (nginx's "client closed request").
CLIENT_CLOSED = 499


def cancelled_body(reason: str, timeout: float | None, request_id: str | None) -> tuple[int, bytes]:
    """The status and JSON body answering a request stopped for ``reason``."""
    if reason == deadline.DISCONNECTED:
        status, detail = CLIENT_CLOSED, "the client closed the connection; the request was stopped"
    elif reason == deadline.DEADLINE:
        status = 504
        limit = f"{timeout:g} s" if timeout else "its deadline"
        detail = (
            f"the request took longer than {limit} (SKILLMATCH_API_REQUEST_TIMEOUT) and was stopped; "
            "send less work per request or try again later"
        )
    else:
        status, detail = 503, f"the request was stopped ({reason}); try again later"
    return status, json.dumps({"detail": detail, "request_id": request_id}).encode()


class _Answer:
    """The response side of one request: what was sent, and nothing from the route after we answered."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.complete = False
        self.closed = False  # answered by the middleware: later messages of the route are dropped

    async def send(self, message: Message) -> None:
        if self.closed:
            return
        if message["type"] == "http.response.start":
            self.started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await self._send(message)

    async def stopped(self, status: int, body: bytes) -> None:
        """Answer with ``status`` and the JSON ``body`` unless an answer was started; then drop the route's."""
        if not self.started:
            headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
            with suppress(OSError):  # the client may be gone (a disconnect)
                await self.send({"type": "http.response.start", "status": status, "headers": headers})
                await self.send({"type": "http.response.body", "body": body, "more_body": False})
        self.closed = True


class _Receiver:
    """Reads the client's messages for the app, one message ahead, to see a disconnect while the route works.

    ``on_gone`` is called when the client disconnects before the answer is complete. An error of the server's
    ``receive`` (e.g. the body size limit) is raised to the app when it reads, as before.
    """

    def __init__(self, receive: Receive, answer: _Answer) -> None:
        self._receive = receive
        self._answer = answer
        self._queue: asyncio.Queue[Message | BaseException] = asyncio.Queue(maxsize=1)
        self._end: Message | BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self.on_gone: Callable[[], None] | None = None
        self.gone = False

    def start(self) -> None:
        """Start reading (idempotent)."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._read())

    def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()

    async def _read(self) -> None:
        while True:
            try:
                message = await self._receive()
            except Exception as exc:  # given to the app when it reads
                await self._queue.put(exc)
                return
            if message["type"] == "http.disconnect":
                if not self._answer.complete:
                    self.gone = True
                    if self.on_gone is not None:
                        self.on_gone()
                await self._queue.put(message)
                return
            await self._queue.put(message)

    async def receive(self) -> Message:
        """The app's ``receive``: the next message read from the client."""
        self.start()
        if self._end is None:
            item = await self._queue.get()
            if not isinstance(item, BaseException) and item["type"] != "http.disconnect":
                return item
            self._end = item
        if isinstance(self._end, BaseException):
            raise self._end
        return self._end


def _expects_continue(scope: Scope) -> bool:
    return any(k.lower() == b"expect" and v.lower() == b"100-continue" for k, v in scope.get("headers", []))


class RequestDeadlineMiddleware:
    """Stops a request's work at its deadline or when its client disconnects; see the module's text.

    Args:
        app: the ASGI app.
        timeout: seconds a request may take (``None`` or 0: no deadline; disconnects are still detected).
    """

    def __init__(self, app: ASGIApp, timeout: float | None) -> None:
        self.app = app
        self.timeout = timeout or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run one ASGI request under a cancellation token; pass anything else through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = CancelToken(self.timeout)
        answer = _Answer(send)
        receiver = _Receiver(receive, answer)
        with deadline.scope(token):  # the route's task (and its threads) see the token
            work = asyncio.ensure_future(self.app(scope, receiver.receive, answer.send))

        def stop(reason: str) -> None:
            if not work.done() and not answer.complete:  # once answered, the work may finish
                token.cancel(reason)
                work.cancel()

        receiver.on_gone = lambda: stop(deadline.DISCONNECTED)
        loop = asyncio.get_running_loop()
        timer = None if self.timeout is None else loop.call_later(self.timeout, stop, deadline.DEADLINE)
        # with "Expect: 100-continue", reading starts when the app reads (uvicorn then sends "100 Continue")
        if not _expects_continue(scope):
            receiver.start()
        try:
            await work
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if token.reason is None or (current is not None and current.cancelling()):
                raise  # this request was cancelled from outside (the server is stopping)
            # stopped here; the route's thread stops at its next check
            await self._stopped(scope, token, answer)
        except WorkCancelled as exc:  # the route saw its token before the timer here did
            token.cancel(exc.reason)
            await self._stopped(scope, token, answer)
        finally:
            if timer is not None:
                timer.cancel()
            receiver.stop()
            if not work.done():
                token.cancel(deadline.SHUTDOWN)
                work.cancel()

    async def _stopped(self, scope: Scope, token: CancelToken, answer: _Answer) -> None:
        status, body = cancelled_body(
            token.reason or deadline.DEADLINE, token.timeout, scope.get("state", {}).get("request_id")
        )
        await answer.stopped(status, body)
