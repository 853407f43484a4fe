"""Test doubles shared by the unit tests."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from skillmatch.encoding.base import EncoderWrapper
from skillmatch.schema import POSTING_COLUMNS


class HashingEncoder:
    """A deterministic stand-in for fast tests: bag of hashed character trigrams, L2-normalised.

    Texts sharing many trigrams get similar vectors, so linking logic can be tested without a model. It never
    stands in for the product: integration tests use the real encoder.
    """

    model_id = "test/hashing-encoder"
    dim = 256
    thread_safe = False

    def __init__(self) -> None:
        self.calls: list[int] = []

    @property
    def fingerprint(self) -> str:
        return self.model_id

    def normalise_text(self, text: str) -> str:
        """No tokenizer normaliser: texts stay as they are (the exact-label shortcut then matches exact text)."""
        return text

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        padded = "  " + re.sub(r"\s+", " ", text.lower()) + "  "
        for i in range(len(padded) - 2):
            h = int.from_bytes(hashlib.md5(padded[i : i + 3].encode()).digest()[:4], "little")
            vec[h % self.dim] += 1.0
        norm = np.linalg.norm(vec)
        return vec / norm if norm else vec

    def encode(self, texts: Sequence[str], *, progress: object = None) -> np.ndarray:
        self.calls.append(len(texts))
        if callable(progress):
            progress(len(texts), len(texts))
        if not len(texts):
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._one(t) for t in texts])


class CountingEncoder(EncoderWrapper):
    """Wraps an encoder and records every batch it is asked to encode."""

    def __init__(self, inner: HashingEncoder | None = None) -> None:
        super().__init__(inner or HashingEncoder())
        self.batches: list[list[str]] = []

    def encode(self, texts: Sequence[str], *, progress: object = None) -> np.ndarray:
        self.batches.append(list(texts))
        return self.inner.encode(texts, progress=progress)


def concept_row(cid: str, label: str, alts: list[str], broader: list[str] | None = None) -> dict[str, object]:
    """One row of a concepts table (schema.CONCEPT_COLUMNS)."""
    return {
        "id": cid,
        "label": label,
        "alt_labels": alts,
        "description": "",
        "type": "skill",
        "reuse_level": None,
        "broader": broader or [],
        "group_path": "",
    }


def posting_row(
    pid: str, title: str, description: str, *, skills: list[str] | None = None, occupation: str | None = None
) -> dict[str, object]:
    """One row of a postings table (schema.POSTING_COLUMNS)."""
    row: dict[str, object] = dict.fromkeys(POSTING_COLUMNS)
    row.update(id=pid, title=title, description=description, skills=skills or [], occupation=occupation)
    return row


def make_concepts(rows: list[tuple[str, str, list[str]]]) -> pd.DataFrame:
    """A concepts table (schema.CONCEPT_COLUMNS) from (id, label, alt_labels) triples."""
    return pd.DataFrame([concept_row(i, label, alts) for i, label, alts in rows])


class ConcurrencyEncoder(HashingEncoder):
    """Records the most calls that were inside its ``encode`` at once (each stays ``pause`` seconds)."""

    def __init__(self, thread_safe: bool, pause: float = 0.05) -> None:
        super().__init__()
        self.thread_safe = thread_safe
        self.pause = pause
        self.inside = 0
        self.max_inside = 0
        self._count_lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, progress: object = None) -> np.ndarray:
        with self._count_lock:
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
        time.sleep(self.pause)
        with self._count_lock:
            self.inside -= 1
        return super().encode(texts, progress=progress)


def write_benchmark(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A TECH/HOUSE-style skill-extraction file (``sentence, span, sub_span, label``) of (sentence, label) rows."""
    frame = pd.DataFrame(
        [(s, "span", "", label) for s, label in rows], columns=["sentence", "span", "sub_span", "label"]
    )
    frame.to_csv(path, index=False)
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for tests that start a real server)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_health(port: int, *, timeout: float = 60.0, log: Path | None = None) -> None:
    """Wait until a server on ``port`` answers ``GET /health`` with 200; fail (with its log's tail) otherwise."""
    import httpx

    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
    raise AssertionError(f"server did not start on port {port}: {tail}")


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    until = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < until, f"timed out waiting until {what}"
        time.sleep(0.005)
