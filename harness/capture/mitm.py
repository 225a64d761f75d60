"""mitmproxy reader: flow files written by ``mitmdump -w`` -> :class:`Exchange` stream.

The file is read frame by frame within limits (:mod:`harness.capture.flowfile`); each frame's
state goes through mitmproxy's own migration of older flow formats (``compat.migrate_flow``)
and ``Flow.from_state`` (imported lazily: mitmproxy is heavy). HTTP flows become exchanges;
TCP, UDP and DNS flows and the messages of a WebSocket connection are skipped with a counted
reason (the HTTP upgrade request itself is kept).

One bad flow never ends the import: a frame larger than the record limit, nested too deep, not
a valid tnetstring, a state mitmproxy cannot build (older or odd shapes: a missing ``type``, a
list where a dict belongs) or values outside what a capture holds (a status of 99999999999, a
timestamp past 2262) is skipped and counted with its reason and ``file:flow``. The file is a
:class:`CaptureError` naming it and the byte offset only when its first flow cannot be read at
all (not a flow file, or a flow format version this mitmproxy refuses); data that breaks off
after some flows keeps those flows and counts a ``truncated input`` skip.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.capture.flowfile import Frame, frames
from harness.capture.httpwire import TOKEN_BYTES
from harness.capture.inflate import InflatedStream
from harness.capture.limits import (
    DEFAULT_LIMITS,
    SKIP_TOO_LARGE,
    InputLimits,
    seconds_to_ns,
    status_ok,
    ts_ok,
    utf8_ok,
)
from harness.capture.record import (
    SKIP_DNS_FLOW,
    SKIP_OTHER_FLOW,
    SKIP_TCP_FLOW,
    SKIP_TRUNCATED,
    SKIP_UDP_FLOW,
    SKIP_WEBSOCKET_MESSAGE,
    Exchange,
    SkipLog,
    join_headers,
)
from harness.capture.response import Response, kept_for_learning
from harness.errors import CaptureError, printable

Progress = Callable[[int], None]

SKIP_INVALID_FLOW = "invalid mitmproxy flow"
SKIP_BAD_VALUES = "mitmproxy flow with values out of range"
#: Characters a method, host or path cannot hold and still make a request line.
_NOT_IN_REQUEST_LINE = frozenset(chr(c) for c in [*range(33), 127])


def read_mitm(
    path: Path,
    skips: SkipLog,
    progress: Progress | None = None,
    *,
    limits: InputLimits = DEFAULT_LIMITS,
) -> Iterator[Exchange]:
    """Exchanges of the mitmproxy flow file ``path``, in file order."""
    from mitmproxy import http

    name = printable(path.name)
    raw = InflatedStream(path, skips, limits, progress)
    refused: list[str] = []  # flow format versions mitmproxy refused, as it said it
    with io.BufferedReader(raw) as stream:
        read = 0
        for frame in frames(stream, limits):
            where = f"{name}:{frame.number}"
            flow = _flow(frame, path, skips, where, refused=refused)
            if flow is None:
                if frame.end:
                    break
                continue
            read += 1
            if isinstance(flow, http.HTTPFlow):
                if flow.websocket is not None and flow.websocket.messages:
                    skips.add(SKIP_WEBSOCKET_MESSAGE, where, len(flow.websocket.messages))
                try:
                    exchange = _exchange(flow, where)
                except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
                    # a state of odd types that from_state let through (a timestamp as text)
                    skips.add(f"{SKIP_INVALID_FLOW} ({_short(exc)})", where)
                    continue
                if exchange is None:
                    skips.add(SKIP_BAD_VALUES, where)
                else:
                    yield exchange
            else:
                skips.add(_reason(type(flow).__name__), where)
        if raw.cut:
            skips.add(SKIP_TRUNCATED, f"{name}:{read + 1}")
    if refused and read == 0:
        # every flow is of a format this mitmproxy does not read: that is the file's problem
        raise CaptureError(f"{printable(str(path))}:1: mitmproxy cannot read it: {refused[0]}")


def _flow(frame: Frame, path: Path, skips: SkipLog, where: str, *, refused: list[str]) -> Any:
    """The mitmproxy flow of ``frame``, or ``None`` (counted) when it cannot be had."""
    from mitmproxy import flow as flows
    from mitmproxy.io import compat

    if frame.problem is not None:
        if frame.number == 1 and frame.end:
            raise CaptureError(
                f"{printable(str(path))}: byte {frame.offset}: not a mitmproxy flow file "
                f"({frame.problem})"
            )
        if frame.end:
            skips.add(SKIP_TRUNCATED, where)
        elif frame.too_large:
            skips.add(SKIP_TOO_LARGE, where)
        else:
            skips.add(f"{SKIP_INVALID_FLOW} ({frame.problem.split(':')[0]})", where)
        return None
    if not isinstance(frame.value, dict):
        skips.add(f"{SKIP_INVALID_FLOW} (not a mapping)", where)
        return None
    try:
        state = compat.migrate_flow(frame.value)
    except ValueError as exc:
        if "flow format version" in str(exc):
            refused.append(str(exc))
            skips.add(f"{SKIP_INVALID_FLOW} (flow format version refused)", where)
            return None
        skips.add(f"{SKIP_INVALID_FLOW} ({_short(exc)})", where)
        return None
    except Exception as exc:
        # mitmproxy's migration trusts the shape of what it migrates: anything an odd or
        # hand-made flow raises there means this flow cannot be used, never that the import
        # should stop
        skips.add(f"{SKIP_INVALID_FLOW} ({_short(exc)})", where)
        return None
    try:
        return flows.Flow.from_state(state)
    except Exception as exc:  # as above: Flow.from_state trusts the state's shape
        skips.add(f"{SKIP_INVALID_FLOW} ({_short(exc)})", where)
        return None


def _short(exc: BaseException) -> str:
    """``KeyError 'type'``: the kind of failure, short enough to count flows by."""
    detail = str(exc).split("\n", 1)[0]
    if isinstance(exc, KeyError | AttributeError) and len(detail) <= 40:
        return f"{type(exc).__name__} {detail}"
    return type(exc).__name__


def _reason(kind: str) -> str:
    return {"TCPFlow": SKIP_TCP_FLOW, "UDPFlow": SKIP_UDP_FLOW, "DNSFlow": SKIP_DNS_FLOW}.get(
        kind, SKIP_OTHER_FLOW
    )


def _exchange(flow: Any, where: str) -> Exchange | None:
    """The exchange of an HTTP flow; ``None`` when a value is out of range or unusable."""
    import hashlib

    request = flow.request
    response = flow.response
    start = request.timestamp_start
    ts_ns = seconds_to_ns(start)
    if ts_ns is None or not ts_ok(ts_ns):
        return None
    method, path, host = request.method, request.path, _host(request)
    if not method or not TOKEN_BYTES.issuperset(method.encode("utf-8", "replace")):
        return None
    if _NOT_IN_REQUEST_LINE.intersection(path) or _NOT_IN_REQUEST_LINE.intersection(host):
        return None
    # mitmproxy keeps undecodable bytes of a host or path as surrogate escapes
    scheme, version = request.scheme or "http", request.http_version
    if not all(utf8_ok(text) for text in (method, path, host, scheme, version)):
        return None
    status = latency = sha = None
    captured: Response | None = None
    if response is not None:
        if not isinstance(response.status_code, int) or not status_ok(response.status_code):
            return None
        status = response.status_code
        end = response.timestamp_end or response.timestamp_start or start
        latency = seconds_to_ns(end - start) if end >= start else 0
        sha = hashlib.sha256(response.raw_content or b"").hexdigest()
        # raw_content: de-chunked by mitmproxy, still content-encoded (Response.text decodes)
        captured = kept_for_learning(
            Response(status, _head(response.headers.fields), response.raw_content or b"")
        )
    peer = flow.client_conn.peername
    client = f"{peer[0]}:{peer[1]}" if peer and peer[0] else None
    head = _head(request.headers.fields)
    return Exchange(
        ts_ns=ts_ns,
        method=method,
        scheme=scheme,
        host=host,
        path=path,
        http_version=version,
        head=head,
        body=request.raw_content or b"",
        source=where,
        client=client,
        orig_status=status,
        orig_latency_ns=latency,
        orig_body_sha256=sha,
        response=captured,
    )


def _head(fields: Any) -> str:
    """The ``head`` text of mitmproxy header fields (HTTP/2 pseudo-headers left out)."""
    return join_headers(
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in fields
        if not name.startswith(b":")
    )


def _host(request: Any) -> str:
    header = request.host_header
    if header:
        return str(header)
    default = 443 if request.scheme == "https" else 80
    return str(request.host) if request.port == default else f"{request.host}:{request.port}"
