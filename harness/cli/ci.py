"""``harness ci``: ``validate`` for CI jobs — JUnit, step summary, annotations, no live display."""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.validate import add_validate_options, run_validate

if TYPE_CHECKING:
    from harness.report.render import Comparison


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``ci`` command."""
    parser = sub.add_parser(
        "ci",
        help="validate for CI: JUnit XML, Markdown step summary, GitHub annotations",
        description=(
            "Run `harness validate` without a live display; write junit.xml (also copied to "
            "--junit), append summary.md to $GITHUB_STEP_SUMMARY (or --summary-file) and print "
            "a GitHub annotation (::error ...) for each failed gate. Exit codes as validate."
        ),
    )
    add_validate_options(parser)
    parser.add_argument(
        "--junit", type=Path, metavar="PATH", help="also copy junit.xml here (for CI upload)"
    )
    parser.add_argument(
        "--summary-file",
        type=Path,
        metavar="PATH",
        help="append summary.md here (default: $GITHUB_STEP_SUMMARY when it is set)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    code, comparisons = run_validate(args, quiet=True)
    summary_file = args.summary_file or _env_path("GITHUB_STEP_SUMMARY")
    for comparison in comparisons:
        if args.junit is not None:
            args.junit.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(comparison.out / "junit.xml", args.junit)
        if summary_file is not None:
            with summary_file.open("a", encoding="utf-8") as out:
                out.write((comparison.out / "summary.md").read_text(encoding="utf-8"))
                out.write("\n")
        for line in gate_annotations(comparison):
            print(line)
    return code


def gate_annotations(comparison: Comparison) -> list[str]:
    """GitHub workflow commands for failed (error) and inconclusive (warning) gates."""
    lines = []
    verdict = comparison.verdict
    for gate in verdict.gates:
        if gate.status not in ("fail", "inconclusive"):
            continue
        level = "error" if gate.status == "fail" else "warning"
        title = _escape_property(f"{gate.name} {gate.status} ({verdict.candidate})")
        lines.append(f"::{level} title={title}::{_escape_data(gate.reason)}")
    if verdict.status in ("invalid", "interrupted"):
        lines.append(f"::error title=run {verdict.status}::{_escape_data(verdict.reason)}")
    return lines


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
