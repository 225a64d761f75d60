"""The builds of the payments service: how each one uses the database, and its known verdict.

Under ``scenarios/db-kill.yaml`` (the database killed for 15 s, clients giving up after 2 s):

- ``v2.3.1``, in production: one attempt, a short checkout timeout, 503 at once on failure.
- ``hotfix-naive`` (FAIL): retries at once, 8 attempts, no backoff, no budget, no deadline, a
  longer checkout timeout, and keeps its worker thread the whole time. With the database gone
  each request holds a worker for about 8 x 0.25 s, the fixed worker pool fills up, and requests
  that never touch the database (``/health``, ``/catalog``) wait in the queue behind them.
- ``hotfix-safe`` (PASS): up to 4 attempts with exponential backoff and full jitter, all inside
  a 1.5 s deadline (each attempt with the production build's own timeouts), retries limited to
  10 % of recent requests, and a circuit breaker that answers 503 without touching the database
  while open.
- ``hotfix-hang`` (FAIL): retries every 0.25 s for up to 5 s, longer than the clients wait: the
  production build's fast 503 becomes a timeout.
- ``hotfix-leak`` (FAIL): like production, but a failed attempt never gives its pool slot back:
  after ten failures during the outage the pool is exhausted, and the build never recovers.
- ``hotfix-backoff`` (FAIL): 3 attempts with short jittered backoff, no budget, no breaker:
  about three times the database attempts of production while the database is down, for
  about the same latency.
- ``hotfix-slower`` (PASS): production's behaviour, each answer 5 % slower (a correct build
  whose p99 is within the default ``latency_p99`` ratio).
- ``hotfix-format`` (FAIL with a ``response_diff`` gate): production's behaviour, but the
  balance comes back as a string (``"balance_cents": "1200"``): a contract break that no error
  rate or latency shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from .resilience import BreakerSettings, BudgetSettings, RetryPolicy


@dataclass(frozen=True)
class Build:
    """One build: its retry policy, whether it leaks pool slots on errors, how much slower."""

    policy: RetryPolicy
    leak_on_error: bool = False
    slowdown: float = 0.0  # extra share of each answer's time, slept before sending it
    balance_as_text: bool = False  # answer balance_cents as a string: an API change


PRODUCTION = RetryPolicy(max_attempts=1, checkout_timeout=0.15, query_timeout=1.0)

BUILDS: dict[str, Build] = {
    "v2.3.1": Build(PRODUCTION),
    "hotfix-naive": Build(
        RetryPolicy(
            max_attempts=8,
            checkout_timeout=0.25,
            query_timeout=2.0,
            retry_writes_after_commit=True,
        )
    ),
    "hotfix-safe": Build(
        RetryPolicy(
            max_attempts=4,
            checkout_timeout=0.15,
            query_timeout=1.0,
            backoff_base=0.05,
            backoff_cap=0.4,
            jitter=True,
            deadline=1.5,
            budget=BudgetSettings(ratio=0.1, window=10.0, min_retries=3),
            breaker=BreakerSettings(failures=5, cool_down=1.0),
        )
    ),
    "hotfix-hang": Build(
        RetryPolicy(
            max_attempts=100,
            checkout_timeout=0.15,
            query_timeout=1.0,
            backoff_base=0.25,
            backoff_cap=0.25,  # a fixed pause: no backoff
            deadline=5.0,
        )
    ),
    "hotfix-leak": Build(PRODUCTION, leak_on_error=True),
    "hotfix-backoff": Build(
        RetryPolicy(
            max_attempts=3,
            checkout_timeout=0.04,
            query_timeout=1.0,
            backoff_base=0.02,
            backoff_cap=0.04,
            jitter=True,
        )
    ),
    "hotfix-slower": Build(PRODUCTION, slowdown=0.05),
    "hotfix-format": Build(PRODUCTION, balance_as_text=True),
}

#: The retry policy of each build (what other example services reuse).
VARIANTS: dict[str, RetryPolicy] = {name: build.policy for name, build in BUILDS.items()}
