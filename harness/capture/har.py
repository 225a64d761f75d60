"""HAR reader: exports of browsers, Charles, Fiddler, Insomnia -> :class:`Exchange` list.

A HAR is one JSON document, so it is read whole (memory about twice the file; files larger than
``max_har_bytes`` are refused, gzip-compressed ones are inflated within the limits of
:mod:`harness.capture.inflate`). Handled: a byte-order mark, base64-encoded bodies
(``encoding: base64``), HTTP/2 pseudo-headers (``:authority`` ... dropped; the URL carries
them), form ``params`` without ``text``, entries out of order (sorted by ``startedDateTime``).

A file that is not a HAR is a one-line :class:`CaptureError` naming the place (line and column
of a JSON error, byte of a bad UTF-8 sequence). Each entry is read strictly, since exporters
and hand edits produce every shape: an entry that cannot be used (no request, a time outside
1970-2262, a URL that does not parse, a method that is not a token, headers that are not
name/value strings, a body over the record limit) is skipped and counted with ``file:entry``;
a response that cannot be used (a status that is not 100-999, a time that is not a finite
number) is counted and the request kept without it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

from harness.capture.httpwire import TOKEN_BYTES
from harness.capture.inflate import InflatedStream
from harness.capture.limits import (
    DEFAULT_LIMITS,
    SKIP_TOO_LARGE,
    InputLimits,
    seconds_to_ns,
    size_text,
    status_ok,
    ts_ok,
    utf8_ok,
)
from harness.capture.record import (
    SKIP_BAD_REQUEST_LINE,
    SKIP_NO_REQUEST,
    Exchange,
    SkipLog,
    join_headers,
)
from harness.capture.response import Response
from harness.errors import CaptureError, printable

SKIP_BAD_TIME = "har entry with invalid startedDateTime"
SKIP_BAD_HEADERS = "har entry with invalid headers"
SKIP_BAD_STATUS = "har response with invalid status (request kept)"
SKIP_BAD_LATENCY = "har response with invalid time (request kept)"
#: Characters a URL cannot hold raw (browsers write them percent-encoded).
_NOT_IN_URL = frozenset(chr(c) for c in [*range(33), 127])


class _Unusable(Exception):
    """An entry that cannot be used, with the skip reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def load_har(path: Path, limits: InputLimits = DEFAULT_LIMITS) -> list[Any]:
    """The entries of the HAR file ``path`` (raises :class:`CaptureError` when it is not one)."""
    name = printable(str(path))
    skips = SkipLog()
    with io.BufferedReader(InflatedStream(path, skips, limits)) as stream:
        data = stream.read(limits.max_har_bytes + 1)
    if len(data) > limits.max_har_bytes:
        raise CaptureError(
            f"{name}: larger than {size_text(limits.max_har_bytes)}: a HAR is read whole "
            "(raise --max-har-size, or split the export)"
        )
    if skips.total and not data:
        raise CaptureError(f"{name}: {skips.summary()}")
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))  # some Windows tools write UTF-16
    try:
        text = data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        encoding = "UTF-16" if utf16 else "UTF-8"
        raise CaptureError(
            f"{name}: not a HAR file (not {encoding} text at byte {exc.start}, line {line})"
        ) from None
    del data
    try:
        doc = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as exc:
        raise CaptureError(
            f"{name}: not a HAR file (invalid JSON at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg})"
        ) from None
    except RecursionError:
        raise CaptureError(f"{name}: byte 0: not a HAR file (JSON nested too deep)") from None
    log = doc.get("log") if isinstance(doc, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise CaptureError(f"{name}:{_where_entries(text, doc)}")
    if skips.total:
        raise CaptureError(f"{name}: {skips.summary()}: a HAR cut short cannot be read")
    return entries


def read_har(
    path: Path, skips: SkipLog, *, limits: InputLimits = DEFAULT_LIMITS
) -> Iterator[Exchange]:
    """Exchanges of the HAR file ``path``, sorted by start time."""
    name = printable(path.name)
    timed: list[tuple[int, int, dict[str, Any]]] = []
    for number, entry in enumerate(load_har(path, limits), start=1):
        where = f"{name}:{number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
            skips.add(SKIP_NO_REQUEST, where)
            continue
        ts_ns = _started_ns(entry.get("startedDateTime"))
        if ts_ns is None:
            skips.add(SKIP_BAD_TIME, where)
            continue
        timed.append((ts_ns, number, entry))
    timed.sort(key=lambda t: (t[0], t[1]))
    for ts_ns, number, entry in timed:
        where = f"{name}:{number}"
        try:
            yield _exchange(entry, ts_ns, where, skips, limits)
        except _Unusable as exc:
            skips.add(exc.reason, where)


def _json_int(digits: str) -> float | int:
    """A JSON integer; one too long to be any count or time here reads as infinite (Python
    refuses to convert more than 4300 digits, and no field takes more than 20)."""
    if len(digits) <= 40:
        return int(digits)
    return -math.inf if digits.startswith("-") else math.inf


def _where_entries(text: str, doc: object) -> str:
    """``LINE: not a HAR file (...)``: where the document stops being a HAR, and how."""
    if not isinstance(doc, dict):
        return f"1: not a HAR file (the top level is {_json_kind(doc)}, not a mapping)"
    log = doc.get("log")
    holder: dict[str, object] = log if isinstance(log, dict) else doc
    key = "entries" if isinstance(log, dict) else "log"
    found = text.find(f'"{key}"')
    line = text.count("\n", 0, found) + 1 if found >= 0 else 1
    dotted = "log.entries" if key == "entries" else "log"
    what = _json_kind(holder[key]) if key in holder else "missing"
    return f"{line}: not a HAR file (no log.entries list: {dotted} is {what})"


def _json_kind(value: object) -> str:
    kinds = {dict: "a mapping", list: "a list", str: "text", type(None): "null"}
    return kinds.get(type(value), "a number")


def _started_ns(value: object) -> int | None:
    """Epoch nanoseconds of a ``startedDateTime``, or ``None`` outside what int64 holds."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        started = datetime.fromisoformat(value)
        ts_ns = int(started.timestamp()) * 1_000_000_000 + started.microsecond * 1000
    except (ValueError, OverflowError, OSError):
        return None
    return ts_ns if ts_ok(ts_ns) else None


def _exchange(
    entry: dict[str, Any], ts_ns: int, where: str, skips: SkipLog, limits: InputLimits
) -> Exchange:
    request = entry["request"]
    method = request.get("method")
    url = request.get("url")
    if (
        not isinstance(method, str)
        or not method
        or not TOKEN_BYTES.issuperset(method.encode("utf-8", "replace"))
        or not isinstance(url, str)
        or _NOT_IN_URL.intersection(url)
        or not utf8_ok(url)
    ):
        raise _Unusable(SKIP_BAD_REQUEST_LINE)
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[::1/x": an IPv6 host never closed
        raise _Unusable(SKIP_BAD_REQUEST_LINE) from None
    if not parts.scheme or not parts.netloc:
        raise _Unusable(SKIP_BAD_REQUEST_LINE)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    body = _post_data(request.get("postData"))
    if len(body) > limits.max_record_bytes:
        raise _Unusable(SKIP_TOO_LARGE)
    status = latency = sha = None
    captured: Response | None = None
    response = entry.get("response")
    if isinstance(response, dict):
        status, latency, sha, captured = _response(response, entry.get("time"), where, skips)
    version = request.get("httpVersion")
    return Exchange(
        ts_ns=ts_ns,
        method=method.upper(),
        scheme=parts.scheme,
        host=parts.netloc,
        path=path,
        http_version=_version(version if isinstance(version, str) and version else "HTTP/1.1"),
        head=join_headers(_headers(request.get("headers"))),
        body=body,
        source=where,
        orig_status=status,
        orig_latency_ns=latency,
        orig_body_sha256=sha,
        response=captured,
    )


def _head(headers: Any) -> str:
    """The ``head`` text of a HAR response's ``headers`` (pseudo-headers and any entry that is
    not a name/value of text left out: a response header never costs the request)."""
    if not isinstance(headers, list):
        return ""
    return join_headers(
        (h["name"], _text(h.get("value")))
        for h in headers
        if isinstance(h, dict)
        and isinstance(h.get("name"), str)
        and h["name"]
        and not h["name"].startswith(":")
        and utf8_ok(h["name"])
        and (not isinstance(h.get("value"), str) or utf8_ok(h["value"]))
    )


def _headers(headers: object) -> list[tuple[str, str]]:
    """Name/value pairs of a HAR ``headers`` list (pseudo-headers dropped)."""
    if headers is None:
        return []
    if not isinstance(headers, list):
        raise _Unusable(SKIP_BAD_HEADERS)
    pairs = []
    for header in headers:
        if not isinstance(header, dict):
            raise _Unusable(SKIP_BAD_HEADERS)
        name, value = header.get("name"), header.get("value", "")
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(name, str) or not isinstance(value, str) or not utf8_ok(value):
            raise _Unusable(SKIP_BAD_HEADERS)
        if not name or name.startswith(":"):
            continue
        if not TOKEN_BYTES.issuperset(name.encode("utf-8", "replace")):
            raise _Unusable(SKIP_BAD_HEADERS)
        pairs.append((name, value))
    return pairs


def _response(
    response: dict[str, Any], time_ms: object, where: str, skips: SkipLog
) -> tuple[int | None, int | None, str | None, Response | None]:
    """(status, latency, body sha256, response) of a HAR response; ``None`` s when there is
    none."""
    status = _status_code(response.get("status"))
    # browsers write status 0 for requests that never got an answer
    if status == 0 or response.get("status") is None:
        return None, None, None, None
    if status is None or not status_ok(status):
        skips.add(SKIP_BAD_STATUS, where)
        return None, None, None, None
    latency = None
    if time_ms is not None:
        latency = _ms_to_ns(time_ms)
        if latency is None:
            skips.add(SKIP_BAD_LATENCY, where)
    body = _content(response.get("content"))
    # HAR exporters store the decoded text, whatever Content-Encoding says
    captured = Response(status, _head(response.get("headers")), body, decoded=True)
    return status, latency, hashlib.sha256(body).hexdigest(), captured


def _status_code(value: object) -> int | None:
    """The number in a HAR ``status`` (an integer, digits, or an integral float), else None."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 3:
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _ms_to_ns(time_ms: object) -> int | None:
    """Nanoseconds in a HAR ``time`` (milliseconds), ``None`` unless finite and in range."""
    if isinstance(time_ms, bool) or not isinstance(time_ms, int | float):
        return None
    try:
        return seconds_to_ns(float(time_ms) / 1000)
    except OverflowError:  # an integer too large for a float
        return None


