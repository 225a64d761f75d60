"""Reports: terminal, JSON journal, JUnit XML, Markdown and HTML.

:func:`harness.report.render.compare_run` judges a run and writes ``verdict.json``,
``junit.xml``, ``summary.md`` and ``report.html`` (one self-contained file with inline SVG
charts); :func:`harness.report.terminal.print_summary` prints the verdict in a terminal.
"""
