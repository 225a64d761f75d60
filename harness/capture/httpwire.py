"""Minimal, fast parsing of raw HTTP/1.x messages as GoReplay records them (CRLF or LF-only).

Only what the capture needs: the request line, the header block (as one ``head`` text with
``\\n`` line breaks, see :class:`~harness.capture.record.Exchange`), the body bytes as they were
sent; and the status code and body of a response. Bytes are decoded as latin-1, so any byte
survives the round trip. Everything is done with whole-buffer ``bytes`` operations: this is the
hot path of a GoReplay import.
"""

from __future__ import annotations

#: The bytes of a method token (RFC 9110 tchar).
TOKEN_BYTES = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"
)

#: (method, request target, http version, head, body)
ParsedRequest = tuple[str, str, str, str, bytes]


def _split(payload: bytes) -> tuple[bytes, bytes]:
    """(header bytes including the start line, body): the head ends at the first empty line."""
    head_end, body_start = _bounds(payload, payload.find(b"\n"))
    return payload[:head_end], payload[body_start:]


def _bounds(payload: bytes, first: int) -> tuple[int, int]:
    """Where the head ends and the body starts (see :func:`_split`), without copying.

    ``first`` is where the first line break is (``payload.find(b"\\n")``).
    """
    if first > 0 and payload[first - 1] == 13:  # CRLF message: one search, not two
        crlf = payload.find(b"\r\n\r\n", first - 1)
        if crlf >= 0:
            return crlf, crlf + 4
    lf = payload.find(b"\n\n")
    if lf >= 0:
        if lf > 0 and payload[lf - 1] == 13:
            return lf - 1, lf + 2  # "\r\n\n": a mixed line end
        return lf, lf + 2
    # no empty line: a request without body whose final newline was cut
    return len(payload.rstrip(b"\r\n")), len(payload)


def parse_request(payload: bytes) -> ParsedRequest | None:
    """Parse a raw request; ``None`` when the request line is not ``METHOD target HTTP/x``."""
    parsed = split_request(payload)
    if parsed is None:
        return None
    method, target, version, head, body = parsed
    return method, target, version, head.decode("latin-1"), body


def split_request(payload: bytes) -> tuple[str, str, str, bytes, bytes] | None:
    """As :func:`parse_request`, but the header lines stay undecoded bytes (the batch path)."""
    first = payload.find(b"\n")
    head_end, body_start = _bounds(payload, first)
    # the end of the request line, when a header line follows it
    eol = first if 0 <= first < head_end else -1
    # header lines keep their CR: the capture writer trims it per batch, in Arrow
    line = payload[:head_end] if eol < 0 else payload[:eol].rstrip(b"\r")
    parts = line.split(b" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if (
        not method
        or not target
        or not version.startswith(b"HTTP/")
        or not TOKEN_BYTES.issuperset(method)
    ):
        return None
    return (
        method.decode("ascii"),
        target.decode("latin-1"),
        version.decode("latin-1"),
        b"" if eol < 0 else payload[eol + 1 : head_end],
        payload[body_start:],
    )


def parse_status(payload: bytes) -> tuple[int, bytes] | None:
    """(status code, body) of a raw response; ``None`` when the status line is invalid."""
    end = payload.find(b"\n")
    line = payload if end < 0 else payload[:end]
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not _is_status(parts[1]):
        return None
    return int(parts[1]), _split(payload)[1]


def _is_status(code: bytes) -> bool:
    """Three digits, 100 to 999 (``99999999999`` does not fit the capture's status column)."""
    return len(code) == 3 and code.isdigit() and code[:1] != b"0"
