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
