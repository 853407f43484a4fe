"""The HTTP API of skillmatch: a thin FastAPI layer over the library (see docs/api.md)."""

from __future__ import annotations

from skillmatch.api.app import create_app

__all__ = ["create_app"]
