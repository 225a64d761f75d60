"""GoReplay reader: the real DataDog file and generated files for every variant GoReplay writes."""

from __future__ import annotations

import gzip
import hashlib
import random
import tracemalloc
from pathlib import Path

import pytest

from harness.capture.gor import _parse_header, _records, read_gor
from harness.capture.record import Exchange, SkipLog, header_value
from tests.capture.gorfiles import (
    DATADOG,
    DATADOG_FIRST_NS,
    DATADOG_LAST_NS,
    SEP,
    GorRecord,
    datadog_records,
    request,
    response,
    write_gor,
)

T0 = 1_700_000_000_000_000_000
MS = 1_000_000


def read(paths: list[Path], **kw: int) -> tuple[list[Exchange], SkipLog]:
    skips = SkipLog()
    return list(read_gor(paths, skips, **kw)), skips


def test_datadog_fixture_has_101_requests_in_time_order() -> None:
    exchanges, skips = read([DATADOG])
    assert len(exchanges) == 101
    assert skips.total == 0
    assert exchanges[0].ts_ns == DATADOG_FIRST_NS
    assert exchanges[-1].ts_ns == DATADOG_LAST_NS
    assert [e.ts_ns for e in exchanges] == sorted(e.ts_ns for e in exchanges)
    first = exchanges[0]
    assert (first.method, first.path, first.host, first.http_version) == (
        "GET",
        "/",
        "localhost:3000",
        "HTTP/1.1",
    )
    assert header_value(first.head, "Connection") == "keep-alive"
    assert header_value(first.head, "Sec-Fetch-User") == "?1"
    assert first.source == "datadog-ecommerce-requests_0.gor:1"
    assert sum(e.method == "POST" for e in exchanges) == 2
    assert all(e.orig_status is None for e in exchanges)


def test_post_body_is_kept_byte_for_byte() -> None:
    exchanges, _ = read([DATADOG])
    post = next(e for e in exchanges if e.method == "POST" and e.body)
    raw = DATADOG.read_bytes()
    assert post.body in raw
    assert header_value(post.head, "Content-Length") == str(len(post.body))


def test_gzip_file_reads_like_the_plain_one(tmp_path: Path) -> None:
    gz = tmp_path / "requests_0.gor.gz"
    gz.write_bytes(gzip.compress(DATADOG.read_bytes()))
    plain, _ = read([DATADOG])
    packed, skips = read([gz])
    assert skips.total == 0
    assert [(e.ts_ns, e.path, e.head, e.body) for e in packed] == [
        (e.ts_ns, e.path, e.head, e.body) for e in plain
    ]


def test_chunk_set_is_merged_by_timestamp(tmp_path: Path) -> None:
    records = datadog_records()
    # GoReplay rotates chunks by size; here every third record goes to another chunk
    chunks = [records[i::3] for i in range(3)]
    paths = [
        write_gor(tmp_path / "requests_0.gor", chunks[0]),
        write_gor(tmp_path / "requests_1.gor", chunks[1]),
        write_gor(tmp_path / "requests.gor_2.gz", chunks[2]),
    ]
    exchanges, skips = read(paths)
    assert skips.total == 0
    assert [e.ts_ns for e in exchanges] == sorted(r.ts for r in records)
    assert {e.source.split(":")[0] for e in exchanges} == {p.name for p in paths}


def test_missing_last_separator_keeps_the_last_record(tmp_path: Path) -> None:
    records = [GorRecord(1, f"{i:x}", T0 + i * MS, request(f"/r/{i}")) for i in range(3)]
    path = write_gor(tmp_path / "cut.gor", records, trailing_separator=False)
    exchanges, skips = read([path])
    assert [e.path for e in exchanges] == ["/r/0", "/r/1", "/r/2"]
    assert skips.total == 0


def test_last_record_without_any_newline_is_kept(tmp_path: Path) -> None:
    records = [GorRecord(1, "a", T0, request("/a")), GorRecord(1, "b", T0 + 1, request("/b"))]
    path = tmp_path / "cut.gor"
    path.write_bytes(
        write_gor(path, records).read_bytes().rstrip(b"\n\xf0\x9f\x90\xb5\x99\x88\x89")
    )
    exchanges, _ = read([path])
    assert [e.path for e in exchanges] == ["/a", "/b"]


def test_out_of_order_records_are_sorted(tmp_path: Path) -> None:
    order = [0, 2, 1, 5, 3, 4, 9, 6, 8, 7]
    records = [GorRecord(1, f"{i:x}", T0 + i * MS, request(f"/r/{i}")) for i in order]
    path = write_gor(tmp_path / "shuffled.gor", records)
    exchanges, _ = read([path], window=4)
    assert [e.path for e in exchanges] == [f"/r/{i}" for i in range(10)]


