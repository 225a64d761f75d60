"""The capture summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capture.ingest import import_capture
from harness.capture.inspect import summarize
from tests.capture.gorfiles import (
    DATADOG,
    DATADOG_FIRST_NS,
    DATADOG_LAST_NS,
    GorRecord,
    request,
    response,
    write_gor,
)

S = 1_000_000_000


def test_datadog_summary(tmp_path: Path) -> None:
    out = tmp_path / "dd.capture.parquet"
    import_capture([DATADOG], out)
    s = summarize(out, top=3)
    assert s.requests == 101 and s.responses == 0
    assert s.duration_s == (DATADOG_LAST_NS - DATADOG_FIRST_NS) / S
    assert s.routes == [("/cart_link", 26), ("/api_tokens", 26), ("/", 11)]
    assert s.methods == {"GET": 99, "POST": 2}
    assert s.redactions == {"cookie": 101, "api-key": 2}
    assert s.mean_per_s == round(101 / s.duration_s, 3)
    assert 1 <= s.peak_per_s <= 101


def test_rate_peak_and_sessions(tmp_path: Path) -> None:
    t0 = 1_700_000_000 * S
    records = [GorRecord(1, f"c{i % 3}", t0 + i * S // 10, request(f"/p/{i}")) for i in range(10)]
    records += [
        GorRecord(1, "z", t0 + 5 * S, request("/p/last")),
        GorRecord(2, "z", t0 + 5 * S + 1, response(503)),
    ]
    src = write_gor(tmp_path / "r.gor", records)
    out = tmp_path / "r.capture.parquet"
    import_capture([src], out)
    s = summarize(out)
    assert s.requests == 11 and s.responses == 1
    assert s.duration_s == 5.0
    assert s.peak_per_s == 10
    assert s.mean_per_s == 2.2
    assert s.sessions == 4  # GoReplay ids c0, c1, c2, z
    assert s.statuses == {"503": 1}
    assert s.routes == [("/p/{id}", 10), ("/p/last", 1)]
    doc = s.to_json()
    assert doc["rate"] == {"mean_per_s": 2.2, "peak_per_s": 10}
    assert {
        "requests",
        "responses",
        "duration_s",
        "sessions",
        "rate",
        "routes",
        "skipped",
        "redactions",
        "sources",
    } <= set(doc)


def test_a_version_1_file_says_links_were_not_learned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import pyarrow.parquet as pq

    from harness.capture.schema import CAPTURE_SCHEMA_V1, METADATA_KEY
    from harness.cli.main import main

    new = tmp_path / "new.capture.parquet"
    import_capture([DATADOG], new)
    meta = json.loads(pq.ParquetFile(new).metadata.metadata[METADATA_KEY])
    for key in ("links", "sessions"):  # what a wave-1 import did not write
        meta.pop(key)
    meta["format_version"] = 1
    old = tmp_path / "old.capture.parquet"
    table = pq.read_table(new).select(CAPTURE_SCHEMA_V1.names)
    pq.write_table(table.replace_schema_metadata({METADATA_KEY: json.dumps(meta).encode()}), old)
    s = summarize(old)
    assert s.sessions_found_by is None and not s.links.enabled and s.link_groups == []
    assert main(["capture", "inspect", str(old)]) == 0
    text = capsys.readouterr().out
    assert "links       not learned (format 1 file, or links.enabled: false)" in text
    assert "sessions    1\n" in text
    assert main(["capture", "inspect", str(new)]) == 0
    text = capsys.readouterr().out
    assert "links       0 in 0 requests: none found" in text
    assert "sessions    1 (by credential: 100 credential seen before, 1 new credential)\n" in text
