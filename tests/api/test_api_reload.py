"""Start-up loading, hot reload (endpoint and SIGHUP), refusal of bad bundles, and requests in flight."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from api_world import API_KEY, api_settings, world
from fakes import HashingEncoder
from fastapi.testclient import TestClient

from skillmatch.api import create_app, state
from skillmatch.api.state import load_service as serve_loader
from skillmatch.build import build_bundle
from skillmatch.config import Settings
from skillmatch.encoding.base import Encoder
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service

AUTH = {"X-API-Key": API_KEY}
RECOMMEND = {"roles": ["data analyst"], "skills": ["SQL", "statistics"], "max_hours": 80}


def fake_loader(path: Path, settings: Settings, current: Encoder | None) -> Skillmatch:
    return load_service(path, settings=settings, encoder=current or HashingEncoder())


def test_default_loader_reuses_the_served_encoder(bundle_paths: dict[str, Path]) -> None:
    encoder = HashingEncoder()
    service = serve_loader(bundle_paths["v2"], api_settings(), encoder)
    assert service.model_encoder is encoder and len(service.bundle.credentials) == 7
    assert service.encoder.unwrap() is encoder  # the query chain ends in the served encoder


def test_bundle_loaded_at_startup_from_settings(bundle_paths: dict[str, Path]) -> None:
    app = create_app(api_settings(bundle=bundle_paths["v2"]), loader=fake_loader)
    assert not app.state.bundles.ready
    with TestClient(app) as c:
        ready = c.get("/ready", headers=AUTH).json()
        assert ready["bundle"]["path"] == str(bundle_paths["v2"]) and ready["bundle"]["name"] == "v2"
        assert c.get("/v1/credentials/C-EXCEL").status_code == 200


def test_startup_fails_clearly_without_a_usable_bundle(tmp_path: Path) -> None:
    app = create_app(api_settings(bundle=tmp_path), loader=fake_loader)
    with pytest.raises(RuntimeError, match=r"cannot start: .*not a skillmatch bundle"), TestClient(app):
        pass
    with pytest.raises(RuntimeError, match="SKILLMATCH_BUNDLE"), TestClient(create_app(api_settings())):
        pass


def test_reload_swaps_bundle(client: TestClient, bundle_paths: dict[str, Path]) -> None:
    assert client.get("/v1/credentials/C-EXCEL").status_code == 404
    r = client.post("/v1/admin/reload", json={"bundle": str(bundle_paths["v2"])}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "reloaded"
    assert body["previous"]["generation"] == 1 and body["current"]["generation"] == 2
    assert (
        body["current"]["path"] == str(bundle_paths["v2"]) and body["current"]["counts"]["credentials"] == 7
    )
    detail = client.get("/v1/credentials/C-EXCEL")
    assert detail.status_code == 200 and detail.headers["x-bundle-generation"] == "2"
    assert client.get("/ready").json()["bundle"]["generation"] == 2
    # no body: the served folder again
    again = client.post("/v1/admin/reload", headers=AUTH).json()
    assert again["current"]["path"] == str(bundle_paths["v2"]) and again["current"]["generation"] == 3
    metrics = client.get("/metrics").text
    assert 'skillmatch_bundle_loads_total{outcome="loaded"} 3.0' in metrics
    assert 'generation="3"' in metrics and 'generation="1"' not in metrics


def _refused(client: TestClient, path: Path, needle: str) -> None:
    r = client.post("/v1/admin/reload", json={"bundle": str(path)}, headers=AUTH)
    assert r.status_code == 409, r.text
    assert needle in r.json()["detail"]
    ready = client.get("/ready").json()["bundle"]
    assert ready["generation"] == 1 and ready["name"] == "v1"
    assert client.post("/v1/recommendations", json=RECOMMEND).status_code == 200


def test_reload_refuses_a_folder_that_is_no_bundle(client: TestClient, tmp_path: Path) -> None:
    _refused(
        client,
        tmp_path / "missing",
        "not a skillmatch bundle (no manifest.json); build one with 'skillmatch build'",
    )
    assert 'skillmatch_bundle_loads_total{outcome="refused"} 1.0' in client.get("/metrics").text


def test_reload_refuses_a_damaged_bundle(
    client: TestClient, bundle_paths: dict[str, Path], tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(bundle_paths["v2"], damaged)
    with (damaged / "credentials.parquet").open("ab") as fh:
        fh.write(b"garbage")
    _refused(client, damaged, "checksum")


def test_reload_refuses_a_bundle_that_fails_validation(client: TestClient, tmp_path: Path) -> None:
    no_roles = tmp_path / "no-roles"
    build_bundle(world(True), no_roles, encoder=HashingEncoder(), settings=api_settings())
    manifest = json.loads((no_roles / "manifest.json").read_text())
    del manifest["files"]["roles.parquet"]
    (no_roles / "manifest.json").write_text(json.dumps(manifest))
    (no_roles / "roles.parquet").unlink()
    _refused(client, no_roles, "bundle files missing: roles.parquet")


def test_reload_validates_body(client: TestClient) -> None:
    r = client.post("/v1/admin/reload", json={"bundle": ""}, headers=AUTH)
    assert r.status_code == 422
    r = client.post("/v1/admin/reload", json={"path": "x"}, headers=AUTH)
    assert r.status_code == 422


class GateEncoder(HashingEncoder):
    """Blocks while encoding the text "HOLD" until released, to keep a request in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def encode(self, texts: Sequence[str], *, progress: object = None) -> np.ndarray:
        if "HOLD" in texts:
            self.entered.set()
            assert self.release.wait(10), "never released"
        return super().encode(texts, progress=progress)


