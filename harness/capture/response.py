"""A captured response as the import sees it: held briefly to learn from, never stored.

The readers hand each exchange's original response to the import as a :class:`Response`
(status, header lines, body as captured). The link learner (:mod:`harness.capture.links`) reads
the values it delivered; the capture file keeps only what its schema has (``orig_*`` and the
route of ``Location``). A response lives as long as its request waits in a reader's reorder
window, so memory stays bounded by that window.

:meth:`Response.text` gives the body as text: HTTP/1.1 chunked framing removed (GoReplay records
the bytes on the wire), ``Content-Encoding`` undone (``gzip``, ``x-gzip``, ``deflate``, ``br``,
``zstd``, also stacked), and the charset applied. Output is capped (:data:`MAX_TEXT`): a body
larger than that, compressed or not, is not read, so a hostile "zip bomb" costs nothing.

>>> r = parse_response(b"HTTP/1.1 201 Created\\r\\nLocation: /a/7\\r\\n\\r\\n{}")
>>> (r.status, r.header("location"), r.text())
(201, '/a/7', '{}')
"""

from __future__ import annotations

import codecs
import zlib
from dataclasses import dataclass, field

from harness.capture.record import split_headers

#: Decoded bytes of a body the learner reads at most; a larger body is not read.
MAX_TEXT = 1 << 20

#: Why a body could not be read (keys of the import's counts).
UNREAD_TOO_LARGE = "response body too large"
UNREAD_ENCODING = "response body with unknown or broken content-encoding"

_BROTLI_PIECE = 32
_TEXT_TYPES = ("json", "html", "xml", "text/", "x-www-form-urlencoded", "javascript")


@dataclass(slots=True)
class Response:
    """One original response: ``head`` holds ``Name: value`` lines joined by ``\\n``.

    ``body`` is as captured: with its ``Content-Encoding`` unless ``decoded`` (HAR exporters
    store the decoded text), and still chunked when ``chunked`` (GoReplay keeps the wire bytes).
    ``unread`` says why :meth:`text` gave ``None`` (one of the ``UNREAD_*`` reasons).
    """

    status: int
    head: str
    body: bytes
    decoded: bool = False
    chunked: bool = False
    unread: str | None = None
    _pairs: list[tuple[str, str]] | None = field(default=None, repr=False, compare=False)
    _first: dict[str, str] | None = field(default=None, repr=False, compare=False)

    def headers(self) -> list[tuple[str, str]]:
        """Every header line as ``(name, value)``, in wire order (split once)."""
        if self._pairs is None:
            self._pairs = split_headers(self.head)
        return self._pairs

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or ``None``."""
        first = self._first
        if first is None:
            first = self._first = {}
            for key, value in reversed(self.headers()):
                first[key.strip().lower()] = value
        return first.get(name.lower())

    def set_cookies(self) -> list[tuple[str, str]]:
        """``(name, value)`` of each cookie a ``Set-Cookie`` header sets (deletions included)."""
        out = []
        for key, value in self.headers():
            if key.strip().lower() == "set-cookie":
                pair = value.partition(";")[0]
                cname, eq, cvalue = pair.partition("=")
                if eq and cname.strip():
                    out.append((cname.strip(), cvalue.strip().strip('"')))
        return out

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case (``""`` when absent)."""
        value = self.header("content-type") or ""
        return value.partition(";")[0].strip().lower()

    def is_textual(self) -> bool:
        """Whether the body is worth reading for values (JSON, HTML, XML, text, forms)."""
        kind = self.content_type
        if not kind:
            # no Content-Type: look at the first byte of what is there
            return self.body[:1] in (b"{", b"[", b"<") or self.decoded
        return any(t in kind for t in _TEXT_TYPES)

    def text(self, limit: int = MAX_TEXT) -> str | None:
        """The body as text (see the module docstring), or ``None`` with :attr:`unread` set."""
        body = self.body
        if not body:
            return ""
        if self.chunked:
            body = dechunk(body)
        if not self.decoded:
            codings = [
                c.strip().lower()
                for c in (self.header("content-encoding") or "").split(",")
                if c.strip()
            ]
            # codings are listed in the order they were applied: undo them last to first
            for coding in reversed(codings):
                if coding == "identity":
                    continue
                try:
                    body = decode_content(body, coding, limit)
                except ValueError:
                    self.unread = UNREAD_ENCODING
                    return None
        if len(body) > limit:
            self.unread = UNREAD_TOO_LARGE
            return None
        return body.decode(_charset(self.header("content-type") or ""), "replace")


