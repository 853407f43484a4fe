"""Per-request deadline and disconnect detection: work nobody waits for any more stops, and says so in JSON.

The served encoder is a fake that counts its runs (and can be slowed or held), so the tests see exactly which
texts were encoded after a request's deadline passed or its client went away.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from api_world import api_settings
from fakes import HashingEncoder
from fastapi import FastAPI
from fastapi.testclient import TestClient

from skillmatch import deadline
from skillmatch.api import create_app
from skillmatch.api.cancellation import CLIENT_CLOSED
from skillmatch.deadline import CancelToken
from skillmatch.encoding.cached import CachedEncoder
from skillmatch.encoding.concurrency import CHECK_EVERY_TEXTS, CoalescingEncoder
from skillmatch.facade import Skillmatch, load

WAIT = 10.0  # seconds before a wait in these tests counts as a hang


class RecordingEncoder(HashingEncoder):
    """Records each run's texts; each run takes ``pause`` seconds; runs wait while ``gate`` is clear."""

    thread_safe = True

    def __init__(self, pause: float = 0.0) -> None:
        super().__init__()
        self.pause = pause
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, progress: object = None) -> np.ndarray:
        with self._lock:
            self.batches.append(list(texts))
        self.entered.set()
        assert self.gate.wait(WAIT), "the gate was never opened"
        time.sleep(self.pause)
        return super().encode(texts, progress=progress)

    def encoded(self) -> set[str]:
        with self._lock:
            return {t for batch in self.batches for t in batch}


def served(bundle_paths: dict[str, Path], encoder: RecordingEncoder) -> Skillmatch:
    """The v1 bundle served as the API serves it: request texts coalesced on the encoder's thread."""
    return load(bundle_paths["v1"], settings=api_settings(), encoder=encoder, coalesce_texts=10)


def hold_the_encoder(
    service: Skillmatch, encoder: RecordingEncoder
) -> tuple[CoalescingEncoder, threading.Thread]:
    """Start a run ("leader") that holds ``service``'s encoding thread until ``encoder.gate`` is set again.

    Returns the service's coalescing encoder (texts queued now wait in it) and the leader's thread.
    """
    coalescing = service.encoder.inner
    assert isinstance(coalescing, CoalescingEncoder)
    encoder.gate.clear()
    leader = threading.Thread(target=lambda: coalescing.encode(["leader"]), daemon=True)
    leader.start()
    assert encoder.entered.wait(WAIT)
    return coalescing, leader


def phrases(n: int, tag: str) -> str:
    """``n`` distinct comma-separated phrases: each one a segment the linker encodes."""
    return ", ".join(f"{tag}{i} work" for i in range(n))


@pytest.fixture()
def access(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="skillmatch.api.access")
    return caplog


def logged_statuses(access: pytest.LogCaptureFixture, request_id: str | None = None) -> list[object]:
    """The status of each access log line (of ``request_id`` only, if given)."""
    return [
        getattr(r, "status", None)
        for r in access.records
        if r.name == "skillmatch.api.access"
        and (request_id is None or getattr(r, "request_id", None) == request_id)
    ]


