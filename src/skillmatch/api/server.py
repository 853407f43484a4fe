"""Run the API with uvicorn: :func:`serve` a bundle, or :func:`run_demo`.

:func:`run_demo` builds the demo bundle if needed, then serves it. The CLI's ``serve`` and ``demo`` commands
and ``python -m skillmatch.api`` call these.
"""

from __future__ import annotations

import logging
import logging.config
import os
from pathlib import Path
from typing import Any

import uvicorn

from skillmatch.api.logs import log_config
from skillmatch.api.protocol import http_protocol
from skillmatch.build import BuildProgress
from skillmatch.bundle import BundleError
from skillmatch.config import Settings, get_settings

log = logging.getLogger("skillmatch.api")

#: The uvicorn factory (an import string, so that several worker processes can each build the app).
APP_FACTORY = "skillmatch.api.app:app_from_env"

#: The largest request head (request line and headers) the h11 parser buffers, when it is the one in use.
H11_MAX_HEAD_BYTES = 128 * 1024

#: Where ``skillmatch demo`` builds and serves the demo bundle (relative to the working directory).
DEMO_BUNDLE = Path("models/bundles/demo")


def check_bundle_path(path: Path) -> Path:
    """The absolute bundle folder, after a quick check that it is one.

    Raises:
        BundleError: there is no ``manifest.json`` in ``path``.
    """
    path = Path(path).expanduser().resolve()
    if not (path / "manifest.json").is_file():
        raise BundleError(
            f"{path} is not a skillmatch bundle (no manifest.json); build one with 'skillmatch build'"
        )
    return path


def serve(
    bundle_path: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    *,
    log_level: str | None = None,
) -> None:
    """Serve the API on ``bundle_path`` until interrupted (blocking).

    Each worker process loads the bundle once at start-up. ``SKILLMATCH_BUNDLE`` is set to the bundle so that
    workers, and reloads without a path, find it; every other setting comes from the ``SKILLMATCH_*``
    environment.

    Raises:
        BundleError: ``bundle_path`` is not a bundle.
        ValueError: ``workers`` < 1 or invalid API settings.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    path = check_bundle_path(bundle_path)
    os.environ["SKILLMATCH_BUNDLE"] = str(path)
    settings = get_settings()
    # fail fast, in this process, on settings the app would refuse (e.g. a malformed key digest)
    from skillmatch.api.security import parse_key_hashes

    parse_key_hashes(settings.api_key_hashes)
    level = (log_level or settings.api_log_level).upper()
    config = log_config(level)
    logging.config.dictConfig(config)
    log.info("serving", extra={"bundle": str(path), "host": host, "port": port, "workers": workers})
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=config,
        log_level=level.lower(),
        **uvicorn_options(settings),
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn settings every skillmatch server runs with.

    No access log (the app logs each request itself, without query strings), no server header, proxy headers
    trusted, and a bound on shutdown: after SIGTERM, requests in flight get ``api_shutdown_timeout`` seconds,
    then they are cancelled and the process exits. The HTTP protocol is uvicorn's with JSON answers to the
    requests its parser refuses (:mod:`skillmatch.api.protocol`: a URL over 65,535 bytes gets a JSON 414); with
    the h11 parser, request heads up to 128 KiB reach the app (whose URL limit then answers).
    """
    return {
        "access_log": False,
        "proxy_headers": True,
        "server_header": False,
        "timeout_graceful_shutdown": settings.api_shutdown_timeout,
        "http": http_protocol(),
        "h11_max_incomplete_event_size": H11_MAX_HEAD_BYTES,
    }


def ensure_demo_bundle(
    out: Path = DEMO_BUNDLE,
    *,
    settings: Settings | None = None,
    rebuild: bool = False,
    progress: BuildProgress | None = None,
) -> Path:
    """Build the demo bundle (``data/demo``) at ``out`` unless one is already there; returns ``out``.

    Raises:
        FileNotFoundError: the demo data is missing.
        InputError: the demo data is invalid.
    """
    from skillmatch.build import demo_paths, read_inputs, run_build

    out = Path(out)
    if rebuild or not (out / "manifest.json").is_file():
        taxonomy, credentials, postings = demo_paths()
        inputs = read_inputs(taxonomy, credentials, postings)
        run_build(inputs, out, settings=settings or get_settings(), progress=progress)
    return out


def run_demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    out: Path = DEMO_BUNDLE,
    rebuild: bool = False,
    progress: BuildProgress | None = None,
) -> None:
    """Build the demo bundle at ``out`` if absent (or with ``rebuild``), then serve it (blocking)."""
    serve(ensure_demo_bundle(out, rebuild=rebuild, progress=progress), host=host, port=port, workers=1)
