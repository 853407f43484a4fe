"""Thread settings: FAISS on one thread in a server unless configured, the library default elsewhere."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import faiss
import numpy as np
import pytest

from skillmatch import index as index_module
from skillmatch.config import Settings
from skillmatch.encoding.threads import apply_thread_settings, index_threads
from skillmatch.index import VectorIndex, search_threads


def test_auto_means_one_thread_when_serving_and_the_default_otherwise() -> None:
    settings = Settings()
    assert settings.index_threads == 0
    assert index_threads(settings, serving=True) == 1
    assert index_threads(settings) == 0
    assert index_threads(Settings(index_threads=3), serving=True) == 3


def test_apply_sets_faiss_threads_and_the_servers_switch_interval() -> None:
    before, interval = faiss.omp_get_max_threads(), sys.getswitchinterval()
    try:
        applied = apply_thread_settings(Settings(api_switch_interval_ms=1.5), serving=True)
        assert applied == {"faiss": 1, "switch_interval_ms": 1.5}
        assert faiss.omp_get_max_threads() == 1
        assert sys.getswitchinterval() == pytest.approx(0.0015)
        sys.setswitchinterval(interval)
        assert apply_thread_settings(Settings(index_threads=2)) == {"faiss": 2}  # not a server: left alone
        assert sys.getswitchinterval() == pytest.approx(interval)
    finally:
        search_threads(before)
        sys.setswitchinterval(interval)


def test_the_thread_count_reaches_threads_that_search_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenMP keeps the count per thread: a server sets it at start-up, its request threads search."""

    def in_new_thread(work: Callable[[], None]) -> None:
        worker = threading.Thread(target=work)
        worker.start()
        worker.join()

    fresh: list[int] = []
    in_new_thread(lambda: fresh.append(faiss.omp_get_max_threads()))  # what a new thread starts with
    wanted = fresh[0] + 1
    index = VectorIndex(kind="flat").build(np.eye(4, dtype=np.float32))
    seen: dict[str, int] = {}

    def request_thread() -> None:
        seen["before search"] = faiss.omp_get_max_threads()
        index.search(np.eye(4, dtype=np.float32)[:1], 2)
        seen["after search"] = faiss.omp_get_max_threads()

    main_thread = faiss.omp_get_max_threads()
    monkeypatch.setattr(index_module, "_wanted_threads", index_module._wanted_threads)  # restored afterwards
    try:
        search_threads(wanted)
        in_new_thread(request_thread)
        assert seen == {"before search": fresh[0], "after search": wanted}
    finally:
        faiss.omp_set_num_threads(main_thread)


def test_negative_threads_are_refused() -> None:
    with pytest.raises(ValueError, match="index_threads"):
        Settings(index_threads=-1)


@pytest.mark.parametrize(
    ("configured", "threads", "serving", "expected"),
    [
        (0, 0, False, "cpus"),  # builds and the CLI: one run per usable CPU at once
        (0, 0, True, 1),  # a server: one run at a time
        (0, 2, False, 1),  # an explicit thread count (a batch worker's share) is not multiplied
        (3, 0, True, 3),  # an explicit setting always wins
    ],
)
def test_encoder_parallel_runs(configured: int, threads: int, serving: bool, expected: object) -> None:
    from skillmatch.cpu import cpu_info
    from skillmatch.encoding.threads import encoder_parallel_runs

    settings = Settings(encoder_parallel_runs=configured, encoder_threads=threads)
    want = cpu_info()["usable_cpus"] if expected == "cpus" else expected
    assert encoder_parallel_runs(settings, serving=serving) == want
