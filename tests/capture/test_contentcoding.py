"""Compressed and chunked bodies: decoded, and encoded again the way they came."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest
import zstandard

from harness.capture import contentcoding
from harness.capture.contentcoding import (
    UndecodableBody,
    codings_of,
    dechunk,
    decode_body,
    encode_body,
    rechunk,
)

DATA = b'{"password": "x"}' * 50


def _deflate_raw(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("coding", "encoded", "applied"),
    [
        ("gzip", gzip.compress(DATA), ["gzip"]),
        ("x-gzip", gzip.compress(DATA), ["x-gzip"]),
        ("deflate", zlib.compress(DATA), ["deflate"]),
        ("deflate", _deflate_raw(DATA), ["deflate-raw"]),
        ("br", brotli.compress(DATA), ["br"]),
        ("zstd", zstandard.ZstdCompressor().compress(DATA), ["zstd"]),
        ("gzip, br", brotli.compress(gzip.compress(DATA)), ["gzip", "br"]),
        ("identity", DATA, []),
    ],
)
def test_round_trip(coding: str, encoded: bytes, applied: list[str]) -> None:
    data, used = decode_body(encoded, codings_of(coding))
    assert data == DATA and used == applied
    assert decode_body(encode_body(data, used), codings_of(coding))[0] == DATA


def test_concatenated_members_and_frames() -> None:
    assert decode_body(gzip.compress(b"a") + gzip.compress(b"b"), ["gzip"])[0] == b"ab"
    frame = zstandard.ZstdCompressor().compress(b"c")
    assert decode_body(frame + frame, ["zstd"])[0] == b"cc"


@pytest.mark.parametrize(
    ("coding", "encoded"),
    [
        ("gzip", gzip.compress(DATA)[:-10]),
        ("br", brotli.compress(DATA)[:-3]),
        ("zstd", zstandard.ZstdCompressor().compress(DATA)[:-3]),
        ("deflate", b"not deflate"),
        ("compress", b"x"),
    ],
)
def test_undecodable(coding: str, encoded: bytes) -> None:
    with pytest.raises(UndecodableBody):
        decode_body(encoded, codings_of(coding))


def test_decoding_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contentcoding, "MAX_DECODED_BYTES", 100)
    for coding, encoded in (
        ("gzip", gzip.compress(DATA)),
        ("br", brotli.compress(DATA)),
        ("zstd", zstandard.ZstdCompressor().compress(DATA)),
    ):
        with pytest.raises(UndecodableBody, match="limit"):
            decode_body(encoded, [coding])


def test_chunked() -> None:
    assert dechunk(b"4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n") == b"Wikipedia"
    assert dechunk(b"3\nabc\n0\n\n") == b"abc"
    assert dechunk(b"Wikipedia") is None and dechunk(b"9\r\nabc") is None
    assert dechunk(rechunk(b"hello")) == b"hello" and rechunk(b"") == b"0\r\n\r\n"
