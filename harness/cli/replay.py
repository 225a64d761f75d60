"""``harness replay CAPTURE --target NAME=URL ... -o RUN_DIR``: replay a capture, no faults.

Exit 0 when the run is valid, 2 on bad usage, 3 on a bad capture, 4 when a target refused every
connection or the workers failed, 5 when the load generator could not hold the schedule (the
results are written either way), 130/143 when interrupted (partial results are written).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.locust_options import PROCESSES_HELP, add_locust_options, locust_options
from harness.cli.session_options import add_ordering_option
from harness.errors import EXIT_PASS, Interrupted, RunInvalid, TargetError

if TYPE_CHECKING:
    from harness.replay import ReplayResult


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _duration(text: str) -> float:
    from harness.scenario.durations import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return seconds


def _target(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not name or not url:
        raise argparse.ArgumentTypeError(
            f"write NAME=URL, e.g. baseline=http://127.0.0.1:8001, got {text!r}"
        )
    return name, url


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``replay`` command."""
    parser = sub.add_parser(
        "replay",
        help="replay a capture to one or more targets on the captured schedule (no faults)",
        description=(
            "Replay CAPTURE to every --target at the captured times divided by --speed (open "
            "workload: a slow target does not slow the sender; by default a request that waited "
            "for its session's previous answer in the capture waits for it again, see "
            "--ordering). Writes requests.parquet and manifest.json into RUN_DIR. Exit 5 when "
            "send lag or CPU saturation make the run invalid, 4 when a target refused every "
            "connection."
        ),
    )
    parser.add_argument("capture", type=Path, metavar="CAPTURE", help="a *.capture.parquet file")
    parser.add_argument(
        "--target",
        "-t",
        type=_target,
        action="append",
        required=True,
        metavar="NAME=URL",
        help="a target to replay to (repeat for several); only http(s)://host[:port]",
    )
    parser.add_argument("--speed", type=_positive, default=1.0, help="speed factor (default 1)")
    parser.add_argument(
        "--duration",
        type=_duration,
        default=None,
        metavar="D",
        help="stop the schedule after D (500ms, 20s, 2m)",
    )
    parser.add_argument("--loop", action="store_true", help="repeat the capture until --duration")
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        metavar="N",
        help=PROCESSES_HELP,
    )
    parser.add_argument(
        "--timeout",
        type=_duration,
        default=10.0,
        metavar="S",
        help="per-request timeout (default 10s); a request still unanswered then is a timeout",
    )
    parser.add_argument(
        "--lag-bound-ms",
        type=_positive,
        default=None,
        metavar="B",
        help="send lag p99 above B ms makes the run invalid (default: a bound that scales with "
        "the capture's timing, 10 ms at least; see docs/metrics-and-gates.md)",
    )
    parser.add_argument(
        "--start-delay",
        type=_duration,
        default=2.0,
        metavar="D",
        help="time between starting the workers and t0 (default 2s)",
    )
    parser.add_argument(
        "--inject-header",
        action="append",
        default=[],
        metavar="[TARGET:]HEADER=ENV_VAR",
        help="add HEADER, valued from the environment variable ENV_VAR, to every request (of "
        "TARGET only, when given), replacing a captured header of that name: staging "
        "credentials stay out of the command line",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=None,
        metavar="N",
        help="connections to each target over all worker processes (default: as many as the "
        "captured traffic can have in flight within one timeout, so no send waits for one); a "
        "send that waits for a connection is late by that wait (row column queue_ms)",
    )
    parser.add_argument(
        "--keep-response-bytes",
        type=int,
        default=0,
        metavar="B",
        help="write responses.parquet: each response's status, headers and first B bytes of "
        "body (default 0: none)",
    )
    parser.add_argument(
        "--allow-original-host",
        action="store_true",
        help="allow a target whose host is the capture's original (production) host",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="RUN_DIR",
        help="the run directory to write (requests.parquet, manifest.json)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no live progress (CI)")
    add_locust_options(parser)
    add_ordering_option(parser, scenario=False)
    group = parser.add_argument_group("distributed mode (Locust master/worker)")
    group.add_argument(
        "--master",
        action="store_true",
        help="run a Locust master and hand the shards to `harness worker` processes",
    )
    group.add_argument(
        "--expect-workers",
        type=int,
        default=1,
        metavar="K",
        help="how many `harness worker` processes to wait for before t0 (default 1)",
    )
    group.add_argument(
        "--master-bind-host",
        default="127.0.0.1",
        metavar="H",
        help="address the master listens on for workers (default 127.0.0.1)",
    )
    group.add_argument(
        "--master-port",
        type=int,
        default=5557,
        metavar="P",
        help="port the master listens on for workers (default 5557)",
    )
    group.add_argument(
        "--expect-workers-timeout",
        type=_duration,
        default=60.0,
        metavar="D",
        help="how long to wait for the workers to connect (default 60s)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from harness.cli.progress import live_progress
    from harness.errors import UsageError
    from harness.replay import MasterOptions, ReplayOptions, ReplayTarget, replay
    from harness.workflows.signals import signals_to_stop

    if args.processes is not None and args.processes < 1:
        raise UsageError(f"--processes must be >= 1, got {args.processes}")
    if args.expect_workers < 1:
        raise UsageError(f"--expect-workers must be >= 1, got {args.expect_workers}")
    if args.max_connections is not None and args.max_connections < 1:
        raise UsageError(f"--max-connections must be >= 1, got {args.max_connections}")
    if args.keep_response_bytes < 0:
        raise UsageError(f"--keep-response-bytes must be >= 0, got {args.keep_response_bytes}")
    injected = _injected_headers(args.inject_header, [name for name, _ in args.target])
    targets = [ReplayTarget(name, url, injected.get(name, {})) for name, url in args.target]
    master = None
    if args.master:
        master = MasterOptions(
            bind_host=args.master_bind_host,
            port=args.master_port,
            expect_workers=args.expect_workers,
            wait_s=args.expect_workers_timeout,
        )
    options = ReplayOptions(
        speed=args.speed,
        duration_s=args.duration,
        loop=args.loop,
        processes=args.processes,
        timeout_s=args.timeout,
        lag_bound_ms=args.lag_bound_ms,
        start_delay_s=args.start_delay,
        allow_original_host=args.allow_original_host,
        master=master,
        max_connections=args.max_connections,
        keep_response_bytes=args.keep_response_bytes,
        locust=locust_options(args),
        ordering=args.ordering,
    )
    if args.web:
        print(f"Locust web UI: http://{args.web}", file=sys.stderr, flush=True)
    with (
        signals_to_stop() as (stop, received),
        live_progress(args.quiet, [t.name for t in targets]) as on_progress,
    ):
        result = replay(
            args.capture, targets, args.output, options, on_progress=on_progress, stop=stop
        )
    print(result.run_dir)
    print(summary_line(result))
    print_warnings(result)
    return _exit(result, received)


def _injected_headers(specs: list[str], names: list[str]) -> dict[str, dict[str, str]]:
    """``[TARGET:]HEADER=ENV_VAR`` options -> headers per target, read from the environment."""
    import os

    from harness.errors import UsageError

    out: dict[str, dict[str, str]] = {name: {} for name in names}
    for spec in specs:
        head, sep, variable = spec.partition("=")
        target, colon, header = head.rpartition(":")
        if not sep or not header or not variable or (colon and target not in names):
            raise UsageError(
                f"--inject-header {spec!r}: write [TARGET:]HEADER=ENV_VAR with TARGET one of "
                f"{', '.join(names)}"
            )
        value = os.environ.get(variable)
        if value is None:
            raise UsageError(
                f"--inject-header {spec!r}: environment variable {variable} is not set"
            )
        for name in [target] if colon else names:
            out[name][header] = value
    return out


def _exit(result: ReplayResult, received: list[int]) -> int:
    if received:
        raise Interrupted(f"replay interrupted; partial results in {result.run_dir}", received[0])
    for name, counts in result.targets.items():
        if counts.sent and counts.answered == 0 and counts.errors.get("refused", 0) == counts.sent:
            raise TargetError(
                f"target {name!r} refused every connection ({counts.sent} requests); "
                f"is it running? results in {result.run_dir}"
            )
    if not result.valid:
        raise RunInvalid(f"run invalid: {'; '.join(result.reasons)}")
    return EXIT_PASS


def print_warnings(result: ReplayResult) -> None:
    """The validity warnings of a valid replay, one ``warning:`` line each on stderr."""
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def summary_line(result: ReplayResult) -> str:
    """One line: per-target sent/errors, send lag, rate and validity."""
    parts = []
    for name, c in result.targets.items():
        errors = ", ".join(f"{kind} {n}" for kind, n in sorted(c.errors.items())) or "no errors"
        waits = (
            f", {c.pool_waits} waited for a connection (max {c.pool_wait_max_ms:.0f} ms)"
            if c.pool_waits
            else ""
        )
        parts.append(f"{name}: {c.sent}/{c.scheduled} sent, {c.answered} answered, {errors}{waits}")
    state = "valid" if result.valid else "INVALID"
    if result.valid and result.warnings:
        state += " (with warnings)"
    if result.interrupted:
        state += ", interrupted"
    return (
        f"{'; '.join(parts)} | lag p50 {result.lag_p50_ms:.2f} ms p99 {result.lag_p99_ms:.2f} ms"
        f" max {result.lag_max_ms:.2f} ms | {result.achieved_rate_per_s:.0f}/"
        f"{result.scheduled_rate_per_s:.0f} req/s | {state}"
    )
