"""report.html: self-contained, with SVG charts, rendered by a real headless Chromium."""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.frames import Run
from harness.analysis.model import Verdict
from harness.report.html import render_html
from tests.report.png import decode_png

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian: apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def page(naive_run: Run, naive_verdict: Verdict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(naive_verdict, naive_run), encoding="utf-8")
    return path


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_self_contained(page: Path) -> None:
    html = page.read_text()
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert html.count('<svg class="plot"') == 3
    assert 'class="fault"' in html and 'class="mark"' in html
    assert "curl -sS -X GET" in html


def test_without_run_files_charts_are_omitted(naive_verdict: Verdict) -> None:
    html = render_html(naive_verdict, None)
    assert "charts omitted" in html and "<svg" not in html


@needs_chromium
def test_chromium_dom_has_the_plots(page: Path, tmp_path: Path) -> None:
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert dom.count('<svg class="plot"') == 3
    assert dom.count("<polyline") >= 6
    assert "retry amplification" in dom


@needs_chromium
def test_chromium_screenshot_is_not_blank(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, "--window-size=800,900", f"--screenshot={shot}", page.as_uri())
    pixels = decode_png(shot.read_bytes())[:, :, :3]
    assert pixels.shape[:2] == (900, 800)
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    not_white = np.any(pixels < 240, axis=2).mean()
    assert len(colours) > 50, f"only {len(colours)} colours"
    assert 0.02 < not_white < 0.9, f"{not_white:.1%} of pixels are not white"
