"""Prometheus metrics of one app, in a registry of its own (so tests can build many apps in one process)."""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from skillmatch.api.state import Served
from skillmatch.encoding.factory import in_child
from skillmatch.encoding.process import ProcessEncoder

#: Content type of :meth:`Metrics.render`.
CONTENT_TYPE = CONTENT_TYPE_LATEST

#: Route label of requests that matched no route (keeps label cardinality bounded).
UNMATCHED = "<unmatched>"

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Request counts and latency per route template, and what bundle is served."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "skillmatch_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "skillmatch_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "skillmatch_http_requests_in_flight", "Requests being served.", registry=self.registry
        )
        self.bundle_info = Gauge(
            "skillmatch_bundle_info",
            "The served bundle (value 1; its description is in the labels; bundle: its folder name).",
            ["bundle", "generation", "created", "taxonomy", "taxonomy_version", "model"],
            registry=self.registry,
        )
        self.bundle_loaded = Gauge(
            "skillmatch_bundle_loaded_timestamp_seconds",
            "When the served bundle was loaded (Unix time).",
            registry=self.registry,
        )
        self.encoder_info = Gauge(
            "skillmatch_encoder_info",
            "The backend that encodes request texts and how it was chosen (value 1; setting, or auto's "
            "measurement).",
            ["backend", "chosen_by", "cpu"],
            registry=self.registry,
        )
        self.encoder_candidate_rate = Gauge(
            "skillmatch_encoder_candidate_phrases_per_second",
            "Phrases per second each candidate backend reached when auto timed it (absent when not timed).",
            ["backend", "accepted"],
            registry=self.registry,
        )
        self.encoder_process_up = Gauge(
            "skillmatch_encoder_process_up",
            "1 while request texts are encoded in a process of their own (api_encoder_process); 0 when the "
            "server encodes them in its own process (not configured, or that process ended: /ready says why).",
            registry=self.registry,
        )
        self.library_calls = Counter(
            "skillmatch_library_calls",
            "Learner gap analyses and recommendations by where they ran: event_loop (small, every text cached), "
            "event_loop_after_encoding (its new texts encoded first without blocking the event loop, then run "
            "there), thread_would_wait (tried on the event loop, then run in the thread pool: no memory cache to "
            "encode ahead into, or it would wait again), thread (not tried: too large, a CV, or "
            "api_inline_max_skills = 0).",
            ["ran"],
            registry=self.registry,
        )
        self.loads = Counter(
            "skillmatch_bundle_loads",
            "Bundles installed (loaded) or refused.",
            ["outcome"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def library_call(self, ran: str) -> None:
        """Count one library call of a route by where it ran (:mod:`skillmatch.api.offload`)."""
        self.library_calls.labels(ran).inc()

    def bundle_swapped(self, served: Served) -> None:
        """Describe the newly served bundle (the previous one's series is removed)."""
        summary = served.summary()
        self.bundle_info.clear()
        self.bundle_info.labels(
            summary["name"],  # the folder name: the metrics are public, the server's disk layout is not
            str(summary["generation"]),
            str(summary["created"] or ""),
            str(summary["taxonomy"].get("name", "")),
            str(summary["taxonomy"].get("version", "")),
            str(summary["model"].get("id", "")),
        ).set(1)
        self.bundle_loaded.set(served.loaded_at)
        self.loads.labels("loaded").inc()
        encoder = summary["encoder"]
        self.encoder_info.clear()
        self.encoder_info.labels(
            encoder["backend"], encoder["chosen_by"], str(encoder["cpu"].get("model", ""))
        ).set(1)
        child = weakref.ref(c) if (c := in_child(served.service.model_encoder)) is not None else None
        self.encoder_process_up.set_function(lambda: _process_up(child))
        self.encoder_candidate_rate.clear()
        for candidate in encoder["selection"].get("candidates", []):
            if candidate.get("phrases_per_s") is not None:
                self.encoder_candidate_rate.labels(
                    candidate["backend"], str(candidate["accepted"]).lower()
                ).set(candidate["phrases_per_s"])

    def bundle_refused(self, reason: str) -> None:
        """Count a refused bundle."""
        self.loads.labels("refused").inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of this app's metrics."""
        return generate_latest(self.registry)


def _process_up(child: weakref.ReferenceType[ProcessEncoder] | None) -> float:
    """1.0 while the encoder process of the served bundle runs, else 0.0 (held weakly: a swap drops it)."""
    encoder = child() if child is not None else None
    return 1.0 if encoder is not None and encoder.info()["state"] == "running" else 0.0