def test_request_in_flight_finishes_on_the_old_bundle(bundle_paths: dict[str, Path]) -> None:
    gate = GateEncoder()
    bundle = load_service(bundle_paths["v1"], settings=api_settings(), encoder=gate)
    app = create_app(api_settings(), bundle)
    with TestClient(app) as c:
        answers: dict[str, object] = {}

        def in_flight() -> None:
            answers["slow"] = c.post("/v1/skills/extract", json={"texts": ["HOLD"]})

        thread = threading.Thread(target=in_flight)
        thread.start()
        assert gate.entered.wait(10)
        reload = c.post("/v1/admin/reload", json={"bundle": str(bundle_paths["v2"])}, headers=AUTH)
        assert reload.status_code == 200
        fresh = c.post("/v1/skills/extract", json={"texts": ["SQL"]})
        assert fresh.headers["x-bundle-generation"] == "2"
        gate.release.set()
        thread.join(10)
        slow = answers["slow"]
        assert slow.status_code == 200  # type: ignore[attr-defined]
        assert slow.headers["x-bundle-generation"] == "1"  # type: ignore[attr-defined]


def test_reload_under_concurrent_requests_loses_none(
    client: TestClient, bundle_paths: dict[str, Path]
) -> None:
    stop = threading.Event()
    failures: list[str] = []
    seen: list[list[int]] = []

    def hammer() -> None:
        generations: list[int] = []
        seen.append(generations)
        while not stop.is_set():
            r = client.post("/v1/recommendations", json=RECOMMEND)
            if r.status_code != 200 or not r.json()["pathway"]:
                failures.append(f"{r.status_code}: {r.text[:200]}")
            generations.append(int(r.headers.get("x-bundle-generation", -1)))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(6):
            time.sleep(0.05)
            target = bundle_paths["v2" if i % 2 == 0 else "v1"]
            r = client.post("/v1/admin/reload", json={"bundle": str(target)}, headers=AUTH)
            assert r.status_code == 200, r.text
        time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not failures, failures[:3]
    assert sum(len(g) for g in seen) >= 20
    for generations in seen:  # each client sees bundles in swap order, never an older one again
        assert generations == sorted(generations)
    assert max(max(g) for g in seen if g) == 7
    assert client.get("/ready").json()["bundle"]["generation"] == 7


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP is POSIX-only")
def test_sighup_reloads_the_bundle(bundle_paths: dict[str, Path]) -> None:
    app = create_app(api_settings(bundle=bundle_paths["v1"], api_sighup_reload=True), loader=fake_loader)
    holder = app.state.bundles

    async def scenario() -> int:
        async with app.router.lifespan_context(app):
            assert holder.current.generation == 1
            os.kill(os.getpid(), signal.SIGHUP)
            for _ in range(200):
                if holder.current.generation == 2:
                    break
                await asyncio.sleep(0.02)
            return holder.current.generation

    previous = signal.getsignal(signal.SIGHUP)
    try:
        assert asyncio.run(scenario()) == 2
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert holder.current.bundle.path == bundle_paths["v1"]


@pytest.mark.parametrize("freeze", [True, False])
def test_each_installed_bundle_settles_the_heap(
    monkeypatch: pytest.MonkeyPatch, bundle_paths: dict[str, Path], freeze: bool
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(state, "settle_heap", lambda: calls.append(1))
    app = create_app(api_settings(bundle=bundle_paths["v1"], api_gc_freeze=freeze), loader=fake_loader)
    with TestClient(app) as c:
        assert len(calls) == (1 if freeze else 0)
        r = c.post("/v1/admin/reload", json={"bundle": str(bundle_paths["v2"])}, headers=AUTH)
        assert r.status_code == 200, r.text
        assert len(calls) == (2 if freeze else 0)
