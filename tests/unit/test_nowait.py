"""skillmatch.nowait: a call tried where it may not wait gives up at the first wait, before doing that work."""

from __future__ import annotations

import contextvars
import threading

import numpy as np
import pytest
from fakes import CountingEncoder, HashingEncoder

from skillmatch import deadline, nowait
from skillmatch.deadline import CancelToken, WorkCancelled
from skillmatch.encoding.cached import CachedEncoder
from skillmatch.encoding.concurrency import CoalescingEncoder, LockedEncoder
from skillmatch.encoding.known_vectors import KnownVectorEncoder


def test_check_raises_only_inside_the_scope_and_the_scope_ends_with_its_block() -> None:
    nowait.check("outside")  # nothing happens
    with nowait.scope():
        assert nowait.forbidden()
        with pytest.raises(nowait.WouldWait, match="the encoder"):
            nowait.check("the encoder")
    assert not nowait.forbidden()
    with pytest.raises(RuntimeError), nowait.scope():
        raise RuntimeError("the call failed")
    assert not nowait.forbidden()  # reset after an error too
    nowait.check("outside again")


def test_the_rule_follows_a_copied_context_but_not_into_a_thread_of_its_own() -> None:
    seen: dict[str, bool] = {}
    with nowait.scope():
        context = contextvars.copy_context()
        plain = threading.Thread(target=lambda: seen.setdefault("own", nowait.forbidden()))
        plain.start()
        plain.join()
    copied = threading.Thread(target=lambda: seen.setdefault("copied", context.run(nowait.forbidden)))
    copied.start()
    copied.join()
    assert seen == {"own": False, "copied": True}


def _known(inner: CountingEncoder) -> KnownVectorEncoder:
    labels = ["python", "sql"]
    stored = HashingEncoder().encode(labels)
    return KnownVectorEncoder(inner, labels, lambda rows: stored[rows])


def test_known_texts_are_answered_inside_the_scope_and_others_stop_before_the_encoder() -> None:
    inner = CountingEncoder(HashingEncoder())
    known = _known(inner)
    with nowait.scope():
        vectors = known.encode(["python", "sql"])
        with pytest.raises(nowait.WouldWait):
            known.encode(["python", "cooking"])
    assert inner.batches == []  # nothing went to the encoder
    # the refused call counted nothing: it runs again elsewhere
    assert known.stats == {"requested": 2, "known": 2}
    np.testing.assert_allclose(vectors, HashingEncoder().encode(["python", "sql"]), atol=1e-6)
    # outside the scope the same call encodes the unknown text
    out = known.encode(["python", "cooking"])
    assert len(inner.batches) == 1
    np.testing.assert_allclose(out[1], HashingEncoder().encode(["cooking"])[0], atol=1e-6)


@pytest.mark.parametrize("wrapper", [CoalescingEncoder, LockedEncoder])
def test_the_encoders_that_wait_refuse_inside_the_scope(wrapper: type) -> None:
    inner = CountingEncoder(HashingEncoder())
    encoder = wrapper(inner)
    with nowait.scope(), pytest.raises(nowait.WouldWait):
        encoder.encode(["cooking"])
    assert inner.batches == []
    assert encoder.encode(["cooking"]).shape == (1, inner.dim)
    assert len(inner.batches) == 1


def _chain(memory: int) -> tuple[KnownVectorEncoder, CountingEncoder, CoalescingEncoder]:
    """The query chain of a server: labels -> coalescing -> caches (memory LRU of ``memory``) -> backend."""
    backend = CountingEncoder(HashingEncoder())
    queue = CoalescingEncoder(CachedEncoder(backend, memory_cache=memory))
    labels = ["python", "sql"]
    stored = HashingEncoder().encode(labels)
    return KnownVectorEncoder(queue, labels, lambda rows: stored[rows]), backend, queue


def test_inside_the_scope_vectors_the_cache_holds_serve_and_only_the_others_would_wait() -> None:
    known, backend, queue = _chain(memory=100)
    queue.encode(["cooking"])  # now in the memory cache below the queue
    with nowait.scope():
        vectors = known.encode(["python", "cooking", "cooking"])
        with pytest.raises(nowait.WouldWait) as refused:
            known.encode(["cooking", "baking", "baking", "sql", "welding"])
    assert refused.value.texts == ["baking", "welding"]  # what it would encode, once each
    assert backend.batches == [["cooking"]]  # nothing encoded inside the scope
    np.testing.assert_allclose(vectors, HashingEncoder().encode(["python", "cooking", "cooking"]), atol=1e-6)
    assert known.stats == {"requested": 3, "known": 1}


def test_submit_encodes_without_waiting_and_calls_back_from_the_encoding_thread() -> None:
    known, backend, queue = _chain(memory=100)
    done = threading.Event()
    seen: list[tuple[object, object, str]] = []

    def callback(vectors: object, error: object) -> None:
        seen.append((vectors, error, threading.current_thread().name))
        done.set()

    queue.submit(["baking", "welding"], callback)
    assert done.wait(5)
    vectors, error, thread = seen[0]
    assert error is None and thread == "skillmatch-encoder"
    np.testing.assert_allclose(vectors, HashingEncoder().encode(["baking", "welding"]), atol=1e-6)
    with nowait.scope():  # the vectors are in the cache now: the next try does not wait
        known.encode(["baking", "welding"])
    assert [sorted(b) for b in backend.batches] == [["baking", "welding"]]  # encoded once, longest first


def test_a_submitted_call_of_a_cancelled_request_is_dropped_and_says_why() -> None:
    _, backend, queue = _chain(memory=100)
    token = CancelToken()
    token.cancel(deadline.DISCONNECTED)
    seen: list[object] = []
    done = threading.Event()
    with deadline.scope(token):
        queue.submit(["baking"], lambda vectors, error: (seen.append(error), done.set()))
    assert done.wait(5)
    assert isinstance(seen[0], WorkCancelled) and backend.batches == []


def test_a_failed_run_reaches_the_submitter() -> None:
    class Broken(HashingEncoder):
        def encode(self, texts, *, progress=None):  # type: ignore[no-untyped-def]
            raise RuntimeError("the model is gone")

    queue = CoalescingEncoder(Broken())
    seen: list[object] = []
    done = threading.Event()
    queue.submit(["baking"], lambda vectors, error: (seen.append(error), done.set()))
    assert done.wait(5)
    assert isinstance(seen[0], RuntimeError)