def kept_for_learning(response: Response) -> Response:
    """``response`` without a body the learner would not read (too large, or not text).

    A reader whose reorder window holds exchanges (mitmproxy) keeps a response only this way:
    the window holds thousands of them, and a download's body is of no use to the learner.
    A body larger than :data:`MAX_TEXT` is dropped and counted (``unread``).
    """
    if not response.body:
        return response
    if len(response.body) > MAX_TEXT:
        response.body = b""
        response.unread = UNREAD_TOO_LARGE
    elif not response.is_textual():
        response.body = b""
    return response


def _charset(content_type: str) -> str:
    """The charset a ``Content-Type`` names, if Python knows it as a text encoding; else UTF-8."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip('"').lower()
            try:
                info = codecs.lookup(name)
            except LookupError:
                return "utf-8"
            # rot13, base64 and the like are codecs too, but not text encodings
            return name if getattr(info, "_is_text_encoding", True) else "utf-8"
    return "utf-8"


def decode_content(data: bytes, coding: str, limit: int = MAX_TEXT) -> bytes:
    """``data`` with one content coding undone; ``ValueError`` when unknown or broken.

    Output beyond ``limit`` bytes is cut off (then ``len(result) > limit``), never produced
    in full.
    """
    cap = limit + 1
    try:
        if coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(wbits=47).decompress(data, cap)
        if coding == "deflate":
            try:
                return zlib.decompressobj().decompress(data, cap)
            except zlib.error:
                return zlib.decompressobj(wbits=-15).decompress(data, cap)  # raw deflate
        if coding == "br":
            import brotli

            # brotli 1.1 has no output limit: small pieces of input, so one call yields at
            # most a few 16 MiB metablocks, and a stop once the output passes the cap
            if len(data) > cap:
                return data  # compressed larger than the cap: the text is larger still
            dec = brotli.Decompressor()
            out = bytearray()
            for start in range(0, len(data), _BROTLI_PIECE):
                out += dec.process(data[start : start + _BROTLI_PIECE])
                if len(out) > cap:
                    break
            return bytes(out)
        if coding == "zstd":
            import zstandard

            with zstandard.ZstdDecompressor().stream_reader(data) as reader:
                return bytes(reader.read(cap))
    except (zlib.error, OSError, EOFError) as exc:
        raise ValueError(f"broken {coding} data") from exc
    except Exception as exc:  # brotli.error and zstandard.ZstdError derive from Exception
        raise ValueError(f"broken {coding} data: {type(exc).__name__}") from exc
    raise ValueError(f"unknown content-encoding {coding!r}")


def dechunk(data: bytes) -> bytes:
    """The payload of an HTTP/1.1 chunked body (what came before a break, when truncated)."""
    out = []
    pos = 0
    n = len(data)
    while pos < n:
        eol = data.find(b"\n", pos)
        if eol < 0:
            break
        size_text = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            break
        if size == 0:
            break
        start = eol + 1
        out.append(data[start : start + size])
        pos = start + size
        # the CRLF (or LF) after the chunk data
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1
    return b"".join(out)


def parse_response(payload: bytes) -> Response | None:
    """A raw HTTP/1.x response (GoReplay record 2) as a :class:`Response`; ``None`` if invalid."""
    first = payload.find(b"\n")
    line = payload if first < 0 else payload[:first]
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    status = int(parts[1])
    if first < 0:
        return Response(status, "", b"")
    end = payload.find(b"\r\n\r\n", first - 1 if first > 0 else 0)
    if end >= 0:
        head, body = payload[first + 1 : end], payload[end + 4 :]
    else:
        lf = payload.find(b"\n\n", first)
        if lf < 0:
            head, body = payload[first + 1 :], b""
        else:
            head, body = payload[first + 1 : lf], payload[lf + 2 :]
    text = head.decode("latin-1").replace("\r\n", "\n").rstrip("\r\n")
    response = Response(status, text, body)
    te = response.header("transfer-encoding")
    response.chunked = te is not None and "chunked" in te.lower()
    return response
