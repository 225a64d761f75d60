"""``harness chaos DIR``: the nightly chaos suite (see :mod:`harness.workflows.chaos`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.locust_options import PROCESSES_HELP
from harness.cli.stack import add_build_option, parse_builds

if TYPE_CHECKING:
    from harness.cli.progress import ReplayDisplay
    from harness.workflows.chaos_model import ScenarioResult
    from harness.workflows.run import Progress

DESCRIPTION = (
    "Run every scenario (*.yaml) of DIR, one after another, against the current build (the "
    "stack file's candidate target, or --build candidate=BUILD); each run goes to "
    "RESULTS/nights/NIGHT/SCENARIO/. Each scenario's candidate is judged against the last "
    "known-good run of that scenario, RESULTS/known-good/SCENARIO/ (without one yet: against "
    "the stack's baseline in the same run, as `harness run` does). --promote copies a passing "
    "run to known-good; a failing one never is. A scenario that crashes is reported as an "
    "error and the others still run. Writes RESULTS/nights/NIGHT/index.html (the table of "
    "scenarios, key figures, links to the reports, and the trend over past nights) and "
    "summary.json."
)

EPILOG = (
    "exit code: the worst of the scenarios' exit codes: 0 every scenario passed; 1 a scenario "
    "failed or was inconclusive; 3 a scenario, capture or stack file is invalid; 4 "
    "infrastructure error (toxiproxy, database or target unreachable, or a fault or action "
    "failed at run time); 5 a run was invalid (the load generator could not hold the "
    "schedule); 70 internal error (a bug: the traceback is saved in the scenario's folder); "
    "130/143 interrupted (the rest of the night is not run). 2: bad usage, nothing was run."
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``chaos`` command."""
    parser = sub.add_parser(
        "chaos",
        help="nightly suite: every scenario of a folder vs the last known-good runs, one index",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    parser.add_argument("suite", type=Path, metavar="DIR", help="folder of scenario files")
    parser.add_argument(
        "--results",
        type=Path,
        default=Path("results"),
        metavar="RESULTS_DIR",
        help="where nights and known-good runs are kept (default: results/)",
    )
    add_build_option(parser)
    parser.add_argument(
        "--promote",
        action="store_true",
        help="copy each passing run to RESULTS/known-good/SCENARIO/ (never a failing one)",
    )
    parser.add_argument(
        "--night", metavar="NAME", help="name of tonight's folder (default: today's date, UTC)"
    )
    parser.add_argument("--processes", type=int, help=PROCESSES_HELP)
    parser.add_argument("--quiet", action="store_true", help="no live display (for cron and CI)")
    parser.set_defaults(handler=_run)


def result_line(result: ScenarioResult) -> str:
    """``db-kill-short: fail (vs known-good): <reason>``."""
    versus = f" (vs {result.compared_with})" if result.compared_with else ""
    promoted = " [promoted]" if result.promoted else ""
    return f"{result.name}: {result.status}{versus}{promoted}: {result.reason}"


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.cli.progress import ReplayDisplay
    from harness.errors import UsageError
    from harness.workflows.chaos import NightRequest, run_night
    from harness.workflows.chaos_model import INDEX_FILE, SUMMARY_FILE

    if args.processes is not None and args.processes < 1:
        raise UsageError(f"--processes must be >= 1, got {args.processes}")
    request = NightRequest(
        suite=args.suite,
        results=args.results,
        builds=parse_builds(args.build),
        promote=args.promote,
        processes=args.processes,
    )
    if args.night:
        request.night = args.night
    console = Console(stderr=True, quiet=args.quiet)
    displays: list[ReplayDisplay] = []

    def progress(scenario: str) -> Progress | None:
        # One live table per scenario, stopped when its result is printed.
        if args.quiet:
            return None
        display = ReplayDisplay(title=scenario)
        displays.append(display)
        return display.update

    def done(result: ScenarioResult) -> None:
        while displays:
            displays.pop().stop()
        print(result_line(result), flush=True)

    try:
        summary = run_night(
            request,
            on_step=lambda scenario, msg: console.print(f"[dim]… {scenario}: {msg}[/dim]"),
            on_done=done,
            progress=progress,
        )
    finally:
        while displays:
            displays.pop().stop()
    print(request.night_dir / INDEX_FILE)
    print(request.night_dir / SUMMARY_FILE)
    return summary.exit_code
