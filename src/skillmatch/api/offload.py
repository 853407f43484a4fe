"""Where a route's library call runs: on the event loop when it is small and never waits, else in the thread pool.

A synchronous route runs in AnyIO's thread pool: the event loop hands the call to a worker thread and waits for
it. For a learner's gap analysis or pathway whose phrases the server has seen before, that hand-over (a worker
woken, the answer handed back, and under load a queue of request threads taking turns at the interpreter lock)
cost more than a quarter of the request's CPU (docs/performance.md, "Requests that never wait"). Such a call
is short and waits for nothing, so it is cheaper on the event loop itself.

Whether a call waits is only known by running it: :meth:`LibraryRunner.run` tries the call on the event loop
inside :func:`skillmatch.nowait.scope`; at the first point where it would wait (texts the encoder must encode
or queue) the library raises :class:`~skillmatch.nowait.WouldWait` before doing that work, and the call runs
again in the thread pool. Only small calls are tried (``api_inline_max_skills``: skills plus held credentials,
no CV text, at most :data:`INLINE_MAX_ROLES` roles), so a cached but large request does not hold the event loop
for long. ``/metrics`` counts where
calls ran (``skillmatch_library_calls``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from skillmatch import nowait
from skillmatch.api.models import LearnerIn

T = TypeVar("T")

#: Most target roles of a call tried on the event loop: each role adds its profile to the gap the optimiser
#: covers (full ESCO bundle, 93 credentials, 25 cached skills: 1 role 1.2 ms median, 3 roles 4.5 ms and at most
#: 32 ms, 10 roles 15.7 ms and at most 55 ms: too long to hold the event loop).
INLINE_MAX_ROLES = 3

#: Where a call ran, as counted: on the event loop, in the thread pool after trying the loop, in the pool only.
EVENT_LOOP, THREAD_AFTER_WAIT, THREAD = "event_loop", "thread_would_wait", "thread"


class LibraryRunner:
    """Runs routes' library calls on the event loop when they are small and never wait, else in the thread pool.

    Args:
        inline_max_skills: most skills plus held credentials of a learner (without CV text) whose calls are
            tried on the event loop first; 0 runs every call in the thread pool.
        count: called with :data:`EVENT_LOOP`, :data:`THREAD_AFTER_WAIT` or :data:`THREAD` after each call
            (errors included).
    """

    def __init__(self, inline_max_skills: int, count: Callable[[str], None] | None = None) -> None:
        if inline_max_skills < 0:
            raise ValueError(f"inline_max_skills must be >= 0, got {inline_max_skills}")
        self.inline_max_skills = inline_max_skills
        self._count = count or (lambda where: None)

    def small(self, learner: LearnerIn, roles: Sequence[str] = ()) -> bool:
        """Whether a call about ``learner`` and its target ``roles`` is small enough to try on the event loop."""
        return (
            learner.cv is None
            and len(learner.skills) + len(learner.credentials_held) <= self.inline_max_skills
            and len(roles) <= INLINE_MAX_ROLES
        )

    async def run(self, call: Callable[[], T], *, inline: bool) -> T:
        """``call()``'s result: computed on the event loop when ``inline`` and it never waits, else in the pool.

        Exceptions of ``call`` propagate from wherever it ran.
        """
        where = THREAD
        if inline:
            try:
                with nowait.scope():
                    result = call()
            except nowait.WouldWait:
                where = THREAD_AFTER_WAIT
            except BaseException:
                self._count(EVENT_LOOP)
                raise
            else:
                self._count(EVENT_LOOP)
                return result
        try:
            return await run_in_threadpool(call)
        finally:
            self._count(where)
