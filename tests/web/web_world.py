"""Shared constants of the web-page tests: the browser, the artefact folder and the app settings."""

from __future__ import annotations

import os
from pathlib import Path

from api_world import api_settings

from skillmatch.config import Settings

#: Debian's Chromium (``apt-get install -y chromium``); Playwright never downloads a browser.
CHROMIUM = Path("/usr/bin/chromium")
#: Where screenshots and other artefacts of the browser tests go (CI keeps this folder).
ARTIFACTS = Path(os.environ.get("SKILLMATCH_TEST_ARTIFACTS", "test-results")) / "web"
REPO = Path(__file__).resolve().parents[2]


def web_settings() -> Settings:
    """The test API settings with limits a page session needs (a CV, a cohort file)."""
    return api_settings(
        api_max_text_chars=5000,
        api_max_skills=40,
        api_max_cohort=100,
        api_max_body_bytes=256 * 1024,
    )
