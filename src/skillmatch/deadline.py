"""Stopping work that nobody waits for any more: a deadline and cancellation token for one unit of work.

A :class:`CancelToken` says when a piece of work (in the server: one request) must stop: when its deadline has
passed or when someone cancelled it (the client went away, the server is stopping). Whoever starts the work sets
the token for the current context with :func:`scope`; the library's long loops call :func:`check` between steps
(the encoder between its runs, the cohort analysis between learners), which raises :class:`WorkCancelled` once
the token is cancelled. Without a token (a notebook, the CLI, a build) :func:`check` does nothing.

The token lives in a :class:`~contextvars.ContextVar`: it follows the work into threads started with a copy of
the context (``asyncio.to_thread``, AnyIO's and Starlette's thread pools) but not into threads of their own; such
threads take the token along explicitly (:class:`~skillmatch.encoding.concurrency.CoalescingEncoder` keeps each
caller's token beside its queued texts and drops the texts of a cancelled caller).

Nothing here knows about HTTP: the API layer makes the token of a request and cancels it
(:mod:`skillmatch.api.cancellation`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: :attr:`CancelToken.reason` when the deadline has passed.
DEADLINE = "deadline"
#: :attr:`CancelToken.reason` when the client of the work went away.
DISCONNECTED = "disconnected"
#: :attr:`CancelToken.reason` when the process is stopping.
SHUTDOWN = "shutdown"


class WorkCancelled(Exception):
    """The work was stopped: its deadline passed or it was cancelled (``reason`` says which)."""

    def __init__(self, reason: str, *, timeout: float | None = None) -> None:
        self.reason = reason
        self.timeout = timeout
        if reason == DEADLINE and timeout is not None:
            message = f"the work took longer than its deadline of {timeout:g} s and was stopped"
        else:
            message = f"the work was cancelled ({reason})"
        super().__init__(message)


class CancelToken:
    """When one unit of work must stop: after ``timeout`` seconds, or once :meth:`cancel` is called.

    Thread-safe: any thread may cancel it or check it.

    Args:
        timeout: seconds from now until the deadline; ``None`` (or 0) for none (only :meth:`cancel` stops it).
        clock: the monotonic clock (tests pass their own).
    """

    def __init__(self, timeout: float | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 seconds, not {timeout}")
        self.timeout = timeout or None
        self._clock = clock
        self.expires_at = None if self.timeout is None else clock() + self.timeout
        self._cancelled = threading.Event()
        self._reason: str | None = None

    def cancel(self, reason: str) -> None:
        """Cancel the work (the first reason given is kept)."""
        if self._reason is None:
            self._reason = reason
        self._cancelled.set()

    @property
    def reason(self) -> str | None:
        """Why the work must stop (:data:`DEADLINE`, :data:`DISCONNECTED`, ...), or ``None`` while it may go on."""
        if self._cancelled.is_set():
            return self._reason
        if self.expires_at is not None and self._clock() >= self.expires_at:
            return DEADLINE
        return None

    @property
    def cancelled(self) -> bool:
        """Whether the work must stop."""
        return self.reason is not None

    def remaining(self) -> float | None:
        """Seconds until the deadline (0 once passed), or ``None`` without a deadline."""
        if self.expires_at is None:
            return None
        return max(0.0, self.expires_at - self._clock())

    def check(self) -> None:
        """Raise :class:`WorkCancelled` if the work must stop.

        Raises:
            WorkCancelled: the deadline passed or the token was cancelled.
        """
        reason = self.reason
        if reason is not None:
            raise WorkCancelled(reason, timeout=self.timeout)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` or until cancelled (never past the deadline); returns :attr:`cancelled`."""
        left = self.remaining()
        self._cancelled.wait(seconds if left is None else min(seconds, left))
        return self.cancelled


_current: ContextVar[CancelToken | None] = ContextVar("skillmatch_cancel_token", default=None)


def current() -> CancelToken | None:
    """The token of the work running in this context, if any."""
    return _current.get()


def check() -> None:
    """Raise :class:`WorkCancelled` if the current work (see :func:`scope`) must stop; else nothing.

    Raises:
        WorkCancelled: the current token's deadline passed or it was cancelled.
    """
    token = _current.get()
    if token is not None:
        token.check()


@contextmanager
def scope(token: CancelToken | None) -> Iterator[CancelToken | None]:
    """Make ``token`` the current token inside the ``with`` block (``None``: no token)."""
    reset = _current.set(token)
    try:
        yield token
    finally:
        _current.reset(reset)
