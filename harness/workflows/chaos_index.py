"""The night's ``index.html``: one self-contained page (inline CSS and SVG, no script).

A table of tonight's scenarios (status, what each was compared with, the key figures, a link to
its report) and a trend of the key figures over the nights kept under ``RESULTS/nights/``,
read from each night's ``verdict.json`` files, drawn with the report's SVG line charts.
Nights are ordered by folder name (the default names are dates, which sort in time order).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path

from harness.analysis.model import Verdict
from harness.report.html import CSS
from harness.report.svg import Chart, Series, line_chart
from harness.workflows.chaos_model import (
    INDEX_FILE,
    SUMMARY_FILE,
    Figures,
    NightSummary,
    ScenarioResult,
    figures_of,
)

#: How many nights the trend shows (the most recent ones).
TREND_NIGHTS = 30
NIGHTS = "nights"


@dataclass(frozen=True)
class TrendPoint:
    """One scenario's status and key figures on one night."""

    night: str
    scenario: str
    status: str
    figures: Figures


def _verdict_file(folder: Path) -> Path | None:
    # The known-good comparison decides when there is one; else the run's own verdict.
    for path in (folder / "vs-known-good" / "verdict.json", folder / "verdict.json"):
        if path.is_file():
            return path
    return None


def read_night(folder: Path) -> list[TrendPoint]:
    """The scenarios of one night folder with a readable ``verdict.json``, plus the ones its
    ``summary.json`` lists as errors (no figures)."""
    points = []
    for scenario in sorted(p for p in folder.iterdir() if p.is_dir()):
        path = _verdict_file(scenario)
        if path is None:
            continue
        try:
            verdict = Verdict.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a damaged old night must not break tonight's index
        points.append(TrendPoint(folder.name, scenario.name, verdict.status, figures_of(verdict)))
    judged = {p.scenario for p in points}
    for result in _summary_results(folder):
        if result.status == "error" and result.name not in judged:
            points.append(TrendPoint(folder.name, result.name, "error", Figures()))
    return points


def _summary_results(folder: Path) -> list[ScenarioResult]:
    path = folder / SUMMARY_FILE
    if not path.is_file():
        return []
    try:
        return NightSummary.model_validate_json(path.read_text(encoding="utf-8")).scenarios
    except (OSError, ValueError):
        return []


def read_trend(results: Path, limit: int = TREND_NIGHTS) -> tuple[list[str], list[TrendPoint]]:
    """The last ``limit`` nights (in name order) and every scenario point of them."""
    root = results / NIGHTS
    nights = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    nights = nights[-limit:]
    points = [point for night in nights for point in read_night(night)]
    return [n.name for n in nights], points


@dataclass(frozen=True)
class Figure:
    """A key figure: its title, how to read it from :class:`Figures`, unit and scale."""

    key: str
    column: str
    title: str
    unit: str
    scale: float


FIGURES: tuple[Figure, ...] = (
    Figure("error_rate_during", "error rate", "worst error rate during faults", "%", 100.0),
    Figure(
        "amplification",
        "retry amplification",
        "retry amplification during faults (attempts/request)",
        "",
        1.0,
    ),
    Figure("recovery_s", "recovery", "recovery time after faults", "s", 1.0),
    Figure("p99_ratio", "p99 ratio", "latency p99 vs the baseline during faults", "x", 1.0),
)


def figure_text(figure: Figure, figures: Figures) -> str:
    """One figure as the index shows it (``—`` when not measured)."""
    value = getattr(figures, figure.key)
    if figure.key == "recovery_s" and figures.recovered is False:
        return "never" if value is None else f"never (else {value:.1f}s)"
    if value is None:
        return "—"
    if figure.key == "error_rate_during":
        return f"{value * 100:.1f}%"
    if figure.key == "p99_ratio":
        return f"x{value:.2f}"
    if figure.key == "recovery_s":
        return f"{value:.1f}s"
    return f"{value:.2f}"


def trend_charts(nights: list[str], points: list[TrendPoint]) -> list[str]:
    """One small SVG chart per key figure, one line per scenario, x = night (oldest left)."""
    position = {night: i for i, night in enumerate(nights)}
    scenarios = sorted({p.scenario for p in points})
    charts = []
    for figure in FIGURES:
        series = []
        for scenario in scenarios:
            mine = sorted(
                (p for p in points if p.scenario == scenario), key=lambda p: position[p.night]
            )
            xs = [float(position[p.night]) for p in mine]
            ys = [_number(getattr(p.figures, figure.key)) for p in mine]
            if any(not math.isnan(y) for y in ys):
                series.append(Series(scenario, xs, ys))
        if not series:
            continue
        svg = line_chart(
            Chart(
                f"{figure.title}, by night",
                series,
                y_unit=figure.unit,
                y_scale=figure.scale,
                width=520,
                height=200,
            )
        )
        charts.append(_night_axis(svg))
    return charts


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _night_axis(svg: str) -> str:
    # The shared chart labels its x axis in seconds; here x is a night number, so those tick
    # labels would mislead: drop them (the nights are listed under the charts).
    return re.sub(
        r'<text x="[0-9.]+" y="[0-9.]+" text-anchor="middle" [^>]*>[0-9]+s</text>', "", svg
    )


