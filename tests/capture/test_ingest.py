"""The import pipeline end to end: every fixture, secrets, filters, and unusable input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.capture.config import CaptureConfig, FilterConfig, RedactionConfig, RedactionPattern
from harness.capture.ingest import import_capture, resolve_sources
from harness.capture.store import capture_metadata, read_capture
from harness.errors import CaptureError
from tests.capture.gorfiles import DATADOG, DATADOG_FIRST_NS, DATADOG_LAST_NS
from tests.capture.secrets import SECRETS, write_seeded

DATA = Path(__file__).parent / "data"


def all_cells(path: Path) -> bytes:
    """Every value of every column, decoded from Parquet, as one byte string."""
    table = read_capture(path)
    out = []
    for column in table.columns:
        for value in column.to_pylist():
            out.append(repr(value).encode())
            if isinstance(value, bytes):
                out.append(value)
    return b"\n".join(out)


def test_datadog_gor_import(tmp_path: Path) -> None:
    out = tmp_path / "dd.capture.parquet"
    meta = import_capture([DATADOG], out)
    table = read_capture(out)
    assert table.num_rows == 101
    assert meta.counts.written == meta.counts.read == 101
    assert table.column("ts_ns")[0].as_py() == DATADOG_FIRST_NS
    assert table.column("ts_ns")[100].as_py() == DATADOG_LAST_NS
    assert table.column("offset_ns")[100].as_py() == DATADOG_LAST_NS - DATADOG_FIRST_NS
    assert table.column("idx").to_pylist() == list(range(101))
    assert table.column("source")[0].as_py() == "datadog-ecommerce-requests_0.gor:1"
    assert meta.redaction.rules == {"cookie": 101, "api-key": 2}  # X-Spree-Order-Token
    assert capture_metadata(out) == meta
    headers = table.column("headers")[0].as_py()
    assert headers[:2] == [
        {"name": "Host", "value": "localhost:3000"},
        {"name": "Connection", "value": "keep-alive"},
    ]
    for row in table.column("headers").to_pylist():
        assert not any("\r" in h["name"] + h["value"] or not h["name"] for h in row)


def test_every_fixture_in_one_capture(tmp_path: Path) -> None:
    sources = sorted(p for p in DATA.iterdir() if p.suffix in (".gor", ".mitm", ".har"))
    sources.remove(DATA / "dumpfile-010.mitm")
    out = tmp_path / "all.capture.parquet"
    meta = import_capture(sources, out)
    assert meta.counts.written == 101 + 23 + 22
    assert meta.counts.responses == 16 + 21
    assert meta.skipped == {"websocket message": 11}
    assert {s.format for s in meta.sources} == {"gor", "mitm", "har"}
    ts = read_capture(out, ["ts_ns"]).column("ts_ns").to_pylist()
    assert ts == sorted(ts)


def test_refused_mitm_version_fails_the_import(tmp_path: Path) -> None:
    out = tmp_path / "x.capture.parquet"
    with pytest.raises(CaptureError, match=r"dumpfile-010.mitm.*\(0, 10\)"):
        import_capture([DATA / "dumpfile-010.mitm"], out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_seeded_secrets_never_reach_the_capture_file(tmp_path: Path) -> None:
    sources = write_seeded(tmp_path)
    config = CaptureConfig(
        redaction=RedactionConfig(
            patterns=[RedactionPattern(name="employee-id", pattern=r"EMP-\d{6}")]
        )
    )
    out = tmp_path / "clean.capture.parquet"
    meta = import_capture(sources, out, config=config)
    assert meta.counts.written == 42  # the corpus, three ways
    raw = out.read_bytes()
    cells = all_cells(out)
    for secret in SECRETS:
        for variant in {secret, secret.replace("@", "%40")}:
            assert variant.encode() not in raw, variant
            assert variant.encode() not in cells, variant
    rules = meta.redaction.rules
    for rule in (
        "authorization",
        "cookie",
        "api-key",
        "jwt",
        "email",
        "card",
        "secret-field",
        "employee-id",
    ):
        assert rules.get(rule, 0) > 0, rule
    assert meta.redaction.enabled and meta.options.redact


def test_no_redact_keeps_secrets_and_says_so(tmp_path: Path) -> None:
    out = tmp_path / "raw.capture.parquet"
    meta = import_capture(write_seeded(tmp_path), out, redact=False)
    cells = all_cells(out)
    assert b"APIKEY-SEEDED-777" in cells and b"Pa55w0rd-SEEDED" in cells  # the check above can fail
    assert meta.redaction.enabled is False
    assert capture_metadata(out).options.redact is False


def test_filters_and_first_offset(tmp_path: Path) -> None:
    out = tmp_path / "f.capture.parquet"
    config = CaptureConfig(
        filters=FilterConfig(deny_routes=["/cart_link", "/api_tokens"], since_s=60)
    )
    meta = import_capture([DATADOG], out, config=config)
    table = read_capture(out)
    assert meta.counts.written == table.num_rows
    assert meta.counts.written + meta.counts.filtered == 101
    assert set(meta.filtered) == {"route", "time window"}
    assert table.column("offset_ns")[0].as_py() == 0
    assert not {"/cart_link", "/api_tokens"} & set(table.column("route").to_pylist())


def test_truncated_gzip_keeps_earlier_records(tmp_path: Path) -> None:
    data = gzip.compress(DATADOG.read_bytes())
    src = tmp_path / "cut.gor.gz"
    src.write_bytes(data[: len(data) // 2])
    meta = import_capture([src], tmp_path / "c.capture.parquet")
    assert 10 < meta.counts.written < 101
    assert meta.skipped == {"truncated input": 1}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.gor", b"", "empty file"),
        ("noise.bin", bytes(range(7, 250)) * 40, "unknown capture format"),
        (
            "garbage.gor",
            "1 x y z w\nGET / HTTP/1.1\r\n\r\n\n🐵🙈🙉\n".encode(),
            "bad record header x1 (garbage.gor:1)",
        ),
        ("bad.har", b"{ not json", "not a HAR file"),
        (
            "line.gor",
            "1 ab 1700000000000000000\nHELLO\r\n\r\n\n🐵🙈🙉\n".encode(),
            "invalid request line x1 (line.gor:1)",
        ),
    ],
)
def test_nothing_usable_is_a_one_line_capture_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    src = tmp_path / name
    src.write_bytes(content)
    with pytest.raises(CaptureError) as err:
        import_capture([src], tmp_path / "out.capture.parquet")
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert err.value.exit_code == 3
    assert not (tmp_path / "out.capture.parquet").exists()


def test_resolve_sources_globs_and_errors(tmp_path: Path) -> None:
    for name in ("t_1.gor", "t_0.gor", "other.har"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in resolve_sources([str(tmp_path / "t_*.gor")])] == ["t_0.gor", "t_1.gor"]
    with pytest.raises(CaptureError, match="no file matches"):
        resolve_sources([str(tmp_path / "*.mitm")])
    with pytest.raises(CaptureError, match="no such file"):
        resolve_sources([str(tmp_path / "missing.gor")])


def test_output_never_overwrites_an_input(tmp_path: Path) -> None:
    src = tmp_path / "in.gor"
    src.write_bytes(DATADOG.read_bytes())
    with pytest.raises(CaptureError, match="overwrite an input"):
        import_capture([src], src)


def test_progress_reports_bytes(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    import_capture(
        [DATADOG], tmp_path / "p.capture.parquet", progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1] == (DATADOG.stat().st_size, DATADOG.stat().st_size)


def test_row_groups_are_written_in_batches(tmp_path: Path) -> None:
    out = tmp_path / "dd.capture.parquet"
    import_capture([DATADOG], out)
    assert pq.ParquetFile(out).metadata.num_rows == 101
