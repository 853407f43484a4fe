"""The cancellation token: deadline, cancel, the current token of a context and where it reaches."""

from __future__ import annotations

import asyncio
import threading

import pytest

from skillmatch import deadline
from skillmatch.deadline import CancelToken, WorkCancelled


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_deadline_passes_with_the_clock() -> None:
    clock = Clock()
    token = CancelToken(2.0, clock=clock)
    assert not token.cancelled and token.reason is None and token.remaining() == 2.0
    token.check()  # nothing yet
    clock.now += 1.5
    assert not token.cancelled and token.remaining() == pytest.approx(0.5)
    clock.now += 0.5
    assert token.cancelled and token.reason == deadline.DEADLINE and token.remaining() == 0.0
    with pytest.raises(WorkCancelled, match="longer than its deadline of 2 s") as caught:
        token.check()
    assert caught.value.reason == deadline.DEADLINE and caught.value.timeout == 2.0


def test_cancel_keeps_the_first_reason_and_beats_the_deadline() -> None:
    clock = Clock()
    token = CancelToken(5.0, clock=clock)
    token.cancel(deadline.DISCONNECTED)
    token.cancel(deadline.SHUTDOWN)
    clock.now += 10  # the deadline passes too: the reason stays the first one
    assert token.reason == deadline.DISCONNECTED
    with pytest.raises(WorkCancelled, match=r"cancelled \(disconnected\)"):
        token.check()


@pytest.mark.parametrize("timeout", [None, 0])
def test_no_timeout_means_no_deadline(timeout: float | None) -> None:
    clock = Clock()
    token = CancelToken(timeout, clock=clock)
    clock.now += 1e9
    assert not token.cancelled and token.remaining() is None and token.timeout is None
    token.cancel("stop")
    assert token.cancelled


def test_a_negative_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        CancelToken(-1)


def test_wait_returns_early_on_cancel_and_never_sleeps_past_the_deadline() -> None:
    token = CancelToken()
    threading.Timer(0.05, token.cancel, args=("stop",)).start()
    assert token.wait(10.0)  # woken by the cancel, not after 10 s
    expired = CancelToken(0.01)
    assert expired.wait(10.0)  # capped at the deadline


def test_check_without_a_token_does_nothing_and_scope_sets_and_restores_it() -> None:
    assert deadline.current() is None
    deadline.check()
    outer, inner = CancelToken(), CancelToken()
    with deadline.scope(outer):
        assert deadline.current() is outer
        with deadline.scope(inner):
            assert deadline.current() is inner
        assert deadline.current() is outer
        outer.cancel("stop")
        with pytest.raises(WorkCancelled):
            deadline.check()
    assert deadline.current() is None
    deadline.check()


def test_the_token_follows_the_work_into_thread_pools_that_copy_the_context() -> None:
    # the API relies on this: sync routes run in AnyIO's thread pool, which copies the context
    token = CancelToken()

    async def main() -> tuple[CancelToken | None, CancelToken | None]:
        with deadline.scope(token):
            in_pool = await asyncio.to_thread(deadline.current)
        seen: list[CancelToken | None] = []
        with deadline.scope(token):
            plain = threading.Thread(target=lambda: seen.append(deadline.current()))
            plain.start()
            plain.join()
        return in_pool, seen[0]

    in_pool, in_plain_thread = asyncio.run(main())
    assert in_pool is token
    assert in_plain_thread is None  # a thread of its own does not: such code passes the token along itself
