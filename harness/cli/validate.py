"""``harness validate SCENARIO --baseline SPEC --candidate SPEC``: the pre-deploy gate."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.locust_options import PROCESSES_HELP, add_locust_options, locust_options
from harness.cli.session_options import add_ordering_option

if TYPE_CHECKING:
    from harness.report.render import Comparison

SPEC_HELP = (
    "a build of the stack file (e.g. v2.3.1), cmd:COMMAND (placeholders {port}, "
    "{postgres.url}, ...), or the URL of a running build with its database proxy: "
    "http://HOST:PORT,proxy=NAME"
)


def add_validate_options(parser: argparse.ArgumentParser) -> None:
    """The options ``validate`` and ``ci`` share."""
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="the scenario file")
    parser.add_argument("--baseline", required=True, metavar="SPEC", help=SPEC_HELP)
    parser.add_argument("--candidate", required=True, metavar="SPEC", help=SPEC_HELP)
    parser.add_argument(
        "--aa",
        action="store_true",
        help="also run a second copy of the baseline to measure the noise between identical "
        "builds (gates with relative_to: noise use it)",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="RUN_DIR",
        help="run directory (default runs/<scenario>-<time>)",
    )
    parser.add_argument("--processes", type=int, help=PROCESSES_HELP)
    parser.add_argument(
        "--allow-inconclusive",
        action="store_true",
        help="exit 0 when the verdict is inconclusive",
    )
    add_locust_options(parser)
    add_ordering_option(parser)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``validate`` command."""
    parser = sub.add_parser(
        "validate",
        help="pre-deploy check: replay with faults against baseline and candidate, verdict",
        description=(
            "Run the scenario with the baseline build (what runs in production) and the "
            "candidate (the hotfix) side by side on the same traffic and the same faults, "
            "print the verdict and write verdict.json, junit.xml, summary.md and report.html. "
            "Exit 0 pass, 1 fail or inconclusive, 2 usage, 3 invalid input, 4 infrastructure, "
            "5 invalid run, 130/143 interrupted."
        ),
    )
    add_validate_options(parser)
    parser.add_argument("--quiet", action="store_true", help="no live display")
    parser.set_defaults(handler=_run)


def run_validate(args: argparse.Namespace, *, quiet: bool) -> tuple[int, list[Comparison]]:
    """Run ``validate`` for ``validate`` and ``ci``; returns the exit code and comparisons."""
    from rich.console import Console

    from harness.cli.progress import live_progress, print_cleanup
    from harness.cli.replay import print_warnings, summary_line
    from harness.cli.run import default_run_dir
    from harness.errors import UsageError
    from harness.report.render import worst_exit_code
    from harness.report.terminal import print_summary
    from harness.workflows.run import raise_if_interrupted
    from harness.workflows.validate import validate

    if args.processes is not None and args.processes < 1:
        raise UsageError(f"--processes must be >= 1, got {args.processes}")
    console = Console(stderr=True, quiet=quiet)
    with live_progress(quiet, title="replay") as on_progress:
        outcome = validate(
            args.scenario,
            args.output or default_run_dir(args.scenario),
            baseline=args.baseline,
            candidate=args.candidate,
            aa=args.aa,
            processes=args.processes,
            locust=locust_options(args),
            ordering=args.ordering,
            on_step=lambda msg: console.print(f"[dim]… {msg}[/dim]"),
            on_progress=on_progress,
            on_cleanup=print_cleanup,
        )
    print(outcome.run_dir)
    if outcome.replay is not None:
        print(summary_line(outcome.replay))
        print_warnings(outcome.replay)
    raise_if_interrupted(outcome)
    out = Console()
    for comparison in outcome.comparisons:
        print_summary(comparison.verdict, out)
        out.print(f"reports: {comparison.out}")
    code = worst_exit_code(outcome.comparisons, args.allow_inconclusive)
    return code, list(outcome.comparisons)


def _run(args: argparse.Namespace) -> int:
    code, _ = run_validate(args, quiet=args.quiet)
    return code
