"""``harness compare RUN_DIR``: judge candidates against the baseline from a run's files only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``compare`` command."""
    parser = sub.add_parser(
        "compare",
        help="judge a run directory: gates -> verdict, reports, exit code",
        description=(
            "Compare each candidate of a run directory with its baseline under the scenario's "
            "gates and write verdict.json, junit.xml, summary.md and report.html. Only reads "
            "the run's files, so it works on a run made on another machine. Exit 0 pass, "
            "1 fail or inconclusive, 5 invalid run, 130/143 interrupted run."
        ),
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run directory")
    parser.add_argument("--baseline", metavar="NAME", help="baseline target (default: by role)")
    parser.add_argument(
        "--candidate",
        metavar="NAME",
        help="candidate target (default: every target with role candidate)",
    )
    parser.add_argument(
        "--allow-inconclusive",
        action="store_true",
        help="exit 0 when the verdict is inconclusive (too little data to decide)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where reports go (default: RUN_DIR for one candidate, else "
        "RUN_DIR/compare-<candidate>/ for each)",
    )
    parser.add_argument("--json", action="store_true", help="print the verdict(s) as JSON")
    parser.set_defaults(handler=_run)


def output_dir(run_dir: Path, out: Path | None, candidate: str, several: bool) -> Path:
    """Where one candidate's reports go."""
    base = out if out is not None else run_dir
    return base / f"compare-{candidate}" if several else base


def _run(args: argparse.Namespace) -> int:
    from harness.analysis.frames import ROLE_CANDIDATE, load_run
    from harness.analysis.verdict import exit_code, judge
    from harness.errors import UsageError
    from harness.report.render import write_reports
    from harness.report.terminal import print_summary

    run = load_run(args.run_dir)
    candidates = (
        [args.candidate] if args.candidate else run.manifest.names_with_role(ROLE_CANDIDATE)
    )
    if not candidates:
        raise UsageError(
            f"{args.run_dir}: no target with role candidate; name one with --candidate"
        )
    several = len(candidates) > 1
    codes, documents = [], []
    for candidate in candidates:
        verdict = judge(run, baseline=args.baseline, candidate=candidate)
        out = output_dir(args.run_dir, args.out, candidate, several)
        write_reports(verdict, run, out)
        codes.append(exit_code(verdict, args.allow_inconclusive))
        if args.json:
            documents.append(verdict.model_dump(mode="json"))
        else:
            print_summary(verdict)
            print(f"reports: {out}", file=sys.stderr)
    if args.json:
        print(json.dumps(documents if several else documents[0], indent=2))
    # 143/130 (interrupted) > 5 (invalid) > 1 (fail) > 0: the worst candidate decides.
    return max(codes)