def test_a_request_over_its_deadline_gets_a_json_504_and_its_remaining_runs_are_not_encoded(
    bundle_paths: dict[str, Path], access: pytest.LogCaptureFixture
) -> None:
    encoder = RecordingEncoder(pause=0.15)
    settings = api_settings(api_request_timeout=0.4, api_max_request_chars=50_000, api_max_texts=20)
    app = create_app(settings, served(bundle_paths, encoder))
    steps = 8
    texts = [phrases(128, f"t{k}x") for k in range(steps * CHECK_EVERY_TEXTS // 128)]  # 8 runs, 0.15 s each
    with TestClient(app) as client:
        started = time.perf_counter()
        response = client.post(
            "/v1/skills/extract", json={"texts": texts}, headers={"X-Request-ID": "slow-1"}
        )
        took = time.perf_counter() - started
        assert response.status_code == 504, response.text[:300]
        body = response.json()
        assert body["request_id"] == "slow-1" == response.headers["x-request-id"]
        assert "longer than 0.4 s" in body["detail"] and "SKILLMATCH_API_REQUEST_TIMEOUT" in body["detail"]
        assert response.headers["content-type"] == "application/json"
        time.sleep(0.5)  # a run still going at the deadline finishes; no further one may start
        runs = [b for b in encoder.batches if any("x" in t and "work" in t for t in b)]
        assert 1 <= len(runs) <= 4 < steps, [len(b) for b in runs]
        assert took < 0.4 + 2 * 0.15 + 1.0  # answered at the deadline, not after all eight runs
        # the service goes on: a small request afterwards is answered
        assert client.post("/v1/skills/extract", json={"texts": ["SQL"]}).status_code == 200
    assert logged_statuses(access, "slow-1") == [504]


def test_no_deadline_with_a_timeout_of_zero(bundle_paths: dict[str, Path]) -> None:
    encoder = RecordingEncoder(pause=0.05)
    settings = api_settings(api_request_timeout=0, api_max_request_chars=50_000, api_max_texts=20)
    app = create_app(settings, served(bundle_paths, encoder))
    texts = [phrases(128, f"z{k}x") for k in range(2 * CHECK_EVERY_TEXTS // 128)]
    with TestClient(app) as client:
        response = client.post("/v1/skills/extract", json={"texts": texts})
    assert response.status_code == 200 and len(encoder.batches) >= 2  # encoded in steps, to the end


def test_a_route_that_sees_its_token_first_answers_the_same_504(
    bundle_paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(api_settings(api_request_timeout=30), served(bundle_paths, RecordingEncoder()))

    def expired(*_args: object, **_kwargs: object) -> None:
        token = deadline.current()
        assert token is not None, "the route runs without the request's token"
        token.cancel(deadline.DEADLINE)
        token.check()

    monkeypatch.setattr(app.state.bundles.current.service, "recommend", expired)
    with TestClient(app) as client:
        response = client.post("/v1/recommendations", json={"roles": ["data analyst"], "skills": ["SQL"]})
    assert response.status_code == 504 and response.json()["request_id"]


# --- the client goes away ----------------------------------------------------------------------------------


async def _call(
    app: FastAPI, body: dict[str, object], hang_up: asyncio.Event, *, after_answer: bool = False
) -> list[dict[str, object]]:
    """One ASGI request whose client disconnects when ``hang_up`` is set (``after_answer``: once the answer is
    complete); returns what the app sent."""
    payload = json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/skills/extract",
        "raw_path": b"/v1/skills/extract",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, object]] = []
    delivered = False

    async def receive() -> dict[str, object]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await hang_up.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)
        if after_answer and message["type"] == "http.response.body" and not message.get("more_body"):
            hang_up.set()

    await asyncio.wait_for(app(scope, receive, send), WAIT)
    return sent


def test_a_disconnected_clients_queued_texts_are_not_encoded(
    bundle_paths: dict[str, Path], access: pytest.LogCaptureFixture
) -> None:
    encoder = RecordingEncoder()
    service = served(bundle_paths, encoder)
    app = create_app(api_settings(api_request_timeout=30), service)
    # another request's run holds the encoder's thread, so this request's texts wait in its queue
    coalescing, leader = hold_the_encoder(service, encoder)
    mine = [f"gone{i} work" for i in range(3)]

    async def scenario() -> list[dict[str, object]]:
        hang_up = asyncio.Event()
        request = asyncio.ensure_future(_call(app, {"texts": [", ".join(mine)]}, hang_up))
        until = time.monotonic() + WAIT
        while not coalescing._waiting:  # the request's texts have queued
            assert time.monotonic() < until, "the request never reached the encoder"
            await asyncio.sleep(0.01)
        hang_up.set()  # the client goes away
        return await request

    sent = asyncio.run(scenario())  # returns while the encoder's thread is still held: the request stopped
    until = time.monotonic() + WAIT
    while coalescing._waiting:  # the route's thread takes its texts off the queue (it looks every 50 ms)
        assert time.monotonic() < until, "the abandoned texts stayed queued"
        time.sleep(0.01)
    assert not encoder.gate.is_set() and coalescing.stats["dropped_calls"] == 1
    encoder.gate.set()
    leader.join(WAIT)
    time.sleep(0.1)
    assert not encoder.encoded() & set(mine)  # never encoded
    assert sent[0]["status"] == CLIENT_CLOSED
    assert logged_statuses(access) == [CLIENT_CLOSED]


def test_a_disconnect_after_the_answer_changes_nothing(
    bundle_paths: dict[str, Path], access: pytest.LogCaptureFixture
) -> None:
    encoder = RecordingEncoder()
    app = create_app(api_settings(api_request_timeout=30), served(bundle_paths, encoder))
    sent = asyncio.run(_call(app, {"texts": ["gone after work"]}, asyncio.Event(), after_answer=True))
    assert sent[0]["status"] == 200 and json.loads(sent[1]["body"])["results"]  # type: ignore[arg-type]
    assert logged_statuses(access) == [200]


def test_the_token_of_a_request_reaches_its_route_thread(bundle_paths: dict[str, Path]) -> None:
    app = create_app(api_settings(api_request_timeout=7), served(bundle_paths, RecordingEncoder()))
    seen: list[CancelToken | None] = []

    @app.get("/probe")
    def probe() -> dict[str, bool]:
        seen.append(deadline.current())
        return {"ok": True}

    with TestClient(app) as client:
        assert client.get("/probe").status_code == 200
    assert seen[0] is not None and seen[0].timeout == 7 and not seen[0].cancelled


def test_a_learner_whose_phrase_waits_to_be_encoded_ahead_gets_the_504_and_the_phrase_is_dropped(
    bundle_paths: dict[str, Path], access: pytest.LogCaptureFixture
) -> None:
    """The event-loop path (skillmatch.api.offload): a new phrase queued without blocking, behind a run that holds
    the encoder past the request's deadline, is answered with the 504 at the deadline and never encoded."""
    encoder = RecordingEncoder()
    service = load(
        bundle_paths["v1"],
        settings=api_settings(),
        encoder=CachedEncoder(encoder, memory_cache=100),
        coalesce_texts=10,
    )
    app = create_app(api_settings(api_request_timeout=0.5), service)
    coalescing, leader = hold_the_encoder(service, encoder)
    body = {"roles": ["data analyst"], "skills": ["held back phrase"]}
    with TestClient(app) as client:
        started = time.perf_counter()
        response = client.post("/v1/recommendations", json=body, headers={"X-Request-ID": "ahead-1"})
        took = time.perf_counter() - started
        assert response.status_code == 504 and took < 0.5 + 1.0
        assert list(coalescing._waiting)  # still queued: nothing blocked the event loop meanwhile
        encoder.gate.set()
        leader.join(WAIT)
        until = time.monotonic() + WAIT
        while coalescing.stats["dropped_calls"] < 1:  # taken off the queue unencoded: its request is over
            assert time.monotonic() < until, "the phrase of the stopped request was not dropped"
            time.sleep(0.01)
        assert client.post("/v1/recommendations", json=body).status_code == 200  # encoded now, for a new one
    assert [b for b in encoder.batches if "held back phrase" in b] == [["held back phrase"]]
    assert logged_statuses(access, "ahead-1") == [504]