def _badge(status: str) -> str:
    css = "interrupted" if status == "error" else status
    return f'<span class="status {escape(css)}">{escape(status)}</span>'


def _link(path: str | None, label: str) -> str:
    if not path:
        return "—"
    return f'<a href="{escape(path)}">{escape(label)}</a>'


def _row(result: ScenarioResult) -> str:
    figures = "".join(
        f'<td class="num">{escape(figure_text(f, result.figures))}</td>' for f in FIGURES
    )
    compared: str = result.compared_with or "—"
    if result.known_good:
        compared += f"<br><span class='muted'>{escape(result.known_good)}</span>"
    reason = escape(result.reason)
    if result.note:
        reason += f"<br><span class='muted'>{escape(result.note)}</span>"
    promoted = " · promoted to known-good" if result.promoted else ""
    return (
        f"<tr><td>{escape(result.name)}</td><td>{_badge(result.status)}</td>"
        f"<td>{compared if result.compared_with else '—'}</td>{figures}"
        f"<td>{_link(result.report, 'report')}{promoted}</td>"
        f'<td class="num">{result.exit_code}</td><td>{reason}</td></tr>'
    )


def _history(nights: list[str], points: list[TrendPoint]) -> str:
    by_key = {(p.scenario, p.night): p.status for p in points}
    scenarios = sorted({p.scenario for p in points})
    head = "".join(f"<th>{escape(n)}</th>" for n in nights)
    rows = "".join(
        f"<tr><td>{escape(s)}</td>"
        + "".join(f"<td>{_badge(by_key[(s, n)]) if (s, n) in by_key else '—'}</td>" for n in nights)
        + "</tr>"
        for s in scenarios
    )
    return f"<table><tr><th>scenario</th>{head}</tr>{rows}</table>"


def render_index(summary: NightSummary, nights: list[str], points: list[TrendPoint]) -> str:
    """The night's index page."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts().items()))
    heads = "".join(f'<th title="{escape(f.title)}">{escape(f.column)}</th>' for f in FIGURES)
    rows = "".join(_row(r) for r in summary.scenarios)
    builds = ", ".join(f"{k}={v}" for k, v in summary.builds.items()) or "as in the stack files"
    charts = trend_charts(nights, points)
    if len(nights) < 2 or not charts:
        trend = "<p class='muted'>the trend appears from the second night on.</p>"
    else:
        trend = "".join(charts)
    order = " · ".join(escape(n) for n in nights)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>chaos suite, night {escape(summary.night)}</title><style>{CSS}
svg.plot{{display:inline-block;margin:8px 12px 8px 0}}</style></head>
<body>
<h1>Chaos suite, night {escape(summary.night)}: exit {summary.exit_code}</h1>
<p>{escape(counts)} · suite {escape(summary.suite)} · builds: {escape(builds)}
· {escape(summary.started)} to {escape(summary.finished)}</p>
<p class="muted">Each scenario's candidate (tonight's build) is judged against the last
known-good run of the scenario when there is one, else against the stack's baseline in the
same run. Figures are the candidate's, in fault phases (the whole run when it has no fault).</p>
<h2>Scenarios</h2>
<table><tr><th>scenario</th><th>status</th><th>compared with</th>{heads}<th>report</th>
<th>exit</th><th>reason</th></tr>{rows}</table>
<h2>Trend</h2>
<p class="muted">one line per scenario; nights from the oldest (left) to tonight (right):
{order}</p>
{trend}
<h2>Status by night</h2>
{_history(nights, points)}
<p class="muted">machine-readable: <a href="{SUMMARY_FILE}">{SUMMARY_FILE}</a></p>
</body></html>
"""


def write_index(results: Path, summary: NightSummary) -> Path:
    """Write ``RESULTS/nights/<night>/index.html`` and return its path."""
    nights, points = read_trend(results)
    path = results / NIGHTS / summary.night / INDEX_FILE
    path.write_text(render_index(summary, nights, points), encoding="utf-8")
    return path
