"""CoalescingEncoder: concurrent calls share runs of the wrapped encoder, one at a time, oldest first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from fakes import ConcurrencyEncoder, CountingEncoder, HashingEncoder, wait_until

from skillmatch import deadline
from skillmatch.deadline import CancelToken, WorkCancelled
from skillmatch.encoding.base import Encoder
from skillmatch.encoding.concurrency import CHECK_EVERY_TEXTS, CoalescingEncoder, LockedEncoder, _Call

WAIT = 5.0  # seconds any wait in these tests may take before it counts as a hang


class GatedEncoder(HashingEncoder):
    """Records every batch and the thread it ran in; its first run waits until ``gate`` is set.

    A run containing ``fail_on`` raises ``RuntimeError``.
    """

    def __init__(self, thread_safe: bool = False, fail_on: str | None = None) -> None:
        super().__init__()
        self.thread_safe = thread_safe
        self.fail_on = fail_on
        self.batches: list[list[str]] = []
        self.threads: list[threading.Thread] = []
        self.entered = threading.Event()  # the first run has started
        self.gate = threading.Event()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, progress: object = None) -> np.ndarray:
        with self._lock:
            self.batches.append(list(texts))
            self.threads.append(threading.current_thread())
            first = len(self.batches) == 1
        if first:
            self.entered.set()
            assert self.gate.wait(WAIT), "the gate was never opened"
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError(f"cannot encode {self.fail_on!r}")
        return super().encode(texts, progress=progress)


class Caller(threading.Thread):
    """Runs ``fn`` in a thread of its own and keeps its result or error."""

    def __init__(self, fn: Callable[[], np.ndarray], start_barrier: threading.Barrier | None = None) -> None:
        super().__init__(daemon=True)
        self.fn = fn
        self.start_barrier = start_barrier
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            if self.start_barrier is not None:
                self.start_barrier.wait()
            self.result = self.fn()
        except BaseException as exc:  # checked by the test in the main thread
            self.error = exc

    def outcome(self) -> np.ndarray:
        """The result, once the thread has finished (fails on a hang or an error)."""
        self.join(WAIT)
        assert not self.is_alive(), "the call did not finish"
        assert self.error is None, repr(self.error)
        assert self.result is not None
        return self.result

    def failure(self) -> BaseException:
        """The error, once the thread has finished (fails on a hang or a result)."""
        self.join(WAIT)
        assert not self.is_alive(), "the call did not finish"
        assert self.error is not None, "the call did not fail"
        return self.error


def call(encoder: CoalescingEncoder, texts: list[str], **kwargs: object) -> Caller:
    caller = Caller(lambda: encoder.encode(texts, **kwargs))  # type: ignore[arg-type]
    caller.start()
    return caller


def expected(texts: list[str]) -> np.ndarray:
    return HashingEncoder().encode(texts)


def queue_calls(encoder: CoalescingEncoder, texts: list[list[str]]) -> list[Caller]:
    """One call per list of texts, each started once the one before is queued (so the queue order is known)."""
    callers = []
    for n, mine in enumerate(texts, start=1):
        callers.append(call(encoder, mine))
        wait_until(lambda n=n: len(encoder._waiting) == n, f"call {n} has queued")
    return callers


def start_blocked_run(encoder: CoalescingEncoder, inner: GatedEncoder) -> Caller:
    """A lone call whose run holds the encoding thread until ``inner.gate`` is set."""
    leader = call(encoder, ["leader"])
    assert inner.entered.wait(WAIT)
    return leader


def test_concurrent_callers_get_their_own_vectors_from_shared_runs() -> None:
    inner = GatedEncoder()
    encoder = CoalescingEncoder(inner, max_texts=64)  # type: ignore[arg-type]
    leader = start_blocked_run(encoder, inner)
    # duplicates within a call ("caller i one" twice) and across calls ("shared")
    texts = [[f"caller {i} one", "shared", f"caller {i} two", f"caller {i} one"] for i in range(8)]
    barrier = threading.Barrier(8, timeout=WAIT)
    callers = [Caller(lambda t=t: encoder.encode(t), barrier) for t in texts]
    for c in callers:
        c.start()
    wait_until(lambda: len(encoder._waiting) == 8, "every call has queued")
    inner.gate.set()
    np.testing.assert_array_equal(leader.outcome(), expected(["leader"]))
    for c, mine in zip(callers, texts, strict=True):
        out = c.outcome()
        assert out.shape == (4, inner.dim) and out.dtype == np.float32
        np.testing.assert_array_equal(out, expected(mine))
    # 9 calls, 2 runs: the 8 queued calls shared one, in which each distinct text was encoded once
    assert len(inner.batches) == 2 < 1 + len(callers)
    assert sorted(inner.batches[1]) == sorted({t for mine in texts for t in mine})
    assert encoder.stats == {
        "runs": 2,
        "calls": 9,
        "texts": 1 + 8 * 4,
        "dropped_calls": 0,
        "dropped_texts": 0,
    }


def test_runs_take_the_oldest_calls_up_to_max_texts_without_splitting_them() -> None:
    inner = GatedEncoder()
    encoder = CoalescingEncoder(inner, max_texts=5)  # type: ignore[arg-type]
    leader = start_blocked_run(encoder, inner)
    sizes = [2, 2, 1, 3, 4, 1, 5, 1]
    texts = [[f"call {i} text {j}" for j in range(size)] for i, size in enumerate(sizes)]
    callers = queue_calls(encoder, texts)
    inner.gate.set()
    leader.outcome()
    for c, mine in zip(callers, texts, strict=True):
        np.testing.assert_array_equal(c.outcome(), expected(mine))
    # [3] runs alone though the later [1] would fit beside it: no call overtakes an older one
    groups = [[0, 1, 2], [3], [4, 5], [6], [7]]
    assert inner.batches == [["leader"], *[[t for i in g for t in texts[i]] for g in groups]]
    assert all(len(b) <= 5 for b in inner.batches)


@pytest.mark.parametrize("thread_safe", [True, False])
def test_coalesced_runs_never_overlap(thread_safe: bool) -> None:
    inner = ConcurrencyEncoder(thread_safe, pause=0.005)
    encoder = CoalescingEncoder(inner, max_texts=8)  # type: ignore[arg-type]
    barrier = threading.Barrier(12, timeout=WAIT)

    def work(i: int) -> np.ndarray:
        return np.concatenate([encoder.encode([f"t{i}.{k}", "common"]) for k in range(3)])

    callers = [Caller(lambda i=i: work(i), barrier) for i in range(12)]
    for c in callers:
        c.start()
    for i, c in enumerate(callers):
        mine = [t for k in range(3) for t in (f"t{i}.{k}", "common")]
        np.testing.assert_array_equal(c.outcome(), expected(mine))
    assert inner.max_inside == 1
    assert encoder.stats["calls"] == 36


def test_overlap_encoder_does_see_overlap() -> None:
    """The test above can fail: the fake records overlapping calls made without the coalescer."""
    inner = ConcurrencyEncoder(None, pause=0.005)
    barrier = threading.Barrier(4, timeout=WAIT)
    callers = [Caller(lambda i=i: inner.encode([f"t{i}"]), barrier) for i in range(4)]
    for c in callers:
        c.start()
    for c in callers:
        c.outcome()
    assert inner.max_inside > 1


def test_long_call_runs_in_the_callers_thread_beside_a_blocked_run_when_thread_safe() -> None:
    inner = GatedEncoder(thread_safe=True)
    encoder = CoalescingEncoder(inner, max_texts=2, long_call_texts=3)  # type: ignore[arg-type]
    leader = start_blocked_run(encoder, inner)
    long_texts = [f"posting sentence {i}" for i in range(4)]
    long_call = call(encoder, long_texts)
    np.testing.assert_array_equal(long_call.outcome(), expected(long_texts))  # while the leader is blocked
    assert leader.is_alive() and not inner.gate.is_set()
    assert inner.batches == [["leader"], long_texts]
    assert inner.threads[1] is long_call
    inner.gate.set()
    np.testing.assert_array_equal(leader.outcome(), expected(["leader"]))


def test_long_call_waits_for_the_encoding_thread_when_not_thread_safe() -> None:
    inner = GatedEncoder(thread_safe=False)
    encoder = CoalescingEncoder(inner, max_texts=2, long_call_texts=3)  # type: ignore[arg-type]
    leader = start_blocked_run(encoder, inner)
    long_texts = [f"posting sentence {i}" for i in range(4)]
    long_call = call(encoder, long_texts)
    wait_until(lambda: len(encoder._waiting) == 1, "the long call has queued")
    long_call.join(0.05)
    assert long_call.is_alive()  # it waits behind the blocked run
    assert inner.batches == [["leader"]]
    inner.gate.set()
    np.testing.assert_array_equal(long_call.outcome(), expected(long_texts))
    leader.outcome()
    assert inner.batches == [["leader"], long_texts]  # alone, unsplit
    assert inner.threads[1] is inner.threads[0]  # on the encoding thread
    assert inner.threads[1] not in (leader, long_call)


def test_a_call_over_max_texts_but_not_long_queues_and_runs_alone_on_the_encoding_thread() -> None:
    # a learner with a dozen skills: more than one run takes, fewer than a posting; it must not run beside the
    # coalesced runs (two runs at once each run slower), nor be split
    inner = GatedEncoder(thread_safe=True)
    encoder = CoalescingEncoder(inner, max_texts=3)  # type: ignore[arg-type]
    assert encoder.long_call_texts == 64
    leader = start_blocked_run(encoder, inner)
    texts = [f"skill {i}" for i in range(12)]
    mid = call(encoder, texts)
    after = call(encoder, ["after"])
    wait_until(lambda: len(encoder._waiting) == 2, "both calls have queued")
    assert inner.batches == [["leader"]]
    inner.gate.set()
    np.testing.assert_array_equal(mid.outcome(), expected(texts))
    np.testing.assert_array_equal(after.outcome(), expected(["after"]))
    leader.outcome()
    assert inner.batches == [["leader"], texts, ["after"]]
    assert inner.threads[1] is inner.threads[0] is inner.threads[2]


def test_long_call_texts_defaults_to_at_least_max_texts() -> None:
    assert CoalescingEncoder(HashingEncoder(), max_texts=100).long_call_texts == 100  # type: ignore[arg-type]
    assert CoalescingEncoder(HashingEncoder(), max_texts=10).long_call_texts == 64  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="long_call_texts"):
        CoalescingEncoder(HashingEncoder(), long_call_texts=0)  # type: ignore[arg-type]


def test_an_error_reaches_every_caller_of_its_run_and_the_encoder_goes_on() -> None:
    inner = GatedEncoder(fail_on="poison")
    encoder = CoalescingEncoder(inner, max_texts=10)  # type: ignore[arg-type]
    leader = start_blocked_run(encoder, inner)
    queued = [["fine one"], ["poison", "fine two"], ["fine three"]]
    callers = queue_calls(encoder, queued)
    inner.gate.set()
    leader.outcome()
    errors = [c.failure() for c in callers]
    for error in errors:
        assert type(error) is RuntimeError
        assert str(error) == "cannot encode 'poison'"
    assert len(inner.batches) == 2  # the three calls shared the failing run
    # later calls work, including after a second failing run
    np.testing.assert_array_equal(encoder.encode(["fine one", "later"]), expected(["fine one", "later"]))
    with pytest.raises(RuntimeError, match="poison"):
        encoder.encode(["poison"])
    np.testing.assert_array_equal(encoder.encode(["after"]), expected(["after"]))
    assert encoder.stats["runs"] == 5


def test_empty_texts_do_not_reach_the_inner_encoder() -> None:
    inner = CountingEncoder()
    encoder = CoalescingEncoder(inner)  # type: ignore[arg-type]
    for empty in ([], ()):
        out = encoder.encode(empty)
        assert out.shape == (0, inner.dim)
        assert out.dtype == np.float32
    assert inner.batches == []
    assert encoder._servers == 0  # no thread was started for nothing


def test_the_encoding_thread_ends_when_idle_and_a_later_call_starts_another() -> None:
    inner = GatedEncoder()
    inner.gate.set()
    encoder = CoalescingEncoder(inner, idle_seconds=0.05)  # type: ignore[arg-type]
    np.testing.assert_array_equal(encoder.encode(["first"]), expected(["first"]))
    first = inner.threads[0]
    wait_until(lambda: encoder._servers == 0, "the idle thread has gone")
    first.join(WAIT)
    assert not first.is_alive()
    np.testing.assert_array_equal(encoder.encode(["second"]), expected(["second"]))
    assert inner.threads[1] is not first and inner.threads[1] is not threading.current_thread()
    wait_until(lambda: encoder._servers == 0, "the second idle thread has gone")


def test_an_idle_encoding_thread_stays_and_serves_the_next_call_at_once() -> None:
    inner = GatedEncoder()
    inner.gate.set()
    encoder = CoalescingEncoder(inner, idle_seconds=WAIT)  # type: ignore[arg-type]
    encoder.encode(["first"])
    time.sleep(0.1)
    assert encoder._servers == 1 and inner.threads[0].is_alive()
    started = time.monotonic()
    encoder.encode(["second"])
    assert time.monotonic() - started < 1.0  # the idle thread was woken, not left to time out
    assert inner.threads[1] is inner.threads[0]  # the same thread served both


def test_progress_is_reported_for_a_call_that_runs_alone_only() -> None:
    inner = GatedEncoder()
    encoder = CoalescingEncoder(inner)  # type: ignore[arg-type]
    seen: dict[str, list[tuple[int, int]]] = {"leader": [], "a": [], "b": []}
    threads: list[threading.Thread] = []

    def report(name: str) -> Callable[[int, int], None]:
        def progress(done: int, total: int) -> None:
            seen[name].append((done, total))
            threads.append(threading.current_thread())

        return progress

    leader = call(encoder, ["x", "y", "z"], progress=report("leader"))
    assert inner.entered.wait(WAIT)
    a = call(encoder, ["a"], progress=report("a"))
    wait_until(lambda: len(encoder._waiting) == 1, "call a has queued")
    b = call(encoder, ["b"], progress=report("b"))
    wait_until(lambda: len(encoder._waiting) == 2, "call b has queued")
    inner.gate.set()
    for c in (leader, a, b):
        c.outcome()
    assert seen == {"leader": [(3, 3)], "a": [], "b": []}  # a and b shared a run
    assert threads == [inner.threads[0]]  # reported from the encoding thread
    # a call made while nothing else is waiting runs alone, so it reports too
    lone: list[tuple[int, int]] = []
    encoder.encode(["p", "q"], progress=lambda done, total: lone.append((done, total)))
    assert lone == [(2, 2)]


class VersionedEncoder(HashingEncoder):
    model_id = "test/versioned"
    dim = 64

    @property
    def fingerprint(self) -> str:
        return "test/versioned@rev-7"


def test_identity_is_the_inner_encoders() -> None:
    inner = VersionedEncoder()
    encoder = CoalescingEncoder(inner)  # type: ignore[arg-type]
    assert encoder.fingerprint == "test/versioned@rev-7"
    assert encoder.model_id == "test/versioned"
    assert encoder.dim == 64
    assert encoder.encode(["x"]).shape == (1, 64)


@pytest.mark.parametrize("max_texts", [0, -1])
def test_max_texts_must_be_positive(max_texts: int) -> None:
    with pytest.raises(ValueError, match="max_texts"):
        CoalescingEncoder(HashingEncoder(), max_texts=max_texts)  # type: ignore[arg-type]


def test_max_texts_of_one_runs_each_call_alone() -> None:
    inner = GatedEncoder()
    encoder = CoalescingEncoder(inner, max_texts=1)  # type: ignore[arg-type]
    leader = start_blocked_run(encoder, inner)
    callers = []
    for n in range(1, 4):
        callers.append(call(encoder, [f"text {n}"]))
        wait_until(lambda n=n: len(encoder._waiting) == n, f"call {n} has queued")
    inner.gate.set()
    leader.outcome()
    for n, c in enumerate(callers, start=1):
        np.testing.assert_array_equal(c.outcome(), expected([f"text {n}"]))
    assert inner.batches == [["leader"], ["text 1"], ["text 2"], ["text 3"]]


# --- deadlines and cancellation (skillmatch.deadline) ----------------------------------------------------------


def call_under(encoder: Encoder, texts: list[str], token: CancelToken) -> Caller:
    """``encoder.encode(texts)`` in a thread of its own, under ``token`` (as a request thread of the API)."""

    def run() -> np.ndarray:
        with deadline.scope(token):
            return encoder.encode(texts)

    caller = Caller(run)
    caller.start()
    return caller


class CancellingEncoder(HashingEncoder):
    """Counts its batches; cancels ``token`` once it has encoded ``after`` of them (a deadline passing)."""

    def __init__(self, token: CancelToken, after: int, thread_safe: bool) -> None:
        super().__init__()
        self.token = token
        self.after = after
        self.thread_safe = thread_safe
        self.batches: list[list[str]] = []

    def encode(self, texts: Sequence[str], *, progress: object = None) -> np.ndarray:
        self.batches.append(list(texts))
        if len(self.batches) == self.after:
            self.token.cancel(deadline.DEADLINE)
        return super().encode(texts, progress=progress)


@pytest.mark.parametrize(
    ("wrapper", "thread_safe"),
    [("coalescing", True), ("coalescing", False), ("locked", True), ("locked", False)],
)
def test_a_long_call_stops_encoding_its_remaining_steps_once_its_token_is_cancelled(
    wrapper: str, thread_safe: bool
) -> None:
    token = CancelToken()
    inner = CancellingEncoder(token, after=2, thread_safe=thread_safe)
    encoder: Encoder = (
        CoalescingEncoder(inner, max_texts=10)  # type: ignore[arg-type]
        if wrapper == "coalescing"
        else LockedEncoder(inner)  # type: ignore[arg-type]
    )
    texts = [f"posting phrase {i}" for i in range(5 * CHECK_EVERY_TEXTS)]  # five steps
    error = call_under(encoder, texts, token).failure()
    assert isinstance(error, WorkCancelled) and error.reason == deadline.DEADLINE
    assert len(inner.batches) == 2  # the three steps after the cancellation were never encoded
    assert all(len(b) == CHECK_EVERY_TEXTS for b in inner.batches)


def test_a_call_in_steps_gets_the_same_vectors_as_in_one_piece() -> None:
    inner = CountingEncoder()
    encoder = CoalescingEncoder(inner, max_texts=10)  # type: ignore[arg-type]
    texts = [f"phrase {i % 150} " + "x" * (i % 7) for i in range(300)]  # duplicates, mixed lengths
    got = call_under(encoder, texts, CancelToken(60.0)).outcome()
    np.testing.assert_allclose(got, expected(texts), atol=1e-6)
    distinct = len(set(texts))
    assert sum(len(b) for b in inner.batches) == distinct  # each distinct text encoded once
    assert max(len(b) for b in inner.batches) == CHECK_EVERY_TEXTS
    lengths = [len(t) for b in inner.batches for t in b]
    assert lengths == sorted(lengths, reverse=True)  # longest first: each step pads to similar lengths


def test_without_a_token_a_long_call_is_one_piece_as_before() -> None:
    inner = CountingEncoder()
    encoder = CoalescingEncoder(inner, max_texts=10)  # type: ignore[arg-type]
    texts = [f"phrase {i}" for i in range(5 * CHECK_EVERY_TEXTS)]
    encoder.encode(texts)
    assert [len(b) for b in inner.batches] == [len(texts)]


def test_queued_texts_of_a_cancelled_caller_are_dropped_unencoded() -> None:
    inner = GatedEncoder(thread_safe=False)
    encoder = CoalescingEncoder(inner, max_texts=10)  # type: ignore[arg-type]
    leader = start_blocked_run(encoder, inner)  # holds the encoder thread
    token = CancelToken()
    abandoned = call_under(encoder, ["abandoned request's phrase"], token)
    kept = call(encoder, ["other request's phrase"])
    wait_until(lambda: len(encoder._waiting) == 2, "both calls have queued")
    token.cancel(deadline.DISCONNECTED)  # the client went away while its texts waited
    error = abandoned.failure()  # at once, while the run before it still holds the encoder
    assert isinstance(error, WorkCancelled) and error.reason == deadline.DISCONNECTED
    assert not inner.gate.is_set() and len(encoder._waiting) == 1
    inner.gate.set()
    np.testing.assert_array_equal(kept.outcome(), expected(["other request's phrase"]))
    leader.outcome()
    assert inner.batches == [["leader"], ["other request's phrase"]]  # never the abandoned text
    assert encoder.stats["dropped_calls"] == 1 and encoder.stats["dropped_texts"] == 1


def test_the_encoding_thread_skips_a_cancelled_call_its_caller_has_not_withdrawn_yet() -> None:
    # the caller looks at its token every 50 ms; a run that starts in between must not encode its texts
    encoder = CoalescingEncoder(HashingEncoder(), max_texts=3)  # type: ignore[arg-type]
    gone, alive = CancelToken(), CancelToken()
    gone.cancel(deadline.DEADLINE)
    dropped = _Call(["a", "b"], token=gone)
    encoder._waiting.extend([dropped, _Call(["c", "d"], token=alive), _Call(["e"]), _Call(["f", "g"])])
    with encoder._cond:
        batch = encoder._take()
    assert [c.texts for c in batch] == [["c", "d"], ["e"]]  # the cancelled call does not count to max_texts
    assert dropped.ready.is_set() and isinstance(dropped.error, WorkCancelled)
    assert [c.texts for c in encoder._waiting] == [["f", "g"]]
    assert encoder.stats["dropped_calls"] == 1 and encoder.stats["dropped_texts"] == 2


def test_a_call_whose_deadline_has_passed_encodes_nothing() -> None:
    inner = CountingEncoder()
    token = CancelToken(0.001)
    time.sleep(0.01)
    for encoder in (CoalescingEncoder(inner), LockedEncoder(inner)):  # type: ignore[arg-type]
        error = call_under(encoder, ["late"], token).failure()
        assert isinstance(error, WorkCancelled) and "deadline of 0.001 s" in str(error)
    assert inner.batches == []


def test_two_runs_in_flight_hand_the_next_run_over_while_the_first_is_still_running() -> None:
    inner = GatedEncoder(thread_safe=True)
    encoder = CoalescingEncoder(inner, max_texts=4, runs_in_flight=2)  # type: ignore[arg-type]
    first = Caller(lambda: encoder.encode(["a", "b"]))
    first.start()
    assert inner.entered.wait(WAIT)  # the first run holds its thread
    second = Caller(lambda: encoder.encode(["c"]))
    second.start()
    np.testing.assert_array_equal(second.outcome(), expected(["c"]))  # ran beside the held run
    assert first.is_alive()
    inner.gate.set()
    np.testing.assert_array_equal(first.outcome(), expected(["a", "b"]))
    assert inner.batches == [["a", "b"], ["c"]] and inner.threads[0] is not inner.threads[1]
    assert encoder.stats["runs"] == 2


def test_one_run_in_flight_keeps_the_next_call_waiting() -> None:
    inner = GatedEncoder(thread_safe=True)
    encoder = CoalescingEncoder(inner, max_texts=4)  # type: ignore[arg-type]
    first = Caller(lambda: encoder.encode(["a", "b"]))
    first.start()
    assert inner.entered.wait(WAIT)
    second = Caller(lambda: encoder.encode(["c"]))
    second.start()
    time.sleep(0.2)
    assert second.is_alive() and inner.batches == [["a", "b"]]
    inner.gate.set()
    np.testing.assert_array_equal(second.outcome(), expected(["c"]))
    first.outcome()


def test_several_runs_in_flight_need_a_thread_safe_encoder() -> None:
    with pytest.raises(ValueError, match="thread-safe"):
        CoalescingEncoder(GatedEncoder(thread_safe=False), runs_in_flight=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="runs_in_flight"):
        CoalescingEncoder(GatedEncoder(thread_safe=True), runs_in_flight=0)  # type: ignore[arg-type]
