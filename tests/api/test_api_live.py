"""Against a real uvicorn server (a process of its own): what the HTTP parser refuses is JSON too, a request stops
at its deadline and when its client disconnects, and no request text reaches the server's log.

The served encoder is a slow fake (each run takes ``PAUSE`` seconds) that counts the texts it
encodes; a test-only route ``/encoded`` says how many it encoded of those carrying a tag.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fakes import free_port, wait_for_health

from skillmatch.encoding.concurrency import CHECK_EVERY_TEXTS

HERE = Path(__file__).resolve().parent
MARKER = "ZZSECRETSKILL"
PAUSE = 0.25  # seconds per encoder run (of CHECK_EVERY_TEXTS texts)
STEP = CHECK_EVERY_TEXTS
TIMEOUT = 2.0  # the server's request deadline
APP_URL_LIMIT = 4096  # the server's SKILLMATCH_API_MAX_URL_BYTES

SERVER = """
import sys, threading, time
sys.path[:0] = [{api!r}, {tests!r}]
from api_world import api_settings, world
from fakes import HashingEncoder
from skillmatch.api import create_app
from skillmatch.api.logs import log_config
from skillmatch.api.server import uvicorn_options
from skillmatch.build import build_bundle
from skillmatch.facade import load
import uvicorn

class Slow(HashingEncoder):
    thread_safe = True
    def __init__(self):
        super().__init__()
        self.texts = []
        self.lock = threading.Lock()
    def encode(self, texts, *, progress=None):
        with self.lock:
            self.texts.extend(texts)
        time.sleep({pause})
        return super().encode(texts, progress=progress)

settings = api_settings().model_copy(update={{
    "api_request_timeout": {timeout}, "api_max_url_bytes": {url_limit}, "api_max_request_chars": 100_000,
    "api_max_text_chars": 20_000, "api_max_texts": 50, "api_max_body_bytes": 512 * 1024,
}})
build_bundle(world(False), {bundle!r}, encoder=HashingEncoder(), settings=settings)
encoder = Slow()
app = create_app(settings, load({bundle!r}, settings=settings, encoder=encoder, coalesce_texts=10))

@app.get("/encoded")
def encoded(tag: str) -> dict[str, int]:
    with encoder.lock:
        return {{"texts": sum(tag in t for t in encoder.texts)}}

uvicorn.run(app, host="127.0.0.1", port={port}, log_config=log_config("INFO"), **uvicorn_options(settings))
"""


class Server:
    """The server process, its port and its log (stderr)."""

    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.port = port
        self.proc = proc
        self.log = log

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def raw(self, request: bytes, *, hang_up_after: float | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send ``request`` as bytes and read the answer (or hang up after ``hang_up_after`` seconds)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(request)
            if hang_up_after is not None:
                time.sleep(hang_up_after)
                return 0, {}, b""
            data = b""
            while chunk := s.recv(65536):
                data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                lengths = [ln for ln in head.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
                if lengths and len(body) >= int(lengths[0].split(b":")[1]):
                    break
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        return int(lines[0].split()[1]), headers, body

    def encoded(self, tag: str) -> int:
        return int(httpx.get(self.url("/encoded"), params={"tag": tag}, timeout=10).json()["texts"])

    def log_lines(self) -> list[dict[str, object]]:
        out = []
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"unparsed": line})
        return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("live")
    port = free_port()
    code = SERVER.format(
        api=str(HERE),
        tests=str(HERE.parent),
        bundle=str(root / "b"),
        port=port,
        pause=PAUSE,
        timeout=TIMEOUT,
        url_limit=APP_URL_LIMIT,
    )
    log = root / "server.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stderr=err, env={**os.environ, "HF_HUB_OFFLINE": "1"}
        )
    try:
        wait_for_health(port, log=log)
        yield Server(port, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _extract(texts: list[str], request_id: str) -> bytes:
    body = json.dumps({"texts": texts}).encode()
    return (
        b"POST /v1/skills/extract HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"X-Request-ID: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def _phrases(n: int, tag: str) -> list[str]:
    """``n`` distinct phrases carrying ``tag``, as texts of up to 150 comma-separated phrases."""
    items = [f"{tag}{i} work {MARKER}" for i in range(n)]
    return [", ".join(items[i : i + 150]) for i in range(0, n, 150)]


@pytest.mark.parametrize("length", [70_000, 1_000_000])
def test_a_url_the_parser_cannot_take_gets_a_json_414(server: Server, length: int) -> None:
    query = f"q={MARKER}" + "a" * length
    status, headers, body = server.raw(f"GET /v1/credentials?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 414 and headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert "URL too long" in answer["detail"] and "65535" in answer["detail"]
    assert answer["request_id"] == headers["x-request-id"]
    logged = [line for line in server.log_lines() if line.get("request_id") == answer["request_id"]]
    assert [line.get("status") for line in logged] == [414]


def test_a_malformed_request_gets_a_json_400(server: Server) -> None:
    status, headers, body = server.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body)["request_id"] == headers["x-request-id"]


def test_a_url_over_the_apps_limit_gets_a_json_414_from_the_app(server: Server) -> None:
    response = httpx.get(
        server.url("/v1/credentials"), params={"q": MARKER + "b" * APP_URL_LIMIT}, timeout=10
    )
    assert response.status_code == 414
    assert f"the limit is {APP_URL_LIMIT}" in response.json()["detail"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_a_request_over_its_deadline_gets_a_json_504_and_stops_encoding(server: Server) -> None:
    texts = _phrases(16 * STEP, "late")  # 16 runs: 4 s of encoding, twice the deadline
    started = time.monotonic()
    status, headers, body = server.raw(_extract(texts, "late-1"))
    took = time.monotonic() - started
    assert status == 504 and json.loads(body)["request_id"] == "late-1" == headers["x-request-id"]
    assert TIMEOUT <= took < TIMEOUT + 2 * PAUSE + 1.0
    time.sleep(3 * PAUSE)
    done = server.encoded("late")
    time.sleep(3 * PAUSE)
    assert server.encoded("late") == done <= (TIMEOUT / PAUSE + 1) * STEP < 16 * STEP  # stopped, not finished


def test_a_disconnected_clients_request_stops_encoding(server: Server) -> None:
    texts = _phrases(6 * STEP, "gone")  # 6 runs: 1.5 s, within the deadline
    server.raw(_extract(texts, "gone-1"), hang_up_after=2 * PAUSE)
    time.sleep(3 * PAUSE)
    done = server.encoded("gone")
    time.sleep(6 * PAUSE)
    assert server.encoded("gone") == done <= 4 * STEP < 6 * STEP
    logged = [line for line in server.log_lines() if line.get("request_id") == "gone-1"]
    assert [line.get("status") for line in logged] == [499]


def test_no_request_text_in_the_servers_log(server: Server) -> None:
    # after the tests above (module order): URLs, bodies and the stopped requests all carried the marker
    lines = server.log.read_text(errors="replace")
    assert '"request_id"' in lines  # the log was written
    assert MARKER not in lines
