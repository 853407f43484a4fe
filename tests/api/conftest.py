"""Fixtures of the API tests: the two bundles of :mod:`api_world` (built once per session with the fake
encoder), an app serving v1 and a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_world import API_KEY, api_settings, world
from fakes import HashingEncoder
from fastapi import FastAPI
from fastapi.testclient import TestClient

from skillmatch.api import create_app
from skillmatch.build import build_bundle
from skillmatch.facade import Skillmatch
from skillmatch.facade import load as load_service


@pytest.fixture(scope="session")
def bundle_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two bundles, v1 and v2, built once per session with the fake encoder."""
    root = tmp_path_factory.mktemp("api-bundles")
    settings = api_settings()
    out = {}
    for name, extra in (("v1", False), ("v2", True)):
        out[name] = root / name
        build_bundle(world(extra), out[name], encoder=HashingEncoder(), settings=settings)
    return out


@pytest.fixture(scope="session")
def bundle_v1(bundle_paths: dict[str, Path]) -> Skillmatch:
    return load_service(bundle_paths["v1"], settings=api_settings(), encoder=HashingEncoder())


@pytest.fixture()
def app(bundle_v1: Skillmatch) -> FastAPI:
    return create_app(api_settings(), bundle_v1)


@pytest.fixture()
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def auth() -> dict[str, str]:
    return {"X-API-Key": API_KEY}
