"""``python -m skillmatch.api`` with the serving levers of docs/performance.md applied by patching, to measure them
before they are wired into the library (``bench/load.py --server proposed`` starts this; one worker only).

Each lever is switched by an environment variable (all on by default):

* ``SKILLMATCH_BENCH_THREADS``: FAISS on one OpenMP thread (``skillmatch.threads.apply_thread_settings`` with
  ``serving=True``), as the API's lifespan would call it;
* ``SKILLMATCH_BENCH_LOCKFREE``: the API's ``LockedEncoder`` skips its lock when the encoder says it is
  ``thread_safe`` (the ONNX Runtime backend without the on-disk cache);
* ``SKILLMATCH_BENCH_FASTPATH``: the bundle's linker reads the vectors of exact labels back from the label index
  (``skillmatch.fastpath.KnownVectorEncoder``) instead of encoding them;
* ``SKILLMATCH_BENCH_WARM_SPACE``: the matcher computes the related skills of every skill once, when it is built
  (one batched search, about 1.5 s for ESCO), instead of one search per skill on first use in a request.

Once these are wired (see the report in docs/performance.md), this file is no longer needed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from skillmatch.api import state
from skillmatch.api.__main__ import main
from skillmatch.bundle import Bundle
from skillmatch.config import get_settings
from skillmatch.encoder import ProgressFn
from skillmatch.fastpath import KnownVectorEncoder
from skillmatch.matching import Matcher
from skillmatch.threads import apply_thread_settings


def _on(name: str) -> bool:
    return os.environ.get(name, "1") not in {"0", "false", "no", ""}


def patch() -> list[str]:
    """Apply the levers switched on; returns their names."""
    applied = []
    if _on("SKILLMATCH_BENCH_THREADS"):
        apply_thread_settings(get_settings(), serving=True)
        applied.append("threads")
    if _on("SKILLMATCH_BENCH_LOCKFREE"):
        locked_encode = state.LockedEncoder.encode

        def encode(
            self: state.LockedEncoder, texts: Sequence[str], *, progress: ProgressFn | None = None
        ) -> np.ndarray:
            if getattr(self.inner, "thread_safe", False):
                return self.inner.encode(texts, progress=progress)
            return locked_encode(self, texts, progress=progress)

        state.LockedEncoder.encode = encode  # type: ignore[method-assign]
        applied.append("lock-free")
    if _on("SKILLMATCH_BENCH_FASTPATH"):
        post_init = Bundle.__post_init__

        def with_fast_path(self: Bundle) -> None:
            post_init(self)
            self.linker.encoder = KnownVectorEncoder.from_index(
                self.encoder, self.labels["text"].tolist(), self.label_index
            )

        Bundle.__post_init__ = with_fast_path  # type: ignore[method-assign]
        applied.append("fast path")
    if _on("SKILLMATCH_BENCH_WARM_SPACE"):
        matcher_init = Matcher.__init__

        def warmed(self: Matcher, *args: object, **kwargs: object) -> None:
            matcher_init(self, *args, **kwargs)  # type: ignore[arg-type]
            self.space.related(list(self.space.row_of))

        Matcher.__init__ = warmed  # type: ignore[method-assign]
        applied.append("warm skill space")
    return applied


if __name__ == "__main__":
    print(f"proposed server: {', '.join(patch()) or 'no lever'} applied", flush=True)
    main()
