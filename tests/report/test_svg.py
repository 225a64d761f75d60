"""The inline SVG charts: shaded faults, broken lines at gaps, marks, escaped text."""

import math
import xml.etree.ElementTree as ET

from harness.report.svg import Chart, Mark, Series, Shade, line_chart

NS = "{http://www.w3.org/2000/svg}"


def test_chart_parts() -> None:
    chart = Chart(
        "error <rate>",
        [
            Series("base", [0, 1, 2, 3], [0.0, math.nan, 0.5, 0.25]),
            Series("cand", [0, 1, 2, 3], [0.1, 0.2, 0.9, 0.3], dashed=True),
        ],
        shades=[Shade(1, 2, "postgres down")],
        marks=[Mark(2.5, "cand settled +0.5s")],
        y_unit="%",
        y_scale=100,
    )
    root = ET.fromstring(line_chart(chart))  # well-formed XML, text escaped
    assert root.get("class") == "plot"
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 3  # the NaN splits the first series in two
    assert lines[2].get("stroke-dasharray") == "4 3"
    (fault,) = root.findall(f"{NS}rect[@class='fault']")
    assert float(fault.get("width") or 0) > 100
    assert root.findall(f"{NS}line[@class='mark']")
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "error <rate>" in texts and "100%" in texts


def test_empty_chart_still_renders() -> None:
    root = ET.fromstring(line_chart(Chart("nothing", [])))
    assert root.findall(f"{NS}polyline") == []


def test_labels_are_placed_apart_by_their_estimated_widths() -> None:
    import re

    from harness.report.svg import fit, text_width
    from tests.report.test_labels import crowded_chart

    svg = crowded_chart()
    boxes = []
    for x, y, size, text in re.findall(
        r'<text[^>]* x="([\d.]+)" y="([\d.]+)" font-size="(\d+)"[^>]*>(?:<title>.*?</title>)?'
        r"([^<]*)</text>",
        svg,
    ):
        left, base, size_f = float(x), float(y), float(size)
        boxes.append((left, base - size_f, left + text_width(text, size_f), base, text))
    placed = [b for b in boxes if "settled" in b[4] or "postgres" in b[4]]
    assert len(placed) == 8
    for i, a in enumerate(placed):
        for b in placed[i + 1 :]:
            apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
            assert apart, (a[4], b[4])
    assert fit("hotfix-naive-with-retries", 11, 60).endswith("…")
    assert text_width(fit("hotfix-naive-with-retries", 11, 60), 11) <= 60
    assert fit("short", 11, 60) == "short"
