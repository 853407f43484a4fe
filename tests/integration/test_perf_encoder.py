"""Speed levers of the encoder with the real model: the ONNX Runtime backend, the memory LRU, the fast path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from skillmatch.bundle import BundleError, check_encoder
from skillmatch.config import Settings
from skillmatch.encoding.cached import CachedEncoder
from skillmatch.encoding.factory import load_encoder, make_encoder
from skillmatch.encoding.known_vectors import KnownVectorEncoder
from skillmatch.encoding.selection import selection_of
from skillmatch.index import VectorIndex

pytest.importorskip("onnxruntime", reason="the ONNX backend needs onnxruntime (pip install onnxruntime)")

pytestmark = pytest.mark.integration

TEXTS = [
    "Python",
    "manage a team of nurses",
    "We are looking for a data engineer with strong SQL and Spark skills to build pipelines.",
    "Café management, Öl und Gas",
    " ".join(["logistics planning and warehouse operations"] * 80),  # longer than 256 tokens: truncated
    "manage a team of nurses",
]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def onnx_encoder(onnx_dir: Path) -> CachedEncoder:
    return load_encoder(backend="onnx", onnx_dir=onnx_dir, batch_size=2)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


def test_onnx_gives_the_torch_vectors(onnx_encoder: CachedEncoder, real_encoder) -> None:  # type: ignore[no-untyped-def]
    ours = onnx_encoder.encode(TEXTS)
    torch_vectors = real_encoder.encode(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert cosines(ours, torch_vectors).min() > 0.9999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert onnx_encoder.fingerprint == real_encoder.fingerprint  # bundles are interchangeable
    assert onnx_encoder.max_seq_length == real_encoder.max_seq_length == 256


def test_an_export_is_made_once_and_reused(
    onnx_encoder: CachedEncoder, onnx_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = sorted(onnx_dir.iterdir())
    assert [f.suffix for f in files if not f.name.startswith(".")] == [".json", ".onnx", ".json"]
    stamps = [f.stat().st_mtime_ns for f in files]

    def no_torch(*args: object, **kwargs: object) -> None:
        raise AssertionError("the torch model was loaded although an export exists")

    monkeypatch.setattr("skillmatch.encoding.torch_backend.load_sentence_transformer", no_torch)
    again = load_encoder(backend="onnx", onnx_dir=onnx_dir)
    assert again.backend == "onnx"
    assert [f.stat().st_mtime_ns for f in sorted(onnx_dir.iterdir())] == stamps
    np.testing.assert_allclose(again.encode(TEXTS[:2]), onnx_encoder.encode(TEXTS[:2]), atol=1e-6)


def test_int8_is_close_but_has_its_own_fingerprint(onnx_encoder: CachedEncoder, onnx_dir: Path) -> None:
    int8 = load_encoder(backend="onnx-int8", onnx_dir=onnx_dir)
    assert int8.fingerprint == onnx_encoder.fingerprint + "+int8"
    assert cosines(int8.encode(TEXTS), onnx_encoder.encode(TEXTS)).min() > 0.9
    manifest = {"model": {"id": onnx_encoder.model_id, "fingerprint": onnx_encoder.fingerprint, "dim": 384}}
    with pytest.raises(BundleError, match="fingerprint"):
        check_encoder(manifest, int8, Path("bundle"))


@pytest.fixture(scope="module")
def int8_block(onnx_dir: Path) -> CachedEncoder:
    return load_encoder(backend="onnx-int8-block", onnx_dir=onnx_dir, batch_size=2)


def test_int8_block_stands_in_for_float32(int8_block: CachedEncoder, onnx_encoder: CachedEncoder) -> None:
    assert int8_block.fingerprint == onnx_encoder.fingerprint + "+int8-block"  # its own cache entries
    ours = int8_block.encode(TEXTS)
    assert cosines(ours, onnx_encoder.encode(TEXTS)).min() > 0.998
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # ... so either may query a bundle the other built
    for builder, querier in ((onnx_encoder, int8_block), (int8_block, onnx_encoder)):
        manifest = {"model": {"id": builder.model_id, "fingerprint": builder.fingerprint, "dim": 384}}
        check_encoder(manifest, querier, Path("bundle"))
    other = {"model": {"id": "other", "fingerprint": "other@0123456789abcdef", "dim": 384}}
    with pytest.raises(BundleError, match="fingerprint"):
        check_encoder(other, int8_block, Path("bundle"))


def test_int8_block_vectors_do_not_depend_on_the_batch(int8_block: CachedEncoder) -> None:
    # activations are quantised per token and block, not per run: coalesced requests get the vectors they would
    # get alone
    model = int8_block.unwrap().model
    alone = np.vstack([model.encode([text], 64) for text in TEXTS])
    np.testing.assert_allclose(model.encode(TEXTS, 64), alone, atol=1e-6)


def test_int8_block_export_names_the_missing_package(
    real_encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import sys

    from skillmatch.encoding.onnx_backend import OnnxUnavailable, export_model

    monkeypatch.setitem(sys.modules, "onnxruntime.quantization.matmul_nbits_quantizer", None)
    with pytest.raises(OnnxUnavailable, match="onnx-ir"):
        export_model(real_encoder.unwrap().model, tmp_path / "m", "int8-block")
    assert not list(tmp_path.glob("m*"))


def test_the_memory_cache_serves_repeated_texts(onnx_dir: Path, tmp_path: Path) -> None:
    encoder = load_encoder(backend="onnx", onnx_dir=onnx_dir, memory_cache=3, cache_dir=tmp_path)
    first = encoder.encode(TEXTS[:3])
    assert encoder.stats["encoded"] == 3 and encoder.stats["memory_hits"] == 0
    second = encoder.encode(TEXTS[:3])
    assert encoder.stats["encoded"] == 3 and encoder.stats["memory_hits"] == 3
    np.testing.assert_array_equal(first, second)
    encoder.encode(TEXTS[3:5])  # evicts two entries; they come back from the disk cache, not the model
    encoder.encode(TEXTS[:3])
    assert encoder.stats["encoded"] == 5
    assert encoder.stats["cache_hits"] == encoder.stats["unique"] - encoder.stats["encoded"]


def test_auto_picks_the_fastest_and_settings_reach_the_encoder(onnx_dir: Path, tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, onnx_dir=onnx_dir, encoder_threads=1, encoder_memory_cache=7)
    encoder = make_encoder(settings)
    assert settings.encoder_backend == "auto"
    choice = selection_of(encoder)
    timed = [c for c in choice["candidates"] if c["phrases_per_s"]]
    assert {c["backend"] for c in timed} == {"onnx", "onnx-int8-block", "torch"}  # all agree with float32
    assert encoder.backend == choice["backend"] == max(timed, key=lambda c: c["phrases_per_s"])["backend"]
    assert choice["workload"] == "build" and choice["threads"] == 1
    if encoder.backend != "torch":
        session = encoder.unwrap().model.session  # type: ignore[attr-defined]
        assert session.get_session_options().intra_op_num_threads == 1
    assert encoder._memory is not None and encoder._memory.capacity == 7
    # measured once: a second encoder reads the cached measurement
    again = make_encoder(settings)
    assert (
        selection_of(again)["chosen_by"] == "auto (cached measurement)" and again.backend == encoder.backend
    )


def test_bad_backend_and_threads_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown encoder backend 'gpu'"):
        load_encoder(backend="gpu")
    with pytest.raises(ValueError, match="threads"):
        load_encoder(threads=-1)


def test_fast_path_vectors_equal_encoded_vectors(onnx_encoder: CachedEncoder, real_encoder) -> None:  # type: ignore[no-untyped-def]
    labels = ["Python (computer programming)", "manage a team of nurses", "café management"]
    index = VectorIndex(kind="flat").build(onnx_encoder.encode(labels))
    fast = KnownVectorEncoder.from_index(onnx_encoder, labels, index)
    queries = ["PYTHON (Computer  Programming)", "Cafe management", "manage a team"]
    assert fast.lookup(queries) == [0, 2, -1]
    assert onnx_encoder.normalise_text("Café") == real_encoder.normalise_text("Café") == "cafe"
    # the model sees the same tokens, so reading the vector back is exactly as good as encoding
    assert cosines(fast.encode(queries), real_encoder.encode(queries)).min() > 0.9999


def test_runs_at_once_give_the_same_vectors(onnx_dir: Path) -> None:
    from skillmatch.encoding.factory import load_backend

    texts = [f"{t} {i}" for i in range(40) for t in TEXTS][:300]  # several runs of different lengths
    one_by_one = load_backend(backend="onnx", onnx_dir=onnx_dir, batch_size=16)
    at_once = load_backend(backend="onnx", onnx_dir=onnx_dir, batch_size=16, parallel_runs=2)
    assert at_once.model.parallel_runs == 2  # type: ignore[attr-defined]
    np.testing.assert_allclose(at_once.encode(texts), one_by_one.encode(texts), atol=1e-5)
