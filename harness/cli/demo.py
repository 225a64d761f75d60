"""``harness demo``: judge the demo's two hotfixes against the production build, in minutes."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness.cli.locust_options import PROCESSES_HELP


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    parser = sub.add_parser(
        "demo",
        help="the demo: db-kill on the payments service, hotfix-naive vs hotfix-safe",
        description=(
            "On the embedded stack (toxiproxy + PostgreSQL, nothing else to install), replay the "
            "bundled capture of the payments demo service with scenarios/db-kill.yaml against "
            "v2.3.1 (the production build), hotfix-naive and hotfix-safe at once, kill the "
            "database for 15 s, and judge each hotfix against v2.3.1. Expected: hotfix-naive "
            "fails, hotfix-safe passes (exit 0 when that is what happened, 1 otherwise)."
        ),
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="RUN_DIR", help="run directory (default runs/demo-*)"
    )
    parser.add_argument("--scenario", type=Path, help="another scenario instead of db-kill.yaml")
    parser.add_argument("--processes", type=int, help=PROCESSES_HELP)
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"hotfix-naive": "fail", "hotfix-safe": "pass", "reports": {...}}',
    )
    parser.add_argument("--quiet", action="store_true", help="no live display")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.panel import Panel

    from harness.cli.progress import live_progress
    from harness.workflows.demo import EXPECTED, run_demo
    from harness.workflows.run import raise_if_interrupted

    quiet = args.quiet or args.json
    console = Console(stderr=True, quiet=quiet and not args.json)
    run_dir = args.output or Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    started = time.monotonic()
    with live_progress(quiet, title="demo replay") as on_progress:
        outcome, verdicts = run_demo(
            run_dir,
            scenario=args.scenario,
            processes=args.processes,
            on_step=lambda msg: console.print(f"[dim]… {msg}[/dim]"),
            on_progress=on_progress,
        )
    raise_if_interrupted(outcome)
    took = time.monotonic() - started
    as_expected = all(EXPECTED.get(v.build, v.status) == v.status for v in verdicts)
    if args.json:
        document: dict[str, object] = {v.build: v.status for v in verdicts}
        document["reports"] = {v.build: str(v.report) for v in verdicts}
        document["run_dir"] = str(outcome.run_dir)
        document["seconds"] = round(took, 1)
        print(json.dumps(document, indent=2))
        return 0 if as_expected else 1
    out = Console()
    colors = {"pass": "green", "fail": "red"}
    for v in verdicts:
        color = colors.get(v.status, "yellow")
        body = "\n".join(f"• {line}" for line in v.explanation)
        body += f"\n\nreport: {v.report}"
        out.print(
            Panel(body, title=f"{v.build} vs v2.3.1: [{color}]{v.status.upper()}[/]", expand=False)
        )
    out.print(f"run directory: {outcome.run_dir}  ({took:.0f} s)")
    if not as_expected:
        out.print("[yellow]the demo did not come out as expected (naive fail, safe pass)[/]")
    return 0 if as_expected else 1
