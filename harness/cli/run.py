"""``harness run SCENARIO -o RUN_DIR``: bring up the stack, replay with faults and probes, judge."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.cli.locust_options import PROCESSES_HELP, add_locust_options, locust_options
from harness.cli.session_options import add_ordering_option
from harness.cli.stack import add_build_option, parse_builds


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``run`` command."""
    parser = sub.add_parser(
        "run",
        help="run a scenario: stack up, replay with faults and probes, verdict",
        description=(
            "Lint the scenario, bring up its stack (fresh per-target databases cloned from the "
            "template, one toxiproxy proxy per target), replay the capture with the fault "
            "timeline and probes on one clock, tear everything down, then judge each candidate "
            "against the baseline and write verdict.json, junit.xml, summary.md and "
            "report.html into the run directory. Faults are reverted on every exit path; "
            "Ctrl-C or SIGTERM stops early with partial results (exit 130/143)."
        ),
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="the scenario file")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="RUN_DIR",
        help="run directory to write (default runs/<scenario>-<time>)",
    )
    add_build_option(parser)
    parser.add_argument("--processes", type=int, help=PROCESSES_HELP)
    parser.add_argument("--speed", type=float, help="override the scenario's speed factor")
    parser.add_argument(
        "--no-judge", action="store_true", help="write the run directory only, no verdict"
    )
    parser.add_argument(
        "--allow-inconclusive",
        action="store_true",
        help="exit 0 when the verdict is inconclusive",
    )
    parser.add_argument("--quiet", action="store_true", help="no live display (for CI)")
    add_locust_options(parser)
    add_ordering_option(parser)
    parser.set_defaults(handler=_run)


def default_run_dir(scenario: Path) -> Path:
    return Path("runs") / f"{scenario.stem}-{time.strftime('%Y%m%d-%H%M%S')}"


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.cli.progress import live_progress, print_cleanup
    from harness.cli.replay import print_warnings, summary_line
    from harness.errors import UsageError
    from harness.report.render import worst_exit_code
    from harness.report.terminal import print_summary
    from harness.workflows.run import RunRequest, raise_if_interrupted, run_scenario

    if args.processes is not None and args.processes < 1:
        raise UsageError(f"--processes must be >= 1, got {args.processes}")
    if args.speed is not None and not args.speed > 0:
        raise UsageError(f"--speed must be > 0, got {args.speed}")
    console = Console(stderr=True, quiet=args.quiet)
    request = RunRequest(
        scenario=args.scenario,
        run_dir=args.output or default_run_dir(args.scenario),
        builds=parse_builds(args.build),
        processes=args.processes,
        speed=args.speed,
        judge=not args.no_judge,
        locust=locust_options(args),
        ordering=args.ordering,
    )
    with live_progress(args.quiet, title="replay") as on_progress:
        outcome = run_scenario(
            request,
            on_step=lambda msg: console.print(f"[dim]… {msg}[/dim]"),
            on_progress=on_progress,
            on_cleanup=print_cleanup,
        )
    print(outcome.run_dir)
    if outcome.replay is not None:
        print(summary_line(outcome.replay))
        print_warnings(outcome.replay)
    for problem in outcome.unverified:
        console.print(f"[yellow]warning: fault not verified: {problem}[/yellow]")
    raise_if_interrupted(outcome)
    out = Console()
    for comparison in outcome.comparisons:
        print_summary(comparison.verdict, out)
        out.print(f"reports: {comparison.out}")
    return worst_exit_code(outcome.comparisons, args.allow_inconclusive)
