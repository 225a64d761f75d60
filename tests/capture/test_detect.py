"""Format detection by content."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from harness.capture.detect import detect_format
from harness.errors import CaptureError

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("datadog-ecommerce-requests_0.gor", "gor"),
        ("dumpfile-7.mitm", "mitm"),
        ("dumpfile-010.mitm", "mitm"),
        ("flows-websocket.mitm", "mitm"),
        ("chrome.har", "har"),
        ("with-bom.har", "har"),
    ],
)
def test_real_files(name: str, fmt: str) -> None:
    assert detect_format(DATA / name) == fmt


def test_gzip_gor_with_any_name(tmp_path: Path) -> None:
    path = tmp_path / "traffic.bin"
    path.write_bytes(gzip.compress((DATA / "datadog-ecommerce-requests_0.gor").read_bytes()))
    assert detect_format(path) == "gor"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (bytes(range(7, 200)) * 3, "unknown capture format"),
        (b"\x1f\x8b\x08garbage", "broken gzip"),
    ],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.dat"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match=message):
        detect_format(path)
