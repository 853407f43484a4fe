"""The served encoder's model in a process of its own, out of reach of the server's interpreter lock.

A server encodes request texts on one thread (:class:`~skillmatch.encoding.concurrency.CoalescingEncoder`) while
its request threads spend as long again in Python (linking, gaps, the optimiser). In one process the encoder's
thread must take the interpreter lock back after every model run, and with eight request threads holding it in
turn it waits: on 2 cores the encoder idled about a fifth of the time under load (docs/performance.md).

:class:`ProcessEncoder` sends short calls to a child process that loads the same backend (same model, precision,
thread count and so the same fingerprint) and encodes them one after another, first come first served. The
coalescing layer above it keeps two runs in flight (``runs_in_flight``), so the child finds the next run waiting
in its pipe when it finishes one and does not wait for the parent's lock. A receiver thread in the parent reads
the vectors and wakes each caller.

The backend stays loaded in the parent too: it answers ``normalise_text`` and the model's identity, encodes calls
of more than ``long_call_texts`` texts (a posting's sentences) in the caller's thread, beside the short runs, and
takes over when the child cannot be started or ends: a call the child had not answered is encoded in the parent
instead, so no request fails because the child died; the parent logs it and :meth:`ProcessEncoder.info` says so.
A child that ended unasked is started again in the background after 1, 2, then 4 seconds (at most
:data:`MAX_RESTARTS` times in :data:`RESTART_WINDOW_S`), the parent encoding meanwhile.

The child is started with ``spawn`` (the parent has threads; ``fork`` would copy their locks), ignores SIGINT and
SIGTERM (Ctrl-C or a stop signal sent to the whole process group stops the parent, which finishes its requests in
flight and then stops the child) and ends when its pipe closes: when the parent stops, dies (even by SIGKILL), or
drops the encoder (a reload to a bundle of another model).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import signal
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from skillmatch.encoding.base import Encoder, EncoderWrapper, ProgressFn
from skillmatch.encoding.concurrency import LONG_CALL_TEXTS

log = logging.getLogger(__name__)

#: A child that ends unasked is started again after RESTART_DELAY_S, then twice that, ... at most MAX_RESTARTS times
#: within RESTART_WINDOW_S seconds; after that the server keeps encoding request texts itself.
RESTART_DELAY_S = 1.0
MAX_RESTARTS = 3
RESTART_WINDOW_S = 600.0


class EncoderProcessError(RuntimeError):
    """The encoder process failed to encode a call (the message is the child's error)."""


@dataclass(frozen=True)
class ChildSpec:
    """What the child needs to load the parent's backend: the same model, backend and settings."""

    model: str
    backend: str
    batch_size: int
    threads: int
    onnx_dir: str
    device: str = "cpu"


@dataclass(eq=False)
class _Pending:
    """A call sent to the child, and what came back."""

    texts: list[str]
    ready: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: str | None = None
    lost: bool = False


def _child_main(conn: Connection, spec: dict[str, Any]) -> None:
    """The child: load the backend, say which fingerprint it has, then encode calls until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops it: Ctrl-C or a signal to the whole group
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # must not end it before the parent's requests in flight
    from skillmatch.encoding.factory import load_backend

    try:
        encoder = load_backend(
            spec["model"],
            backend=spec["backend"],
            batch_size=spec["batch_size"],
            threads=spec["threads"],
            onnx_dir=Path(spec["onnx_dir"]),
            device=spec["device"],
        )
    except BaseException as exc:  # the parent logs it and encodes in its own process
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", encoder.fingerprint))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        call_id, texts = message
        try:
            conn.send((call_id, encoder.encode(texts), None))
        except BaseException as exc:  # one call's error; the child goes on
            conn.send((call_id, None, f"{type(exc).__name__}: {exc}"))


class ProcessEncoder(EncoderWrapper):
    """Encodes short calls in a child process that runs the same backend as ``inner``; see the module's text.

    Args:
        inner: the loaded backend (kept: identity, ``normalise_text``, long calls, and the fallback).
        spec: how the child loads the same backend; its fingerprint must equal ``inner``'s.
        long_call_texts: calls with more texts than this are encoded by ``inner`` in the caller's thread.
        start_timeout: seconds to wait for the child to load its model; after that the parent encodes alone.

    A child that ends unasked (killed, out of memory) is started again in the background (see
    :data:`MAX_RESTARTS`); meanwhile, and for good after too many ends, the parent encodes.
    """

    def __init__(
        self,
        inner: Encoder,
        spec: ChildSpec,
        *,
        long_call_texts: int = LONG_CALL_TEXTS,
        start_timeout: float = 120.0,
    ) -> None:
        super().__init__(inner)
        self.spec = spec
        self.long_call_texts = long_call_texts
        self.start_timeout = start_timeout
        self._lock = threading.Lock()  # the pending calls and the state
        self._send_lock = threading.Lock()  # one sender at a time; never held while waiting for _lock
        self._local_lock = threading.Lock()  # short calls encoded in this process, one at a time
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count()
        self._conn: Connection | None = None
        self._state = "starting"
        self._reason = ""
        #: calls and texts the child encoded, calls the parent encoded instead (long, or the child gone)
        self.stats = {"child_calls": 0, "child_texts": 0, "parent_calls": 0}
        self._closing = threading.Event()  # set before the child is asked to end: its end is then expected
        self._restarts: list[float] = []  # when the child was started again (monotonic seconds)
        self._launch()

    def _launch(self) -> bool:
        """Start a child and wait for its model (see :meth:`_start`); True when it runs."""
        ctx = multiprocessing.get_context("spawn")
        parent_end, child_end = ctx.Pipe()
        process = ctx.Process(
            target=_child_main, args=(child_end, asdict(self.spec)), name="skillmatch-encoder", daemon=True
        )
        process.start()
        child_end.close()
        self._process = process
        weakref.finalize(self, _stop, parent_end, process, self._closing)
        return self._start(parent_end, self.start_timeout)

    def _start(self, conn: Connection, timeout: float) -> bool:
        """Wait for the child's model; on success start the receiver thread, else encode in this process."""
        problem = None
        if not conn.poll(timeout):
            problem = f"the encoder process did not load its model within {timeout:g} s"
        else:
            try:
                kind, detail = conn.recv()
            except (EOFError, OSError):
                kind, detail = "ended", f"exit code {self._process.exitcode}"
            if kind != "ready":
                problem = f"the encoder process could not load the model ({kind}: {detail})"
            elif detail != self.inner.fingerprint:
                problem = f"the encoder process loaded {detail}, not {self.inner.fingerprint}"
        if problem is None and self._closing.is_set():
            problem = "closed while the encoder process started"
        if problem is not None:
            self._give_up(problem, warn=not self._closing.is_set())
            _stop(conn, self._process, None)
            return False
        with self._lock:
            self._conn = conn
            self._state = "running"
        threading.Thread(
            target=_receive,
            args=(conn, weakref.ref(self), self._closing),
            name="skillmatch-encoder-rx",
            daemon=True,
        ).start()
        return True

    def _restart_later(self) -> None:
        """Start the child again after a delay that doubles with each recent restart, unless there were too many."""
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S]
        if len(self._restarts) >= MAX_RESTARTS:
            log.warning(
                "the encoder process ended %d times within %g s: not starting it again",
                len(self._restarts) + 1,
                RESTART_WINDOW_S,
            )
            return
        delay = RESTART_DELAY_S * 2 ** len(self._restarts)
        self._restarts.append(now)
        threading.Thread(
            target=_relaunch, args=(weakref.ref(self), delay), name="skillmatch-encoder-restart", daemon=True
        ).start()

    def _give_up(self, reason: str, *, warn: bool = True) -> Connection | None:
        """Encode in this process from now on; calls the child had not answered are encoded here.

        Returns the pipe to the child (None if there was none), for the caller to close.
        """
        with self._lock:
            conn, self._conn = self._conn, None
            self._state, self._reason = "stopped", reason
            lost = list(self._pending.values())
            self._pending.clear()
        for call in lost:
            call.lost = True
            call.ready.set()
        if warn:
            log.warning("encoding request texts in the server process: %s", reason)
        return conn

    @property
    def thread_safe(self) -> bool:
        """Always true: calls to the child are sent under a lock and answered in order."""
        return True

    def info(self) -> dict[str, Any]:
        """Where short calls are encoded: the child's pid and state, or why the parent took over."""
        return {
            "pid": self._process.pid,
            "state": self._state,
            **({"reason": self._reason} if self._reason and self._state != "running" else {}),
            "restarts": len(self._restarts),
            **self.stats,
        }

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Vectors of ``texts``: from the child for short calls, from ``inner`` in this thread otherwise.

        Raises:
            EncoderProcessError: the child failed to encode these texts (its error as the message).
        """
        texts = list(texts)
        if len(texts) > self.long_call_texts or progress is not None or self._conn is None:
            return self._here(texts, progress)
        call = _Pending(texts)
        with self._lock:
            conn = self._conn
            if conn is not None:
                call_id = next(self._ids)
                self._pending[call_id] = call
        if conn is None:
            return self._here(texts, progress)
        # sent outside _lock: a send that waits for room in the pipe never stops the receiver thread from
        # taking answers out of the other one (which would leave the child waiting to send, and both stuck)
        try:
            with self._send_lock:
                conn.send((call_id, texts))
        except (OSError, ValueError):
            with self._lock:
                self._pending.pop(call_id, None)
            call.lost = True
        if not call.lost:
            call.ready.wait()
        if call.lost:
            return self._here(texts, progress)
        if call.error is not None:
            raise EncoderProcessError(call.error)
        assert call.vectors is not None
        self.stats["child_calls"] += 1
        self.stats["child_texts"] += len(texts)
        return call.vectors

    def _here(self, texts: list[str], progress: ProgressFn | None) -> np.ndarray:
        """Encode in this process.

        Long calls run beside everything else; short ones (the coalesced runs, once the child is gone) one at a
        time, as a server without a child runs them.
        """
        self.stats["parent_calls"] += 1
        if len(texts) > self.long_call_texts:
            return self.inner.encode(texts, progress=progress)
        with self._local_lock:
            return self.inner.encode(texts, progress=progress)

    def _deliver(self, call_id: int, vectors: np.ndarray | None, error: str | None) -> None:
        """Hand one answer of the child to its caller."""
        with self._lock:
            call = self._pending.pop(call_id, None)
        if call is not None:
            call.vectors, call.error = vectors, error
            call.ready.set()

    def close(self) -> None:
        """Stop the child (and any restart); calls from now on are encoded in this process."""
        self._closing.set()
        conn = self._give_up("closed", warn=False)
        if conn is not None:
            _stop(conn, self._process, self._closing)


def _receive(conn: Connection, ref: weakref.ReferenceType[ProcessEncoder], closing: threading.Event) -> None:
    """The receiver thread: hand each answer to its caller; when the pipe breaks, the parent takes over.

    Holds the encoder only weakly between answers, so an encoder that is dropped is collected (and its child
    stopped) while this thread waits.
    """
    while True:
        try:
            call_id, vectors, error = conn.recv()
        except (EOFError, OSError):
            encoder = ref()
            if encoder is not None and encoder._state == "running" and not closing.is_set():
                encoder._process.join(1)
                encoder._give_up(f"the encoder process ended (exit code {encoder._process.exitcode})")
                encoder._restart_later()
            return
        encoder = ref()
        if encoder is None:
            return
        encoder._deliver(call_id, vectors, error)
        del encoder


def _relaunch(ref: weakref.ReferenceType[ProcessEncoder], delay: float) -> None:
    """Start the encoder's child again after ``delay`` seconds, unless the encoder was closed or dropped."""
    time.sleep(delay)
    encoder = ref()
    if encoder is None or encoder._closing.is_set():
        return
    if encoder._launch():
        log.warning("the encoder process runs again (pid %s)", encoder._process.pid)
    else:
        encoder._restart_later()


def _stop(
    conn: Connection, process: multiprocessing.process.BaseProcess, closing: threading.Event | None
) -> None:
    """Ask the child to end (it also ends when the pipe closes), then make sure it has.

    ``closing`` (set first) tells the receiver thread that this end is expected: no warning, no restart.
    """
    if closing is not None:
        closing.set()
    with contextlib.suppress(OSError, ValueError):
        conn.send(None)
    process.join(5)
    if process.is_alive():
        process.terminate()
        process.join(5)
    conn.close()
