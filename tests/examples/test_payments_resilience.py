"""The retry pieces of the payments service on their own: backoff, budget, circuit breaker.

The same pieces are exercised end to end, against real PostgreSQL behind toxiproxy, in
test_payments.py; these tests pin their rules down one by one.
"""

from __future__ import annotations

import random
import time

from examples.payments.metrics import BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN, Metrics
from examples.payments.resilience import (
    BreakerSettings,
    BudgetSettings,
    CircuitBreaker,
    RetryBudget,
    RetryPolicy,
)
from examples.payments.variants import VARIANTS


def breaker_state(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("payments_breaker_state")
    assert value is not None
    return value


def test_backoff_doubles_up_to_its_cap_and_jitter_stays_below():
    policy = RetryPolicy(backoff_base=0.05, backoff_cap=0.4)
    rng = random.Random(0)
    assert [policy.backoff(n, rng) for n in range(1, 6)] == [0.05, 0.1, 0.2, 0.4, 0.4]
    jittered = RetryPolicy(backoff_base=0.05, backoff_cap=0.4, jitter=True)
    pauses = [jittered.backoff(3, rng) for _ in range(200)]
    assert all(0 <= p <= 0.2 for p in pauses)
    assert len(set(pauses)) > 100
    assert RetryPolicy().backoff(3, rng) == 0.0


def test_retry_budget_allows_a_share_of_requests_with_a_floor():
    budget = RetryBudget(BudgetSettings(ratio=0.1, window=10.0, min_retries=3))
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]
    for _ in range(100):
        budget.record_request()
    # 10 % of 100 requests: 10 retries in the window, 3 already spent
    assert sum(budget.try_spend() for _ in range(20)) == 7


def test_breaker_opens_after_consecutive_failures_and_probes_once_after_cool_down():
    metrics = Metrics(variant="hotfix-safe", with_breaker=True)
    breaker = CircuitBreaker(BreakerSettings(failures=3, cool_down=0.05), metrics)
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # a success resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert breaker_state(metrics) == BREAKER_OPEN
    assert not breaker.allow()

    time.sleep(0.06)
    assert breaker.allow()  # the one probe
    assert breaker_state(metrics) == BREAKER_HALF_OPEN
    assert not breaker.allow()  # nobody else while the probe is out
    breaker.record_failure()
    assert breaker_state(metrics) == BREAKER_OPEN
    assert not breaker.allow()

    time.sleep(0.06)
    assert breaker.allow()
    breaker.record_success()
    assert breaker_state(metrics) == BREAKER_CLOSED
    assert breaker.allow()


def test_the_three_builds_differ_only_in_how_they_retry():
    production, naive, safe = VARIANTS["v2.3.1"], VARIANTS["hotfix-naive"], VARIANTS["hotfix-safe"]
    assert production.max_attempts == 1
    assert naive.max_attempts > 1
    assert naive.checkout_timeout > production.checkout_timeout
    assert (naive.backoff_base, naive.deadline, naive.budget, naive.breaker) == (
        0,
        None,
        None,
        None,
    )
    assert safe.backoff_base > 0 and safe.jitter
    assert safe.deadline is not None and safe.budget is not None and safe.breaker is not None
    assert not safe.retry_writes_after_commit


def test_breaker_probes_before_the_cool_down_once_the_pool_has_reconnected():
    metrics = Metrics(variant="hotfix-safe", with_breaker=True)
    pool_ready = [False]
    breaker = CircuitBreaker(
        BreakerSettings(failures=1, cool_down=60.0), metrics, ready=lambda: pool_ready[0]
    )
    breaker.record_failure()
    assert not breaker.allow()
    pool_ready[0] = True
    assert breaker.allow()
    assert breaker_state(metrics) == BREAKER_HALF_OPEN
    breaker.record_success()
    assert breaker_state(metrics) == BREAKER_CLOSED
