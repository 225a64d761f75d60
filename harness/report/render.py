"""Write every report file of a verdict into a directory; judge and report a whole run.

>>> results = compare_run(Path("runs/r1"))              # doctest: +SKIP
>>> [(r.verdict.candidate, r.verdict.status, r.out) for r in results]  # doctest: +SKIP
[('hotfix-naive', 'fail', PosixPath('runs/r1/compare-hotfix-naive')), ...]

``harness compare`` is this function plus printing; ``harness run``/``validate``/``ci`` can call
it at the end of a run and exit with :func:`worst_exit_code`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.analysis.frames import ROLE_CANDIDATE, Run, load_run
from harness.analysis.model import Verdict
from harness.analysis.verdict import exit_code, judge
from harness.errors import UsageError
from harness.report.html import render_html
from harness.report.journal import render_journal
from harness.report.junit import render_junit
from harness.report.markdown import render_markdown
from harness.rundir import JUNIT, REPORT, SUMMARY, VERDICT


def write_reports(verdict: Verdict, run: Run | None, out: Path, journal: bool = True) -> list[Path]:
    """verdict.json (unless ``journal`` is False), junit.xml, summary.md and report.html."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        JUNIT: render_junit(verdict),
        SUMMARY: render_markdown(verdict),
        REPORT: render_html(verdict, run),
    }
    if journal:
        files = {VERDICT: render_journal(verdict), **files}
    written = []
    for name, content in files.items():
        path = out / name
        # Write then rename: a half-written verdict.json must never be read as a verdict.
        partial = path.with_name(path.name + ".partial")
        partial.write_text(content, encoding="utf-8")
        partial.replace(path)
        written.append(path)
    return written


@dataclass(frozen=True)
class Comparison:
    """One candidate's verdict and the directory its reports went to."""

    verdict: Verdict
    out: Path


def output_dir(run_dir: Path, out: Path | None, candidate: str, several: bool) -> Path:
    """``out`` (default the run dir) itself for one candidate, ``compare-<name>/`` in it else."""
    base = out if out is not None else run_dir
    return base / f"compare-{candidate}" if several else base


def compare_run(
    run_dir: Path,
    *,
    baseline: str | None = None,
    candidate: str | None = None,
    out: Path | None = None,
) -> list[Comparison]:
    """Judge ``candidate`` (default: every target with role candidate) and write its reports."""
    run = load_run(run_dir)
    names = [candidate] if candidate else run.manifest.names_with_role(ROLE_CANDIDATE)
    # A baseline named on the command line is never its own candidate (roles may be null).
    names = [name for name in names if name != baseline]
    if not names:
        raise UsageError(f"{run_dir}: no target with role candidate; name one with --candidate")
    results = []
    for name in names:
        verdict = judge(run, baseline=baseline, candidate=name)
        folder = output_dir(run_dir, out, name, len(names) > 1)
        write_reports(verdict, run, folder)
        results.append(Comparison(verdict, folder))
    return results


def worst_exit_code(results: list[Comparison], allow_inconclusive: bool = False) -> int:
    """143/130 (interrupted) > 5 (invalid) > 1 (fail) > 0: the worst candidate decides."""
    return max((exit_code(r.verdict, allow_inconclusive) for r in results), default=0)
