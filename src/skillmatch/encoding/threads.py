"""Thread settings of the compute libraries (FAISS's OpenMP pool), applied once per process.

On a small machine a server must not let every library start one thread per core: FAISS's OpenMP threads keep
spinning after each search and take the cores the encoder and the request threads need (on 2 busy cores, a
5-phrase request was about twice as slow with FAISS on 2 threads as on 1; docs/performance.md). Builds, which
search in large batches and build HNSW graphs, gain from all cores.
"""

from __future__ import annotations

import sys

from skillmatch.config import Settings


def index_threads(settings: Settings, *, serving: bool = False) -> int:
    """The FAISS thread count to use: ``settings.index_threads``, or a default when it is 0 (auto).

    The default is 1 for a server and 0 (the library default, one per core) otherwise.
    """
    if settings.index_threads:
        return settings.index_threads
    return 1 if serving else 0


def encoder_threads(settings: Settings, *, serving: bool = False) -> int:
    """The encoder's thread count: ``settings.encoder_threads``, or a default when it is 0 (auto).

    The default is 1 for a server that coalesces its encodes (``api_coalesce_texts`` > 0) and 0 (the library
    default, one per core) otherwise.

    A coalescing server runs one encode at a time; on one thread it leaves the other cores to the rest of the
    requests' work, which on 2 cores served new phrases with less CPU per request (11.4 instead of 13.0 ms) and a
    shorter tail than two threads (docs/performance.md).
    """
    if settings.encoder_threads:
        return settings.encoder_threads
    return 1 if serving and settings.api_coalesce_texts > 0 else 0


def encoder_parallel_runs(settings: Settings, *, serving: bool = False) -> int:
    """ONNX runs a long encoder call executes at once: ``settings.encoder_parallel_runs``, or a default when 0.

    The default is 1 for a server (its request threads need the other cores) and the number of usable CPUs
    otherwise (builds, batch linking, the CLI): one run on 2 intra-op threads kept about 1.6 of 2 cores busy, two
    runs at once on one thread each 1.9, and encoded ESCO labels 1.3x faster (docs/performance.md).
    """
    if settings.encoder_parallel_runs:
        return settings.encoder_parallel_runs
    if (
        serving or settings.encoder_threads
    ):  # a server, or a thread count set explicitly (e.g. a batch worker)
        return 1
    from skillmatch.cpu import cpu_info

    return int(cpu_info()["usable_cpus"])


def apply_thread_settings(settings: Settings, *, serving: bool = False) -> dict[str, float]:
    """Set the thread settings of this process; returns what was set.

    FAISS's OpenMP thread count (see :func:`index_threads`) and, for a server, Python's thread switch interval
    (``api_switch_interval_ms``). Call it once at start-up: from the API's lifespan with ``serving=True``, from the CLI otherwise. The
    encoder's threads are set by the encoder itself (``encoder_threads``).
    """
    from skillmatch.index import search_threads

    applied: dict[str, float] = {"faiss": search_threads(index_threads(settings, serving=serving))}
    if serving:
        sys.setswitchinterval(settings.api_switch_interval_ms / 1000)
        applied["switch_interval_ms"] = settings.api_switch_interval_ms
    return applied
