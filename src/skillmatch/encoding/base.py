"""The encoder interface every stage codes against, and the base of encoders that wrap another.

An :class:`Encoder` turns texts into L2-normalised float32 vectors (inner product = cosine). It states its model
(``model_id``, ``dim``, ``fingerprint``), whether ``encode`` may run in several threads at once (``thread_safe``)
and how its tokenizer normalises text (``normalise_text``: texts with the same normal form get the same vector).

Backends (:mod:`~skillmatch.encoding.torch_backend`, :mod:`~skillmatch.encoding.onnx_backend`) compute vectors;
wrappers (:class:`EncoderWrapper` subclasses: the caches, the coalescing and locking wrappers, the exact-label
shortcut) add behaviour around another encoder and forward what they do not change. :mod:`~skillmatch.encoding.
factory` is the one place that chooses a backend and assembles the wrappers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

#: Called as ``progress(done, total)`` while encoding.
ProgressFn = Callable[[int, int], None]


class ModelLoadError(RuntimeError):
    """The encoder model could not be loaded."""


@runtime_checkable
class Encoder(Protocol):
    """What the rest of skillmatch needs from an encoder."""

    @property
    def model_id(self) -> str:
        """The model's name, hub id or absolute local path."""
        ...

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""
        ...

    @property
    def fingerprint(self) -> str:
        """Identifies the model, its weights and precision (cache key; recorded in bundles)."""
        ...

    @property
    def thread_safe(self) -> bool:
        """Whether :meth:`encode` may run in several threads at once."""
        ...

    def normalise_text(self, text: str) -> str:
        """``text`` as the tokenizer's normaliser sees it (unchanged when it has none)."""
        ...

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Encode texts into an ``(n, dim)`` float32 array of unit vectors."""
        ...


class EncoderWrapper:
    """Base of encoders that wrap another (``inner``).

    Forwards ``model_id``, ``dim``, ``fingerprint``, ``thread_safe`` and ``normalise_text`` to ``inner``: a wrapper
    never changes the vectors' identity, only how (or whether) they are computed. Subclasses override
    ``thread_safe`` when they change it and implement :meth:`encode`.
    """

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner

    @property
    def model_id(self) -> str:
        """The wrapped encoder's model id."""
        return self.inner.model_id

    @property
    def dim(self) -> int:
        """The wrapped encoder's dimension."""
        return self.inner.dim

    @property
    def fingerprint(self) -> str:
        """The wrapped encoder's fingerprint (the vectors are its own)."""
        return self.inner.fingerprint

    @property
    def thread_safe(self) -> bool:
        """Whether the wrapped encoder is thread-safe (wrappers that add a lock or a thread say more)."""
        return self.inner.thread_safe

    def normalise_text(self, text: str) -> str:
        """The wrapped encoder's text normalisation."""
        return self.inner.normalise_text(text)

    def stored(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of ``texts`` that a cache below holds now, by text, without encoding or waiting for anything.

        Wrappers without a cache of their own ask the wrapped encoder; a backend has none (see
        :meth:`skillmatch.encoding.cached.CachedEncoder.stored`).
        """
        ask = getattr(self.inner, "stored", None)
        return ask(texts) if ask is not None else {}

    def unwrap(self) -> Encoder:
        """The innermost encoder: the backend that computes the vectors."""
        return unwrap(self.inner)

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Encode with the wrapped encoder (subclasses add their behaviour)."""
        return self.inner.encode(texts, progress=progress)


def unwrap(encoder: Encoder) -> Encoder:
    """The backend under any number of :class:`EncoderWrapper` layers (``encoder`` itself if it wraps none)."""
    return encoder.unwrap() if isinstance(encoder, EncoderWrapper) else encoder
