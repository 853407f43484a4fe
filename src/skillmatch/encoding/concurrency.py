"""Wrappers for encoders called from several threads: coalesced runs on one encoder thread, or a lock.

Coalesced encoding: concurrent ``encode`` calls from several threads share one call of the wrapped encoder.

A server encodes a few short phrases per request. One model run of 5 phrases costs far more per phrase than a run
of 20 (each run streams the model's weights through the core once, and matrix products on a handful of rows use
it poorly), and runs that overlap in several threads compete for the same two cores. :class:`CoalescingEncoder`
gives the wrapped encoder to one thread of its own: callers queue their texts and wait; the thread takes every call
waiting (oldest first, up to ``max_texts`` texts; a larger call alone), encodes them in one call and hands each
caller its vectors.
Nobody waits for a timer: a call that finds the thread idle is encoded at once (alone; it pays only the hand-off
to the encoder's thread), and under load batches form by themselves from the calls that queued behind the running
one.

With ``runs_in_flight`` above 1, that many encoding threads take runs: for an encoder whose runs do not need this
process's interpreter lock (:class:`~skillmatch.encoding.process.ProcessEncoder`, the API's default on 2 or more
CPUs) the next run is then handed over while the last one's vectors are still being taken back.

Runs are kept short on purpose. Callers in a server do more than encode: a request thread encodes its phrases,
then spends as long again in Python (linking, gaps, the optimiser) under the interpreter lock. Long runs make
convoys: eight requests encode in one run while the Python side idles, then take turns at the interpreter lock
while the encoder idles. Runs of two 5-phrase requests keep both busy (the API's default ``max_texts`` of 10:
p99 64-84 ms in 10 runs at concurrency 8, against 87-102 ms with runs of up to 64 texts; docs/performance.md).

A call with more than ``long_call_texts`` texts (a posting to extract skills from) is not what coalescing is for:
when the wrapped encoder is thread-safe it runs straight away in the caller's thread, beside the coalesced runs,
so a long text does not hold up the short calls queued behind it; otherwise it runs alone on the encoder's thread,
as does a call of more than ``max_texts`` texts up to ``long_call_texts``.

Measured on 2 cores (docs/performance.md): coalescing cut the server's CPU per 5-phrase request from 14.4 to
12.7 ms when the request threads led runs in turn; a thread of its own does better (in-process, 148-152 instead
of 124-133 requests/s): request threads that led runs were off the CPU 15-18 % of the time they spent in ONNX
Runtime, the encoder's thread 6 %. The vectors are those of the wrapped encoder, whatever the batch: a text's
vector does not depend on the other texts of its run beyond float rounding (each is padded and masked on its
own; the float32 and block-wise int8 backends quantise nothing per run, unlike the dynamic ``onnx-int8``).

Deadlines and cancellation (:mod:`skillmatch.deadline`): a call made under a cancellation token (the API sets one
per request) is encoded in steps of at most :data:`CHECK_EVERY_TEXTS` texts, longest first, and the token is
checked before each step; a queued call whose token is cancelled while it waits is taken off the queue (by its
caller, or skipped by the encoder's thread), so the texts of an expired or abandoned request are never encoded.
Its caller gets :class:`~skillmatch.deadline.WorkCancelled` at once; a run already started finishes (one step at
most), its vectors unused. Calls without a token (builds, the CLI) are encoded as before, in one piece.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from skillmatch import deadline, nowait
from skillmatch.deadline import CancelToken, WorkCancelled
from skillmatch.encoding.base import Encoder, EncoderWrapper, ProgressFn

#: Calls with more texts than this (by default) run in their caller's thread beside the coalesced runs when the
#: wrapped encoder is thread-safe: a posting's sentences and phrases, not a learner's skills.
LONG_CALL_TEXTS = 64

#: A call under a cancellation token with more texts than this is encoded in steps of this many texts, the token
#: checked before each: about 80 ms of the worst case's phrases on 2 cores. Steps cost a little CPU (each is
#: planned into runs on its own): about 3 % on the worst-case request, 5 % with steps of 64 (docs/reliability.md).
CHECK_EVERY_TEXTS = 128

#: How often (seconds) a caller waiting for its queued texts looks at its cancellation token.
_POLL_SECONDS = 0.05


@dataclass(eq=False)
class _Call:
    """One caller's texts, and what the run that took them left for it."""

    texts: list[str]
    progress: ProgressFn | None = None
    token: CancelToken | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: BaseException | None = None
    #: called (from the encoding thread) once vectors or error are set: callers that do not wait on :attr:`ready`
    done: Callable[[_Call], None] | None = None

    def finish(self) -> None:
        """Wake the caller: set :attr:`ready` and call :attr:`done`."""
        self.ready.set()
        if self.done is not None:
            self.done(self)


