"""The committed recordings of the notes example (captures/notes-demo.*): exact counts.

Routes are counted with the service's own route table (``examples.notes.handler.ROUTES``), so
these counts do not move when the importer's route inference changes.
"""

from __future__ import annotations

import urllib.parse
from collections import Counter
from pathlib import Path

import pytest

from examples.notes.handler import ROUTES
from examples.notes.routing import find
from harness.capture.ingest import import_capture
from harness.capture.store import capture_metadata, read_capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures"

#: (method, route of the service, captured status) -> exchanges, in both recordings
EXCHANGES = {
    ("DELETE", "/api/notes/{slug}", 204): 8,
    ("DELETE", "/api/notes/{slug}/comments/{id}", 204): 32,
    ("GET", "/api/notes", 200): 57,
    ("GET", "/api/notes/{slug}", 200): 116,
    ("GET", "/api/notes/{slug}/comments", 200): 63,
    ("GET", "/api/tags", 200): 12,
    ("GET", "/api/user", 200): 51,
    ("GET", "/api/user", 401): 8,
    ("GET", "/health", 200): 8,
    ("GET", "/login", 200): 4,
    ("GET", "/notes", 200): 61,
    ("GET", "/notes/{slug}", 200): 183,
    ("GET", "/signup", 200): 4,
    ("POST", "/api/notes", 201): 71,
    ("POST", "/api/notes/{slug}/comments", 201): 73,
    ("POST", "/api/users", 201): 6,
    ("POST", "/api/users/login", 200): 6,
    ("POST", "/login", 302): 4,
    ("POST", "/logout", 302): 4,
    ("POST", "/notes", 302): 77,
    ("POST", "/notes/{slug}/comments", 302): 61,
    ("POST", "/notes/{slug}/delete", 302): 16,
    ("POST", "/signup", 302): 4,
    ("PUT", "/api/notes/{slug}", 200): 34,
}


def _exchanges(path: Path) -> Counter[tuple[str, str, int]]:
    rows = read_capture(path, ["method", "path", "orig_status"]).to_pylist()
    seen: Counter[tuple[str, str, int]] = Counter()
    for row in rows:
        found = find(ROUTES, row["method"], urllib.parse.urlsplit(row["path"]).path)
        assert not isinstance(found, int), row
        seen[(row["method"], found[0].template, row["orig_status"])] += 1
    return seen


@pytest.mark.parametrize("kind", ["mitm", "gor"])
def test_recording_imports_every_exchange_with_its_response(tmp_path: Path, kind: str) -> None:
    out = tmp_path / "notes.capture.parquet"
    meta = import_capture([CAPTURES / f"notes-demo.{kind}"], out)
    assert meta.counts.written == 963
    assert meta.counts.responses == 963
    assert meta.skipped == {}
    assert _exchanges(out) == EXCHANGES


@pytest.mark.parametrize("kind", ["mitm", "gor"])
def test_committed_capture_files_are_current(kind: str) -> None:
    path = CAPTURES / f"notes-demo-{kind}.capture.parquet"
    meta = capture_metadata(path)
    assert meta.counts.written == 963
    assert meta.sources[0].path == f"captures/notes-demo.{kind}"
    assert _exchanges(path) == EXCHANGES
