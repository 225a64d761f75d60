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
and a request whose body changed length is redone whole (its ``Content-Length`` changes); the
response body hashes are keyed a column at a time (:mod:`harness.capture.bodyhash`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.capture.config import CaptureConfig, FilterConfig
from harness.capture.gor import PairedRequest, host_header, split_target
from harness.capture.headerlines import HeaderLines
from harness.capture.httpwire import TOKEN_BYTES as _TOKEN
from harness.capture.learning import ChunkLearned, ImportLearning
from harness.capture.record import SKIP_BAD_REQUEST_LINE, SkipLog
from harness.capture.redact import Redactor
from harness.capture.redact_batch import HeaderRedaction
from harness.capture.routes import RouteTemplater
from harness.capture.sessions import SessionKeyer
from harness.capture.store import CaptureWriter, links_column

# what fix_content_length rewrites: a Content-Length line (name, any case, blanks before the
# colon) whose value starts with digits
_CONTENT_LENGTH_NAME = re.compile(r"(?i)content-length[ \t]*")
_LEADING_DIGITS = re.compile(r"^[0-9]+")

#: Requests parsed and redacted together; row groups hold several such chunks. Arrow work on
#: a few MB at a time reuses the allocator's memory, where 32k requests at once (40 MB per
#: column) pay page faults on every batch.
CHUNK_ROWS = 4096
#: Request bytes a chunk may hold before it is written, whatever its row count.
CHUNK_BYTES = 32 << 20


def batch_path_applies(config: CaptureConfig, redactor: Redactor | None) -> bool:
    """Whether the batch path gives exactly the rows of the per-record path for ``config``
    (every redaction runs in batches: ``redactor`` does not matter)."""
    if config.filters != FilterConfig():
        return False
    return config.session.header is None and config.session.cookie is None


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
            self.rid,
            self.route,
            self.status,
            self.latency,
            self.sha,
            self.source,
            self.response,
        ) = (list(column) for column in zip(*rows, strict=True))


#: ts, method, scheme, host, path, http version, head, body, record id, route, status, latency,
#: response sha256, source, raw response
_Row = tuple[
    int, str, str, str, str, str, bytes, bytes, bytes, str, int | None, int | None, str | None,
    str, bytes | None,
]  # fmt: skip


def write_batches(
    requests: Iterable[PairedRequest],
    writer: CaptureWriter,
    *,
    skips: SkipLog,
    keyer: SessionKeyer,
    templater: RouteTemplater,
    redactor: Redactor | None,
    learning: ImportLearning,
) -> int:
    """Parse ``requests`` into ``writer`` one chunk at a time; returns the requests read.

    Sessions (by credential) and links are decided per chunk by ``learning``, before redaction.
    """
    masker = HeaderRedaction(redactor) if redactor is not None else None
    chunk_rows = min(CHUNK_ROWS, writer.batch_rows)
    read = 0
    held = 0  # payload bytes of the rows gathered
    rows: list[_Row] = []
    add = rows.append
    # This loop runs once per request: split_request and host_header are written out in it
    # (each call costs as much as its work); test_batch.py and the parser fuzz test hold them to
    # the functions they copy.
    route_of = templater.route
    token = _TOKEN
    for ts, rid, payload, source, status, latency, sha, response in requests:
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
                rid,
                route_of(path),
                status,
                latency,
                sha,
                source,
                response,
            )
        )
        held += len(payload)
        if len(rows) >= chunk_rows or held > CHUNK_BYTES:
            read += len(rows)
            _write(_Columns(rows), writer, redactor, masker, templater, learning=learning)
            rows = []
            add = rows.append
            held = 0
    if rows:
        read += len(rows)
        _write(_Columns(rows), writer, redactor, masker, templater, learning=learning)
    return read


