"""The three builds of the payments service and how each one retries.

- ``v2.3.1``, in production: one attempt, a short checkout timeout, 503 at once on failure.
- ``hotfix-naive``: retries at once, 8 attempts, no backoff, no budget, no deadline, a longer
  checkout timeout, and keeps its worker thread the whole time. With the database gone each
  request holds a worker for about 8 x 0.25 s, the fixed worker pool fills up, and requests
  that never touch the database (``/health``, ``/catalog``) wait in the queue behind them.
- ``hotfix-safe``: up to 4 attempts with exponential backoff and full jitter, all inside a 1.5 s
  deadline (each attempt with the production build's own timeouts), retries limited to 10 % of
  recent requests, and a circuit breaker that answers 503 without touching the database while
  open.
"""

from __future__ import annotations

from .resilience import BreakerSettings, BudgetSettings, RetryPolicy

VARIANTS: dict[str, RetryPolicy] = {
    "v2.3.1": RetryPolicy(max_attempts=1, checkout_timeout=0.15, query_timeout=1.0),
    "hotfix-naive": RetryPolicy(
        max_attempts=8,
        checkout_timeout=0.25,
        query_timeout=2.0,
        retry_writes_after_commit=True,
    ),
    "hotfix-safe": RetryPolicy(
        max_attempts=4,
        checkout_timeout=0.15,
        query_timeout=1.0,
        backoff_base=0.05,
        backoff_cap=0.4,
        jitter=True,
        deadline=1.5,
        budget=BudgetSettings(ratio=0.1, window=10.0, min_retries=3),
        breaker=BreakerSettings(failures=5, cool_down=1.0),
    ),
}
