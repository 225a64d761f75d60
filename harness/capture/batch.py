"""The batch path of a GoReplay import: requests to capture rows a row group at a time.

:func:`~harness.capture.ingest.import_capture` takes this path when every source is a GoReplay
file and the configuration leaves nothing per request to decide in Python: no filter or
transform, no session header or cookie, no extra redaction pattern. It writes the same rows,
counts and redaction report as the per-record path (a test compares the two), but does not build
an :class:`~harness.capture.record.Exchange` per request: each request is parsed into column
lists, and every row group's header lines are split and their credential headers masked at
once in Arrow (:mod:`harness.capture.redact_batch`). Header lines that may hold a value
secret (``eyJ``, ``@``, ``%40``, 13 digits) take the per-record JWT, e-mail and card rules;
query strings and bodies take the per-record :class:`~harness.capture.redact.Redactor` code,
and a request whose body changed length is redone whole (its ``Content-Length`` changes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from harness.capture.config import CaptureConfig, FilterConfig
from harness.capture.gor import PairedRequest, host_header, split_target
from harness.capture.httpwire import TOKEN_BYTES as _TOKEN
from harness.capture.record import SKIP_BAD_REQUEST_LINE, SkipLog, split_headers
from harness.capture.redact import Redactor, fix_content_length
from harness.capture.redact_batch import HeaderMasker, redact_values, value_secret_lines
from harness.capture.routes import RouteTemplater
from harness.capture.schema import HEADER_TYPE
from harness.capture.sessions import SessionKeyer
from harness.capture.store import CaptureWriter, HeaderLines

#: Requests parsed and redacted together; row groups hold several such chunks. Arrow work on
#: a few MB at a time reuses the allocator's memory, where 32k requests at once (40 MB per
#: column) pay page faults on every batch.
CHUNK_ROWS = 4096


def batch_path_applies(config: CaptureConfig, redactor: Redactor | None) -> bool:
    """Whether the batch path gives exactly the rows of the per-record path for ``config``."""
    if config.filters != FilterConfig():
        return False
    if config.session.header is not None or config.session.cookie is not None:
        return False
    return redactor is None or HeaderMasker.supports(redactor)


class _Columns:
    """Column lists of the rows of one chunk (before redaction)."""

    def __init__(self, rows: list[_Row]) -> None:
        # one tuple per request while reading, one transposition per chunk: far cheaper than
        # fourteen list appends per request
        (
            self.ts,
            self.method,
            self.scheme,
            self.host,
            self.path,
            self.version,
            self.head,
            self.body,
            self.session,
            self.route,
            self.status,
            self.latency,
            self.sha,
            self.source,
        ) = (list(column) for column in zip(*rows, strict=True))


#: ts, method, scheme, host, path, http version, head, body, session, route, status, latency,
#: response sha256, source
_Row = tuple[
    int, str, str, str, str, str, bytes, bytes, str, str, int | None, int | None, str | None, str
]


def write_batches(
    requests: Iterable[PairedRequest],
    writer: CaptureWriter,
    *,
    skips: SkipLog,
    keyer: SessionKeyer,
    templater: RouteTemplater,
    redactor: Redactor | None,
) -> int:
    """Parse ``requests`` into ``writer`` one chunk at a time; returns the requests read."""
    masker = HeaderMasker(redactor) if redactor is not None else None
    chunk_rows = min(CHUNK_ROWS, writer.batch_rows)
    read = 0
    rows: list[_Row] = []
    add = rows.append
    # This loop runs once per request: split_request, host_header and SessionKeyer.record_key
    # are written out in it (each call costs as much as its work); test_batch.py and the parser
    # fuzz test hold them to the functions they copy.
    route_of, session_of = templater.route, keyer.record_key
    keyed = keyer.keyed_hash
    token = _TOKEN
    for ts, rid, payload, source, status, latency, sha in requests:
        first = payload.find(b"\n")
        head_end = body_start = -1
        if first > 0 and payload[first - 1] == 13:  # CRLF message: one search, not two
            head_end = payload.find(b"\r\n\r\n", first - 1)
            body_start = head_end + 4
        if head_end < 0:
            lf = payload.find(b"\n\n")
            if lf < 0:
                head_end = len(payload.rstrip(b"\r\n"))
                body_start = len(payload)
            elif lf > 0 and payload[lf - 1] == 13:
                head_end, body_start = lf - 1, lf + 2
            else:
                head_end, body_start = lf, lf + 2
        if 0 <= first < head_end:
            parts = payload[:first].rstrip(b"\r").split(b" ")
            head = payload[first + 1 : head_end]
        else:
            parts = payload[:head_end].split(b" ")
            head = b""
        if (
            len(parts) != 3
            or not parts[0]
            or not parts[1]
            or not parts[2].startswith(b"HTTP/")
            or not token.issuperset(parts[0])
        ):
            skips.add(SKIP_BAD_REQUEST_LINE, source)
            continue
        method, target, version = parts
        path = target.decode("latin-1")
        if path[:1] == "/":
            scheme, host = "http", ""
        else:
            scheme, host, path = split_target(path)
        if not host:
            if head[:5] == b"Host:":  # where clients put it: skip the general lookup
                end = head.find(b"\n")
                host = head[5 : None if end < 0 else end].decode("latin-1").strip()
            else:
                host = host_header(head)
        if rid and rid.isascii():
            digest = keyed.copy()
            digest.update(b"r\0" + rid)
            session = digest.hexdigest()
        else:
            session = session_of(rid, source)
        add(
            (
                ts,
                method.decode("ascii"),
                scheme,
                host,
                path,
                version.decode("latin-1"),
                head,
                payload[body_start:],
                session,
                route_of(path),
                status,
                latency,
                sha,
                source,
            )
        )
        if len(rows) >= chunk_rows:
            read += len(rows)
            _write(_Columns(rows), writer, redactor, masker)
            rows = []
            add = rows.append
    if rows:
        read += len(rows)
        _write(_Columns(rows), writer, redactor, masker)
    return read


def _write(
    cols: _Columns, writer: CaptureWriter, redactor: Redactor | None, masker: HeaderMasker | None
) -> None:
    if not cols.ts:
        return
    paths, bodies = cols.path, cols.body
    exact: set[int] = set()
    new_length: dict[int, int] = {}
    lines = HeaderLines(_head_array(cols.head))
    names, values = lines.names, lines.values
    if redactor is not None and masker is not None:
        redact_path, redact_body = redactor.redact_path, redactor.redact_body
        paths = [redact_path(p) if "?" in p else p for p in paths]
        # a body that changed length changes the head too (Content-Length)
        if any(bodies):
            bodies = list(bodies)
            for i, body in enumerate(cols.body):
                if body:
                    clean = redact_body(body)
                    if clean is not body:
                        bodies[i] = clean
                        if len(clean) != len(body):
                            new_length[i] = len(clean)
        masked = masker.mask(lines)
        offsets = lines.offsets.to_numpy()
        # a row whose body changed length is redone whole from its raw head (Content-Length)
        exact = set(new_length)
        counts = Counter(masked.rules)
        flagged = value_secret_lines(masked)
        if exact:
            exact_rows = np.array(sorted(exact))
            masked_rows = np.searchsorted(offsets, masked.lines, side="right") - 1
            # those rows count their masks in the redactor: not here
            for line in np.flatnonzero(np.isin(masked_rows, exact_rows)).tolist():
                counts[masked.rules[line]] -= 1
            flagged_rows = np.searchsorted(offsets, flagged, side="right") - 1
            flagged = flagged[~np.isin(flagged_rows, exact_rows)]
        redactor.counts.update(+counts)  # + drops rules left at zero
        # only the lines a pre-check flags can hold a JWT, e-mail or card number
        names, values = redact_values(masked, flagged, redactor)
    headers: pa.Array | pa.ChunkedArray = lines.column(names, values)
    if exact:
        assert redactor is not None
        headers = _redact_rows(sorted(exact), cols.head, new_length, redactor, headers)
    columns = {
        "ts_ns": pa.array(cols.ts, pa.int64()),
        "session": pa.array(cols.session, pa.string()),
        "method": pa.array(cols.method, pa.string()),
        "scheme": pa.array(cols.scheme, pa.string()),
        "host": pa.array(cols.host, pa.string()),
        "path": pa.array(paths, pa.string()),
        "http_version": pa.array(cols.version, pa.string()),
        "headers": headers,
        "body": pa.array(bodies, pa.binary()),
        "route": pa.array(cols.route, pa.string()),
        "orig_status": pa.array(cols.status, pa.int32()),
        "orig_latency_ns": pa.array(cols.latency, pa.int64()),
        "orig_body_sha256": pa.array(cols.sha, pa.string()),
        "source": pa.array(cols.source, pa.string()),
    }
    writer.write_rows(columns)


def _redact_rows(
    rows: list[int],
    heads: list[bytes],
    new_length: dict[int, int],
    redactor: Redactor,
    headers: pa.Array,
) -> pa.ChunkedArray:
    """``headers`` with the rows ``rows`` redacted by the per-record code from their raw head.

    The other rows are zero-copy slices between them (the capture writer takes chunked columns).
    """
    names: list[str] = []
    values: list[str] = []
    offsets = [0]
    for row in rows:
        raw = heads[row]
        head = redactor.redact_head(raw.decode("latin-1")) if raw else ""
        if row in new_length:
            head = fix_content_length(head, new_length[row])
        for name, value in split_headers(head):
            names.append(name)
            values.append(value)
        offsets.append(len(names))
    pairs = pa.StructArray.from_arrays(
        [pa.array(names, pa.string()), pa.array(values, pa.string())],
        fields=list(HEADER_TYPE.value_type),
    )
    redone = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pairs, type=HEADER_TYPE)
    pieces: list[pa.Array] = []
    start = 0
    for i, row in enumerate(rows):
        pieces += (headers.slice(start, row - start), redone.slice(i, 1))
        start = row + 1
    pieces.append(headers.slice(start))
    return pa.chunked_array(pieces, HEADER_TYPE)


def _head_array(heads: list[bytes]) -> pa.Array:
    """A string array of raw heads: they are latin-1, the Arrow column is UTF-8."""
    data = b"".join(heads)
    if not data.isascii():
        return pa.array([h.decode("latin-1") or None for h in heads], pa.string())
    # ASCII is already UTF-8: the joined bytes are the array's data, as they are
    lengths = np.fromiter(map(len, heads), dtype=np.int32, count=len(heads))
    offsets = np.zeros(len(heads) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    # an empty head is null (no header line at all)
    present = lengths > 0
    validity = None if present.all() else pa.py_buffer(np.packbits(present, bitorder="little"))
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), len(heads), buffers)
