"""How a build uses the database when it fails: retries, backoff, budget, circuit breaker.

:class:`DatabaseCaller` runs one unit of database work for one request under a build's
:class:`RetryPolicy`. Every attempt, retries included, increments ``payments_db_attempts_total``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import psycopg

from .metrics import BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN, Metrics
from .pool import ConnectionPool, DatabaseUnavailable

log = logging.getLogger("payments.resilience")

T = TypeVar("T")


@dataclass(frozen=True)
class BreakerSettings:
    """Open after ``failures`` consecutive failures; probe again after ``cool_down`` seconds.

    A request that finds the breaker open waits up to ``recovery_wait`` seconds (touching no
    database) for the pool to reconnect before it answers 503: like the production build's
    short checkout wait, this lets requests that arrive as the database returns succeed.
    """

    failures: int = 5
    cool_down: float = 1.0
    recovery_wait: float = 0.1


@dataclass(frozen=True)
class BudgetSettings:
    """Retries may be at most ``ratio`` of the requests of the last ``window`` seconds.

    ``min_retries`` retries per window are always allowed, so a quiet service can still retry.
    """

    ratio: float = 0.1
    window: float = 10.0
    min_retries: int = 3


@dataclass(frozen=True)
class RetryPolicy:
    """What one build does when an attempt to use the database fails.

    ``checkout_timeout`` bounds the wait for a pooled connection, ``query_timeout`` one attempt.
    Between attempts the build sleeps ``backoff_base * 2**(n-1)`` (capped, with full jitter
    when ``jitter``; no sleep when ``backoff_base`` is 0). ``deadline`` bounds all attempts of
    one request. ``retry_writes_after_commit`` retries a write whose commit may have happened.
    """

    max_attempts: int = 1
    checkout_timeout: float = 0.15
    query_timeout: float = 1.0
    backoff_base: float = 0.0
    backoff_cap: float = 0.0
    jitter: bool = False
    deadline: float | None = None
    retry_writes_after_commit: bool = False
    budget: BudgetSettings | None = None
    breaker: BreakerSettings | None = None

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """The sleep after failed attempt number ``attempt`` (1-based)."""
        if self.backoff_base <= 0:
            return 0.0
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return rng.uniform(0, ceiling) if self.jitter else ceiling


class RetryBudget:
    """Counts requests and retries over a sliding window of one-second buckets."""

    def __init__(self, settings: BudgetSettings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._requests: deque[float] = deque()
        self._retries: deque[float] = deque()

    def record_request(self) -> None:
        with self._lock:
            self._requests.append(time.monotonic())

    def try_spend(self) -> bool:
        """Take one retry from the budget; false when the budget is used up."""
        now = time.monotonic()
        with self._lock:
            for events in (self._requests, self._retries):
                while events and events[0] < now - self._settings.window:
                    events.popleft()
            allowed = max(self._settings.min_retries, self._settings.ratio * len(self._requests))
            if len(self._retries) >= allowed:
                return False
            self._retries.append(now)
            return True


class CircuitBreaker:
    """Closed -> open after N consecutive failures -> half-open after a cool-down -> closed.

    While open, :meth:`allow` refuses at once. Half-open lets exactly one probe through; its
    success closes the breaker, its failure opens it again. ``ready`` (the pool holds an idle
    connection, i.e. its connector reached the database again) ends the cool-down early, so
    the build does not keep refusing for a whole cool-down after the database is back.
    """

    def __init__(
        self,
        settings: BreakerSettings,
        metrics: Metrics,
        ready: Callable[[], bool] = lambda: False,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._ready = ready
        self._lock = threading.Lock()
        self._state = BREAKER_CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_out = False
        self._show()

    def allow(self) -> bool:
        with self._lock:
            if self._state == BREAKER_CLOSED:
                return True
            if self._state == BREAKER_OPEN:
                cooling = time.monotonic() - self._opened_at < self._settings.cool_down
                if cooling and not self._ready():
                    return False
                self._set(BREAKER_HALF_OPEN)
            if self._probe_out:
                return False
            self._probe_out = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._probe_out = False
            if self._state != BREAKER_CLOSED:
                self._set(BREAKER_CLOSED)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._state == BREAKER_HALF_OPEN or (
                self._state == BREAKER_CLOSED and self._failures >= self._settings.failures
            ):
                self._probe_out = False
                self._opened_at = time.monotonic()
                self._set(BREAKER_OPEN)

    def _set(self, state: int) -> None:
        names = {BREAKER_CLOSED: "closed", BREAKER_HALF_OPEN: "half-open", BREAKER_OPEN: "open"}
        log.warning("circuit breaker %s", names[state])
        self._state = state
        self._show()

    def _show(self) -> None:
        if self._metrics.breaker_state is not None:
            self._metrics.breaker_state.set(self._state)


class DatabaseCaller:
    """Runs a request's database work with the retries of one build."""

    def __init__(
        self, pool: ConnectionPool, policy: RetryPolicy, metrics: Metrics, *, seed: int = 0
    ) -> None:
        self._pool = pool
        self._policy = policy
        self._metrics = metrics
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._budget = RetryBudget(policy.budget) if policy.budget else None
        self._breaker = (
            CircuitBreaker(policy.breaker, metrics, ready=pool.has_idle_connection)
            if policy.breaker
            else None
        )

    def run(self, work: Callable[[psycopg.Connection[tuple[object, ...]]], T]) -> T:
        """Run ``work`` on a pooled connection; :class:`DatabaseUnavailable` when it cannot."""
        policy = self._policy
        started = time.monotonic()
        deadline = started + policy.deadline if policy.deadline is not None else None
        if self._budget is not None:
            self._budget.record_request()
        attempt = 0
        while True:
            if self._breaker is not None and not self._breaker_allows(deadline):
                if self._metrics.breaker_rejections is not None:
                    self._metrics.breaker_rejections.inc()
                raise DatabaseUnavailable("circuit_open")
            attempt += 1
            checkout_timeout, query_timeout = policy.checkout_timeout, policy.query_timeout
            if deadline is not None:
                remaining = deadline - time.monotonic()
                checkout_timeout = min(checkout_timeout, remaining)
                query_timeout = min(query_timeout, remaining)
            self._metrics.db_attempts.inc()
            if attempt > 1:
                self._metrics.db_retries.inc()
            try:
                with self._pool.connection(checkout_timeout, query_timeout) as conn:
                    result = work(conn)
            except DatabaseUnavailable as exc:
                self._metrics.db_errors.labels(reason=exc.reason).inc()
                if self._breaker is not None:
                    self._breaker.record_failure()
                if not self._may_retry(exc, attempt, deadline):
                    raise
                continue
            except Exception:
                # The database answered (a bug or a constraint, not an outage): for the breaker
                # that is a success, and a half-open probe must not stay out forever.
                if self._breaker is not None:
                    self._breaker.record_success()
                raise
            if self._breaker is not None:
                self._breaker.record_success()
            return result

    def _breaker_allows(self, deadline: float | None) -> bool:
        assert self._breaker is not None and self._policy.breaker is not None
        until = time.monotonic() + self._policy.breaker.recovery_wait
        if deadline is not None:
            until = min(until, deadline)
        while not self._breaker.allow():
            if time.monotonic() >= until:
                return False
            time.sleep(0.01)  # a poll: the pool reconnecting is not an event the breaker hears
        return True

    def _may_retry(self, exc: DatabaseUnavailable, attempt: int, deadline: float | None) -> bool:
        policy = self._policy
        if attempt >= policy.max_attempts:
            return False
        if exc.maybe_committed and not policy.retry_writes_after_commit:
            return False
        with self._rng_lock:
            pause = policy.backoff(attempt, self._rng)
        # Leave room for at least a short checkout after the pause, or do not retry at all.
        if deadline is not None and time.monotonic() + pause + 0.01 >= deadline:
            return False
        if self._budget is not None and not self._budget.try_spend():
            return False
        if pause > 0:
            time.sleep(pause)
        return True
