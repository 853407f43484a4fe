"""skillmatch.nowait: a call tried where it may not wait gives up at the first wait, before doing that work."""

from __future__ import annotations

import contextvars
import threading

import numpy as np
import pytest
from fakes import CountingEncoder, HashingEncoder

from skillmatch import nowait
from skillmatch.encoding.concurrency import CoalescingEncoder, LockedEncoder
from skillmatch.encoding.known_vectors import KnownVectorEncoder


def test_check_raises_only_inside_the_scope_and_the_scope_ends_with_its_block() -> None:
    nowait.check("outside")  # nothing happens
    with nowait.scope():
        assert nowait.forbidden()
        with pytest.raises(nowait.WouldWait, match="the encoder"):
            nowait.check("the encoder")
    assert not nowait.forbidden()
    with pytest.raises(RuntimeError), nowait.scope():
        raise RuntimeError("the call failed")
    assert not nowait.forbidden()  # reset after an error too
    nowait.check("outside again")


def test_the_rule_follows_a_copied_context_but_not_into_a_thread_of_its_own() -> None:
    seen: dict[str, bool] = {}
    with nowait.scope():
        context = contextvars.copy_context()
        plain = threading.Thread(target=lambda: seen.setdefault("own", nowait.forbidden()))
        plain.start()
        plain.join()
    copied = threading.Thread(target=lambda: seen.setdefault("copied", context.run(nowait.forbidden)))
    copied.start()
    copied.join()
    assert seen == {"own": False, "copied": True}


def _known(inner: CountingEncoder) -> KnownVectorEncoder:
    labels = ["python", "sql"]
    stored = HashingEncoder().encode(labels)
    return KnownVectorEncoder(inner, labels, lambda rows: stored[rows])


def test_known_texts_are_answered_inside_the_scope_and_others_stop_before_the_encoder() -> None:
    inner = CountingEncoder(HashingEncoder())
    known = _known(inner)
    with nowait.scope():
        vectors = known.encode(["python", "sql"])
        with pytest.raises(nowait.WouldWait):
            known.encode(["python", "cooking"])
    assert inner.batches == []  # nothing went to the encoder
    # the refused call counted nothing: it runs again elsewhere
    assert known.stats == {"requested": 2, "known": 2}
    np.testing.assert_allclose(vectors, HashingEncoder().encode(["python", "sql"]), atol=1e-6)
    # outside the scope the same call encodes the unknown text
    out = known.encode(["python", "cooking"])
    assert len(inner.batches) == 1
    np.testing.assert_allclose(out[1], HashingEncoder().encode(["cooking"])[0], atol=1e-6)


@pytest.mark.parametrize("wrapper", [CoalescingEncoder, LockedEncoder])
def test_the_encoders_that_wait_refuse_inside_the_scope(wrapper: type) -> None:
    inner = CountingEncoder(HashingEncoder())
    encoder = wrapper(inner)
    with nowait.scope(), pytest.raises(nowait.WouldWait):
        encoder.encode(["cooking"])
    assert inner.batches == []
    assert encoder.encode(["cooking"]).shape == (1, inner.dim)
    assert len(inner.batches) == 1
