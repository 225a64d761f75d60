"""Minimal, fast parsing of raw HTTP/1.x messages as GoReplay records them (CRLF or LF-only).

Only what the capture needs: the request line, headers in wire order, the body bytes as they were
sent; and the status code and body of a response. Header bytes are decoded as latin-1, so any
byte survives the round trip.
"""

from __future__ import annotations

_TOKEN_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"
)

#: (method, request target, http version, headers, body)
ParsedRequest = tuple[str, str, str, list[tuple[str, str]], bytes]


def _split_head(payload: bytes) -> tuple[str, str, bytes]:
    """(head text, line separator, body): the head ends at the first empty line."""
    crlf = payload.find(b"\r\n\r\n")
    lf = payload.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return payload[:crlf].decode("latin-1"), "\r\n", payload[crlf + 4 :]
    if lf >= 0:
        head = payload[:lf].decode("latin-1")
        return head, "\r\n" if "\r\n" in head else "\n", payload[lf + 2 :]
    # no empty line: a request without body whose final newline was cut
    head = payload.decode("latin-1").rstrip("\r\n")
    return head, "\r\n" if "\r\n" in head else "\n", b""


def parse_request(payload: bytes) -> ParsedRequest | None:
    """Parse a raw request; ``None`` when the request line is not ``METHOD target HTTP/x``."""
    head, eol, body = _split_head(payload)
    lines = head.split(eol)
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if (
        not method
        or not version.startswith("HTTP/")
        or not target
        or not _TOKEN_CHARS.issuperset(method)
    ):
        return None
    headers: list[tuple[str, str]] = []
    append = headers.append
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name:
            append((name, value.strip()))
    return method, target, version, headers, body


def parse_status(payload: bytes) -> tuple[int, bytes] | None:
    """(status code, body) of a raw response; ``None`` when the status line is invalid."""
    end = payload.find(b"\n")
    line = payload if end < 0 else payload[:end]
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return None
    _, _, body = _split_head(payload)
    return int(parts[1]), body
