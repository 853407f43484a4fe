"""The serving levers: the index's stored vectors, the generic LRU, the locked encoder's thread-safe path,
warming the skill space and the bundle's linker (label fast path and normalise cache)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fakes import ConcurrencyEncoder, CountingEncoder, HashingEncoder, concept_row, make_concepts

from skillmatch.config import Settings
from skillmatch.encoding.concurrency import LockedEncoder
from skillmatch.encoding.factory import query_chain
from skillmatch.encoding.known_vectors import KnownVectorEncoder
from skillmatch.encoding.lru import LRU, VectorLRU
from skillmatch.index import VectorIndex
from skillmatch.linking.linker import SkillLinker, label_table, link_options, linker_for
from skillmatch.matching.skillspace import SkillSpace, SpaceParams

# --- a: VectorIndex.reconstruct -------------------------------------------------------------------------------


def unit_vectors(rows: int = 300, dim: int = 16, seed: int = 7) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_index_vectors_are_the_stored_vectors(kind: str) -> None:
    data = unit_vectors()
    index = VectorIndex(kind=kind).build(data)  # type: ignore[arg-type]
    assert index.info_.kind == kind
    every = index.reconstruct()
    assert every.shape == (300, 16)
    assert every.dtype == np.float32
    np.testing.assert_allclose(every, data, atol=1e-6)
    np.testing.assert_allclose(index.reconstruct(np.array([3, 7])), data[[3, 7]], atol=1e-6)
    np.testing.assert_allclose(index.reconstruct([299]), data[[299]], atol=1e-6)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_reconstructed_vectors_are_copies(kind: str) -> None:
    data = unit_vectors()
    index = VectorIndex(kind=kind).build(data)  # type: ignore[arg-type]
    # reconstruct hands out copies: changing them changes neither the index nor later answers
    rows = index.reconstruct(np.array([3, 7]))
    rows[:] = 0.0
    every = index.reconstruct()
    every[:] = 0.0
    np.testing.assert_allclose(index.reconstruct(np.array([3, 7])), data[[3, 7]], atol=1e-6)
    scores, ids = index.search(data[3], 1)
    assert ids[0, 0] == 3 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_empty_index_has_no_vectors(kind: str) -> None:
    index = VectorIndex(kind=kind).build(np.zeros((0, 16), np.float32))  # type: ignore[arg-type]
    assert index.rows == 0
    assert index.reconstruct().shape == (0, 16)
    assert index.reconstruct(np.zeros(0, dtype=np.int64)).shape == (0, 16)


def test_loaded_index_vectors(tmp_path: Path) -> None:
    data = unit_vectors(rows=120)
    for kind in ("flat", "hnsw"):
        path = tmp_path / f"{kind}.faiss"
        VectorIndex(kind=kind).build(data).save(path)  # type: ignore[arg-type]
        loaded = VectorIndex.load(path)
        np.testing.assert_allclose(loaded.reconstruct(), data, atol=1e-6)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_rebuilt_index_reconstructs_the_new_vectors(kind: str) -> None:
    index = VectorIndex(kind=kind).build(unit_vectors(seed=1))  # type: ignore[arg-type]
    index.reconstruct(np.array([0]))  # the storage view of the first index is made here
    fresh = unit_vectors(seed=2)
    index.build(fresh)  # same shape: the old view must not be reused
    np.testing.assert_allclose(index.reconstruct(), fresh, atol=1e-6)


# --- b: the generic LRU ------------------------------------------------------------------------------------


def test_lru_evicts_the_least_recently_used() -> None:
    lru: LRU[str, int] = LRU(2)
    lru.put_many({"a": 1, "b": 2})
    assert len(lru) == 2
    lru.put_many({"c": 3})  # "a" is the oldest
    assert lru.get_many(["a", "b", "c"]) == {"b": 2, "c": 3}
    assert len(lru) == 2


def test_lru_get_refreshes_recency() -> None:
    lru: LRU[str, int] = LRU(2)
    lru.put_many({"a": 1, "b": 2})
    assert lru.get_many(["a", "missing"]) == {"a": 1}  # "a" is now the most recently used
    lru.put_many({"c": 3})
    assert lru.get_many(["a", "b", "c"]) == {"a": 1, "c": 3}


def test_lru_put_refreshes_and_replaces() -> None:
    lru: LRU[str, int] = LRU(3)
    lru.put_many({"a": 1, "b": 2, "c": 3})
    lru.put_many({"a": 10})  # replaced and most recently used: "b" goes next
    lru.put_many({"d": 4})
    assert lru.get_many(["a", "b", "c", "d"]) == {"a": 10, "c": 3, "d": 4}
    # a batch larger than the capacity keeps its last entries
    lru.put_many({str(i): i for i in range(5)})
    assert lru.get_many([*"abcd", *map(str, range(5))]) == {"2": 2, "3": 3, "4": 4}


@pytest.mark.parametrize("capacity", [0, -1])
def test_lru_needs_a_positive_capacity(capacity: int) -> None:
    with pytest.raises(ValueError):
        LRU(capacity)
    with pytest.raises(ValueError):
        VectorLRU(capacity)


def test_lru_tuple_keys() -> None:
    lru: LRU[tuple[str, float, int], tuple[str, ...]] = LRU(10)
    lru.put_many({("excel", 0.5, 1): ("c:excel",), ("excel", 0.6, 1): ()})
    assert lru.get_many([("excel", 0.5, 1)]) == {("excel", 0.5, 1): ("c:excel",)}
    assert lru.get_many([("excel", 0.5, 2), ("excel", 0.6, 1)]) == {("excel", 0.6, 1): ()}


def test_vector_lru_stores_a_read_only_float32_copy() -> None:
    lru = VectorLRU(4)
    assert isinstance(lru, LRU)
    original = np.array([1.0, 2.0, 3.0], dtype=np.float64)
    same_dtype = np.array([4.0, 5.0], dtype=np.float32)
    lru.put_many({"a": original, "b": same_dtype})
    original[0] = 99.0
    same_dtype[0] = 99.0
    stored = lru.get_many(["a", "b"])
    np.testing.assert_array_equal(stored["a"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(stored["b"], [4.0, 5.0])
    assert stored["a"].dtype == stored["b"].dtype == np.float32
    assert not stored["a"].flags.writeable and not stored["b"].flags.writeable
    with pytest.raises(ValueError):
        stored["b"][0] = 0.0
    # capacity still applies to the subclass
    lru.put_many({k: np.zeros(2) for k in "cdef"})
    assert set(lru.get_many("abcdef")) == set("cdef")


# --- c: LockedEncoder ---------------------------------------------------------------------------------------


class BarrierEncoder(HashingEncoder):
    """Its encode only returns when two calls are inside it at the same time."""

    thread_safe = True

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=5)

    def encode(self, texts: Sequence[str], *, progress: object = None) -> np.ndarray:
        self.barrier.wait()
        return super().encode(texts, progress=progress)


def call_together(
    threads: int, fn: Callable[[int], np.ndarray]
) -> tuple[list[np.ndarray], list[BaseException]]:
    """Run ``fn(i)`` in ``threads`` threads released at once; their results and errors."""
    start = threading.Barrier(threads, timeout=5)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        start.wait()
        try:
            results.append(fn(i))
        except BaseException as exc:  # collected for the assertion in the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=15)
    assert not any(worker.is_alive() for worker in workers)
    return results, errors


def test_locked_encoder_lets_thread_safe_encoders_run_side_by_side() -> None:
    inner = BarrierEncoder()
    encoder = LockedEncoder(inner)  # type: ignore[arg-type]
    assert (encoder.model_id, encoder.dim, encoder.fingerprint) == (
        inner.model_id,
        inner.dim,
        inner.fingerprint,
    )
    results, errors = call_together(2, lambda i: encoder.encode([f"text {i}"]))
    assert errors == []  # the barrier passed: both calls were inside encode at once
    assert len(results) == 2
    assert sorted(inner.calls) == [1, 1]


def test_locked_encoder_serialises_other_encoders() -> None:
    inner = ConcurrencyEncoder(False)
    encoder = LockedEncoder(inner)  # type: ignore[arg-type]
    results, errors = call_together(4, lambda i: encoder.encode([f"text {i}", "python"]))
    assert errors == []
    assert inner.max_inside == 1
    assert len(results) == 4
    for out in results:
        np.testing.assert_allclose(out[1], HashingEncoder().encode(["python"])[0])


def test_concurrency_encoder_does_see_overlap() -> None:
    """The serialisation test can fail: without the lock the fake does record overlapping calls."""
    inner = ConcurrencyEncoder(False)
    _, errors = call_together(4, lambda i: inner.encode([f"text {i}"]))
    assert errors == []
    assert inner.max_inside > 1


def test_locked_encoder_passes_results_and_progress() -> None:
    inner = HashingEncoder()
    encoder = LockedEncoder(inner)  # type: ignore[arg-type]
    seen: list[tuple[int, int]] = []
    out = encoder.encode(["SQL", "excel"], progress=lambda done, total: seen.append((done, total)))
    np.testing.assert_array_equal(out, HashingEncoder().encode(["SQL", "excel"]))
    assert seen == [(2, 2)]


# --- d: SkillSpace.warm --------------------------------------------------------------------------------------

SPACE_CONCEPTS = pd.DataFrame(
    [
        concept_row("c:prog", "computer programming", ["coding"]),
        concept_row("c:python", "Python programming", ["python"], broader=["c:prog"]),
        concept_row("c:java", "Java programming", ["java"], broader=["c:prog"]),
        concept_row("c:js", "JavaScript programming", []),
        concept_row("c:nursing", "provide nursing care", ["nursing"]),
        concept_row("c:care", "provide patient care", []),
        concept_row("c:kitchen", "culinary arts", []),
        concept_row("c:cook", "cook pasta", [], broader=["c:kitchen", "c:missing"]),
    ]
)


def make_space() -> SkillSpace:
    labels = label_table(SPACE_CONCEPTS)
    index = VectorIndex(kind="flat").build(HashingEncoder().encode(labels["text"].tolist()))
    return SkillSpace(SPACE_CONCEPTS, labels, index, SpaceParams(similar_threshold=0.3, neighbours=4))


def test_warm_fills_the_cache_for_every_skill() -> None:
    space = make_space()
    assert space._cache == {}
    space.warm()
    assert set(space._cache) == set(space.ids.tolist()) == set(SPACE_CONCEPTS["id"])
    warm = space.related(space.ids.tolist())
    cold = make_space().related(space.ids.tolist())
    assert warm == cold
    # the fixture has every kind of relation, so the comparison is not vacuous
    kinds = {r.kind for relations in cold.values() for r in relations}
    assert kinds == {"exact", "broader", "narrower", "similar"}


def test_warm_answers_without_searching_again(monkeypatch: pytest.MonkeyPatch) -> None:
    space = make_space()
    searches: list[int] = []
    search = space.index.search

    def counting(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        searches.append(len(queries))
        return search(queries, k)

    monkeypatch.setattr(space.index, "search", counting)
    space.warm()
    assert searches == [len(space.ids)]  # one batched search for all skills
    before = make_space().related(["c:python", "c:unknown"])
    assert space.related(["c:python", "c:unknown"]) == before
    assert searches == [len(space.ids)]


# --- e: the linker over the query chain ---------------------------------------------------------------------------------------

BUNDLE_CONCEPTS = make_concepts(
    [
        ("c:sql", "SQL", ["structured query language"]),
        ("c:python", "Python (computer programming)", ["python programming", "python"]),
        ("c:excel", "use spreadsheets software", ["excel", "microsoft excel"]),
        ("c:nursing", "provide nursing care", ["nursing care"]),
    ]
)


class CaseFoldingEncoder(HashingEncoder):
    """A fake whose tokenizer lower-cases (like all-MiniLM-L6-v2's)."""

    def normalise_text(self, text: str) -> str:
        return text.lower()


def make_bundle_linker(
    inner: HashingEncoder, settings: Settings
) -> tuple[SkillLinker, CountingEncoder, VectorIndex]:
    encoder = CountingEncoder(inner)
    labels = label_table(BUNDLE_CONCEPTS)
    index = VectorIndex(kind="flat").build(HashingEncoder().encode(labels["text"].tolist()))
    chain = query_chain(encoder, labels["text"].tolist(), index.reconstruct)
    linker = linker_for(
        chain,
        labels,
        index,
        BUNDLE_CONCEPTS,
        link_options(settings),
        memory_cache=settings.linker_memory_cache,
    )
    return linker, encoder, index


def test_bundle_linker_answers_labels_from_the_index() -> None:
    linker, encoder, index = make_bundle_linker(CaseFoldingEncoder(), Settings(linker_memory_cache=0))
    assert isinstance(linker.encoder, KnownVectorEncoder)
    labels = linker.labels["text"].tolist()
    texts = ["SQL", "sql", "  Structured   QUERY language ", "python"]
    out = linker.encoder.encode(texts)
    assert encoder.batches == []  # every text is a label as the (case-folding) tokenizer sees it
    rows = [labels.index("SQL"), labels.index("SQL"), labels.index("structured query language")]
    np.testing.assert_array_equal(out[:3], index.reconstruct(rows))
    # other texts go to the wrapped encoder, and only they do
    out = linker.encoder.encode(["cook pasta", "Excel", "excel spreadsheets"])
    assert encoder.batches == [["cook pasta", "excel spreadsheets"]]
    np.testing.assert_allclose(out[0], HashingEncoder().encode(["cook pasta"])[0])
    np.testing.assert_array_equal(out[1], index.reconstruct([labels.index("excel")])[0])


def test_bundle_linker_matches_exact_text_without_a_tokenizer_normaliser() -> None:
    linker, encoder, index = make_bundle_linker(HashingEncoder(), Settings(linker_memory_cache=0))
    labels = linker.labels["text"].tolist()
    out = linker.encoder.encode(["SQL", "structured  query   language"])
    assert encoder.batches == []  # exact text, white space collapsed
    np.testing.assert_array_equal(out[1], index.reconstruct([labels.index("structured query language")])[0])
    linker.encoder.encode(["sql", "Structured query language"])
    assert encoder.batches == [["sql", "Structured query language"]]  # case differs: not a label


def test_bundle_linker_normalise_of_labels_skips_the_encoder() -> None:
    linker, encoder, _ = make_bundle_linker(CaseFoldingEncoder(), Settings(linker_memory_cache=0))
    result = linker.normalise(["Microsoft Excel", "NURSING CARE"], min_score=0.5)
    assert [r[0].id for r in result] == ["c:excel", "c:nursing"]
    assert encoder.batches == []


def test_bundle_linker_uses_the_settings_options() -> None:
    settings = Settings(linker_memory_cache=0, link_min_score=0.33, link_top_k=3, link_lexical_weight=0.2)
    linker, _, _ = make_bundle_linker(HashingEncoder(), settings)
    assert linker.options() == link_options(settings)
    assert linker.concept_labels == dict(zip(BUNDLE_CONCEPTS["id"], BUNDLE_CONCEPTS["label"], strict=True))


@pytest.mark.parametrize(("memory_cache", "batches"), [(0, 2), (50, 1)])
def test_bundle_linker_honours_the_memory_cache_setting(memory_cache: int, batches: int) -> None:
    linker, encoder, _ = make_bundle_linker(HashingEncoder(), Settings(linker_memory_cache=memory_cache))
    first = linker.normalise(["underwater basket weaving"], min_score=-1)
    second = linker.normalise(["underwater basket weaving"], min_score=-1)
    assert first == second and len(first[0]) == 1
    assert encoder.batches == [["underwater basket weaving"]] * batches
