"""LibraryRunner: small calls that never wait run on the event loop; the others in the thread pool."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from fakes import CountingEncoder, HashingEncoder

from skillmatch import nowait
from skillmatch.api.models import LearnerIn
from skillmatch.api.offload import (
    EVENT_LOOP,
    EVENT_LOOP_AFTER_ENCODING,
    THREAD,
    THREAD_AFTER_WAIT,
    LibraryRunner,
    coalescer,
)
from skillmatch.encoding.cached import CachedEncoder
from skillmatch.encoding.concurrency import CoalescingEncoder
from skillmatch.encoding.known_vectors import KnownVectorEncoder


def _run(runner: LibraryRunner, call: object, *, inline: bool) -> tuple[object, threading.Thread]:
    """Run ``call`` through ``runner`` on a fresh event loop; also return the loop's thread."""

    async def main() -> tuple[object, threading.Thread]:
        return await runner.run(call, inline=inline), threading.current_thread()  # type: ignore[arg-type]

    return asyncio.run(main())


def test_a_call_that_never_waits_runs_on_the_event_loop() -> None:
    counted: list[str] = []
    ran_in: list[threading.Thread] = []

    def call() -> str:
        ran_in.append(threading.current_thread())
        return "pathway"

    result, loop_thread = _run(LibraryRunner(25, counted.append), call, inline=True)
    assert result == "pathway"
    assert ran_in == [loop_thread]
    assert counted == [EVENT_LOOP]


def test_a_call_that_would_wait_stops_there_and_runs_again_in_the_thread_pool() -> None:
    counted: list[str] = []
    steps: list[tuple[str, threading.Thread]] = []

    def call() -> str:
        steps.append(("before the encoder", threading.current_thread()))
        nowait.check("texts to encode")
        steps.append(("after the encoder", threading.current_thread()))
        return "pathway"

    result, loop_thread = _run(LibraryRunner(25, counted.append), call, inline=True)
    assert result == "pathway"
    assert [s for s, _ in steps] == ["before the encoder", "before the encoder", "after the encoder"]
    assert steps[0][1] is loop_thread  # tried on the loop, given up before the encoder
    assert steps[1][1] is not loop_thread and steps[2][1] is steps[1][1]  # then all of it in a worker thread
    assert counted == [THREAD_AFTER_WAIT]


def test_a_call_not_tried_inline_runs_in_the_thread_pool_where_waiting_is_allowed() -> None:
    counted: list[str] = []
    ran_in: list[tuple[threading.Thread, bool]] = []

    def call() -> str:
        ran_in.append((threading.current_thread(), nowait.forbidden()))
        nowait.check("texts to encode")  # allowed here
        return "pathway"

    result, loop_thread = _run(LibraryRunner(25, counted.append), call, inline=False)
    assert result == "pathway"
    assert ran_in[0][0] is not loop_thread and ran_in[0][1] is False
    assert counted == [THREAD]


def test_errors_of_the_call_propagate_from_the_event_loop() -> None:
    def call() -> str:
        raise LookupError("unknown role 'astronaut'")

    counted: list[str] = []
    with pytest.raises(LookupError, match="astronaut"):
        _run(LibraryRunner(25, counted.append), call, inline=True)
    with pytest.raises(LookupError, match="astronaut"):
        _run(LibraryRunner(25, counted.append), call, inline=False)
    assert counted == [EVENT_LOOP, THREAD]


def test_only_small_learners_without_cv_text_are_tried_inline() -> None:
    runner = LibraryRunner(3)
    assert runner.small(LearnerIn(skills=["sql", "python"], credentials_held=["c1"]))
    assert not runner.small(LearnerIn(skills=["sql", "python", "excel"], credentials_held=["c1"]))
    assert not runner.small(LearnerIn(skills=["sql"], cv="Five years of SQL reporting."))
    assert not LibraryRunner(0).small(LearnerIn(skills=["sql"]))
    assert runner.small(LearnerIn(skills=["sql"]), ["analyst", "nurse", "teacher"])
    assert not runner.small(LearnerIn(skills=["sql"]), ["analyst", "nurse", "teacher", "pilot"])
    with pytest.raises(ValueError, match="inline_max_skills"):
        LibraryRunner(-1)


def _chain(memory: int) -> tuple[KnownVectorEncoder, CountingEncoder]:
    """A server's query chain: labels -> coalescing -> caches (memory LRU of ``memory``) -> backend."""
    backend = CountingEncoder(HashingEncoder())
    queue = CoalescingEncoder(CachedEncoder(backend, memory_cache=memory))
    stored = HashingEncoder().encode(["python"])
    return KnownVectorEncoder(queue, ["python"], lambda rows: stored[rows]), backend


def test_texts_it_would_wait_for_are_encoded_without_blocking_then_it_runs_on_the_loop() -> None:
    known, backend = _chain(memory=100)
    counted: list[str] = []
    tries: list[threading.Thread] = []

    def call() -> np.ndarray:
        tries.append(threading.current_thread())
        return known.encode(["python", "baking"])

    async def main() -> tuple[np.ndarray, threading.Thread]:
        return await LibraryRunner(25, counted.append).run(
            call, inline=True, encoder=known
        ), threading.current_thread()

    vectors, loop_thread = asyncio.run(main())
    assert tries == [
        loop_thread,
        loop_thread,
    ]  # refused, then run again on the loop once "baking" was encoded
    assert backend.batches == [["baking"]]
    assert counted == [EVENT_LOOP_AFTER_ENCODING]
    np.testing.assert_allclose(vectors, HashingEncoder().encode(["python", "baking"]), atol=1e-6)


def test_without_a_memory_cache_nothing_is_encoded_ahead_and_the_call_goes_to_the_pool() -> None:
    known, backend = _chain(memory=0)
    assert coalescer(known) is None and coalescer(_chain(memory=10)[0]) is not None
    counted: list[str] = []
    runner = LibraryRunner(25, counted.append)

    async def main() -> object:
        return await runner.run(lambda: known.encode(["baking"]), inline=True, encoder=known)

    asyncio.run(main())
    assert backend.batches == [["baking"]]  # encoded once, in the pool
    assert counted == [THREAD_AFTER_WAIT]


def test_a_call_that_would_wait_again_after_encoding_ahead_goes_to_the_pool() -> None:
    known, backend = _chain(memory=100)
    counted: list[str] = []

    def call() -> None:  # the second text is only known once the first was encoded (as a CV's parts might be)
        known.encode(["baking"])
        known.encode(["welding"])

    async def main() -> None:
        await LibraryRunner(25, counted.append).run(call, inline=True, encoder=known)

    asyncio.run(main())
    assert sorted(map(tuple, backend.batches)) == [("baking",), ("welding",)]  # each encoded once
    assert counted == [THREAD_AFTER_WAIT]


def test_a_failed_run_ahead_fails_the_call_and_is_counted() -> None:
    class Broken(HashingEncoder):
        def encode(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
            raise RuntimeError("the model is gone")

    queue = CoalescingEncoder(CachedEncoder(Broken(), memory_cache=10))
    known = KnownVectorEncoder(queue, ["python"], lambda rows: HashingEncoder().encode(["python"])[rows])
    counted: list[str] = []

    async def main() -> object:
        return await LibraryRunner(25, counted.append).run(
            lambda: known.encode(["baking"]), inline=True, encoder=known
        )

    with pytest.raises(RuntimeError, match="the model is gone"):
        asyncio.run(main())
    assert counted == [EVENT_LOOP_AFTER_ENCODING]
