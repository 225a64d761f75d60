"""Raw HTTP/1.x parsing of GoReplay payloads."""

from __future__ import annotations

import pytest

from harness.capture.httpwire import parse_request, parse_status
from harness.capture.record import header_value


def test_crlf_request_with_body() -> None:
    parsed = parse_request(b'POST /p?x=1 HTTP/1.1\r\nHost: h\r\nX-A:  b \r\n\r\n{"a": 1}\r\n')
    assert parsed is not None
    method, target, version, head, body = parsed
    assert (method, target, version) == ("POST", "/p?x=1", "HTTP/1.1")
    assert header_value(head, "x-a") == "b"
    assert body == b'{"a": 1}\r\n'


def test_lf_only_and_missing_blank_line() -> None:
    assert parse_request(b"GET / HTTP/1.0\nHost: h\n\n") == ("GET", "/", "HTTP/1.0", "Host: h", b"")
    assert parse_request(b"GET / HTTP/1.1\r\nHost: h") == ("GET", "/", "HTTP/1.1", "Host: h", b"")
    assert parse_request(b"GET / HTTP/1.1") == ("GET", "/", "HTTP/1.1", "", b"")


def test_latin1_bytes_survive() -> None:
    parsed = parse_request(b"GET / HTTP/1.1\r\nX-Name: caf\xe9\r\n\r\n")
    assert parsed is not None
    assert parsed[3].encode("latin-1") == b"X-Name: caf\xe9"


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"garbage",
        b"GET /\r\n\r\n",
        b"GET / FTP/1.0\r\n\r\n",
        b"G(T / HTTP/1.1\r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n",
    ],
)
def test_invalid_request_lines(payload: bytes) -> None:
    assert parse_request(payload) is None


def test_status() -> None:
    assert parse_status(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\nnope") == (404, b"nope")
    assert parse_status(b"HTTP/1.1 204\n\n") == (204, b"")
    assert parse_status(b"NOPE 200 OK\r\n\r\n") is None
    assert parse_status(b"HTTP/1.1 abc\r\n\r\n") is None
