"""Where a route's library call runs: on the event loop when it is small, else in the thread pool.

A synchronous route runs in AnyIO's thread pool: the event loop hands the call to a worker thread and waits for
it. For a learner's gap analysis or pathway, that hand-over (a worker woken, the answer handed back, and under
load a queue of request threads taking turns at the interpreter lock) cost more than a quarter of the request's
CPU when its phrases were cached (docs/performance.md, "Requests that never wait"). Such a call is short and
waits for nothing, so it is cheaper on the event loop itself.

Whether a call waits is only known by running it: :meth:`LibraryRunner.run` tries the call on the event loop
inside :func:`skillmatch.nowait.scope`; at the first point where it would wait (texts the encoder must encode)
the library raises :class:`~skillmatch.nowait.WouldWait` before doing that work, naming the texts. When the
served encoder queues texts for an encoding thread and keeps their vectors in memory (the server's chain:
coalescing over a :class:`~skillmatch.encoding.cached.CachedEncoder`), those texts are queued without blocking
(:meth:`~skillmatch.encoding.concurrency.CoalescingEncoder.submit`), the event loop serves other requests while
they are encoded, and the call is tried once more, now finding their vectors. Otherwise, or if it would wait
again, the call runs in the thread pool. Only small calls are tried (``api_inline_max_skills``: skills plus
held credentials, no CV text, at most :data:`INLINE_MAX_ROLES` roles), so no call holds the event loop for long.
``/metrics`` counts where calls ran (``skillmatch_library_calls``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from skillmatch import nowait
from skillmatch.api.models import LearnerIn
from skillmatch.encoding.base import Encoder, EncoderWrapper
from skillmatch.encoding.cached import CachedEncoder
from skillmatch.encoding.concurrency import CoalescingEncoder

T = TypeVar("T")

#: Most target roles of a call tried on the event loop: each role adds its profile to the gap the optimiser
#: covers (full ESCO bundle, 93 credentials, 25 cached skills: 1 role 1.2 ms median, 3 roles 4.5 ms and at most
#: 32 ms, 10 roles 15.7 ms and at most 55 ms: too long to hold the event loop).
INLINE_MAX_ROLES = 3

#: Where a call ran, as counted: on the event loop, on the event loop after its texts were encoded (without
#: blocking it), in the thread pool after trying the loop, in the pool only.
EVENT_LOOP, EVENT_LOOP_AFTER_ENCODING = "event_loop", "event_loop_after_encoding"
THREAD_AFTER_WAIT, THREAD = "thread_would_wait", "thread"


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

    async def run(self, call: Callable[[], T], *, inline: bool, encoder: Encoder | None = None) -> T:
        """``call()``'s result: computed on the event loop when ``inline``, else in the thread pool.

        When the call would wait for ``encoder`` (the served query encoder) to encode texts, those texts are
        queued for it without blocking the loop, and the call is tried once more once their vectors are cached;
        without that (or at a second wait) it runs in the thread pool. Exceptions of ``call`` propagate from
        wherever it ran.
        """
        where = THREAD
        if inline:
            queue = coalescer(encoder) if encoder is not None else None
            for on_loop in (EVENT_LOOP, EVENT_LOOP_AFTER_ENCODING):
                try:
                    with nowait.scope():
                        result = call()
                except nowait.WouldWait as exc:
                    where = THREAD_AFTER_WAIT
                    if on_loop != EVENT_LOOP or queue is None or not exc.texts:
                        break
                    try:
                        await encode_ahead(queue, exc.texts)
                    except BaseException:  # the run failed, or the request was stopped meanwhile
                        self._count(EVENT_LOOP_AFTER_ENCODING)
                        raise
                except BaseException:
                    self._count(on_loop)
                    raise
                else:
                    self._count(on_loop)
                    return result
        try:
            return await run_in_threadpool(call)
        finally:
            self._count(where)


def coalescer(encoder: Encoder) -> CoalescingEncoder | None:
    """The :class:`CoalescingEncoder` among ``encoder``'s layers, if vectors it encodes are kept in memory.

    Only then (a :class:`CachedEncoder` with its LRU on below it) are texts encoded ahead found by the next try.
    """
    queue: CoalescingEncoder | None = None
    while isinstance(encoder, EncoderWrapper):
        if isinstance(encoder, CoalescingEncoder):
            queue = encoder
        elif isinstance(encoder, CachedEncoder) and encoder.remembers and queue is not None:
            return queue
        encoder = encoder.inner
    return None


async def encode_ahead(queue: CoalescingEncoder, texts: list[str]) -> None:
    """Have ``queue`` encode ``texts`` (their vectors land in its caches) while the event loop goes on."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()

    def settle(error: BaseException | None) -> None:
        if future.done():  # the request was cancelled meanwhile
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    def done(vectors: object, error: BaseException | None) -> None:
        loop.call_soon_threadsafe(settle, error)

    queue.submit(texts, done)
    await future