class CoalescingEncoder(EncoderWrapper):
    """Encodes the texts of concurrent ``encode`` calls together, one wrapped call at a time, in arrival order.

    Args:
        inner: the encoder that does the work. Its coalesced calls run on one thread of this object's, never two
            at once; only a call of more than ``long_call_texts`` texts to a thread-safe encoder runs beside
            them, in its caller's thread.
        max_texts: most texts in one coalesced run; a call with more runs alone (see the module's text).
        long_call_texts: calls with more texts than this run in their caller's thread when the wrapped encoder
            is thread-safe (default: the larger of :data:`LONG_CALL_TEXTS` and ``max_texts``).
        idle_seconds: the encoding thread ends after this long without work (and starts again with the next
            call), so an encoder that is no longer served is not kept alive by its thread.
        runs_in_flight: coalesced runs handed to the wrapped encoder at once, each from a thread of its own
            (1: one run at a time). More than 1 needs a thread-safe encoder and pays off only when the runs do not
            compete for the interpreter lock: with :class:`~skillmatch.encoding.process.ProcessEncoder` the
            next run waits in the child's pipe while the parent takes the last one's vectors.
    """

    def __init__(
        self,
        inner: Encoder,
        *,
        max_texts: int = 10,
        long_call_texts: int | None = None,
        idle_seconds: float = 5.0,
        runs_in_flight: int = 1,
    ) -> None:
        if max_texts < 1:
            raise ValueError(f"max_texts must be at least 1, not {max_texts}")
        if long_call_texts is not None and long_call_texts < 1:
            raise ValueError(f"long_call_texts must be at least 1, not {long_call_texts}")
        if runs_in_flight < 1:
            raise ValueError(f"runs_in_flight must be at least 1, not {runs_in_flight}")
        if runs_in_flight > 1 and not inner.thread_safe:
            raise ValueError("runs_in_flight above 1 needs a thread-safe encoder")
        super().__init__(inner)
        self.max_texts = max_texts
        self.runs_in_flight = runs_in_flight
        self.long_call_texts = max(LONG_CALL_TEXTS, max_texts) if long_call_texts is None else long_call_texts
        self.idle_seconds = idle_seconds
        self._cond = threading.Condition()
        self._waiting: deque[_Call] = deque()
        self._servers = 0  # encoding threads running
        self._idle = 0  # of which waiting for calls
        #: wrapped calls made, caller calls and texts served, calls and texts dropped unencoded because their
        #: caller's token was cancelled (informational)
        self.stats = {"runs": 0, "calls": 0, "texts": 0, "dropped_calls": 0, "dropped_texts": 0}

    @property
    def thread_safe(self) -> bool:
        """Always true: concurrent calls are queued for the one encoder thread."""
        return True

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Vectors of ``texts``, computed in one run with the texts of concurrent callers.

        ``progress`` is only honoured by a call that runs alone (it is meant for long offline jobs, which do not
        share runs); it is then called from the encoding thread.

        Raises:
            WorkCancelled: the caller's cancellation token (:func:`skillmatch.deadline.current`) was cancelled
                or its deadline passed before the texts were encoded.
            WouldWait: called inside :func:`skillmatch.nowait.scope` (the texts would wait for the encoder).
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        nowait.check("texts for the encoder's queue")
        token = deadline.current()
        alone = len(texts) > self.long_call_texts and self.inner.thread_safe
        if token is not None and len(texts) > CHECK_EVERY_TEXTS:
            step = self.inner.encode if alone else (lambda part: self._queued(part, None, token))
            return encode_in_steps(texts, step, token, progress)
        if token is not None:
            token.check()
        if alone:
            return self.inner.encode(texts, progress=progress)
        return self._queued(texts, progress, token)

    def submit(
        self, texts: Sequence[str], done: Callable[[np.ndarray | None, BaseException | None], None]
    ) -> None:
        """Queue ``texts`` like :meth:`encode`, without waiting for them (for callers that must not block).

        ``done(vectors, error)`` is called from the encoding thread once they are encoded, or dropped because the
        caller's cancellation token (taken from the current context) was cancelled.
        """
        texts = list(texts)
        if not texts:
            done(np.zeros((0, self.dim), dtype=np.float32), None)
            return
        self._enqueue(
            _Call(texts, None, deadline.current(), done=lambda call: done(call.vectors, call.error))
        )

    def _enqueue(self, call: _Call) -> None:
        """Put ``call`` on the queue and make sure an encoding thread will take it."""
        with self._cond:
            self._waiting.append(call)
            if self._idle == 0 and self._servers < self.runs_in_flight:
                self._servers += 1
                threading.Thread(target=self._serve, name="skillmatch-encoder", daemon=True).start()
            else:
                self._cond.notify()

    def _queued(self, texts: list[str], progress: ProgressFn | None, token: CancelToken | None) -> np.ndarray:
        """Queue one call for the encoding thread and wait for its vectors (or its token's cancellation)."""
        call = _Call(texts, progress, token)
        self._enqueue(call)
        if token is None:
            call.ready.wait()
        else:
            while not call.ready.wait(_POLL_SECONDS):
                if token.cancelled:
                    self._withdraw(call)
                    token.check()
        if call.error is not None:
            raise call.error
        assert call.vectors is not None
        return call.vectors

    def _withdraw(self, call: _Call) -> None:
        """Take a cancelled call off the queue if no run has taken it yet."""
        with self._cond:
            if call in self._waiting:
                self._waiting.remove(call)
                self._count_dropped(call)

    def _count_dropped(self, call: _Call) -> None:
        """Count a call dropped unencoded because it was cancelled; under the lock."""
        self.stats["dropped_calls"] += 1
        self.stats["dropped_texts"] += len(call.texts)

    def _serve(self) -> None:
        """An encoding thread: run batches while calls wait; end after ``idle_seconds`` without one."""
        while True:
            with self._cond:
                if not self._waiting:
                    self._idle += 1
                    self._cond.wait(self.idle_seconds)
                    self._idle -= 1
                if not self._waiting:
                    self._servers -= 1
                    return
                batch = self._take()
            if batch:
                self._run(batch)

    def _take(self) -> list[_Call]:
        """The oldest waiting calls, up to ``max_texts`` texts (at least one unless all were cancelled).

        Calls whose token was cancelled are dropped unencoded, their callers woken with the cancellation.
        Under the lock.
        """
        batch: list[_Call] = []
        size = 0
        while self._waiting:
            call = self._waiting[0]
            if call.token is not None and call.token.cancelled:
                self._waiting.popleft()
                self._count_dropped(call)
                call.error = WorkCancelled(call.token.reason or deadline.DEADLINE, timeout=call.token.timeout)
                call.finish()
                continue
            if batch and size + len(call.texts) > self.max_texts:
                break
            batch.append(self._waiting.popleft())
            size += len(call.texts)
        return batch

    def _run(self, batch: list[_Call]) -> None:
        """Encode one batch and wake its callers, each with its vectors or the error of the run."""
        try:
            unique = list(dict.fromkeys(t for c in batch for t in c.texts))
            vectors = self.inner.encode(unique, progress=batch[0].progress if len(batch) == 1 else None)
            row = {t: i for i, t in enumerate(unique)}
            for c in batch:
                c.vectors = vectors[[row[t] for t in c.texts]]
        except BaseException as exc:  # every caller of the run gets the error; the thread goes on
            for c in batch:
                c.error = exc
        with self._cond:
            self.stats["runs"] += 1
            self.stats["calls"] += len(batch)
            self.stats["texts"] += sum(len(c.texts) for c in batch)
        for c in batch:
            c.finish()


