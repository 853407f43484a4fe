"""Work that must not wait: a library call tried where blocking is not allowed, and given up at the first wait.

A server can answer a request faster on its event loop than in a thread pool (no hand-over between threads, no
queue of threads taking turns at the interpreter lock; docs/performance.md), but only when the work is short and
never waits: a request whose texts are all in the caches, not one that queues texts for the encoder. Nobody can
tell beforehand which one a request is, so the server *tries*: it runs the call inside :func:`scope`, and the
library calls :func:`check` at each point where it would wait (the query encoder before it encodes or queues
texts). Inside the scope :func:`check` raises :class:`WouldWait`, the call unwinds, and the server runs it again
where waiting is allowed. Outside a scope :func:`check` does nothing.

The work done before the wait is lost, so the check comes before the first expensive step of a call (the encoder
is reached after the caches, ahead of the optimiser). What the call changed before it (cache entries it read and
marked as recently used) is harmless to repeat.

The flag lives in a :class:`~contextvars.ContextVar`, like the cancellation token of :mod:`skillmatch.deadline`:
threads started with a copy of the context inherit it, so a scope is only ever opened around a call that runs in
the caller's own thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

_FORBIDDEN: ContextVar[bool] = ContextVar("skillmatch_no_waiting", default=False)


class WouldWait(Exception):
    """The call reached a point where it would wait (``what`` says which) inside :func:`scope`.

    ``texts``: the texts it would have encoded, when the wait is for the encoder (a caller may have them encoded
    without blocking, then try the call again).
    """

    def __init__(self, what: str, texts: Sequence[str] = ()) -> None:
        self.what = what
        self.texts = list(texts)
        super().__init__(f"the call would wait here ({what}) and may not")


@contextmanager
def scope() -> Iterator[None]:
    """Run the block under the rule that nothing in it may wait: :func:`check` raises :class:`WouldWait`."""
    reset = _FORBIDDEN.set(True)
    try:
        yield
    finally:
        _FORBIDDEN.reset(reset)


def forbidden() -> bool:
    """Whether the current context is inside :func:`scope`."""
    return _FORBIDDEN.get()


def check(what: str, texts: Sequence[str] = ()) -> None:
    """Raise :class:`WouldWait` (naming ``what`` and ``texts``) inside :func:`scope`; do nothing outside it."""
    if _FORBIDDEN.get():
        raise WouldWait(what, texts)
