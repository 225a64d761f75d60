"""``harness report DIR``: render the reports again from verdict.json and the run's files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` command."""
    parser = sub.add_parser(
        "report",
        help="re-render junit.xml, summary.md and report.html from verdict.json",
        description=(
            "Render the reports of a compared run again from its verdict.json (in DIR and in "
            "DIR/compare-*/) and the run's files; charts are omitted when the run's "
            "requests.parquet is not there. Exit 0 when something was rendered."
        ),
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="DIR", help="a run directory or one of its compare-*/"
    )
    parser.set_defaults(handler=_run)


def _verdicts(root: Path) -> list[Path]:
    found = [root / "verdict.json"] if (root / "verdict.json").is_file() else []
    return found + sorted(root.glob("compare-*/verdict.json"))


def _run_root(verdict_dir: Path) -> Path | None:
    for candidate in (verdict_dir, verdict_dir.parent):
        if (candidate / "manifest.json").is_file():
            return candidate
    return None


def _run(args: argparse.Namespace) -> int:
    from harness.analysis.frames import Run, load_run
    from harness.errors import InputError
    from harness.report.journal import read_journal
    from harness.report.render import write_reports

    paths = _verdicts(args.run_dir)
    if not paths:
        raise InputError(f"{args.run_dir}: no verdict.json here: run `harness compare` first")
    runs: dict[Path, Run | None] = {}
    for path in paths:
        verdict = read_journal(path)
        root = _run_root(path.parent)
        if root is not None and root not in runs:
            try:
                runs[root] = load_run(root)
            except InputError as exc:
                print(f"harness: warning: {exc}; charts omitted", file=sys.stderr)
                runs[root] = None
        run = runs.get(root) if root is not None else None
        for written in write_reports(verdict, run, path.parent, journal=False):
            print(written)
    return 0
