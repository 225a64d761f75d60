"""Small inline SVG line charts: no plotting dependency, no script, works offline.

>>> svg = line_chart(Chart("error rate", [Series("b", [0, 1], [0.0, 0.5])], y_unit="%"))
>>> svg.startswith("<svg")
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

PALETTE: tuple[str, ...] = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass(frozen=True)
class Series:
    """One line: ``xs`` in seconds, ``ys`` in chart units (NaN breaks the line)."""

    name: str
    xs: list[float]
    ys: list[float]
    color: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Shade:
    """A shaded x-range (a fault window) with its label."""

    start: float
    end: float
    label: str


@dataclass(frozen=True)
class Mark:
    """A vertical line at ``x`` (a recovery point) with a short label."""

    x: float
    label: str
    color: str = "#2ca02c"


@dataclass(frozen=True)
class Chart:
    title: str
    series: list[Series]
    shades: list[Shade] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    y_unit: str = ""
    y_scale: float = 1.0  # multiply values for display (0..1 -> % with 100)
    width: int = 760
    height: int = 240


_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 150, 28, 34
_ROW = 11  # px between stacked label rows
_NARROW = frozenset(" .,:;'|!il1jfItrJ()[]-/")
_WIDE = frozenset("mwMW%@")


def text_width(text: str, size: float) -> float:
    """A generous estimate of ``text``'s width in px at ``size`` (DejaVu Sans, the widest of
    the usual sans-serif fonts), so labels placed by it do not collide in any of them."""
    em = 0.0
    for char in text:
        if char in _NARROW:
            em += 0.4
        elif char in _WIDE:
            em += 1.0
        elif char.isupper():
            em += 0.8
        elif char.isdigit() or char.islower():
            em += 0.66
        else:
            em += 0.86
    return em * size + 2


def fit(text: str, size: float, width: float) -> str:
    """``text``, cut with an ellipsis to fit in ``width`` px (the full text goes in a title)."""
    if text_width(text, size) <= width:
        return text
    while text and text_width(text + "…", size) > width:
        text = text[:-1]
    return text + "…"


class _Rows:
    """Labels in horizontal rows: each goes into the first row where it overlaps nothing."""

    def __init__(self, rows: int) -> None:
        self._taken: list[list[tuple[float, float]]] = [[] for _ in range(rows)]

    def place(self, x0: float, width: float) -> int | None:
        """The row for the span ``x0 .. x0 + width`` (taken from now on), None when full."""
        for number, row in enumerate(self._taken):
            if all(x0 + width <= a or x0 >= b for a, b in row):
                row.append((x0 - 2, x0 + width + 2))
                return number
        return None


def _nice_max(value: float) -> float:
    if value <= 0 or math.isnan(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == 0 else f"{value:.3g}"


def line_chart(chart: Chart) -> str:
    """The chart as an ``<svg class="plot">`` element string."""
    w, h = chart.width, chart.height
    pw, ph = w - _LEFT - _RIGHT, h - _TOP - _BOTTOM
    xs = [x for s in chart.series for x in s.xs] + [s.end for s in chart.shades]
    ys = [y * chart.y_scale for s in chart.series for y in s.ys if not math.isnan(y)]
    x_max = max(xs, default=1.0) or 1.0
    y_max = _nice_max(max(ys, default=0.0))

    def px(x: float) -> float:
        return _LEFT + pw * min(max(x / x_max, 0.0), 1.0)

    def py(y: float) -> float:
        return _TOP + ph * (1 - min(max(y * chart.y_scale / y_max, 0.0), 1.0))

    out = [
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
        f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(chart.title)}">',
        f'<text class="title" x="{_LEFT}" y="16">{escape(chart.title)}</text>',
    ]
    fault_rows = _Rows(4)
    for shade in chart.shades:
        x0, x1 = px(shade.start), px(shade.end)
        out.append(
            f'<rect class="fault" x="{x0:.1f}" y="{_TOP}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{ph}" fill="#f4a582" fill-opacity="0.35">'
            f"<title>{escape(shade.label)}</title></rect>"
        )
        attrs = ' class="fault-label"'
        out.append(
            _label(fault_rows, shade.label, x0 + 2, _TOP + 11, step=1, size=10, pw=pw, attrs=attrs)
        )
    for i in range(5):
        value = y_max * i / 4
        y = _TOP + ph * (1 - i / 4)
        out.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
            f"{_fmt(value)}{escape(chart.y_unit)}</text>"
        )
    for i in range(6):
        x = x_max * i / 5
        # the first and last tick labels do not reach past the plot's edges (nor the y labels)
        anchor = "start" if i == 0 else "end" if i == 5 else "middle"
        out.append(
            f'<text x="{px(x):.1f}" y="{h - _BOTTOM + 16}" text-anchor="{anchor}" '
            f'font-size="10">{x:.0f}s</text>'
        )
    out.append(
        f'<rect x="{_LEFT}" y="{_TOP}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>'
    )
    for number, series in enumerate(chart.series):
        color = series.color or PALETTE[number % len(PALETTE)]
        dash = ' stroke-dasharray="4 3"' if series.dashed else ""
        for run in _segments(series):
            points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in run)
            out.append(
                f'<polyline class="series" points="{points}" fill="none" '
                f'stroke="{color}" stroke-width="1.6"{dash}/>'
            )
        ly = _TOP + 12 + 16 * number
        out.append(
            f'<line x1="{w - _RIGHT + 10}" x2="{w - _RIGHT + 30}" y1="{ly - 4}" '
            f'y2="{ly - 4}" stroke="{color}" stroke-width="2"{dash}/>'
        )
        shown = fit(series.name, 11, _RIGHT - 38)
        title = f"<title>{escape(series.name)}</title>" if shown != series.name else ""
        out.append(
            f'<text class="legend" x="{w - _RIGHT + 34}" y="{ly}" font-size="11">'
            f"{title}{escape(shown)}</text>"
        )
    mark_rows = _Rows(4)
    for mark in sorted(chart.marks, key=lambda m: m.x):
        x = px(mark.x)
        out.append(
            f'<line class="mark" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" '
            f'y2="{_TOP + ph}" stroke="{mark.color}" stroke-dasharray="2 2">'
            f"<title>{escape(mark.label)}</title></line>"
        )
        fill = f' fill="{mark.color}"'
        out.append(
            _label(mark_rows, mark.label, x + 2, _TOP + ph - 4, step=-1, size=9, pw=pw, attrs=fill)
        )
    out.append("</svg>")
    return "\n".join(out)


def _label(
    rows: _Rows, text: str, x0: float, y: float, *, step: int, size: int, pw: float, attrs: str
) -> str:
    """A label at ``x0`` (moved left to stay in the plot) in the first free row from ``y``
    (rows go down for ``step`` 1, up for -1); when every row is taken there, it is cut short."""
    shown = fit(text, size, pw)
    width = text_width(shown, size)
    x0 = max(_LEFT + 1, min(x0, _LEFT + pw - width - 1))
    row = rows.place(x0, width)
    if row is None:  # crowded: the last row, cut to the room left of the next label
        shown = fit(text, size, max(12.0, width / 3))
        width = text_width(shown, size)
        row = rows.place(x0, width)
    if row is None:
        return ""  # no room at all: the shade or line still has the text as its title
    return (
        f'<text x="{x0:.1f}" y="{y + step * row * _ROW:.1f}" font-size="{size}"{attrs}>'
        f"{escape(shown)}</text>"
    )


def _segments(series: Series) -> list[list[tuple[float, float]]]:
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(series.xs, series.ys, strict=True):
        if math.isnan(y):
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((x, y))
    return [run for run in runs if run]
