"""The sample captures of the demo service, recorded by mitmdump and GoReplay (captures/)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from harness.capture.config import CaptureConfig, SessionConfig
from harness.capture.ingest import import_capture
from harness.capture.inspect import summarize
from harness.capture.pseudonym import PseudonymKey
from harness.capture.schema import FORMAT_VERSION
from harness.capture.store import capture_metadata, read_capture

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
ROUTES = [
    ("/payments/{id}", 139),
    ("/accounts/{id}/balance", 82),
    ("/health", 71),
    ("/catalog", 64),
    ("/payments", 60),
]


@pytest.mark.parametrize("name", ["payments-demo.mitm", "payments-demo.gor"])
def test_recording_imports_with_exact_counts(tmp_path: Path, name: str) -> None:
    out = tmp_path / "demo.capture.parquet"
    config = CaptureConfig(session=SessionConfig(header="X-Client-Id", salt="t"))
    meta = import_capture([CAPTURES / name], out, config=config)
    assert meta.counts.written == 416
    assert meta.counts.responses == 416
    assert meta.skipped == {}
    assert meta.redaction.rules == {"authorization": 415, "cookie": 415}
    s = summarize(out)
    assert s.methods == {"GET": 356, "POST": 60}
    assert s.statuses == {"200": 356, "201": 60}
    assert s.routes == ROUTES
    assert s.sessions == 9  # 8 clients and the readiness check
    assert 29 < s.duration_s < 30


def test_both_tools_saw_the_same_exchanges(tmp_path: Path) -> None:
    tables = {}
    # one key for both imports: their (keyed) response body hashes compare
    key = PseudonymKey(b"payments-demo-samples-key-012345", "test")
    for name in ("payments-demo.mitm", "payments-demo.gor"):
        out = tmp_path / f"{name}.capture.parquet"
        import_capture([CAPTURES / name], out, pseudonym_key=key)
        tables[name] = read_capture(out, ["method", "path", "orig_status", "orig_body_sha256"])
    seen = [
        Counter(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True))
        for t in tables.values()
    ]
    assert seen[0] == seen[1]


@pytest.mark.parametrize("kind", ["mitm", "gor"])
def test_committed_capture_files_are_current(kind: str) -> None:
    path = CAPTURES / f"payments-demo-{kind}.capture.parquet"
    meta = capture_metadata(path)
    assert meta.counts.written == 416
    assert meta.sources[0].path == f"captures/payments-demo.{kind}"
    assert read_capture(path).num_rows == 416
    # imported by today's defaults (captures/record_demo.py --import-only)
    assert meta.format_version == FORMAT_VERSION
    assert meta.redaction.mode == "pseudonym"
    assert meta.redaction.rules == {"authorization": 415, "cookie": 415}
    assert meta.redaction.response_hash == "hmac-sha256"
    assert meta.links.enabled
