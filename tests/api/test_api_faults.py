"""Fault and abuse cases: every error is JSON with a request id, and request text never reaches a log line.

A marker string (with a lone surrogate in some placements) is sent through every route of the OpenAPI schema, in
path, query, headers and bodies, plus the error paths (unknown route, bad JSON, an internal error, a request
stopped at its deadline, a URL over the limit); the captured log records of every logger are then searched for
it. ``test_api_live.py`` does the same against a real server's log.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator

import pytest
from api_world import API_KEY, api_settings
from fastapi import FastAPI
from fastapi.testclient import TestClient

from skillmatch import deadline
from skillmatch.api import create_app
from skillmatch.facade import Skillmatch

MARKER = "ZZSECRETSKILL"


class Capture(logging.Handler):
    """Keeps every record, formatted with its exception and extra fields."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("httpx"):  # the test client's own log of the URL it sent
            return
        self.records.append(record)
        text = [record.getMessage(), repr(record.__dict__)]
        if record.exc_info:
            text.append(logging.Formatter().formatException(record.exc_info))
        self.lines.append(" ".join(text))


@pytest.fixture()
def captured() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # loggers that do not propagate to the root (as configured by the server) get the handler directly
    loggers = [
        logging.getLogger(name)
        for name in ("skillmatch", "uvicorn", "uvicorn.error", "fastapi")
        if not logging.getLogger(name).propagate
    ]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for logger in loggers:
            logger.removeHandler(handler)


def _body(marker: str) -> dict[str, object]:
    return {
        "texts": [f"{marker} and SQL"],
        "skills": [marker, {"skill": marker, "level": "expert"}],
        "roles": [marker],
        "learners": [{"id": marker, "skills": [marker]}],
        "query": marker,
        "credentials": [marker],
    }


def _calls(app: FastAPI) -> list[tuple[str, str]]:
    out = []
    for path, item in app.openapi()["paths"].items():
        for method in item:
            out.append((method.upper(), re.sub(r"\{[^}]+\}", MARKER, path)))
    return out


def test_no_route_logs_request_text(app: FastAPI, captured: Capture) -> None:
    calls = _calls(app)
    assert len(calls) >= 10
    statuses = []
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path in calls:
            for marker in (MARKER, MARKER + "\ud800"):
                response = client.request(
                    method,
                    path,
                    params={"query": MARKER, "q": MARKER, "role": MARKER, "currency": MARKER[:3]},
                    content=json.dumps(_body(marker)).encode(),  # ASCII JSON: the surrogate as an escape
                    headers={
                        "X-API-Key": API_KEY,
                        "X-Request-ID": MARKER + " <script>",
                        "User-Agent": MARKER,
                        "Content-Type": "application/json",
                    },
                )
                statuses.append(response.status_code)
                assert response.headers["content-type"].startswith(
                    ("application/json", "text/plain; version")
                )
                if response.status_code >= 400:
                    assert "request_id" in response.json(), (method, path, response.text)
        for response in (
            client.get(f"/v1/{MARKER}"),
            client.post(
                "/v1/recommendations",
                content=f'{{"roles": ["{MARKER}"',
                headers={"content-type": "application/json"},
            ),
            client.post("/v1/recommendations", content=b'{"roles": ["\xff' + MARKER.encode() + b'"]}'),
            client.delete("/v1/recommendations", params={"x": MARKER}),
        ):
            assert response.status_code in (404, 405, 422), response.text
            assert response.json()["request_id"]
    assert any(s == 200 for s in statuses) and any(s >= 400 for s in statuses)
    leaked = [line for line in captured.lines if MARKER in line]
    assert not leaked, leaked[:3]
    assert captured.lines  # the capture works: access lines were logged


def test_an_internal_error_is_json_with_the_request_id_and_no_text(
    app: FastAPI, captured: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = app.state.bundles.current

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"could not handle {MARKER}")

    monkeypatch.setattr(served.service, "recommend", boom)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/recommendations", json={"roles": ["data analyst"], "skills": [MARKER]})
    assert response.status_code == 500
    body = response.json()
    assert MARKER not in response.text and body["request_id"] == response.headers["x-request-id"]
    errors = [line for line in captured.lines if "unhandled error" in line]
    assert len(errors) == 1 and "RuntimeError" in errors[0] and body["request_id"] in errors[0]
    assert not [line for line in captured.lines if MARKER in line]


def test_the_text_of_one_request_is_bounded_in_all(client: TestClient) -> None:
    limit = client.app.state.limits.max_request_chars  # type: ignore[attr-defined]
    piece = "sql and python, " * 100  # 1,600 characters, within the per-text limit
    many = [piece] * (limit // len(piece) + 1)
    response = client.post("/v1/skills/extract", json={"texts": many})
    assert response.status_code == 413, response.text
    assert f"the limit is {limit}" in response.text and response.json()["request_id"]
    assert client.post("/v1/skills/extract", json={"texts": many[:2]}).status_code == 200
    skills = [f"skill {i} " + "x" * (limit // 9) for i in range(10)]  # each within limits, too much in all
    response = client.post("/v1/recommendations", json={"roles": ["data analyst"], "skills": skills})
    assert response.status_code == 413 and "characters in all" in response.text


def test_a_reload_waiting_too_long_for_another_is_refused(app: FastAPI, auth: dict[str, str]) -> None:
    holder = app.state.bundles
    holder.settings = holder.settings.model_copy(update={"api_reload_timeout": 0.2})
    with TestClient(app) as client:
        assert holder._reload_lock.acquire(timeout=1)  # another reload is running
        try:
            started = time.perf_counter()
            response = client.post("/v1/admin/reload", headers=auth)
            assert time.perf_counter() - started < 5
        finally:
            holder._reload_lock.release()
        assert response.status_code == 409 and "another reload" in response.json()["detail"]
        assert client.post("/v1/admin/reload", headers=auth).status_code == 200


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity"])
def test_query_numbers_must_be_finite(client: TestClient, value: str) -> None:
    for name in ("max_hours", "max_cost"):
        response = client.get("/v1/credentials", params={name: value})
        assert response.status_code == 422, (name, value, response.text)


def test_stopped_and_refused_requests_log_no_text(
    bundle_v1: Skillmatch, captured: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(api_settings(api_request_timeout=0.2, api_max_url_bytes=2048), bundle_v1)

    def slow(*_args: object, **_kwargs: object) -> None:  # library work that checks its deadline
        while True:
            deadline.check()
            time.sleep(0.01)

    monkeypatch.setattr(app.state.bundles.current.service, "recommend", slow)
    with TestClient(app) as client:
        late = client.post("/v1/recommendations", json={"roles": ["data analyst"], "skills": [MARKER]})
        long_url = client.get("/v1/credentials", params={"q": MARKER + "x" * 4096})
    assert late.status_code == 504 and late.json()["request_id"]
    assert long_url.status_code == 414 and long_url.json()["request_id"]
    assert MARKER not in late.text + long_url.text
    statuses = {getattr(r, "status", None) for r in captured.records if r.name == "skillmatch.api.access"}
    assert {504, 414} <= statuses
    assert not [line for line in captured.lines if MARKER in line]
