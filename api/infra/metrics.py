"""Prometheus metrics: HTTP counters per process, and the registry `/metrics` serves.

Workers run in other processes (with Celery, on other machines), so everything about jobs,
readings and forms is counted from the database at scrape time (`metrics_db.py`). Only what
this API process itself sees (requests, uploads by outcome) lives in in-process counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from sipantau.api.infra.metrics_db import DatabaseCollector

HTTP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)


class HttpMetrics:
    """What this API process saw: requests by route template and status, uploads by outcome."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "sipantau_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "sipantau_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=HTTP_BUCKETS_S,
            registry=registry,
        )
        self.uploads = Counter(
            "sipantau_uploads",
            "Photo uploads received by this API process: new, duplicate (same photo again, "
            "answered 200), refused (4xx), error (5xx)",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("new", "duplicate", "refused", "error"):
            self.uploads.labels(outcome)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def upload(self, status: int) -> None:
        if status == 201:
            outcome = "new"
        elif status == 200:
            outcome = "duplicate"
        else:
            outcome = "refused" if status < 500 else "error"
        self.uploads.labels(outcome).inc()


def build_registry(db_url: str, ttl_s: float = 5.0) -> tuple[CollectorRegistry, HttpMetrics]:
    """A registry of its own per app (tests build several apps in one process)."""
    registry = CollectorRegistry()
    http = HttpMetrics(registry)
    registry.register(DatabaseCollector(db_url, ttl_s))
    return registry, http
