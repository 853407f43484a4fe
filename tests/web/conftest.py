"""Fixtures of the web-page tests: the demo data (``data/demo``) built once per session with the fake encoder,
an app serving it, a TestClient, and a real server on a free loopback port for the browser tests.

The browser is Debian's Chromium (``apt-get install -y chromium``; ``.ci/run`` installs it); Playwright never
downloads one. Browser tests skip, saying why, where ``/usr/bin/chromium`` is absent.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from api_world import API_KEY
from fakes import HashingEncoder
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_world import ARTIFACTS, CHROMIUM, web_settings

from skillmatch.api import create_app
from skillmatch.build import build_bundle, demo_paths, read_inputs
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service


@pytest.fixture(scope="session")
def demo_service(tmp_path_factory: pytest.TempPathFactory) -> Skillmatch:
    """The demo data built into a bundle with the fake encoder (seconds), loaded."""
    out = tmp_path_factory.mktemp("web-bundle") / "demo"
    settings = web_settings()
    build_bundle(read_inputs(*demo_paths()), out, encoder=HashingEncoder(), settings=settings)
    return load_service(out, settings=settings, encoder=HashingEncoder())


@pytest.fixture()
def web_app(demo_service: Skillmatch) -> FastAPI:
    return create_app(web_settings(), demo_service)


@pytest.fixture()
def web_client(web_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(web_app) as client:
        yield client


@pytest.fixture(scope="session")
def api_key() -> str:
    return API_KEY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(demo_service: Skillmatch) -> Iterator[str]:
    """The app served by uvicorn in a thread on a free loopback port; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        create_app(web_settings(), demo_service), host="127.0.0.1", port=port, log_level="warning", workers=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Launch Debian's Chromium: Playwright must not download a browser."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install -y chromium; .ci/run installs it)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": ["--no-sandbox"]}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
