"""The torch backend: sentence-transformers computes the vectors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from skillmatch.encoding.base import ModelLoadError, ProgressFn


def load_sentence_transformer(load_path: str, device: str = "cpu", *, name: str | None = None) -> Any:
    """The sentence-transformers model at ``load_path`` (a clear :class:`ModelLoadError` when it cannot load).

    The weights are loaded as float32 whatever precision they are stored in: a model shipped in half precision
    (models/encoders/) would otherwise run in float16, which is slow on most CPUs.
    """
    try:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        return SentenceTransformer(load_path, device=device, model_kwargs={"dtype": torch.float32})
    except Exception as exc:
        raise ModelLoadError(
            f"could not load the encoder model {name or load_path!r} ({exc.__class__.__name__}: {exc}). "
            "Set SKILLMATCH_MODEL (or --model) to a local sentence-transformers folder or a hub id "
            "available offline."
        ) from exc


class TorchBackend:
    """Encodes with a sentence-transformers model in torch.

    Args:
        model: the loaded ``SentenceTransformer``.
        model_id: its id (see :func:`~skillmatch.encoding.models.resolve_model`).
        fingerprint: its fingerprint.
        batch_size: texts per forward pass.
        threads: torch's process-wide intra-op threads (0 keeps torch's default).
    """

    backend = "torch"
    #: torch's tokenizer path is not safe under concurrent calls
    thread_safe = False

    def __init__(
        self, model: Any, model_id: str, fingerprint: str, *, batch_size: int = 64, threads: int = 0
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        if threads:
            import torch

            torch.set_num_threads(threads)
        dim = (
            model.get_embedding_dimension()
            if hasattr(model, "get_embedding_dimension")
            else model.get_sentence_embedding_dimension()
        )
        if not dim:
            raise ModelLoadError(f"model {model_id!r} does not report an embedding dimension")
        self.dim = int(dim)
        self._normaliser: Callable[[str], str] | None = None

    @property
    def max_seq_length(self) -> int:
        """The model's maximum input length in tokens."""
        return int(self.model.max_seq_length)

    def normalise_text(self, text: str) -> str:
        """``text`` as the tokenizer's normaliser sees it (e.g. lower-cased, accents stripped)."""
        if self._normaliser is None:
            tokenizer = getattr(getattr(self.model, "tokenizer", None), "backend_tokenizer", None)
            normaliser = getattr(tokenizer, "normalizer", None)
            self._normaliser = normaliser.normalize_str if normaliser is not None else (lambda t: t)
        return self._normaliser(text)

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Unit vectors of ``texts`` (``progress`` is called once at the end)."""
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        if progress:
            progress(len(texts), len(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)
