"""A small FAISS wrapper: build, search, save and load an inner-product index over unit vectors.

Only this module imports faiss. It knows nothing of skills: row ``i`` of the index is row ``i`` of whatever
table the caller keeps beside it. Small indexes are exact (``IndexFlatIP``); above ``exact_limit`` rows an
HNSW graph is built and its recall@10 against exact search is measured and reported.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, cast

import faiss
import numpy as np

IndexKind = Literal["auto", "flat", "hnsw"]

#: The OpenMP thread count set with :func:`search_threads` (0: never set; OpenMP's default, one per core).
_wanted_threads = 0
#: What this thread last applied. OpenMP's thread count is a per-thread setting: one set in the thread that
#: started a server does not reach the request threads, whose searches would fork a team of one thread per core
#: that spins between searches (5 ms of CPU per 5-phrase request on 2 cores, docs/performance.md).
_applied = threading.local()


def _use_wanted_threads() -> None:
    """Apply the thread count of :func:`search_threads` in the calling thread (once per thread)."""
    if _wanted_threads and getattr(_applied, "threads", 0) != _wanted_threads:
        faiss.omp_set_num_threads(_wanted_threads)
        _applied.threads = _wanted_threads


@dataclass
class IndexInfo:
    """What was built: the kind, its size and, for approximate indexes, the measured recall@10."""

    kind: str
    rows: int
    dim: int
    recall_at_10: float | None = None
    recall_queries: int | None = None
    hnsw_m: int | None = None
    ef_search: int | None = None


def _as_matrix(vectors: np.ndarray, dim: int | None = None) -> np.ndarray:
    arr = np.ascontiguousarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or (dim is not None and arr.shape[1] != dim):
        raise ValueError(f"expected vectors of shape (n, {dim}), got {arr.shape}")
    return arr


class VectorIndex:
    """Inner-product search over unit vectors.

    Args:
        kind: "flat" (exact), "hnsw" (approximate) or "auto" (exact up to ``exact_limit`` rows).
        exact_limit: the row count above which "auto" builds an HNSW index.
        hnsw_m: HNSW graph degree.
        ef_search: HNSW search breadth (higher: better recall, slower).
    """

    def __init__(
        self, kind: IndexKind = "auto", *, exact_limit: int = 50_000, hnsw_m: int = 32, ef_search: int = 64
    ) -> None:
        self.kind = kind
        self._view: np.ndarray | None = None
        self.exact_limit = exact_limit
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search

    def build(self, vectors: np.ndarray, *, recall_queries: int = 500, seed: int = 0) -> VectorIndex:
        """Index ``vectors`` (row i gets id i); returns self."""
        mat = _as_matrix(vectors)
        n, dim = mat.shape
        _use_wanted_threads()
        kind = self.kind
        if kind == "auto":
            kind = "hnsw" if n > self.exact_limit else "flat"
        if kind == "flat":
            index: faiss.Index = faiss.IndexFlatIP(dim)
            index.add(mat)
            self.info_ = IndexInfo(kind="flat", rows=n, dim=dim, recall_at_10=1.0)  # exact search
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = max(40, 2 * self.hnsw_m)
            index.hnsw.efSearch = self.ef_search
            if n:
                index.add(mat)
            self.info_ = IndexInfo(kind="hnsw", rows=n, dim=dim, hnsw_m=self.hnsw_m, ef_search=self.ef_search)
            if n:
                self.info_.recall_at_10, self.info_.recall_queries = self._measure_recall(
                    index, mat, recall_queries, seed
                )
        else:
            raise ValueError(f"unknown index kind {kind!r}; use 'auto', 'flat' or 'hnsw'")
        self.index_ = index
        self._view = None
        return self

    @staticmethod
    def _measure_recall(index: faiss.Index, mat: np.ndarray, count: int, seed: int) -> tuple[float, int]:
        """Recall@10 of ``index`` against exact search, for perturbed copies of sampled rows."""
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(mat), size=min(count, len(mat)), replace=False)
        queries = mat[pick] + rng.normal(0, 0.05, size=(len(pick), mat.shape[1])).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        exact = faiss.IndexFlatIP(mat.shape[1])
        exact.add(mat)
        k = min(10, len(mat))
        _, truth = exact.search(queries, k)
        _, got = index.search(queries, k)
        hits = sum(len(set(t) & set(g)) for t, g in zip(truth, got, strict=True))
        return round(hits / (k * len(pick)), 4), len(pick)

    @property
    def rows(self) -> int:
        """Number of indexed vectors."""
        return int(self.index_.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows for each query: ``(scores, ids)`` arrays of shape (q, k); missing hits have id -1."""
        mat = _as_matrix(queries, self.info_.dim)
        k = max(1, min(k, self.rows)) if self.rows else 1
        if not self.rows or not len(mat):
            return np.zeros((len(mat), k), np.float32), np.full((len(mat), k), -1, np.int64)
        _use_wanted_threads()
        scores, ids = self.index_.search(mat, k)
        return scores, ids

    def current_ef_search(self) -> int | None:
        """The HNSW search breadth in use (set at build or load), or None for an exact index."""
        return int(self.index_.hnsw.efSearch) if isinstance(self.index_, faiss.IndexHNSW) else None

    def _storage(self) -> np.ndarray:
        """A view of the index's own vector storage (row i: id i), made once per index.

        The view does not keep the FAISS index alive, so it never leaves this object: :meth:`reconstruct` copies
        out of it, and :meth:`build` and :meth:`load` drop it with the index it points into.
        """
        view: np.ndarray | None = self._view
        if view is None:
            index = self.index_
            storage = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
            storage = cast("faiss.IndexFlat", storage)  # both kinds store their vectors in a flat index
            if self.rows:
                view = faiss.rev_swig_ptr(storage.get_xb(), self.rows * index.d).reshape(self.rows, index.d)
            else:
                view = np.zeros((0, index.d), np.float32)
            self._view = view
        return view

    def reconstruct(self, rows: np.ndarray | None = None) -> np.ndarray:
        """A copy of the stored vectors of ``rows`` (all rows when None), read from the index's storage.

        Reading the storage directly is about 20x faster than FAISS's ``reconstruct_batch`` for the few
        thousand rows linking one text needs.
        """
        storage = self._storage()
        return storage.copy() if rows is None else storage[np.asarray(rows, dtype=np.int64)]

    def save(self, path: Path) -> None:
        """Write the index to ``path`` and its info to ``path`` + ``.json``."""
        path = Path(path)
        faiss.write_index(self.index_, str(path))
        path.with_suffix(path.suffix + ".json").write_text(json.dumps(asdict(self.info_), indent=2))

    @classmethod
    def load(cls, path: Path, *, ef_search: int | None = None) -> VectorIndex:
        """Read an index written by :meth:`save`."""
        path = Path(path)
        meta = json.loads(path.with_suffix(path.suffix + ".json").read_text())
        obj = cls(kind=meta["kind"])
        obj.index_ = faiss.read_index(str(path))
        obj.info_ = IndexInfo(**meta)
        if meta["kind"] == "hnsw" and ef_search:
            cast("faiss.IndexHNSW", obj.index_).hnsw.efSearch = ef_search
            obj.info_.ef_search = ef_search
        return obj


def search_threads(wanted: int = 0) -> int:
    """Set FAISS's OpenMP thread count for this process (0 leaves it as it is); returns the count in force.

    The count reaches every thread that builds or searches a :class:`VectorIndex` afterwards, not only the
    calling one (OpenMP keeps it per thread; :meth:`VectorIndex.search` applies it in its thread).
    """
    global _wanted_threads
    if wanted:
        _wanted_threads = wanted
        _use_wanted_threads()
    return int(faiss.omp_get_max_threads())


def faiss_version() -> str:
    """The installed faiss version."""
    return str(getattr(faiss, "__version__", "unknown"))