def test_three_and_four_field_headers_and_pairing_by_id(tmp_path: Path) -> None:
    records = [
        GorRecord(1, "aa", T0, request("/payments/1")),
        GorRecord(1, "bb", T0 + 1 * MS, request("/payments/2")),
        GorRecord(2, "bb", T0 + 4 * MS, response(201, b"two"), latency=3 * MS),
        GorRecord(2, "aa", T0 + 7 * MS, response(404, b"one"), latency=7 * MS),
        GorRecord(3, "aa", T0 + 9 * MS, response(500, b"replayed"), latency=1 * MS),
    ]
    exchanges, skips = read([write_gor(tmp_path / "paired.gor", records)])
    by_path = {e.path: e for e in exchanges}
    assert by_path["/payments/1"].orig_status == 404
    assert by_path["/payments/1"].orig_latency_ns == 7 * MS
    assert by_path["/payments/1"].orig_body_sha256 == hashlib.sha256(b"one").hexdigest()
    assert by_path["/payments/2"].orig_status == 201
    assert by_path["/payments/2"].orig_latency_ns == 3 * MS
    assert dict(skips.counts) == {"replayed response (type 3)": 1}


def test_goreplay_12_shared_ids_pair_with_nearest_earlier_request(tmp_path: Path) -> None:
    # GoReplay 1.2 gives every request of one keep-alive connection the same id
    records = [
        GorRecord(1, "conn1", T0, request("/a")),
        GorRecord(2, "conn1", T0 + 2 * MS, response(200, b"A")),
        GorRecord(1, "conn1", T0 + 5 * MS, request("/b")),
        GorRecord(2, "conn1", T0 + 11 * MS, response(503, b"B")),
        GorRecord(1, "conn1", T0 + 20 * MS, request("/c")),
    ]
    exchanges, skips = read([write_gor(tmp_path / "v12.gor", records)])
    got = [(e.path, e.orig_status, e.orig_latency_ns) for e in exchanges]
    assert got == [("/a", 200, 2 * MS), ("/b", 503, 6 * MS), ("/c", None, None)]
    assert skips.total == 0
    assert {e.conn for e in exchanges} == {"conn1"}


def test_response_written_before_its_request_is_still_paired(tmp_path: Path) -> None:
    records = [
        GorRecord(2, "x", T0 + 3 * MS, response(200)),
        GorRecord(1, "x", T0, request("/late-writer")),
    ]
    exchanges, skips = read([write_gor(tmp_path / "swap.gor", records)])
    assert exchanges[0].orig_status == 200
    assert skips.total == 0


def test_response_without_request_is_skipped_with_reason(tmp_path: Path) -> None:
    records = [GorRecord(1, "a", T0, request("/a")), GorRecord(2, "zz", T0 + 1, response())]
    exchanges, skips = read([write_gor(tmp_path / "orphan.gor", records)])
    assert len(exchanges) == 1
    assert skips.counts["response without request"] == 1
    assert skips.examples["response without request"] == ["orphan.gor:2"]


def test_lf_only_payloads(tmp_path: Path) -> None:
    body = b'{"amount": 12}'
    records = [GorRecord(1, "a", T0, request("/pay", "POST", {"X-K": "v"}, body, lf=True))]
    exchanges, _ = read([write_gor(tmp_path / "lf.gor", records)])
    (ex,) = exchanges
    assert ex.method == "POST"
    assert ex.body == body
    assert header_value(ex.head, "x-k") == "v"


def test_garbage_header_line_and_invalid_request_line_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bad.gor"
    good = GorRecord(1, "a", T0, request("/ok")).encode()
    bad_request = GorRecord(1, "b", T0 + 1, b"NOT A REQUEST LINE AT ALL\r\n\r\n").encode()
    sep = "\n🐵🙈🙉\n".encode()
    path.write_bytes(
        b"1 zz not-a-time\nGET / HTTP/1.1\r\n\r\n" + sep + good + sep + bad_request + sep
    )
    exchanges, skips = read([path])
    assert [e.path for e in exchanges] == ["/ok"]
    assert dict(skips.counts) == {"bad record header": 1, "invalid request line": 1}
    assert skips.examples["bad record header"] == ["bad.gor:1"]
    assert skips.examples["invalid request line"] == ["bad.gor:3"]


def test_truncated_gzip_keeps_what_was_decompressed(tmp_path: Path) -> None:
    data = gzip.compress(DATADOG.read_bytes())
    path = tmp_path / "cut.gor.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    exchanges, skips = read([path])
    assert 30 < len(exchanges) < 101
    assert skips.counts["truncated input"] == 1
    assert [e.ts_ns for e in exchanges] == [r.ts for r in datadog_records()[: len(exchanges)]]


