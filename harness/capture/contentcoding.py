"""Compressed request bodies: decoded so that redaction can read them, encoded again after.

A request body sent with ``Content-Encoding: gzip`` (or ``x-gzip``, ``deflate``, ``br``,
``zstd``, or several of them in a row such as ``gzip, br``) is decoded before the rules run.
When a rule replaced something, the new body is encoded again with the same codings, in the
same order, so the stored request still says what it is: the replay sends it as captured,
with its ``Content-Encoding`` header, and ``Content-Length`` is set to the new size. A body in
which nothing was replaced keeps its original bytes.

A body that cannot be decoded (an unknown coding, a corrupt or truncated stream, more than
:data:`MAX_DECODED_BYTES` once decoded) raises :class:`UndecodableBody`; the redactor then
keeps it as it is and counts it under ``undecoded-body`` in the capture's report, so the
report says which bodies no rule could read.
"""

from __future__ import annotations

import gzip
import zlib

#: A decoded body larger than this is not decoded (a compression bomb stays harmless).
MAX_DECODED_BYTES = 64 << 20
CODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd", "identity")
_STEP = 4096


class UndecodableBody(ValueError):
    """The body cannot be decoded with the codings its header names."""


def codings_of(header: str | None) -> list[str]:
    """The content codings of a ``Content-Encoding`` value, in the order they were applied."""
    if not header:
        return []
    return [
        c.strip().lower() for c in header.split(",") if c.strip().lower() not in ("", "identity")
    ]


def decode_body(data: bytes, codings: list[str]) -> tuple[bytes, list[str]]:
    """(``data`` decoded, the codings as applied: ``deflate`` is told apart from ``deflate-raw``).

    Raises :class:`UndecodableBody`.
    """
    applied: list[str] = []
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            data = _inflate(data, 16 + zlib.MAX_WBITS)
            applied.append(coding)
        elif coding == "deflate":
            try:
                data = _inflate(data, zlib.MAX_WBITS)
                applied.append("deflate")
            except UndecodableBody:
                data = _inflate(data, -zlib.MAX_WBITS)  # many clients send raw deflate
                applied.append("deflate-raw")
        elif coding == "br":
            data = _unbrotli(data)
            applied.append(coding)
        elif coding == "zstd":
            data = _unzstd(data)
            applied.append(coding)
        else:
            raise UndecodableBody(f"unknown content coding {coding!r}")
    applied.reverse()
    return data, applied


def encode_body(data: bytes, applied: list[str]) -> bytes:
    """``data`` encoded with ``applied`` (what :func:`decode_body` returned), in order."""
    for coding in applied:
        if coding in ("gzip", "x-gzip"):
            data = gzip.compress(data, mtime=0)
        elif coding == "deflate":
            data = zlib.compress(data)
        elif coding == "deflate-raw":
            packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
            data = packer.compress(data) + packer.flush()
        elif coding == "br":
            import brotli

            data = brotli.compress(data)
        elif coding == "zstd":
            import zstandard

            data = zstandard.ZstdCompressor().compress(data)
    return data


def _inflate(data: bytes, wbits: int) -> bytes:
    out = bytearray()
    rest = data
    while rest:
        unpack = zlib.decompressobj(wbits)
        try:
            out += unpack.decompress(rest, MAX_DECODED_BYTES + 1 - len(out))
        except zlib.error as exc:
            raise UndecodableBody(f"corrupt stream ({exc})") from exc
        if len(out) > MAX_DECODED_BYTES:
            raise UndecodableBody("larger than the decoding limit")
        if not unpack.eof:
            raise UndecodableBody("truncated stream")
        # concatenated gzip members follow one another
        rest = unpack.unused_data if wbits > zlib.MAX_WBITS else b""
    return bytes(out)


def _unbrotli(data: bytes) -> bytes:
    import brotli

    unpack = brotli.Decompressor()
    out = bytearray()
    try:
        for i in range(0, len(data), _STEP):
            out += unpack.process(data[i : i + _STEP])
            if len(out) > MAX_DECODED_BYTES:
                raise UndecodableBody("larger than the decoding limit")
        if not unpack.is_finished():
            raise UndecodableBody("truncated stream")
    except brotli.error as exc:
        raise UndecodableBody(f"corrupt stream ({exc})") from exc
    return bytes(out)


def _unzstd(data: bytes) -> bytes:
    import zstandard

    out = bytearray()
    rest = data
    try:
        while rest:
            unpack = zstandard.ZstdDecompressor().decompressobj()
            for i in range(0, len(rest), _STEP):
                out += unpack.decompress(rest[i : i + _STEP])
                if len(out) > MAX_DECODED_BYTES:
                    raise UndecodableBody("larger than the decoding limit")
                if unpack.eof:
                    break
            if not unpack.eof:
                raise UndecodableBody("truncated stream")
            rest = unpack.unused_data + rest[i + _STEP :]  # the next frame, if any
    except zstandard.ZstdError as exc:
        raise UndecodableBody(f"corrupt stream ({exc})") from exc
    return bytes(out)


def dechunk(body: bytes) -> bytes | None:
    """The data of a ``Transfer-Encoding: chunked`` body, or ``None`` when it is not one."""
    out = bytearray()
    pos = 0
    while True:
        eol = body.find(b"\n", pos)
        if eol < 0:
            return None
        size_text = body[pos:eol].rstrip(b"\r").split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return None
        start = eol + 1
        if size == 0:
            return bytes(out)  # trailers, if any, are dropped with the framing
        end = start + size
        if end > len(body):
            return None
        out += body[start:end]
        if body[end : end + 2] == b"\r\n":
            pos = end + 2
        elif body[end : end + 1] == b"\n":
            pos = end + 1
        else:
            return None


def rechunk(data: bytes) -> bytes:
    """``data`` as one chunk and the last chunk (what :func:`dechunk` reads back)."""
    if not data:
        return b"0\r\n\r\n"
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
