"""Raw HTTP/1.x parsing of GoReplay payloads."""

from __future__ import annotations

import random

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


_TOKEN_CHARS = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _reference_parse(payload: bytes) -> tuple[str, str, str, str, bytes] | None:
    """parse_request as first written (split, then cut): the fast version must agree."""
    first = payload.find(b"\n")
    head, body = payload.rstrip(b"\r\n"), b""
    crlf = payload.find(b"\r\n\r\n", first - 1) if first > 0 and payload[first - 1] == 13 else -1
    lf = payload.find(b"\n\n")
    if crlf >= 0:
        head, body = payload[:crlf], payload[crlf + 4 :]
    elif lf >= 0:
        cut = lf - 1 if lf > 0 and payload[lf - 1] == 13 else lf
        head, body = payload[:cut], payload[lf + 2 :]
    eol = head.find(b"\n")
    line = head if eol < 0 else head[:eol].rstrip(b"\r")
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[0] or not parts[1] or not parts[2].startswith(b"HTTP/"):
        return None
    if not set(parts[0]) <= _TOKEN_CHARS:
        return None
    return (
        parts[0].decode("ascii"),
        parts[1].decode("latin-1"),
        parts[2].decode("latin-1"),
        "" if eol < 0 else head[eol + 1 :].decode("latin-1"),
        body,
    )


def test_parse_request_agrees_with_the_plain_version_on_random_messages() -> None:
    rng = random.Random(7)
    pieces = [b"GET / HTTP/1.1", b"\r\n", b"\n", b"\r", b"Host: x", b"A:b", b"\r\n\r\n", b"\n\n"]
    pieces += [b"body", b" ", b"", b"\xe9", b"POST /p?q=1 HTTP/1.0"]
    for _ in range(5000):
        payload = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        assert parse_request(payload) == _reference_parse(payload), payload