def test_request_waiting_past_the_horizon_is_emitted_without_response(tmp_path: Path) -> None:
    records = [
        GorRecord(1, "a", T0, request("/slow")),
        GorRecord(1, "b", T0 + 120 * 1000 * MS, request("/later")),
        GorRecord(2, "a", T0 + 121 * 1000 * MS, response()),
    ]
    exchanges, skips = read([write_gor(tmp_path / "h.gor", records)], pair_horizon_ns=60_000 * MS)
    assert [(e.path, e.orig_status) for e in exchanges] == [("/slow", None), ("/later", None)]
    assert skips.counts["response without request"] == 1


@pytest.mark.parametrize("window", [1, 3, 10_000])
def test_bounded_window_keeps_every_record(tmp_path: Path, window: int) -> None:
    records = [GorRecord(1, f"{i}", T0 + i, request(f"/n/{i}")) for i in range(50)]
    exchanges, _ = read([write_gor(tmp_path / "w.gor", records)], window=window)
    assert len(exchanges) == 50


def test_record_header_shortcut_agrees_with_the_general_parser(tmp_path: Path) -> None:
    # _records reads "1 <id> <ts>" itself and leaves every other header line to _parse_header:
    # on any header line, both must give the same record or the same skip
    rng = random.Random(11)
    kinds = [b"1", b"2", b"3", b"4", b"", b"\r1", b"\n1", b"\r\n1", b"01"]
    seps = [b" ", b" ", b" ", b"  ", b"\t", b"\x0b", b""]
    ids = [b"id", b"a\tb", b"\xe9", b"", b"12", b"a b"]
    stamps = [b"12", b"12", b"-3", b"+4", b"1_0", b"x", b"", b"5 ", b"\xd9\xa3"]
    tails = [b"", b"", b" 7", b" x", b" 7 8", b"\r", b" "]
    fields = (kinds, seps, ids, seps, stamps, tails)
    parts = [b"".join(rng.choice(f) for f in fields) for _ in range(3000)]
    parts = [p + b"\nGET / HTTP/1.1\r\nHost: h\r\n\r\n" for p in parts]
    path = tmp_path / "headers.gor"
    path.write_bytes(b"".join(p + SEP for p in parts))
    expected_skips = SkipLog()
    expected = [
        record
        for number, part in enumerate(parts, 1)
        if (record := _parse_header(part, path.name, 0, number, expected_skips)) is not None
    ]
    skips = SkipLog()
    assert list(_records(path, 0, skips, None)) == expected
    assert skips == expected_skips
    assert expected and expected_skips.total  # both kinds occur


# --- damaged and hostile files: kept what can be kept, counted what cannot --------------------


def _pairs(n: int) -> list[GorRecord]:
    out = []
    for i in range(n):
        out.append(GorRecord(1, f"r{i}", T0 + i * MS, request(f"/p/{i}")))
        out.append(GorRecord(2, f"r{i}", T0 + i * MS + 5 * MS, response(200 + i % 3)))
    return out


CRLF_SEP = b"\r\n" + "🐵🙈🙉".encode() + b"\r\n"


@pytest.mark.parametrize(
    ("name", "transform"),
    [
        ("crlf", lambda data: data.replace(SEP, CRLF_SEP)),
        ("unix2dos", lambda data: data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")),
        ("bom", lambda data: b"\xef\xbb\xbf" + data),
        ("bom-crlf", lambda data: b"\xef\xbb\xbf" + data.replace(SEP, CRLF_SEP)),
        ("mixed", lambda data: data.replace(SEP, CRLF_SEP, 3)),
    ],
)
def test_separator_variants_and_bom_lose_nothing(
    tmp_path: Path, name: str, transform: object
) -> None:
    path = write_gor(tmp_path / f"{name}.gor", _pairs(6))
    path.write_bytes(transform(path.read_bytes()))  # type: ignore[operator]
    exchanges, skips = read([path])
    assert [e.path for e in exchanges] == [f"/p/{i}" for i in range(6)]
    assert [e.orig_status for e in exchanges] == [200, 201, 202, 200, 201, 202]
    assert skips.total == 0
    assert all(b"\xf0\x9f" not in e.body for e in exchanges)  # nothing glued into a body


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (f"1 a {'9' * 30}", "timestamp out of range"),
        ("1 a 9999999999999999999", "timestamp out of range"),
        ("1 a -5", "bad record header"),
        ("1 a +5", "bad record header"),
        ("1 a 1_000", "bad record header"),
        (f"1 a {T0} {'9' * 40}", "bad record header"),
    ],
)
def test_header_numbers_out_of_range_are_skipped(tmp_path: Path, header: str, reason: str) -> None:
    bad = header.encode() + b"\n" + request("/bad")
    good = GorRecord(1, "b", T0, request("/good")).encode()
    path = tmp_path / "n.gor"
    path.write_bytes(bad + SEP + good + SEP)
    exchanges, skips = read([path])
    assert [e.path for e in exchanges] == ["/good"]
    assert [(r, skips.examples[r]) for r in skips.counts] == [
        (next(r for r in skips.counts), ["n.gor:1"])
    ]
    assert reason in next(iter(skips.counts))


