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

    def __init__(self, *, variant: str, with_breaker: bool, prefix: str = "payments") -> None:
        # ``prefix`` names the service: another service built on these parts (examples/notes)
        # exposes the same metrics under its own name.
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        p = prefix
        self.build = Gauge(f"{p}_build_info", "Build of the service", ["variant"], registry=r)
        self.build.labels(variant=variant).set(1)
        self.db_attempts = Counter(
            f"{p}_db_attempts",
            "Attempts to use the database (pool checkout plus queries), retries included",
            registry=r,
        )
        self.db_errors = Counter(
            f"{p}_db_errors", "Database attempts that failed", ["reason"], registry=r
        )
        self.db_retries = Counter(
            f"{p}_db_retries", "Database attempts that were retries of a failed one", registry=r
        )
        self.db_connects = Counter(
            f"{p}_db_connects",
            "Connections the pool tried to open, by result",
            ["result"],
            registry=r,
        )
        self.requests = Counter(
            f"{p}_requests", "HTTP requests answered", ["route", "status"], registry=r
        )
        self.latency = Histogram(
            f"{p}_request_duration_seconds",
            "Time from reading a request to sending its answer, queueing included",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge(
            f"{p}_inflight_requests",
            "Requests read and not yet answered (waiting for a worker or being handled)",
            registry=r,
        )
        self.queued = Gauge(
            f"{p}_queued_requests", "Requests waiting for a free worker", registry=r
        )
        self.pool_size = Gauge(f"{p}_db_pool_connections", "Open database connections", registry=r)
        self.breaker_state: Gauge | None = None
        self.breaker_rejections: Counter | None = None
        if with_breaker:
            self.breaker_state = Gauge(
                f"{p}_breaker_state",
                "Circuit breaker state: 0 closed, 1 half-open, 2 open",
                registry=r,
            )
            self.breaker_rejections = Counter(
                f"{p}_breaker_rejections",
                "Requests answered 503 by the open breaker without touching the database",
                registry=r,
            )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
