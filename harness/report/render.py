"""Write every report file of a verdict into a directory.

>>> write_reports(verdict, run, Path("runs/r1"))   # doctest: +SKIP
[PosixPath('runs/r1/verdict.json'), ...]
"""

from __future__ import annotations

from pathlib import Path

from harness.analysis.frames import Run
from harness.analysis.model import Verdict
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
