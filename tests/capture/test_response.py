"""Captured responses as the import reads them: framing, content codings, caps, cookies."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from harness.capture.response import (
    UNREAD_ENCODING,
    UNREAD_TOO_LARGE,
    Response,
    dechunk,
    decode_content,
    parse_response,
)

BODY = b'{"user": {"token": "abc"}}'


def _head(pairs: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in pairs.items())


def test_parse_crlf_and_lf_responses() -> None:
    r = parse_response(b"HTTP/1.1 201 Created\r\nLocation: /a/7\r\nX-A: 1\r\n\r\nhello")
    assert r is not None
    assert (r.status, r.header("LOCATION"), r.header("x-a"), r.text()) == (
        201,
        "/a/7",
        "1",
        "hello",
    )
    lf = parse_response(b"HTTP/1.0 302 Found\nLocation: /b\n\nbody")
    assert lf is not None and (lf.status, lf.header("location"), lf.body) == (302, "/b", b"body")
    assert parse_response(b"HTTP/1.1 204 No Content") is not None
    assert parse_response(b"garbage") is None
    assert parse_response(b"HTTP/1.1 abc\r\n\r\n") is None


def test_chunked_body_is_unframed() -> None:
    wire = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n"
    )
    r = parse_response(wire)
    assert r is not None and r.chunked
    assert r.text() == "Wikipedia"
    assert dechunk(b"3\r\nabc\r\n10\r\nshort") == b"abcshort"  # truncated: what came before


@pytest.mark.parametrize(
    ("coding", "data"),
    [
        ("gzip", gzip.compress(BODY)),
        ("x-gzip", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),
        ("deflate", zlib.compress(BODY)[2:-4]),  # raw deflate, as some servers send it
        ("br", brotli.compress(BODY)),
        ("zstd", zstandard.ZstdCompressor().compress(BODY)),
    ],
)
def test_content_codings_are_undone(coding: str, data: bytes) -> None:
    r = Response(200, _head({"Content-Encoding": coding, "Content-Type": "application/json"}), data)
    assert r.text() == BODY.decode()


def test_stacked_codings_are_undone_last_first() -> None:
    data = brotli.compress(gzip.compress(BODY))
    r = Response(200, _head({"Content-Encoding": "gzip, br"}), data)
    assert r.text() == BODY.decode()


def test_chunked_and_gzip_together() -> None:
    packed = gzip.compress(BODY)
    framed = b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed), packed)
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"
    r = parse_response(wire + framed)
    assert r is not None and r.text() == BODY.decode()


def test_broken_and_unknown_codings_are_counted_not_raised() -> None:
    r = Response(200, _head({"Content-Encoding": "gzip"}), b"not gzip at all")
    assert r.text() is None and r.unread == UNREAD_ENCODING
    r = Response(200, _head({"Content-Encoding": "compress"}), b"x")
    assert r.text() is None and r.unread == UNREAD_ENCODING


@pytest.mark.parametrize(
    ("coding", "most"),
    [
        ("gzip", (1 << 20) + 1),
        ("zstd", (1 << 20) + 1),
        # brotli 1.1 has no output limit: fed in small pieces, a call yields a few metablocks
        ("br", 48 << 20),
    ],
)
def test_a_compression_bomb_is_cut_at_the_cap(coding: str, most: int) -> None:
    plain = b"\0" * (64 << 20)
    bomb = {
        "gzip": lambda: gzip.compress(plain, compresslevel=9),
        "zstd": lambda: zstandard.ZstdCompressor(level=19).compress(plain),
        "br": lambda: brotli.compress(plain, quality=5),
    }[coding]()
    assert len(bomb) < 1 << 20
    out = decode_content(bomb, coding, limit=1 << 20)
    assert (1 << 20) < len(out) <= most  # cut off, never the whole 64 MiB
    r = Response(200, _head({"Content-Encoding": coding}), bomb)
    assert r.text() is None and r.unread == UNREAD_TOO_LARGE


def test_charset_and_set_cookies() -> None:
    r = Response(
        200,
        "Content-Type: text/html; charset=ISO-8859-1\nSet-Cookie: sid=abc123; Path=/; HttpOnly\n"
        'set-cookie: theme="dark"\nSet-Cookie: broken',
        "caf\xe9".encode("latin-1"),
    )
    assert r.text() == "caf\xe9"
    assert r.set_cookies() == [("sid", "abc123"), ("theme", "dark")]
    assert r.content_type == "text/html"
    assert r.is_textual()
    assert not Response(200, "Content-Type: image/png", b"\x89PNG").is_textual()


def test_har_bodies_are_already_decoded() -> None:
    r = Response(200, "Content-Encoding: gzip", BODY, decoded=True)
    assert r.text() == BODY.decode()


def test_hostile_bodies_are_unread_or_read_never_raise() -> None:
    from harness.capture.linksources import delivered_values

    cases = [
        Response(200, "Content-Type: text/html; charset=rot13", b"<input name=a value=b1c2d3e4f5>"),
        Response(200, "Content-Type: text/plain; charset=base64", b"token-value-123456"),
        Response(200, "Content-Type: text/plain; charset=no-such-thing", b"token-value-123456"),
        Response(200, "Content-Type: application/json", b"[" * 100_000 + b"]" * 100_000),
        Response(200, "Content-Type: application/json", b'{"id": 1' + b"0" * 5000 + b"}"),
        Response(200, "Content-Type: application/json\nContent-Encoding: br", b"\xff" * 100),
        Response(200, "Content-Type: application/json\nContent-Encoding: zstd", b"\x00" * 64),
        Response(200, "Content-Type: application/json", b'{"a": "\xff\xfe"}'),
        Response(302, "Location: http://[::1", b""),
        Response(200, "Transfer-Encoding: chunked", b"zz\r\nabc", chunked=True),
    ]
    for response in cases:
        delivered_values(response, "")  # no exception
    assert cases[0].text() == "<input name=a value=b1c2d3e4f5>"  # read as UTF-8
    assert delivered_values(cases[2], "")[0].value == "token-value-123456"
    assert cases[5].unread == UNREAD_ENCODING


def test_what_a_reader_keeps_for_learning() -> None:
    from harness.capture.response import kept_for_learning

    text = kept_for_learning(Response(200, "Content-Type: application/json", b"{}"))
    assert text.body == b"{}" and text.unread is None
    image = kept_for_learning(Response(200, "Content-Type: image/png", b"\x89PNG" * 10))
    assert image.body == b"" and image.unread is None
    big = kept_for_learning(Response(200, "Content-Type: text/html", b"x" * ((1 << 20) + 1)))
    assert big.body == b"" and big.unread == UNREAD_TOO_LARGE
