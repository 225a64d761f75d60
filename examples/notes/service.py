"""Command line of the notes service: parse options, wire the parts, serve until SIGTERM.

The builds reuse the payments service's retry policies: ``v1.8.0`` (production) fails fast
like ``v2.3.1``, ``hotfix-naive`` retries at once without backoff (a retry storm),
``hotfix-safe`` backs off within a deadline behind a budget and a circuit breaker.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from ..payments.metrics import Metrics
from ..payments.pool import ConnectionPool
from ..payments.resilience import DatabaseCaller, RetryPolicy
from ..payments.serving import log_to_stdout, serve_until_signalled
from ..payments.variants import VARIANTS as PAYMENTS_VARIANTS
from .handler import App, timed_answer

log = logging.getLogger("notes")

VARIANTS: dict[str, RetryPolicy] = {
    "v1.8.0": PAYMENTS_VARIANTS["v2.3.1"],
    "hotfix-naive": PAYMENTS_VARIANTS["hotfix-naive"],
    "hotfix-safe": PAYMENTS_VARIANTS["hotfix-safe"],
}
DEFAULT_SECRET = "notes-staging-secret"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="notes",
        description="Notes example service: JSON API with tokens, pages with cookie sessions"
        " and CSRF tokens, on PostgreSQL, in three builds.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any)")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("NOTES_DSN"),
        help="PostgreSQL connection string (default: $NOTES_DSN)",
    )
    parser.add_argument(
        "--variant",
        choices=sorted(VARIANTS),
        default=os.environ.get("NOTES_VARIANT", "v1.8.0"),
        help="which build to run (default: $NOTES_VARIANT or v1.8.0)",
    )
    parser.add_argument(
        "--secret-env",
        default="NOTES_SECRET",
        help="environment variable holding the key that signs API tokens (HS256); when it is"
        f" unset the key is {DEFAULT_SECRET!r} (default: NOTES_SECRET)",
    )
    parser.add_argument("--workers", type=int, default=32, help="worker threads (default 32)")
    parser.add_argument(
        "--queue-limit",
        type=int,
        default=64,
        help="requests that may wait for a worker; more are answered 503 (default 64)",
    )
    parser.add_argument("--pool-min", type=int, default=2, help="connections kept open")
    parser.add_argument("--pool-max", type=int, default=10, help="most connections at once")
    parser.add_argument("--seed", type=int, default=0, help="seed of the retry jitter")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--grace", type=float, default=5.0, help="seconds to finish requests on SIGTERM"
    )
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error("--dsn (or $NOTES_DSN) is required")
    if args.workers < 1 or args.pool_max < 1 or args.pool_min > args.pool_max:
        parser.error("need --workers >= 1 and 0 <= --pool-min <= --pool-max")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; the exit code."""
    args = parse_args(argv)
    log_to_stdout()
    policy = VARIANTS[args.variant]
    metrics = Metrics(variant=args.variant, with_breaker=policy.breaker is not None, prefix="notes")
    pool = ConnectionPool(args.dsn, metrics, min_size=args.pool_min, max_size=args.pool_max)
    app = App(
        variant=args.variant,
        caller=DatabaseCaller(pool, policy, metrics, seed=args.seed),
        metrics=metrics,
        secret=os.environ.get(args.secret_env) or DEFAULT_SECRET,
        access_log=args.access_log,
    )
    return serve_until_signalled(
        host=args.host,
        port=args.port,
        workers=args.workers,
        queue_limit=args.queue_limit,
        answer=lambda raw, client, received, shed: timed_answer(
            raw, client, app, received, overloaded=shed
        ),
        metrics=metrics,
        pool=pool,
        grace=args.grace,
        log=log,
        listening=lambda host, port: f"notes {args.variant} listening on http://{host}:{port}",
    )
