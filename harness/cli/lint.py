"""``harness lint SCENARIO... [--json]``: check scenario files without running anything."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.errors import EXIT_INVALID_INPUT, EXIT_PASS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``lint`` command."""
    parser = sub.add_parser(
        "lint",
        help="check scenario files (and the capture and stack they name) without side effects",
        description=(
            "Check scenario files: their shape, that the capture and stack exist, that faults "
            "name known dependencies and targets and do not overlap unless stacked, that probes "
            "and gates are known. Every problem names the file and line. Exit 0 when clean, "
            "3 on any error. A directory means every *.yaml file in it."
        ),
    )
    parser.add_argument(
        "scenarios",
        nargs="+",
        type=Path,
        metavar="SCENARIO",
        help="a scenario file, or a directory of them",
    )
    parser.add_argument("--json", action="store_true", help="print the problems as JSON")
    parser.set_defaults(handler=_run)


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        else:
            out.append(path)
    return out


def _run(args: argparse.Namespace) -> int:
    from harness.scenario.lint import lint

    reports = [lint(path) for path in _expand(args.scenarios)]
    if args.json:
        document = [
            {
                "scenario": str(report.path),
                "ok": report.ok,
                "problems": [p.to_json() for p in report.problems],
            }
            for report in reports
        ]
        # one file gives one object; several files or a directory give a list
        single = len(args.scenarios) == 1 and not args.scenarios[0].is_dir()
        print(json.dumps(document[0] if single else document, indent=2))
    else:
        for report in reports:
            for problem in report.problems:
                print(problem, file=sys.stderr if problem.severity == "error" else sys.stdout)
            if report.ok and report.scenario is not None:
                scenario = report.scenario
                print(
                    f"{report.path}: ok: {scenario.name}: {len(scenario.fault_list())} faults, "
                    f"{len(scenario.actions())} actions, {len(scenario.run_probes())} probes"
                )
    return EXIT_PASS if all(report.ok for report in reports) else EXIT_INVALID_INPUT
