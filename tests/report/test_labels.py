"""Chart labels never overlap: bounding boxes of every label, measured in headless Chromium.

The page is the report (and a chart made to crowd its labels: adjacent faults, recovery marks
a second apart, a fault at the right edge, long target names), with a test-only script added
that writes the bounding box of every ``<text>`` of every chart into the DOM, which
``--dump-dom`` returns. At two window widths, no two labels of a chart may intersect, and every
label must lie inside its chart.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.analysis.frames import Run
from harness.analysis.model import Verdict
from harness.report.html import render_html
from harness.report.svg import Chart, Mark, Series, Shade, line_chart
from tests.report.test_html import _chromium, needs_chromium

MEASURE = """
<script>
window.addEventListener("load", () => {
  const charts = [...document.querySelectorAll("svg.plot")].map((svg) => {
    const frame = svg.getBoundingClientRect();
    const labels = [...svg.querySelectorAll("text")].map((t) => {
      const r = t.getBoundingClientRect();
      return {text: t.textContent, x: r.left, y: r.top, w: r.width, h: r.height};
    });
    return {frame: {x: frame.left, y: frame.top, w: frame.width, h: frame.height}, labels};
  });
  const out = document.createElement("pre");
  out.id = "boxes";
  out.textContent = JSON.stringify(charts);
  document.body.appendChild(out);
});
</script>
"""


def crowded_chart() -> str:
    """Everything that used to collide, in one chart."""
    xs = [float(i) for i in range(61)]
    series = [
        Series(f"{name} p{q}", xs, [float(i % 7) for i in range(61)], dashed=q == 50)
        for name in ("v2.3.1", "hotfix-naive-with-retries-and-a-long-name", "hotfix-safe")
        for q in (99, 50)
    ]
    shades = [
        Shade(10.0, 15.0, "postgres latency 400ms +-100ms"),
        Shade(15.0, 16.0, "postgres down"),
        Shade(16.5, 20.0, "postgres partition"),
        Shade(57.0, 60.0, "postgres reset_peer at the very end"),
    ]
    marks = [
        Mark(30.0, "v2.3.1 settled +0.0s"),
        Mark(30.5, "hotfix-naive settled +0.5s"),
        Mark(31.0, "hotfix-safe settled +1.0s"),
        Mark(59.5, "late settled +9.5s"),
    ]
    return line_chart(Chart("latency with many labels", series, shades, marks, y_unit="ms"))


@pytest.fixture(scope="module")
def pages(
    naive_run: Run, naive_verdict: Verdict, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    folder = tmp_path_factory.mktemp("labels")
    report = render_html(naive_verdict, naive_run)
    crowded = f"<!doctype html><html><body>{crowded_chart()}</body></html>"
    out = []
    for name, html in (("report.html", report), ("crowded.html", crowded)):
        path = folder / name
        path.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
        out.append(path)
    return out


def _boxes(page: Path, width: int, tmp_path: Path) -> list[dict[str, object]]:
    dom = _chromium(
        tmp_path, f"--window-size={width},900", "--virtual-time-budget=2000", "--dump-dom",
        page.as_uri(),
    ).stdout  # fmt: skip
    found = re.search(r'<pre id="boxes">(.*?)</pre>', dom, re.S)
    assert found, "the measuring script did not run"
    text = found.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
    charts: list[dict[str, object]] = json.loads(text.replace("&amp;", "&"))
    return charts


def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
    dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return dx * dy if dx > 0 and dy > 0 else 0.0


@needs_chromium
@pytest.mark.parametrize("width", [1280, 560])
def test_no_two_labels_of_a_chart_overlap(pages: list[Path], width: int, tmp_path: Path) -> None:
    problems = []
    for page in pages:
        charts = _boxes(page, width, tmp_path)
        assert charts, page
        for chart in charts:
            frame = chart["frame"]
            labels = chart["labels"]
            assert isinstance(frame, dict) and isinstance(labels, list)
            for i, a in enumerate(labels):
                inside = (
                    a["x"] >= frame["x"] - 0.5
                    and a["y"] >= frame["y"] - 0.5
                    and a["x"] + a["w"] <= frame["x"] + frame["w"] + 0.5
                    and a["y"] + a["h"] <= frame["y"] + frame["h"] + 0.5
                )
                if not inside:
                    problems.append(f"{page.name}: {a['text']!r} outside its chart")
                for b in labels[i + 1 :]:
                    if _overlap(a, b) > 1.0:
                        problems.append(f"{page.name}: {a['text']!r} overlaps {b['text']!r}")
    assert problems == [], "\n".join(problems)
