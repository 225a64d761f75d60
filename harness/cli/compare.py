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
            "the run's files, so it works on a run made on another machine. A target with "
            "role 'aa' (a second copy of the baseline) measures the noise between identical "
            "builds; gates with relative_to: noise widen their limits by it. Exit 0 pass, "
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


def _run(args: argparse.Namespace) -> int:
    from harness.report.render import compare_run, worst_exit_code
    from harness.report.terminal import print_summary

    results = compare_run(
        args.run_dir, baseline=args.baseline, candidate=args.candidate, out=args.out
    )
    if args.json:
        documents = [r.verdict.model_dump(mode="json") for r in results]
        print(json.dumps(documents if len(documents) > 1 else documents[0], indent=2))
    else:
        for result in results:
            print_summary(result.verdict)
            print(f"reports: {result.out}", file=sys.stderr)
    return worst_exit_code(results, args.allow_inconclusive)