def _write(
    cols: _Columns,
    writer: CaptureWriter,
    redactor: Redactor | None,
    masker: HeaderRedaction | None,
    templater: RouteTemplater,
    *,
    learning: ImportLearning,
) -> None:
    if not cols.ts:
        return
    paths, bodies, hosts, routes = cols.path, cols.body, cols.host, cols.route
    lines = HeaderLines(_head_array(cols.head))
    names, values = lines.names, lines.values
    # sessions and links from the raw requests (before redaction); the responses go with them
    learned = learning.chunk(cols, lines, writer.rows)
    cols.response = []
    if redactor is not None and masker is not None:
        # the same steps as Redactor.redact, column by column: head lines, host, path, body
        names, values = masker.redact(lines)
        if "@" in "".join(hosts):  # userinfo (rare): one search for the chunk
            hosts = [redactor.redact_host(h) if "@" in h else h for h in hosts]
        paths, routes = masker.redact_paths(paths, routes, templater, lines)
        # a body that changed length changes the head too (Content-Length)
        new_length: dict[int, int] = {}
        if any(bodies):
            bodies = list(bodies)
            redact_body = redactor.redact_body
            for i, body in enumerate(cols.body):
                if body:
                    clean = redact_body(body, cols.head[i].decode("latin-1"))
                    if clean is not body:
                        bodies[i] = clean
                        if len(clean) != len(body):
                            new_length[i] = len(clean)
        if new_length:
            values = _set_content_length(lines, names, values, new_length)
        cols.sha = redactor.response_hash.column(cols.sha)
    headers: pa.Array = lines.column(names, values)
    columns = {
        # through numpy: pa.array takes ten times as long over Python ints past 2**62
        "ts_ns": pa.array(np.fromiter(cols.ts, dtype=np.int64, count=len(cols.ts))),
        "session": pa.array(learned.sessions, pa.string()),
        "method": pa.array(cols.method, pa.string()),
        "scheme": pa.array(cols.scheme, pa.string()),
        "host": pa.array(hosts, pa.string()),
        "path": pa.array(paths, pa.string()),
        "http_version": pa.array(cols.version, pa.string()),
        "headers": headers,
        "body": pa.array(bodies, pa.binary()),
        "route": pa.array(routes, pa.string()),
        "orig_status": pa.array(cols.status, pa.int32()),
        "orig_latency_ns": pa.array(cols.latency, pa.int64()),
        "orig_body_sha256": pa.array(cols.sha, pa.string()),
        "source": pa.array(cols.source, pa.string()),
        "orig_location_route": pa.array(learned.locations, pa.string()),
    }
    if learned.links:
        columns["links"] = _confirm_links(learned, learning, paths, bodies, headers)
    writer.write_rows(columns)


def _set_content_length(
    lines: HeaderLines, names: pa.Array, values: pa.Array, new_length: dict[int, int]
) -> pa.Array:
    """``values`` with the ``Content-Length`` of the rows in ``new_length`` set (as
    :func:`~harness.capture.redact.fix_content_length` sets it in a head text)."""
    offsets = lines.offsets.to_numpy()
    colons = lines.has_colon
    where: list[int] = []
    new: list[str] = []
    for row, length in new_length.items():
        for line in range(int(offsets[row]), int(offsets[row + 1])):
            name = names[line].as_py()
            value = values[line].as_py()
            has_colon = colons is None or colons[line].as_py()
            if has_colon and _CONTENT_LENGTH_NAME.fullmatch(name) and value[:1].isdigit():
                where.append(line)
                new.append(_LEADING_DIGITS.sub(str(length), value, count=1))
    if not where:
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[where] = True
    return pc.replace_with_mask(values, pa.array(mask), pa.array(new, pa.string()))


def _confirm_links(
    learned: ChunkLearned,
    learning: ImportLearning,
    paths: list[str],
    bodies: list[bytes],
    headers: pa.Array,
) -> pa.Array:
    """The ``links`` column of a chunk: each row's links as its stored (redacted) row holds them."""
    flat = headers.flatten()
    names = flat.field("name").to_pylist()
    values = flat.field("value").to_pylist()
    offsets = headers.offsets.to_numpy()
    per_row: list[list[dict[str, object]] | None] = [None] * len(paths)
    for row, raw in learned.links.items():
        start, end = int(offsets[row]), int(offsets[row + 1])
        pairs = list(zip(names[start:end], values[start:end], strict=True))
        per_row[row] = learning.confirm(raw, paths[row], pairs, bodies[row])
    return links_column(per_row)


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
