"""The app factory: one FastAPI app per call, with its bundle holder, metrics and settings on ``app.state``.

The bundle is loaded once, at start-up (in the lifespan, from ``settings.bundle`` / ``SKILLMATCH_BUNDLE``), unless
one is passed in; no request builds anything. ``POST /v1/admin/reload`` and SIGHUP swap in a new bundle.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from skillmatch import __version__
from skillmatch.api import web
from skillmatch.api.cancellation import RequestDeadlineMiddleware
from skillmatch.api.deps import GENERATION_HEADER
from skillmatch.api.errors import http_error, validation_error
from skillmatch.api.limits import PayloadLimits, document_limits
from skillmatch.api.middleware import JsonTooLargeMiddleware, ObservabilityMiddleware, UrlLimitMiddleware
from skillmatch.api.offload import LibraryRunner
from skillmatch.api.prometheus import Metrics
from skillmatch.api.routers import (
    API_PREFIX,
    add_common_errors,
    admin,
    cohorts,
    credentials,
    learners,
    ops,
    roles,
    skills,
)
from skillmatch.api.security import parse_key_hashes, parse_origins
from skillmatch.api.state import BundleHolder, Loader, ReloadRefused, load_service
from skillmatch.config import Settings, get_settings
from skillmatch.encoding.threads import apply_thread_settings
from skillmatch.facade import Skillmatch

log = logging.getLogger("skillmatch.api")

DESCRIPTION = """
Link free text (learning outcomes, job postings, CVs) to the skills of a taxonomy (ESCO), find roles and their
weighted skill profiles, analyse a learner's skill gap and recommend micro-credentials that close it.

Cohort and admin endpoints need an API key in the `X-API-Key` header.
"""


def _install_sighup(app: FastAPI) -> bool:
    """Reload the bundle on SIGHUP (main thread of a Unix event loop only); returns whether it is installed."""
    if not hasattr(signal, "SIGHUP"):
        return False
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            await run_in_threadpool(app.state.bundles.load, None)
        except ReloadRefused as exc:
            log.error("SIGHUP reload refused; the old bundle keeps serving", extra={"reason": str(exc)})

    def on_signal() -> None:
        task = loop.create_task(reload())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_signal)
    except (RuntimeError, ValueError, NotImplementedError):  # not the main thread (e.g. TestClient)
        return False
    app.state.sighup_tasks = tasks
    return True


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the bundle (unless one was given) before serving; SIGHUP reloads it while serving."""
    holder: BundleHolder = app.state.bundles
    # FAISS on one thread: its spinning OpenMP threads would take the cores the request threads need
    apply_thread_settings(app.state.settings, serving=True)
    if not holder.ready:
        try:
            await run_in_threadpool(holder.load, None)
        except ReloadRefused as exc:
            raise RuntimeError(f"cannot start: {exc}") from exc
    installed = app.state.settings.api_sighup_reload and _install_sighup(app)
    try:
        yield
    finally:
        if installed:
            with suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)


class SkillmatchAPI(FastAPI):
    """FastAPI whose body limiter's 413 is JSON too, and whose OpenAPI schema states the configured limits.

    The whole middleware stack is wrapped in :class:`~skillmatch.api.middleware.JsonTooLargeMiddleware`.
    """

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI schema (built once), with the app's limits and the errors every route may give.

        ``maxItems``/``maxLength`` come from the app's payload limits; every operation lists 414 and 504.
        """
        if self.openapi_schema is None:
            add_common_errors(document_limits(super().openapi(), self.state.limits))
        assert self.openapi_schema is not None
        return self.openapi_schema

    def build_middleware_stack(self) -> ASGIApp:
        """The usual stack inside :class:`~skillmatch.api.middleware.JsonTooLargeMiddleware`."""
        return JsonTooLargeMiddleware(
            super().build_middleware_stack(), self.state.settings.api_max_body_bytes
        )


def create_app(
    settings: Settings | None = None,
    service: Skillmatch | None = None,
    *,
    loader: Loader = load_service,
) -> FastAPI:
    """Build the API app.

    Args:
        settings: the settings (default: from the environment).
        service: a loaded bundle to serve from the start (default: load ``settings.bundle`` at start-up).
        loader: how bundles are loaded at start-up and on reload (tests inject one).

    Raises:
        ValueError: invalid API settings (e.g. a malformed key digest) or a bundle that cannot serve.
    """
    settings = settings or get_settings()
    if "max_body_size" not in inspect.signature(FastAPI.__init__).parameters:
        # older FastAPI accepts the keyword but ignores it: refuse rather than serve without a body limit
        raise RuntimeError("skillmatch.api needs fastapi>=0.165 (request body size limits); upgrade fastapi")
    app = SkillmatchAPI(
        title="skillmatch",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        max_body_size=settings.api_max_body_bytes,
        openapi_tags=[
            {"name": "skills", "description": "Link free text to taxonomy skills."},
            {"name": "roles", "description": "Roles and their weighted skill profiles."},
            {"name": "credentials", "description": "The micro-credential catalogue."},
            {"name": "learners", "description": "Gap analysis and recommendations for one learner."},
            {"name": "cohorts", "description": "Gap analysis for a cohort (API key)."},
            {"name": "admin", "description": "Bundle hot reload (API key)."},
            {"name": "operations", "description": "Health, readiness and metrics."},
        ],
    )
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.state.settings = settings
    app.state.api_key_hashes = parse_key_hashes(settings.api_key_hashes)
    if not app.state.api_key_hashes:
        log.warning("no API key configured: the cohort and admin endpoints refuse every request (401)")
    app.state.limits = PayloadLimits.from_settings(settings)
    app.state.metrics = metrics = Metrics()
    app.state.runner = LibraryRunner(settings.api_inline_max_skills, metrics.library_call)
    app.state.bundles = holder = BundleHolder(settings, loader)
    holder.on_swap(metrics.bundle_swapped)
    holder.on_refuse(metrics.bundle_refused)
    if service is not None:
        holder.install(service)

    for router in (
        skills.router,
        roles.router,
        credentials.router,
        learners.router,
        cohorts.router,
        admin.router,
    ):
        app.include_router(router)  # the routers carry the /v1 prefix
    app.include_router(ops.router)
    app.include_router(ops.router, prefix=API_PREFIX, include_in_schema=False)  # /v1/health etc. as aliases
    app.include_router(web.router)  # the web pages: / (learner) and /career (docs/web.md)
    app.mount("/static", web.static_files(), name="static")

    # innermost of ours: its 504 gets CORS headers, and the observability middleware logs and counts it
    app.add_middleware(RequestDeadlineMiddleware, timeout=settings.api_request_timeout)
    app.add_middleware(UrlLimitMiddleware, max_bytes=settings.api_max_url_bytes)
    origins = parse_origins(settings.api_cors_origins)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", GENERATION_HEADER],
        )
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)  # outermost: sees every answer
    return app


def app_from_env() -> FastAPI:
    """The app configured from the environment (``SKILLMATCH_*``); the uvicorn factory of the server."""
    return create_app(get_settings())
