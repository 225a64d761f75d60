"""``harness calibrate SCENARIO --build NAME [--runs N]``: each gate's false-fail rate, measured.

Before a gate blocks deploys in CI, replay the production build against itself a few times with
the scenario's faults: every failure is a false alarm. Prints, per gate, how many A/A pairs it
failed (with an interval), how many it could not judge, and how close the copies came to its
limit; writes calibration.json. --from RUN... re-judges existing A/A runs instead (after
changing a gate). Exit 0 once measured, whatever the rates; 2 usage, 3 bad input, 4
infrastructure, 130/143 interrupted.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.locust_options import PROCESSES_HELP

if TYPE_CHECKING:
    from harness.analysis.calibration import Calibration, GateCalibration
    from harness.analysis.model import Verdict


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"needs at least 1 run, got {value}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``calibrate`` command."""
    parser = sub.add_parser(
        "calibrate",
        help="measure each gate's false-fail rate on copies of one build (A/A runs)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO", help="the scenario file")
    parser.add_argument(
        "--build",
        metavar="NAME",
        help="the build to replay against itself: a build of the stack file, or cmd:COMMAND",
    )
    parser.add_argument(
        "--runs", type=_positive, default=None, metavar="N", help="A/A runs to replay (default 5)"
    )
    parser.add_argument(
        "--from",
        dest="runs_from",
        type=Path,
        nargs="+",
        metavar="RUN",
        help="re-judge these A/A run directories with the scenario's gates instead of replaying",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="DIR",
        help="where the runs and calibration.json go (default runs/calibrate-SCENARIO-TIME)",
    )
    parser.add_argument("--processes", type=int, help=PROCESSES_HELP)
    parser.add_argument("--json", action="store_true", help="print calibration.json instead")
    parser.add_argument("--quiet", action="store_true", help="no live display")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.analysis.calibration import calibrate
    from harness.errors import UsageError
    from harness.workflows.calibrate import rejudge, replay_copies

    if args.runs_from and (args.build or args.runs):
        raise UsageError("--from re-judges runs already made: give it without --build/--runs")
    if not args.runs_from and not args.build:
        raise UsageError("give --build NAME (the build to replay against itself) or --from RUN")
    if args.processes is not None and args.processes < 1:
        raise UsageError(f"--processes must be >= 1, got {args.processes}")
    out: Path = args.output or (
        Path("runs") / f"calibrate-{args.scenario.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    console = Console(stderr=True, quiet=args.quiet)

    def on_run(number: int, run_dir: Path, verdict: Verdict) -> None:
        failed = [g.name for g in verdict.gates if g.status == "fail"]
        extra = f": {', '.join(failed)}" if failed else ""
        console.print(f"A/A {number}: {verdict.status}{extra}  ({run_dir})")

    if args.runs_from:
        verdicts = rejudge(args.scenario, list(args.runs_from), on_run=on_run)
    else:
        from harness.cli.progress import live_progress

        with live_progress(args.quiet, title="A/A replay") as on_progress:
            verdicts = replay_copies(
                args.scenario,
                args.build,
                args.runs or 5,
                out,
                processes=args.processes,
                on_step=lambda msg: console.print(f"[dim]… {msg}[/dim]"),
                on_progress=on_progress,
                on_run=on_run,
            )
    result = calibrate(verdicts)
    text = result.model_dump_json(indent=2)
    if not args.runs_from or args.output:
        out.mkdir(parents=True, exist_ok=True)
        (out / "calibration.json").write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(text)
    else:
        print_calibration(result)
    return 0


def print_calibration(result: Calibration) -> None:
    """The calibration as a table, one row per gate, and a line on what it means."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    conf = f"{result.confidence * 100:.0f}% CI"
    table = Table(title=f"false fails on {result.judged} A/A runs (of {result.runs})")
    for column in ("gate", "failed", "inconclusive", f"false-fail rate ({conf})", "closest"):
        table.add_column(column, overflow="fold")
    for gate in result.gates:
        table.add_row(
            gate.name,
            f"{gate.failed} of {gate.judged}",
            str(gate.inconclusive),
            _rate(gate),
            _closest(gate),
        )
    console.print(table)
    if result.invalid or result.interrupted:
        console.print(
            f"{result.invalid} runs invalid and {result.interrupted} interrupted: not counted"
        )
    console.print(
        "A gate's false-fail rate is how often it would block a hotfix that changed nothing; "
        "'closest' is the largest share of its limit an A/A check reached."
    )


def _rate(gate: GateCalibration) -> str:
    if gate.rate is None or gate.low is None or gate.high is None:
        return "-"
    return f"{gate.rate * 100:.1f}% ({gate.low * 100:.1f}%..{gate.high * 100:.1f}%)"


def _closest(gate: GateCalibration) -> str:
    if gate.closest is None:
        return "-"
    share = "never settled" if gate.closest == float("inf") else f"{gate.closest * 100:.0f}%"
    return f"{share} of the limit: {gate.closest_reason}"
