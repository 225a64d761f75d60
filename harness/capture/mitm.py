"""mitmproxy reader: flow files written by ``mitmdump -w`` -> :class:`Exchange` stream.

Reading goes through ``mitmproxy.io.FlowReader`` (imported lazily: it is heavy), which migrates
older flow formats. HTTP flows become exchanges; TCP, UDP and DNS flows and the messages of a
WebSocket connection are skipped with a counted reason (the HTTP upgrade request itself is kept).
A file mitmproxy refuses (an unsupported format version, or no flow at all) is a
:class:`CaptureError` naming the file; data that breaks off after some flows keeps those flows and
counts a ``truncated input`` skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
from harness.capture.response import Response
from harness.errors import CaptureError

Progress = Callable[[int], None]


def read_mitm(path: Path, skips: SkipLog, progress: Progress | None = None) -> Iterator[Exchange]:
    """Exchanges of the mitmproxy flow file ``path``, in file order."""
    from mitmproxy import exceptions, http
    from mitmproxy.io import FlowReader

    try:
        fo = path.open("rb")
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open ({exc.strerror})") from exc
    with fo:
        number = 0
        done = 0
        flows = iter(FlowReader(fo).stream())
        while True:
            try:
                flow = next(flows)
            except StopIteration:
                break
            except exceptions.FlowReadException as exc:
                message = str(exc).splitlines()[0] if str(exc) else "invalid data"
                if number == 0:
                    raise CaptureError(f"{path}: mitmproxy cannot read it: {message}") from exc
                skips.add(SKIP_TRUNCATED, f"{path.name}:{number + 1}")
                break
            number += 1
            if progress is not None:
                pos = fo.tell()
                progress(pos - done)
                done = pos
            where = f"{path.name}:{number}"
            if isinstance(flow, http.HTTPFlow):
                if flow.websocket is not None and flow.websocket.messages:
                    skips.add(SKIP_WEBSOCKET_MESSAGE, where, len(flow.websocket.messages))
                yield _exchange(flow, where)
            else:
                skips.add(_reason(type(flow).__name__), where)


def _reason(kind: str) -> str:
    return {"TCPFlow": SKIP_TCP_FLOW, "UDPFlow": SKIP_UDP_FLOW, "DNSFlow": SKIP_DNS_FLOW}.get(
        kind, SKIP_OTHER_FLOW
    )


def _exchange(flow: Any, where: str) -> Exchange:
    import hashlib

    request = flow.request
    response = flow.response
    start = request.timestamp_start
    ts_ns = round(start * 1e9)
    status = latency = sha = None
    captured: Response | None = None
    if response is not None:
        status = int(response.status_code)
        end = response.timestamp_end or response.timestamp_start or start
        latency = max(0, round((end - start) * 1e9))
        sha = hashlib.sha256(response.raw_content or b"").hexdigest()
        # raw_content: de-chunked by mitmproxy, still content-encoded (Response.text decodes)
        captured = Response(status, _head(response.headers.fields), response.raw_content or b"")
    peer = flow.client_conn.peername
    client = f"{peer[0]}:{peer[1]}" if peer and peer[0] else None
    head = _head(request.headers.fields)
    return Exchange(
        ts_ns=ts_ns,
        method=request.method,
        scheme=request.scheme or "http",
        host=_host(request),
        path=request.path,
        http_version=request.http_version,
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
