"""Smoke test of the README's first command: serve the demo, then call every page and one recommendation.

Usage: python .ci/smoke.py -- COMMAND...   (COMMAND starts the server, in a session of its own, with
``SKILLMATCH_API_PORT`` set to a free loopback port; ``{port}`` in it is replaced by that port too). Exits non-zero,
with the server's log, if the server does not become ready, a page does not answer 2xx, or the recommendation has
no pathway. The server is stopped by its PID (its process group: a shell's children too) in every case.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

READY_TIMEOUT_S = float(os.environ.get("SMOKE_READY_TIMEOUT_S", "900"))
RECOMMENDATION = {
    "roles": ["data analyst"],
    "skills": ["Excel: advanced", "SQL: beginner"],
    "max_hours": 120,
    "max_cost": 500,
    "currency": "EUR",
    "languages": ["en"],
}


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str, body: dict | None = None) -> tuple[int, bytes]:
    """GET ``url`` (or POST ``body`` as JSON); the status and body, whatever the status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def pages(base: str) -> list[str]:
    """Every GET route that needs no parameter in the OpenAPI schema, plus the pages outside it.

    A route with a path parameter or a required query parameter (e.g. ``GET /v1/recommendations?roles=...``) is
    left out: without its parameters a 422 is its correct answer.
    """
    _, raw = fetch(f"{base}/openapi.json")
    spec = json.loads(raw)
    routes = {
        p
        for p, ops in spec["paths"].items()
        if "get" in ops
        and "{" not in p
        and not any(param.get("required") for param in ops["get"].get("parameters", []))
    }
    routes |= {"/", "/career", "/docs", "/openapi.json", "/health", "/ready", "/metrics"}  # + web pages
    return sorted(routes)


def main(argv: list[str]) -> int:
    """Start the server, check it, stop it; 0 when every check passed."""
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(
        [part.replace("{port}", str(port)) for part in command],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SKILLMATCH_API_PORT": str(port), "SKILLMATCH_API_HOST": "127.0.0.1"},
        start_new_session=True,
    )
    print(f"smoke: started {' '.join(command)} as PID {server.pid} on port {port}", flush=True)
    failures: list[str] = []
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if server.poll() is not None:
                failures.append(f"server exited with {server.returncode} before it was ready")
                break
            try:
                status, _ = fetch(f"{base}/ready")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                failures.append(f"server not ready after {READY_TIMEOUT_S:.0f} s")
                break
            time.sleep(2)
        if not failures:
            for path in pages(base):
                status, body = fetch(base + path)
                print(f"smoke: GET {path} -> {status} ({len(body)} bytes)", flush=True)
                if not 200 <= status < 300:
                    failures.append(f"GET {path} answered {status}: {body[:200]!r}")
            status, body = fetch(f"{base}/v1/recommendations", RECOMMENDATION)
            result = json.loads(body) if status == 200 else {}
            steps = [s["credential"]["id"] for s in result.get("pathway", [])]
            print(f"smoke: POST /v1/recommendations -> {status}, pathway {steps}", flush=True)
            if status != 200 or not steps:
                failures.append(f"recommendation answered {status} with no pathway: {body[:300]!r}")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                failures.append("server did not stop within 30 s of SIGTERM")
        log.seek(0)
        if failures:
            print("smoke: server log:\n" + log.read()[-6000:], flush=True)
    for failure in failures:
        print(f"smoke: FAILED: {failure}", flush=True)
    print("smoke: " + ("failed" if failures else "passed"), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