class LockedEncoder(EncoderWrapper):
    """An encoder whose ``encode`` runs one call at a time, unless the wrapped encoder is thread-safe.

    Hugging Face tokenizers and the SQLite embedding cache are not safe under concurrent use from several
    threads; a served encoder that does not coalesce (``api_coalesce_texts`` = 0) is wrapped in this. A thread-safe
    encoder (the ONNX Runtime backends without the on-disk cache) runs calls side by side: 8 threads in-process
    gave 98-101 instead of 61-70 recommendations/s (docs/performance.md).
    """

    def __init__(self, inner: Encoder) -> None:
        super().__init__(inner)
        self._lock = threading.Lock()

    @property
    def thread_safe(self) -> bool:
        """Always true: calls are serialised unless the wrapped encoder is thread-safe itself."""
        return True

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Encode, under the lock unless the wrapped encoder is thread-safe.

        Under a cancellation token, long calls are encoded in steps and the token is checked before each (as
        :class:`CoalescingEncoder` does).

        Raises:
            WorkCancelled: the caller's cancellation token was cancelled or its deadline passed.
            WouldWait: called inside :func:`skillmatch.nowait.scope`.
        """
        nowait.check("texts to encode under the encoder's lock")
        token = deadline.current()
        if token is not None:
            if len(texts) > CHECK_EVERY_TEXTS:
                return encode_in_steps(list(texts), self._encode_locked, token, progress)
            token.check()
        return self._encode_locked(texts, progress=progress)

    def _encode_locked(self, texts: Sequence[str], progress: ProgressFn | None = None) -> np.ndarray:
        if self.inner.thread_safe:
            return self.inner.encode(texts, progress=progress)
        with self._lock:
            return self.inner.encode(texts, progress=progress)


def encode_in_steps(
    texts: list[str],
    encode: Callable[[list[str]], np.ndarray],
    token: CancelToken,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """Vectors of ``texts`` encoded by ``encode`` in steps of :data:`CHECK_EVERY_TEXTS` distinct texts.

    Texts are taken longest first (each step pads to similar lengths) and ``token`` is checked before each step,
    so the work stops within one step of the token's cancellation. ``progress`` is called after each step.

    Raises:
        WorkCancelled: the token was cancelled or its deadline passed before the last step.
    """
    order = sorted(dict.fromkeys(texts), key=len, reverse=True)
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(order), CHECK_EVERY_TEXTS):
        token.check()
        part = order[start : start + CHECK_EVERY_TEXTS]
        found.update(zip(part, encode(part), strict=True))
        if progress:
            progress(len(found), len(order))
    return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)
