"""The capture file: schema, metadata, row groups, fallback sort, and refusing what is not one."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.capture.record import Exchange, join_headers, split_headers
from harness.capture.schema import CAPTURE_SCHEMA, FORMAT_VERSION, METADATA_KEY
from harness.capture.store import (
    CaptureMetadata,
    CaptureWriter,
    Counts,
    HeaderLines,
    RedactionReport,
    capture_metadata,
    iter_capture,
    read_capture,
)
from harness.errors import CaptureError


def ex(ts: int, path: str = "/", status: int | None = None) -> Exchange:
    return Exchange(
        ts,
        "GET",
        "http",
        "h",
        path,
        "HTTP/1.1",
        join_headers([("Host", "h"), ("X-N", str(ts))]),
        b"body",
        f"f:{ts}",
        orig_status=status,
        orig_latency_ns=5 if status else None,
    )


def meta() -> CaptureMetadata:
    return CaptureMetadata(
        format_version=FORMAT_VERSION,
        sources=[],
        counts=Counts(read=0, written=0, responses=0, skipped=0, filtered=0),
        redaction=RedactionReport(enabled=True),
    )


def write(path: Path, stamps: list[int], batch_rows: int = 3) -> CaptureMetadata:
    writer = CaptureWriter(path, batch_rows=batch_rows)
    for ts in stamps:
        writer.add(ex(ts, f"/{ts}", 200 if (ts // 100) % 2 == 0 else None))
    m = meta()
    writer.close(m)
    return m


def test_rows_schema_and_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "c.capture.parquet"
    write(path, [100, 200, 300, 400, 500, 600, 700])
    assert pq.ParquetFile(path).num_row_groups == 3
    table = read_capture(path)
    assert table.schema.remove_metadata() == CAPTURE_SCHEMA
    assert table.column("idx").to_pylist() == list(range(7))
    assert table.column("offset_ns").to_pylist() == [0, 100, 200, 300, 400, 500, 600]
    assert table.column("headers")[0].as_py() == [
        {"name": "Host", "value": "h"},
        {"name": "X-N", "value": "100"},
    ]
    assert table.column("orig_status").to_pylist()[:2] == [None, 200]
    assert capture_metadata(path).first_ts_ns == 100
    batches = list(iter_capture(path, ["idx"], batch_rows=2))
    assert sum(b.num_rows for b in batches) == 7


def test_records_beyond_the_window_are_sorted_at_close(tmp_path: Path) -> None:
    path = tmp_path / "late.capture.parquet"
    m = write(path, [300, 400, 500, 100, 600, 200, 700])
    table = read_capture(path)
    assert table.column("ts_ns").to_pylist() == [100, 200, 300, 400, 500, 600, 700]
    assert table.column("idx").to_pylist() == list(range(7))
    assert table.column("offset_ns").to_pylist()[0] == 0
    assert table.column("path").to_pylist()[0] == "/100"
    assert m.counts.resorted == 2
    assert capture_metadata(path).counts.resorted == 2
    assert capture_metadata(path).first_ts_ns == 100


def test_abort_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.capture.parquet"
    writer = CaptureWriter(path)
    writer.add(ex(1))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_not_a_capture_file(tmp_path: Path) -> None:
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"a": [1]}), plain)
    with pytest.raises(
        CaptureError, match=r"plain\.parquet: metadata key harness\.capture: missing"
    ):
        read_capture(plain)
    text = tmp_path / "t.parquet"
    text.write_text("hello")
    with pytest.raises(CaptureError, match=r"t\.parquet: byte 0: not a capture file"):
        capture_metadata(text)
    with pytest.raises(CaptureError, match="no such file"):
        capture_metadata(tmp_path / "missing.parquet")


def test_truncated_capture_file(tmp_path: Path) -> None:
    path = tmp_path / "c.capture.parquet"
    write(path, list(range(1, 50)))
    cut = tmp_path / "cut.capture.parquet"
    cut.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CaptureError) as err:
        read_capture(cut)
    assert "cut.capture.parquet" in str(err.value) and "\n" not in str(err.value)


def test_other_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.capture.parquet"
    m = meta().model_dump()
    m["format_version"] = FORMAT_VERSION + 1
    table = CAPTURE_SCHEMA.empty_table().replace_schema_metadata({METADATA_KEY: json.dumps(m)})
    pq.write_table(table, path)
    writer_meta = pq.ParquetFile(path).metadata.metadata
    assert METADATA_KEY in writer_meta
    with pytest.raises(
        CaptureError,
        match=f"metadata key harness.capture: capture format version {FORMAT_VERSION + 1} is not",
    ):
        read_capture(path)


def test_header_lines_split_as_split_headers_does() -> None:
    # HeaderLines cuts lines at the first colon by offsets into the lines' own buffer: it must
    # give what the per-record split_headers gives, on any text (no colon, empty lines, UTF-8)
    rng = random.Random(5)
    pieces = ["a", "B", ":", " ", "\t", "\r", "\n", "é", "€", "x:y", "::", ""]
    for _ in range(2000):
        heads = [
            "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) or None
            for _ in range(rng.randint(0, 6))
        ]
        array = pa.array(heads, pa.string())
        if heads and rng.random() < 0.3:
            array, heads = array.slice(1), heads[1:]
        lines = HeaderLines(array)
        offsets = lines.offsets.to_pylist()
        pairs = list(zip(lines.names.to_pylist(), lines.values.to_pylist(), strict=True))
        for i, head in enumerate(heads):
            assert pairs[offsets[i] : offsets[i + 1]] == split_headers(head or ""), head
        flat = [line for head in heads if head for line in head.split("\n")]
        assert lines.raw_values.to_pylist() == [line.partition(":")[2] for line in flat]
        colons = [":" in line for line in flat]
        if all(colons):
            assert lines.has_colon is None
        else:
            assert lines.has_colon is not None
            assert lines.has_colon.to_pylist() == colons


def test_a_version_1_capture_reads_as_the_current_format(tmp_path: Path) -> None:
    """A file written in format 1 (no links, no Location route) reads with the new columns."""
    from harness.capture.schema import CAPTURE_SCHEMA_V1, COLUMNS
    from harness.capture.store import capture_metadata, iter_capture, read_capture

    bundled = (
        Path(__file__).resolve().parents[2] / "captures" / "payments-demo-mitm.capture.parquet"
    )
    current = pq.read_table(bundled)
    meta = json.loads(pq.ParquetFile(bundled).metadata.metadata[METADATA_KEY])
    meta["format_version"] = 1
    v1 = current.select(CAPTURE_SCHEMA_V1.names).replace_schema_metadata(
        {METADATA_KEY: json.dumps(meta).encode()}
    )
    path = tmp_path / "old.capture.parquet"
    pq.write_table(v1, path)
    assert capture_metadata(path).format_version == 1
    table = read_capture(path)
    assert table.column_names == list(COLUMNS)
    assert table.num_rows == current.num_rows
    assert table.column("orig_location_route").null_count == table.num_rows
    assert all(v == [] for v in table.column("links").to_pylist())
    first = next(iter_capture(path, ["idx", "links"]))
    assert first.schema.names == ["idx", "links"]
    assert first.column(1).to_pylist()[0] == []


def test_redaction_report_of_older_files_reads_its_mode() -> None:
    from harness.capture.store import RedactionReport

    assert RedactionReport.model_validate({"enabled": True, "rules": {"cookie": 1}}).mode == "mask"
    assert RedactionReport.model_validate({"enabled": False}).mode == "off"
    new = RedactionReport(enabled=True, mode="pseudonym", key="environment variable K")
    assert RedactionReport.model_validate_json(new.model_dump_json()) == new


def test_damaged_capture_files_name_the_place(tmp_path: Path) -> None:
    import json

    from harness.capture.schema import METADATA_KEY

    good = path = tmp_path / "c.capture.parquet"
    write(path, [100, 200, 300])
    table = pq.read_table(good)
    meta = pq.ParquetFile(good).metadata.metadata[METADATA_KEY]
    doc = json.loads(meta)
    cases = [
        (
            table.drop_columns(["ts_ns"]),
            meta,
            r"column ts_ns: missing \(found offset_ns in its place\)",
        ),
        (
            table.set_column(
                1, "ts_ns", pa.array([str(v) for v in table.column("ts_ns").to_pylist()])
            ),
            meta,
            "column ts_ns: int64 expected, found string",
        ),
        (
            table,
            json.dumps({**doc, "counts": "x"}).encode(),
            r"metadata key harness\.capture field counts: ",
        ),
    ]
    for broken, metadata, expected in cases:
        bad = tmp_path / "bad.capture.parquet"
        pq.write_table(broken.replace_schema_metadata({METADATA_KEY: metadata}), bad)
        with pytest.raises(CaptureError, match=expected):
            capture_metadata(bad)
    raw = good.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(
        CaptureError, match=rf"c\.capture\.parquet: byte {len(raw) // 2 - 8}: not a capture file"
    ):
        capture_metadata(path)