@pytest.mark.parametrize("status", [b"99999999999", b"abc", b"000", b"2000", b"20"])
def test_status_that_is_not_three_digits_drops_the_response_only(
    tmp_path: Path, status: bytes
) -> None:
    records = [
        GorRecord(1, "a", T0, request("/a")),
        GorRecord(2, "a", T0 + MS, b"HTTP/1.1 " + status + b" X\r\n\r\n"),
    ]
    exchanges, skips = read([write_gor(tmp_path / "s.gor", records)])
    assert [(e.path, e.orig_status) for e in exchanges] == [("/a", None)]
    assert skips.counts == {"invalid response status line": 1}


def test_a_record_over_the_size_limit_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    from harness.capture.limits import InputLimits

    path = tmp_path / "big.gor"
    with path.open("wb") as out:
        out.write(GorRecord(1, "a", T0, request("/before")).encode() + SEP)
        out.write(f"1 b {T0 + MS}\n".encode() + b"GET /" + b"x" * (24 << 20) + b" HTTP/1.1\r\n\r\n")
        out.write(SEP + GorRecord(1, "c", T0 + 2 * MS, request("/after")).encode() + SEP)
    skips = SkipLog()
    tracemalloc.start()
    try:
        exchanges = list(read_gor([path], skips, limits=InputLimits(max_record_bytes=2 << 20)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [e.path for e in exchanges] == ["/before", "/after"]
    assert skips.counts == {"record larger than the size limit": 1}
    assert skips.examples["record larger than the size limit"] == ["big.gor:2"]
    assert peak < 12 << 20  # a few blocks and the limit, never the 24 MiB record


def test_first_record_over_the_limit_before_any_separator(tmp_path: Path) -> None:
    from harness.capture.limits import InputLimits

    path = tmp_path / "first.gor"
    path.write_bytes(
        f"1 a {T0}\nPOST / HTTP/1.1\r\n\r\n".encode()
        + b"b" * (3 << 20)
        + SEP
        + GorRecord(1, "c", T0 + MS, request("/after")).encode()
        + SEP
    )
    skips = SkipLog()
    exchanges = list(read_gor([path], skips, limits=InputLimits(max_record_bytes=1 << 20)))
    assert [e.path for e in exchanges] == ["/after"]
    assert skips.examples == {"record larger than the size limit": ["first.gor:1"]}


def test_good_gzip_member_then_corrupt_one_keeps_the_first(tmp_path: Path) -> None:
    # the case: the valid member's records used to be lost with the corrupt one
    path = tmp_path / "two.gor.gz"
    first = gzip.compress(b"".join(r.encode() + SEP for r in _pairs(5)))
    path.write_bytes(first + b"\x1f\x8b\x08\x00" + b"\xff" * 100)
    exchanges, skips = read([path])
    assert [e.path for e in exchanges] == [f"/p/{i}" for i in range(5)]
    assert skips.counts == {"corrupt gzip data": 1}


def test_gzip_member_between_corruptions_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "three.gor.gz"
    head = gzip.compress(b"".join(r.encode() + SEP for r in _pairs(3)))
    tail = gzip.compress(b"".join(r.encode() + SEP for r in _pairs(6)[6:]))
    path.write_bytes(head + b"\x1f\x8b\x08\x00" + b"garbage" * 20 + tail)
    exchanges, skips = read([path])
    assert [e.path for e in exchanges] == [f"/p/{i}" for i in range(6)]
    assert skips.counts == {"corrupt gzip data": 1}


def test_a_cut_gzip_counts_the_record_it_cuts(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(r.encode() + SEP for r in _pairs(400)))
    path = tmp_path / "cut.gor.gz"
    path.write_bytes(data[: len(data) // 2])
    exchanges, skips = read([path])
    assert 0 < len(exchanges) < 400
    assert skips.counts["truncated input"] == 1
    assert [e.path for e in exchanges] == [f"/p/{i}" for i in range(len(exchanges))]


def test_gzip_bomb_is_refused_with_its_offset(tmp_path: Path) -> None:
    from harness.capture.limits import InputLimits
    from harness.errors import CaptureError

    path = tmp_path / "bomb.gor.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(f"1 a {T0}\nGET / HTTP/1.1\r\n\r\n".encode())
        for _ in range(48):
            out.write(b"\0" * (1 << 20))
    with pytest.raises(
        CaptureError, match=r"bomb\.gor\.gz: byte \d+: inflates .* more than 200 times"
    ):
        read_gor([path], SkipLog(), limits=InputLimits(ratio_floor_bytes=8 << 20)).__next__()
