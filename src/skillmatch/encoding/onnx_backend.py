"""ONNX Runtime backend of the encoder: export a model once with torch, then encode without torch.

A sentence-transformers model is exported once with torch, then texts are encoded with onnxruntime and the
Hugging Face ``tokenizers`` library.

The exported graph takes the tokenizer's outputs and returns the pooled, L2-normalised sentence embedding, so a
batch is one ``session.run``. Its vectors equal the torch model's to float32 rounding (the tests check a cosine
above 0.9999). Two int8 variants trade vector fidelity for speed, each with its own fingerprint:

* ``int8-block``: weights and activations in int8 blocks of :data:`BLOCK_SIZE` values, each with its own scale
  (ONNX Runtime's ``MatMulNBits`` at accuracy level 4). A token's activations are quantised on their own, so a
  text gets the same vector whatever it is batched with. Vectors stay within a cosine of about 0.999 of float32
  and a run takes about 30 % less CPU; the API encodes queries with it by default (docs/performance.md);
* ``int8``: dynamic quantisation (int8 weights per channel, one activation scale per run). About 2.3x faster,
  but vectors move further (mean cosine 0.992) and depend on the batch (cosine 0.990 between a text alone and in
  a batch), and HOUSE RP@5 fell by 0.8 to 1.9 points in different measurements (the budget is 1).

Exports live in a folder (by default ``<cache_dir>/onnx``), one file set per model fingerprint:
``<slug>.onnx`` (graph and weights), ``<slug>.tokenizer.json`` and ``<slug>.json`` (what the encoder needs to
know: dimension, maximum length, pooling, padding id). They are written to a temporary name and renamed into
place, so concurrent processes never read a half-written export.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

#: Bumped when the export format changes, so old exports are not reused.
EXPORT_FORMAT = 1

Precision = Literal["fp32", "int8", "int8-block"]

#: Values per quantisation block of the ``int8-block`` precision (weights along the input dimension; activations
#: per token). Per 20-phrase run on one core: blocks of 32 took 18.2-18.5 ms (cosine 0.9996 to float32), 64
#: 16.6-17.0 ms (0.9994), 128 15.9-17.3 ms (0.9990); float32 22.5-24.3 ms (docs/performance.md).
BLOCK_SIZE = 64


class OnnxUnavailable(RuntimeError):
    """The ONNX backend cannot be used: a library is missing, or the model cannot be exported.

    The libraries are onnxruntime, and onnx / onnx-ir for the int8 precisions.
    """


@dataclass(frozen=True)
class OnnxExportInfo:
    """What an exported model needs beside its graph."""

    format: int
    dim: int
    max_seq_length: int
    pooling: str
    pad_token_id: int
    pad_token: str
    inputs: tuple[str, ...]
    precision: str


def onnxruntime_available() -> bool:
    """Whether onnxruntime can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def export_stem(onnx_dir: Path, fingerprint: str, precision: Precision) -> Path:
    """The path (without suffix) of the export of the model with ``fingerprint`` at ``precision``."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", fingerprint)[-60:]
    digest = hashlib.sha1(f"{fingerprint}|{EXPORT_FORMAT}".encode()).hexdigest()[:10]
    return Path(onnx_dir) / f"{slug}-{digest}-{precision}"


def _pooling_of(model: Any) -> str:
    """The pooling mode of a loaded SentenceTransformer, refusing architectures the export does not handle."""
    modules = list(model)
    kinds = [m.__class__.__name__ for m in modules]
    if not kinds or kinds[0] != "Transformer" or len(kinds) < 2 or kinds[1] != "Pooling":
        raise OnnxUnavailable(
            f"the ONNX export handles Transformer + Pooling (+ Normalize) models, not {kinds}"
        )
    if any(k not in {"Normalize"} for k in kinds[2:]):
        raise OnnxUnavailable(f"the ONNX export does not handle the modules {kinds[2:]}")
    pooling = modules[1]
    mode = getattr(pooling, "pooling_mode", None)
    if mode is None:  # older sentence-transformers
        cfg = pooling.get_config_dict() if hasattr(pooling, "get_config_dict") else {}
        mode = next(
            (k.removeprefix("pooling_mode_").removesuffix("_tokens") for k, v in cfg.items() if v), None
        )
    mode = str(mode).lower()
    if mode not in {"mean", "cls"}:
        raise OnnxUnavailable(f"the ONNX export handles mean or cls pooling, not {mode!r}")
    return mode


def _write_atomic(target: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` then rename the result to ``target``."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _quiet(fn: Any) -> Any:
    """``fn`` with Python warnings and INFO/WARNING logging silenced (onnxruntime's quantiser is chatty)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        import logging

        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn(*args, **kwargs)
        finally:
            root.setLevel(level)

    return call


def export_model(model: Any, stem: Path, precision: Precision = "fp32") -> OnnxExportInfo:
    """Export a loaded SentenceTransformer to ``stem``.onnx (+ tokenizer and info files).

    Args:
        model: a ``sentence_transformers.SentenceTransformer`` (Transformer + mean/cls Pooling [+ Normalize]).
        stem: path without suffix (see :func:`export_stem`); its folder is created.
        precision: "fp32"; "int8-block" for block-wise int8 weights and activations (needs the ``onnx-ir``
            package); "int8" for dynamically quantised weights (needs the ``onnx`` package).

    Raises:
        OnnxUnavailable: the model's architecture is not supported or a package is missing.
    """
    import torch

    stem.parent.mkdir(parents=True, exist_ok=True)
    pooling = _pooling_of(model)
    transformer = model[0]
    hf_model = transformer.auto_model
    tokenizer = transformer.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise OnnxUnavailable("the ONNX backend needs a fast (Rust) tokenizer")
    sample = tokenizer(["a short text", "a slightly longer text to pad"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = hf_model

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            kwargs = dict(zip(names, args, strict=True))
            tokens = self.inner(**kwargs)[0]
            if pooling == "cls":
                pooled = tokens[:, 0]
            else:
                mask = kwargs["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    wrapper = Pooled().eval()
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["embedding"] = {0: "batch"}
    onnx_path = stem.with_suffix(".onnx")

    def write_fp32(tmp: Path) -> None:
        # the tracer warns about shape-dependent Python branches of the attention mask code; the dynamic axes
        # cover them (the tests compare the export with torch at other batch sizes and lengths)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                tuple(sample[n] for n in names),
                str(tmp),
                dynamo=False,
                input_names=names,
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=17,
            )

    if precision == "int8":
        try:
            from onnxruntime.quantization import QuantType, quantize_dynamic
        except ImportError as exc:
            raise OnnxUnavailable("int8 export needs the 'onnx' and 'onnxruntime' packages") from exc
        with tempfile.TemporaryDirectory(dir=stem.parent) as work:
            fp32 = Path(work) / "model.onnx"
            write_fp32(fp32)
            _write_atomic(
                onnx_path,
                lambda tmp: _quiet(quantize_dynamic)(
                    str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True
                ),
            )
    elif precision == "int8-block":
        try:
            from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
        except ImportError as exc:
            raise OnnxUnavailable(
                f"the int8-block export needs the 'onnx-ir' and 'onnxruntime' packages ({exc})"
            ) from exc
        with tempfile.TemporaryDirectory(dir=stem.parent) as work:
            fp32 = Path(work) / "model.onnx"
            write_fp32(fp32)
            quantizer = MatMulNBitsQuantizer(
                str(fp32), bits=8, block_size=BLOCK_SIZE, is_symmetric=True, accuracy_level=4
            )
            _quiet(quantizer.process)()
            _write_atomic(
                onnx_path,
                lambda tmp: quantizer.model.save_model_to_file(str(tmp), use_external_data_format=False),
            )
    elif precision == "fp32":
        _write_atomic(onnx_path, write_fp32)
    else:
        raise ValueError(f"unknown precision {precision!r}; use 'fp32', 'int8-block' or 'int8'")
    tok_json = tokenizer.backend_tokenizer.to_str()
    _write_atomic(stem.with_suffix(".tokenizer.json"), lambda tmp: tmp.write_text(tok_json))
    info = OnnxExportInfo(
        format=EXPORT_FORMAT,
        dim=int(hf_model.config.hidden_size),
        max_seq_length=int(model.max_seq_length),
        pooling=pooling,
        pad_token_id=int(tokenizer.pad_token_id or 0),
        pad_token=str(tokenizer.pad_token or "[PAD]"),
        inputs=tuple(names),
        precision=precision,
    )
    text = json.dumps(asdict(info), indent=2)
    _write_atomic(stem.with_suffix(".json"), lambda tmp: tmp.write_text(text))
    return info


def read_info(stem: Path) -> OnnxExportInfo | None:
    """The info of a complete export at ``stem``, or None when it is missing, partial or of an old format."""
    files = [stem.with_suffix(s) for s in (".onnx", ".tokenizer.json", ".json")]
    if not all(f.is_file() for f in files):
        return None
    try:
        meta = json.loads(stem.with_suffix(".json").read_text())
        meta["inputs"] = tuple(meta["inputs"])
        info = OnnxExportInfo(**meta)
    except (ValueError, TypeError, KeyError):
        return None
    return info if info.format == EXPORT_FORMAT else None


#: Most padded tokens in one ONNX Runtime run (a 256-token text runs alone; up to 64 texts of 8 tokens share a
#: run). Measured on 2 cores (docs/performance.md): against unbounded batches of 64, posting sentences and phrases
#: encode 1.3x faster one call at a time and 3.2x faster in 8 threads at once, where the server's memory after
#: encoding stays at 0.5 instead of 2.3 GiB; label throughput is unchanged.
MAX_BATCH_TOKENS = 512

#: What one run costs beyond its tokens, counted in padded tokens: all-MiniLM-L6-v2 on one core of the
#: development machine takes about 1.8 ms per run plus 0.1 ms per padded token (docs/performance.md).
RUN_OVERHEAD_TOKENS = 18


def plan_runs(lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[tuple[int, int]]:
    """Split texts of token ``lengths`` (longest first) into the cheapest runs ``(start, end)``.

    Runs hold consecutive texts; each run pads its texts to its first (longest) one and costs its padded
    tokens plus :data:`RUN_OVERHEAD_TOKENS`. A run has at most ``batch_size`` texts and ``max_tokens`` padded
    tokens, unless it is one text longer than that.

    Padding every run to its longest text wastes much on a mix of short phrases (a batch of 20 phrases of 5 to
    20 tokens pads to 20); splitting too often pays the per-run cost. This finds the cheapest split (dynamic
    programming over the sorted lengths; at most ``batch_size`` choices per text).
    """
    n = len(lengths)
    if any(lengths[i] < lengths[i + 1] for i in range(n - 1)):
        raise ValueError("lengths must be sorted longest first")
    best = [0] + [0] * n  # best[j]: least cost of the first j texts
    start_of = [0] * (n + 1)  # start_of[j]: where the last run of that split starts
    for j in range(1, n + 1):
        best[j], start_of[j] = best[j - 1] + RUN_OVERHEAD_TOKENS + lengths[j - 1], j - 1
        for i in range(j - 2, max(-1, j - 1 - batch_size), -1):
            padded = (j - i) * lengths[i]
            if padded > max_tokens:
                break
            cost = best[i] + RUN_OVERHEAD_TOKENS + padded
            if cost < best[j]:
                best[j], start_of[j] = cost, i
    runs: list[tuple[int, int]] = []
    end = n
    while end > 0:
        runs.append((start_of[end], end))
        end = start_of[end]
    return runs[::-1]


class OnnxSentenceModel:
    """Encodes texts with an exported model (see :func:`export_model`).

    Args:
        stem: the export's path without suffix.
        info: its info (:func:`read_info`).
        threads: intra-op threads of onnxruntime (0: onnxruntime's default, one per core).
        parallel_runs: runs of one long call executed at once, from a pool of this many threads (1: one after
            another). With 2 runs at once on 1 intra-op thread each, ESCO labels encoded 1.3x faster on 2 cores
            than one run at a time on 2 threads.
    """

    def __init__(self, stem: Path, info: OnnxExportInfo, *, threads: int = 0, parallel_runs: int = 1) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise OnnxUnavailable(
                "the ONNX backend needs the 'onnxruntime' package: pip install onnxruntime"
            ) from exc
        self.info = info
        self.parallel_runs = max(1, parallel_runs)
        self._pool: ThreadPoolExecutor | None = None
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = max(0, threads)
        options.inter_op_num_threads = 1
        # spinning threads burn the cores other processes (and the server's request threads) need
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(stem.with_suffix(".onnx")), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = Tokenizer.from_str(stem.with_suffix(".tokenizer.json").read_text())
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=info.max_seq_length)

    def _feeds(self, encodings: list[Any]) -> dict[str, np.ndarray]:
        """Token ids, attention mask and type ids of tokenized texts, padded to the longest."""
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.info.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: feeds[name] for name in self.info.inputs}

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit vectors of ``texts`` as an ``(n, dim)`` float32 array.

        Texts are sorted by token count and split into runs by :func:`plan_runs`: at most ``batch_size`` texts
        and :data:`MAX_BATCH_TOKENS` padded tokens each (the memory of a run grows with batch size x length
        squared, and ONNX Runtime keeps its peak in its arena), and as little padding as the per-run cost makes
        worth it. Texts are tokenized one by one rather than with ``encode_batch``: the batch call hands work to
        a thread pool, which costs more than it saves on the short texts a server sees and, on a busy machine,
        made a 5-phrase call several times slower (docs/performance.md).
        """
        out = np.empty((len(texts), self.info.dim), dtype=np.float32)
        encodings = [self.tokenizer.encode(t) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        lengths = [len(encodings[i].ids) for i in order]
        runs = plan_runs(lengths, batch_size, MAX_BATCH_TOKENS)

        def run(bounds: tuple[int, int]) -> None:
            rows = order[bounds[0] : bounds[1]]
            out[rows] = self.session.run(None, self._feeds([encodings[i] for i in rows]))[0]

        if self.parallel_runs > 1 and len(runs) > 1:
            # several runs at once, each on its own intra-op thread: ONNX Runtime releases the interpreter lock
            # while it runs, and one run on 2 threads keeps only about 1.6 of 2 cores busy (docs/performance.md)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.parallel_runs, thread_name_prefix="skillmatch-onnx")
            list(self._pool.map(run, runs))
        else:
            for bounds in runs:
                run(bounds)
        return out


class OnnxBackend:
    """The ONNX Runtime backend: an exported model (:class:`OnnxSentenceModel`) behind the encoder interface.

    Thread-safe: an ONNX Runtime session and the ``tokenizers`` tokenizer can be shared by threads.

    Args:
        model: the loaded export.
        model_id: the model's id.
        fingerprint: the fingerprint at this precision.
        precision: ``fp32``, ``int8-block`` or ``int8``.
        batch_size: most texts per run (see :meth:`OnnxSentenceModel.encode`).
    """

    thread_safe = True

    def __init__(
        self,
        model: OnnxSentenceModel,
        model_id: str,
        fingerprint: str,
        precision: str,
        *,
        batch_size: int = 64,
    ) -> None:
        self.model = model
        self.model_id = model_id
        self.fingerprint = fingerprint
        self.precision = precision
        self.batch_size = batch_size
        self.dim = int(model.info.dim)
        normaliser = getattr(model.tokenizer, "normalizer", None)
        self._normalise = normaliser.normalize_str if normaliser is not None else (lambda t: t)

    @property
    def backend(self) -> str:
        """The backend's name: ``onnx``, ``onnx-int8-block`` or ``onnx-int8``."""
        return "onnx" if self.precision == "fp32" else f"onnx-{self.precision}"

    @property
    def max_seq_length(self) -> int:
        """The model's maximum input length in tokens."""
        return int(self.model.info.max_seq_length)

    def normalise_text(self, text: str) -> str:
        """``text`` as the tokenizer's normaliser sees it."""
        return str(self._normalise(text))

    def encode(self, texts: Sequence[str], *, progress: Any = None) -> np.ndarray:
        """Unit vectors of ``texts`` (``progress`` is called once at the end)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), self.batch_size)
        if progress:
            progress(len(texts), len(texts))
        return vectors