def _version(version: str) -> str:
    low = version.lower()
    if low in ("h2", "http/2", "http/2.0"):
        return "HTTP/2.0"
    if low in ("h3", "http/3", "http/3.0"):
        return "HTTP/3.0"
    if (
        low.startswith("http/")
        and len(low) <= 16
        and not _NOT_IN_URL.intersection(low)
        and utf8_ok(low)
    ):
        return version.upper()
    return "HTTP/1.1"


def _content(content: Any) -> bytes:
    if not isinstance(content, dict):
        return b""
    text = content.get("text")
    if not isinstance(text, str):
        return b""
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text)
        except (binascii.Error, ValueError):
            return text.encode("utf-8", "surrogatepass")
    return text.encode("utf-8", "surrogatepass")


def _post_data(post: Any) -> bytes:
    if not isinstance(post, dict):
        return b""
    if isinstance(post.get("text"), str) and post["text"]:
        return _content(post)
    params = post.get("params")
    if isinstance(params, list) and params:
        return "&".join(
            f"{quote_plus(_text(p.get('name')))}={quote_plus(_text(p.get('value')))}"
            for p in params
            if isinstance(p, dict)
        ).encode()
    return b""


def _text(value: object) -> str:
    """A form field's name or value as text (numbers written as JSON numbers kept)."""
    if isinstance(value, str):
        if not utf8_ok(value):
            raise _Unusable(SKIP_BAD_REQUEST_LINE)
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""
