"""A stopping server (SIGTERM) exits within its shutdown bound even while a request is still running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from fakes import free_port, wait_for_health

HERE = Path(__file__).resolve().parent
SERVER = """
import sys, time
sys.path[:0] = [{api!r}, {tests!r}]
from api_world import api_settings, world
from fakes import HashingEncoder
from skillmatch.api import create_app
from skillmatch.api.server import uvicorn_options
from skillmatch.build import build_bundle
from skillmatch.facade import load
import uvicorn

settings = api_settings().model_copy(update={{"api_shutdown_timeout": 2.0}})
build_bundle(world(False), {bundle!r}, encoder=HashingEncoder(), settings=settings)
app = create_app(settings, load({bundle!r}, settings=settings, encoder=HashingEncoder()))

@app.get("/slow")
def slow() -> dict[str, str]:
    time.sleep(120)  # stands for a long encoder run
    return {{"done": "yes"}}

uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning", **uvicorn_options(settings))
"""


def test_sigterm_during_a_long_request_exits_within_the_bound(tmp_path: Path) -> None:
    port = free_port()
    code = SERVER.format(api=str(HERE), tests=str(HERE.parent), bundle=str(tmp_path / "b"), port=port)
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        wait_for_health(port)
        threading.Thread(
            target=lambda: httpx.get(f"http://127.0.0.1:{port}/slow", timeout=150), daemon=True
        ).start()
        time.sleep(1.0)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)  # without the bound it would wait for the 120 s request
        took = time.monotonic() - start
        assert took < 2.0 + 5.0, took
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
