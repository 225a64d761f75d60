"""Prometheus metrics of the payments service, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Values of ``payments_breaker_state``.
BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN = 0, 1, 2

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Every metric the service exposes on ``GET /metrics``.

    ``db_attempts`` counts every attempt to use the database, retries included: the harness
    divides its increase by the number of replayed requests to measure retry amplification.
    """

    def __init__(self, *, variant: str, with_breaker: bool) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.build = Gauge("payments_build_info", "Build of the service", ["variant"], registry=r)
        self.build.labels(variant=variant).set(1)
        self.db_attempts = Counter(
            "payments_db_attempts",
            "Attempts to use the database (pool checkout plus queries), retries included",
            registry=r,
        )
        self.db_errors = Counter(
            "payments_db_errors", "Database attempts that failed", ["reason"], registry=r
        )
        self.db_retries = Counter(
            "payments_db_retries", "Database attempts that were retries of a failed one", registry=r
        )
        self.db_connects = Counter(
            "payments_db_connects",
            "Connections the pool tried to open, by result",
            ["result"],
            registry=r,
        )
        self.requests = Counter(
            "payments_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            "payments_request_duration_seconds",
            "Time from reading a request to sending its answer, queueing included",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge(
            "payments_inflight_requests",
            "Requests read and not yet answered (waiting for a worker or being handled)",
            registry=r,
        )
        self.queued = Gauge(
            "payments_queued_requests", "Requests waiting for a free worker", registry=r
        )
        self.pool_size = Gauge(
            "payments_db_pool_connections", "Open database connections", registry=r
        )
        self.breaker_state: Gauge | None = None
        self.breaker_rejections: Counter | None = None
        if with_breaker:
            self.breaker_state = Gauge(
                "payments_breaker_state",
                "Circuit breaker state: 0 closed, 1 half-open, 2 open",
                registry=r,
            )
            self.breaker_rejections = Counter(
                "payments_breaker_rejections",
                "Requests answered 503 by the open breaker without touching the database",
                registry=r,
            )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
