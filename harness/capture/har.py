"""HAR reader: exports of browsers, Charles, Fiddler, Insomnia -> :class:`Exchange` list.

A HAR is one JSON document, so it is read whole (HAR exports are small next to ``.gor`` files).
Handled: a byte-order mark, base64-encoded bodies (``encoding: base64``), HTTP/2 pseudo-headers
(``:authority`` ... dropped; the URL carries them), form ``params`` without ``text``, entries out
of order (sorted by ``startedDateTime``). A file that is not a HAR is a one-line
:class:`CaptureError`; an entry that cannot be used is skipped with its reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

from harness.capture.record import (
    SKIP_BAD_REQUEST_LINE,
    SKIP_NO_REQUEST,
    Exchange,
    SkipLog,
    join_headers,
)
from harness.capture.response import Response
from harness.errors import CaptureError

SKIP_BAD_TIME = "har entry with invalid startedDateTime"


def load_har(path: Path) -> list[Any]:
    """The entries of the HAR file ``path`` (raises :class:`CaptureError` when it is not one)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open ({exc.strerror})") from exc
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise CaptureError(f"{path}: not a HAR file (not UTF-8 text)") from exc
    except json.JSONDecodeError as exc:
        raise CaptureError(
            f"{path}: not a HAR file (invalid JSON at line {exc.lineno} column {exc.colno}: "
            f"{exc.msg})"
        ) from exc
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise CaptureError(f"{path}: not a HAR file (no log.entries list)")
    return entries


def read_har(path: Path, skips: SkipLog) -> Iterator[Exchange]:
    """Exchanges of the HAR file ``path``, sorted by start time."""
    timed: list[tuple[int, int, dict[str, Any]]] = []
    for number, entry in enumerate(load_har(path), start=1):
        where = f"{path.name}:{number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
            skips.add(SKIP_NO_REQUEST, where)
            continue
        try:
            started = datetime.fromisoformat(str(entry["startedDateTime"]))
        except (KeyError, ValueError):
            skips.add(SKIP_BAD_TIME, where)
            continue
        ts_ns = int(started.timestamp()) * 1_000_000_000 + started.microsecond * 1000
        timed.append((ts_ns, number, entry))
    timed.sort(key=lambda t: (t[0], t[1]))
    for ts_ns, number, entry in timed:
        where = f"{path.name}:{number}"
        exchange = _exchange(entry, ts_ns, where)
        if exchange is None:
            skips.add(SKIP_BAD_REQUEST_LINE, where)
        else:
            yield exchange


def _exchange(entry: dict[str, Any], ts_ns: int, where: str) -> Exchange | None:
    request = entry["request"]
    method = request.get("method")
    url = request.get("url")
    if not isinstance(method, str) or not method or not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    head = _head(request.get("headers"))
    status = latency = sha = None
    captured: Response | None = None
    response = entry.get("response")
    # browsers write status 0 for requests that never got an answer
    if isinstance(response, dict) and _status(response) > 0:
        status = _status(response)
        time_ms = entry.get("time")
        latency = int(float(time_ms) * 1e6) if isinstance(time_ms, int | float) else None
        body = _content(response.get("content"))
        sha = hashlib.sha256(body).hexdigest()
        # HAR exporters store the decoded text, whatever Content-Encoding says
        captured = Response(status, _head(response.get("headers")), body, decoded=True)
    return Exchange(
        ts_ns=ts_ns,
        method=method.upper(),
        scheme=parts.scheme,
        host=parts.netloc,
        path=path,
        http_version=_version(str(request.get("httpVersion") or "HTTP/1.1")),
        head=head,
        body=_post_data(request.get("postData")),
        source=where,
        orig_status=status,
        orig_latency_ns=latency,
        orig_body_sha256=sha,
        response=captured,
    )


def _status(response: dict[str, Any]) -> int:
    try:
        return int(response.get("status") or 0)
    except (TypeError, ValueError):
        return 0


def _head(headers: Any) -> str:
    """The ``head`` text of a HAR ``headers`` list (HTTP/2 pseudo-headers left out)."""
    if not isinstance(headers, list):
        return ""
    return join_headers(
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in headers
        if isinstance(h, dict) and h.get("name") and not str(h["name"]).startswith(":")
    )


def _version(version: str) -> str:
    low = version.lower()
    if low in ("h2", "http/2", "http/2.0"):
        return "HTTP/2.0"
    if low in ("h3", "http/3", "http/3.0"):
        return "HTTP/3.0"
    return version.upper() if low.startswith("http/") else "HTTP/1.1"


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
            return text.encode()
    return text.encode()


def _post_data(post: Any) -> bytes:
    if not isinstance(post, dict):
        return b""
    if isinstance(post.get("text"), str) and post["text"]:
        return _content(post)
    params = post.get("params")
    if isinstance(params, list) and params:
        return "&".join(
            f"{quote_plus(str(p.get('name', '')))}={quote_plus(str(p.get('value', '')))}"
            for p in params
            if isinstance(p, dict)
        ).encode()
    return b""
