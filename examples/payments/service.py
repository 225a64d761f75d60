"""Command line of the payments service: parse options, wire the parts, serve until SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from .handlers import App, timed_answer
from .metrics import Metrics
from .pool import ConnectionPool
from .resilience import DatabaseCaller
from .serving import log_to_stdout, serve_until_signalled
from .variants import BUILDS

log = logging.getLogger("payments")

CATALOG = Path(__file__).with_name("catalog.json")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="payments",
        description="Payments demo service: a payments API on PostgreSQL, in eight builds.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any)")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("PAYMENTS_DSN"),
        help="PostgreSQL connection string (default: $PAYMENTS_DSN)",
    )
    parser.add_argument(
        "--variant",
        choices=sorted(BUILDS),
        default=os.environ.get("PAYMENTS_VARIANT", "v2.3.1"),
        help="which build to run (default: $PAYMENTS_VARIANT or v2.3.1)",
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
    parser.add_argument(
        "--reconnect-interval",
        type=float,
        default=0.05,
        help="seconds between connection attempts while the database is unreachable",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the retry jitter")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument(
        "--grace", type=float, default=5.0, help="seconds to finish requests on SIGTERM"
    )
    args = parser.parse_args(argv)
    if not args.dsn:
        parser.error("--dsn (or $PAYMENTS_DSN) is required")
    if args.workers < 1 or args.pool_max < 1 or args.pool_min > args.pool_max:
        parser.error("need --workers >= 1 and 0 <= --pool-min <= --pool-max")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; the exit code."""
    args = parse_args(argv)
    log_to_stdout()
    build = BUILDS[args.variant]
    policy = build.policy
    catalog = json.dumps(json.loads(CATALOG.read_text()), separators=(",", ":")).encode()
    metrics = Metrics(variant=args.variant, with_breaker=policy.breaker is not None)
    pool = ConnectionPool(
        args.dsn,
        metrics,
        min_size=args.pool_min,
        max_size=args.pool_max,
        reconnect_interval=args.reconnect_interval,
        leak_on_error=build.leak_on_error,
    )
    app = App(
        variant=args.variant,
        caller=DatabaseCaller(pool, policy, metrics, seed=args.seed),
        metrics=metrics,
        catalog=catalog + b"\n",
        access_log=args.access_log,
        slowdown=build.slowdown,
        balance_as_text=build.balance_as_text,
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
        listening=lambda host, port: (
            f"payments {args.variant} listening on http://{host}:{port} ({args.workers} "
            f"workers, queue {args.queue_limit}, pool {args.pool_min}-{args.pool_max})"
        ),
    )
