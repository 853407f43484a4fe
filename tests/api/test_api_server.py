"""The server helpers: bundle checks, demo bundle reuse, and the ``python -m skillmatch.api`` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skillmatch.api import protocol, server
from skillmatch.bundle import BundleError


def test_check_bundle_path(bundle_paths: dict[str, Path], tmp_path: Path) -> None:
    assert server.check_bundle_path(bundle_paths["v1"]) == bundle_paths["v1"].resolve()
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        server.check_bundle_path(tmp_path)


def test_serve_refuses_bad_arguments_before_starting(
    bundle_paths: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    monkeypatch.setattr(server.uvicorn, "run", lambda *a, **k: started.append((a, k)))
    with pytest.raises(ValueError, match="workers must be >= 1"):
        server.serve(bundle_paths["v1"], workers=0)
    with pytest.raises(BundleError, match="not a skillmatch bundle"):
        server.serve(tmp_path)
    monkeypatch.setenv("SKILLMATCH_API_KEY_HASHES", "plain-key")
    with pytest.raises(ValueError, match="SKILLMATCH_API_KEY_HASHES entry 1"):
        server.serve(bundle_paths["v1"])
    assert started == []


def test_serve_runs_the_factory_with_json_logs(
    bundle_paths: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[tuple, dict]] = []
    configs: list[dict] = []
    monkeypatch.setattr(server.uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setattr(server.logging.config, "dictConfig", configs.append)  # keep pytest's log capture
    monkeypatch.delenv("SKILLMATCH_API_KEY_HASHES", raising=False)
    monkeypatch.setenv("SKILLMATCH_BUNDLE", "/elsewhere")
    server.serve(bundle_paths["v1"], host="0.0.0.0", port=9000, workers=3)
    [(args, kwargs)] = calls
    assert args == (server.APP_FACTORY,) and kwargs["factory"] is True
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("0.0.0.0", 9000, 3)
    assert kwargs["access_log"] is False
    assert kwargs["log_config"]["formatters"]["json"]["()"].__name__ == "JsonFormatter"
    assert configs == [kwargs["log_config"]]
    assert os.environ["SKILLMATCH_BUNDLE"] == str(bundle_paths["v1"].resolve())


def test_demo_bundle_is_not_rebuilt_when_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "manifest.json").write_text("{}")
    monkeypatch.setenv("SKILLMATCH_DEMO_DIR", str(tmp_path / "no-demo-data"))
    assert server.ensure_demo_bundle(tmp_path) == tmp_path  # present: nothing read, nothing built
    with pytest.raises(FileNotFoundError, match="demo file taxonomy"):
        server.ensure_demo_bundle(tmp_path, rebuild=True)


def test_module_entry_point_fails_clearly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKILLMATCH_")}
    missing = subprocess.run(
        [sys.executable, "-m", "skillmatch.api"], env=env, capture_output=True, text=True, timeout=120
    )
    assert missing.returncode == 1 and "set SKILLMATCH_BUNDLE" in missing.stderr
    env["SKILLMATCH_BUNDLE"] = str(tmp_path)
    bad = subprocess.run(
        [sys.executable, "-m", "skillmatch.api"], env=env, capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and "not a skillmatch bundle" in bad.stderr


class _Transport:
    """Collects what a protocol writes."""

    def __init__(self) -> None:
        self.data = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize("name", ["JsonH11Protocol", "JsonHttpToolsProtocol"])
@pytest.mark.parametrize(("url_bytes", "status"), [(100, 400), (70_000, 414)])
def test_requests_the_parser_refuses_get_json(name: str, url_bytes: int, status: int) -> None:
    protocol_class = getattr(protocol, name)
    handler = protocol_class.__new__(protocol_class)  # only the refusal is exercised: no connection needed
    handler.transport = _Transport()
    handler.url = b"/" + b"a" * (url_bytes - 1)
    handler.send_400_response("Invalid HTTP request received.")
    head, _, body = handler.transport.data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {status} ") and handler.transport.closed
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    assert headers["content-type"] == "application/json" and int(headers["content-length"]) == len(body)
    answer = json.loads(body)
    assert answer["request_id"] == headers["x-request-id"]
    assert ("65535" in answer["detail"]) == (status == 414)


def test_the_server_runs_the_json_refusing_protocol() -> None:
    options = server.uvicorn_options(server.get_settings())
    assert options["http"] is protocol.http_protocol() is protocol.JsonHttpToolsProtocol
    assert issubclass(options["http"], protocol.JsonErrorsMixin)
