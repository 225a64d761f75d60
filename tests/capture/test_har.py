"""HAR reader: the real browser and tool exports, and the HAR quirks the issue names."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from harness.capture.har import read_har
from harness.capture.record import Exchange, SkipLog, header_value
from harness.errors import CaptureError

DATA = Path(__file__).parent / "data"

# file -> (entries, entries with a response)
EXPECTED = {
    "chrome.har": (3, 2),
    "firefox.har": (14, 14),
    "charles.har": (1, 1),
    "insomnia.har": (1, 1),
    "postdata.har": (1, 1),
    "with-bom.har": (1, 1),
    "head-content-length.har": (1, 1),
}


def read(path: Path) -> tuple[list[Exchange], SkipLog]:
    skips = SkipLog()
    return list(read_har(path, skips)), skips


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_har_files(name: str) -> None:
    entries, responses = EXPECTED[name]
    exchanges, skips = read(DATA / name)
    assert len(exchanges) == entries
    assert sum(e.orig_status is not None for e in exchanges) == responses
    assert skips.total == 0
    assert [e.ts_ns for e in exchanges] == sorted(e.ts_ns for e in exchanges)
    for ex in exchanges:
        assert not any(line.startswith(":") for line in ex.head.split("\n"))


def test_byte_order_mark_file_equals_the_plain_one() -> None:
    plain, _ = read(DATA / "postdata.har")
    bom, _ = read(DATA / "with-bom.har")
    assert (DATA / "with-bom.har").read_bytes().startswith(b"\xef\xbb\xbf")
    assert [(e.method, e.path, e.body) for e in bom] == [(e.method, e.path, e.body) for e in plain]
    assert plain[0].method == "POST" and len(plain[0].body) > 0


def test_http2_pseudo_headers_are_dropped() -> None:
    exchanges, _ = read(DATA / "chrome.har")
    raw = json.loads((DATA / "chrome.har").read_text())
    assert any(h["name"].startswith(":") for h in raw["log"]["entries"][0]["request"]["headers"])
    assert exchanges[0].http_version == "HTTP/2.0"
    assert header_value(exchanges[0].head, ":authority") is None


def write_har(path: Path, entries: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    return path


def entry(started: str, url: str, **extra: object) -> dict[str, object]:
    request = {"method": "POST", "url": url, "httpVersion": "HTTP/1.1", "headers": []}
    request.update(extra.pop("request", {}))  # type: ignore[call-overload]
    return {
        "startedDateTime": started,
        "time": 12.5,
        "request": request,
        "response": {"status": 200, "content": extra.pop("content", {"text": ""})},
    }


def test_base64_bodies_and_sorting_by_start_time(tmp_path: Path) -> None:
    payload = b"\x00\x01binary\xff"
    path = write_har(
        tmp_path / "b.har",
        [
            entry(
                "2024-01-01T00:00:02.500Z",
                "https://api.example/b",
                content={"text": base64.b64encode(b"resp").decode(), "encoding": "base64"},
            ),
            entry(
                "2024-01-01T00:00:01+00:00",
                "https://api.example/a?x=1",
                request={
                    "postData": {
                        "mimeType": "application/octet-stream",
                        "text": base64.b64encode(payload).decode(),
                        "encoding": "base64",
                    }
                },
            ),
        ],
    )
    exchanges, _ = read(path)
    assert [e.path for e in exchanges] == ["/a?x=1", "/b"]
    assert exchanges[0].body == payload
    assert exchanges[0].scheme == "https" and exchanges[0].host == "api.example"
    assert exchanges[1].ts_ns - exchanges[0].ts_ns == 1_500_000_000
    assert exchanges[1].orig_latency_ns == 12_500_000


def test_form_params_without_text_become_a_form_body(tmp_path: Path) -> None:
    path = write_har(
        tmp_path / "f.har",
        [
            entry(
                "2024-01-01T00:00:00Z",
                "http://h/login",
                request={
                    "postData": {
                        "mimeType": "application/x-www-form-urlencoded",
                        "params": [{"name": "user", "value": "a b"}],
                    }
                },
            ),
        ],
    )
    (ex,), _ = read(path)
    assert ex.body == b"user=a+b"


def test_entry_without_valid_time_or_url_is_skipped(tmp_path: Path) -> None:
    path = write_har(
        tmp_path / "s.har",
        [
            entry("yesterday", "http://h/a"),
            entry("2024-01-01T00:00:00Z", "not a url"),
            entry("2024-01-01T00:00:01Z", "http://h/ok"),
        ],
    )
    exchanges, skips = read(path)
    assert [e.path for e in exchanges] == ["/ok"]
    assert skips.examples == {
        "har entry with invalid startedDateTime": ["s.har:1"],
        "invalid request line": ["s.har:2"],
    }


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"log": {"entries": [', "invalid JSON at line 1"),
        (b'{"log": "\xc3\x28"}', "not UTF-8 text at byte 9, line 1"),
        (b"\xff\xfe not text", "not UTF-16 text at byte 10"),
        (b'{"log": {}}', ":1: not a HAR file (no log.entries list: log.entries is missing)"),
        (b'{\n"log": []}', ":2: not a HAR file (no log.entries list: log is a list)"),
        (b'{"log": {"entries": {}}}', ":1: not a HAR file (no log.entries list: log.entries is a"),
        (b"[1, 2]", ":1: not a HAR file (the top level is a list, not a mapping)"),
    ],
)
def test_not_a_har_is_a_one_line_error(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.har"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as err:
        read(path)
    assert expected in str(err.value)
    assert "bad.har" in str(err.value)
    assert "\n" not in str(err.value)


# --- entries of every shape: skipped and counted, or the response dropped and counted ---------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"startedDateTime": "9999-12-31T23:59:59Z"}, "har entry with invalid startedDateTime"),
        ({"startedDateTime": "0001-01-01T00:00:00Z"}, "har entry with invalid startedDateTime"),
        ({"startedDateTime": 1714557600}, "har entry with invalid startedDateTime"),
        ({"request": {"url": "http://[::1/x"}}, "invalid request line"),
        ({"request": {"url": "http://h/a b"}}, "invalid request line"),
        ({"request": {"url": "http://h/\ud800"}}, "invalid request line"),
        ({"request": {"method": 5}}, "invalid request line"),
        ({"request": {"method": "GET POST"}}, "invalid request line"),
        ({"request": {"headers": {"a": "b"}}}, "har entry with invalid headers"),
        ({"request": {"headers": ["Accept: x"]}}, "har entry with invalid headers"),
        ({"request": {"headers": [{"name": "A", "value": [1]}]}}, "har entry with invalid headers"),
        (
            {"request": {"headers": [{"name": "A\nB", "value": "v"}]}},
            "har entry with invalid headers",
        ),
        (
            {"request": {"postData": {"text": "x" * (17 << 20)}}},
            "record larger than the size limit",
        ),
    ],
)
def test_unusable_entries_are_skipped_with_their_reason(
    tmp_path: Path, change: dict[str, object], reason: str
) -> None:
    bad = entry("2024-01-01T00:00:00Z", "http://h/bad")
    for key, value in change.items():
        if isinstance(value, dict):
            bad[key] = {**bad[key], **value}  # type: ignore[dict-item]
        else:
            bad[key] = value
    path = write_har(tmp_path / "e.har", [bad, entry("2024-01-01T00:00:01Z", "http://h/ok")])
    exchanges, skips = read(path)
    assert [e.path for e in exchanges] == ["/ok"]
    assert skips.examples == {reason: ["e.har:1"]}


@pytest.mark.parametrize(
    ("response", "time", "reason", "status"),
    [
        ({"status": "abc"}, 5, "har response with invalid status (request kept)", None),
        ({"status": 99999999999}, 5, "har response with invalid status (request kept)", None),
        ({"status": -1}, 5, "har response with invalid status (request kept)", None),
        ({"status": True}, 5, "har response with invalid status (request kept)", None),
        ({"status": "201"}, 5, None, 201),
        ({"status": 204.0}, 5, None, 204),
        ({"status": 200}, float("nan"), "har response with invalid time (request kept)", 200),
        ({"status": 200}, float("inf"), "har response with invalid time (request kept)", 200),
        ({"status": 200}, "x", "har response with invalid time (request kept)", 200),
        ({"status": 200}, -5, "har response with invalid time (request kept)", 200),
        ({"status": 200}, 10**400, "har response with invalid time (request kept)", 200),
    ],
)
def test_unusable_responses_keep_the_request(
    tmp_path: Path,
    response: dict[str, object],
    time: object,
    reason: str | None,
    status: int | None,
) -> None:
    one = entry("2024-01-01T00:00:00Z", "http://h/a")
    one["response"] = {**response, "content": {"text": "{}"}}
    one["time"] = time
    path = tmp_path / "r.har"
    path.write_text(json.dumps({"log": {"entries": [one]}}))  # NaN and Infinity as JSON allows
    (ex,), skips = read(path)
    assert ex.orig_status == status
    assert skips.examples == ({reason: ["r.har:1"]} if reason else {})


def test_odd_http_version_reads_as_http_1_1(tmp_path: Path) -> None:
    odd = entry("2024-01-01T00:00:00Z", "http://h/a", request={"httpVersion": "HTTP/\ud800"})
    (ex,), _ = read(write_har(tmp_path / "v.har", [odd]))
    assert ex.http_version == "HTTP/1.1"


def test_shapes_of_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "odd.har"
    path.write_text(
        json.dumps(
            {"log": {"entries": [1, "x", None, [], entry("2024-01-01T00:00:00Z", "http://h/ok")]}}
        )
    )
    exchanges, skips = read(path)
    assert [e.path for e in exchanges] == ["/ok"]
    assert skips.counts == {"har entry without request": 4}


def test_utf16_export_and_huge_numbers(tmp_path: Path) -> None:
    doc = json.dumps({"log": {"entries": [entry("2024-01-01T00:00:00Z", "http://h/a")]}})
    path = tmp_path / "u.har"
    path.write_bytes(b"\xff\xfe" + doc.encode("utf-16-le"))
    (ex,), _ = read(path)
    assert ex.path == "/a"
    path.write_text(doc.replace('"time": 12.5', '"time": ' + "9" * 5000))
    (ex,), skips = read(path)
    assert ex.orig_latency_ns is None
    assert skips.counts == {"har response with invalid time (request kept)": 1}


def test_deep_nesting_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.har"
    path.write_bytes(b'{"log": {"entries": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}}")
    with pytest.raises(CaptureError) as err:
        read(path)
    assert str(err.value) == f"{path}: byte 0: not a HAR file (JSON nested too deep)"


def test_size_limit_of_a_har(tmp_path: Path) -> None:
    from harness.capture.limits import InputLimits

    path = write_har(tmp_path / "big.har", [entry("2024-01-01T00:00:00Z", "http://h/a")] * 20_000)
    with pytest.raises(CaptureError, match=r"big\.har: larger than 1 MiB: a HAR is read whole"):
        list(read_har(path, SkipLog(), limits=InputLimits(max_har_bytes=1 << 20)))
