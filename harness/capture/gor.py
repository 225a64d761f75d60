"""GoReplay reader: ``.gor`` / ``.gor.gz`` files (and chunk sets) -> :class:`Exchange` stream.

A GoReplay file is a sequence of records ``<type> <id> <ts_ns> [<latency_ns>]\\n<payload>``
separated by the line ``🐵🙈🙉``. Type 1 is a request, 2 the original response, 3 a replayed
response. This reader:

- streams every file in 1 MiB blocks (gzip decompressed incrementally, so a truncated ``.gz``
  keeps everything before the break) and merges several files by timestamp (``heapq.merge``);
- sorts records inside a bounded *reorder window*: a buffer of up to ``2 * window`` records is
  sorted and its older half emitted, which fixes the small disorder GoReplay's writer goroutines
  produce; disorder larger than the window is passed on and fixed by the capture writer's
  fallback sort (see :mod:`harness.capture.store`);
- pairs each response with the unpaired request of the same id whose timestamp is nearest before
  it (GoReplay 1.2 reuses one id for every request on a connection); a request still waiting for
  its response is emitted when ``window`` newer records or ``pair_horizon_ns`` have passed;
- keeps a last record that has no trailing separator (GoReplay itself drops it);
- hands each request's raw response on with it (for the link learner, which reads and drops
  it: nothing of a response is stored beyond the capture's ``orig_*`` columns).

Memory is bounded by the reorder window and the pairing horizon, not by the input size.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import operator
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from harness.capture.httpwire import parse_status, split_request
from harness.capture.inflate import BREAK, TRUNCATED, blocks
from harness.capture.limits import (
    DEFAULT_LIMITS,
    INT64_MAX,
    SKIP_TOO_LARGE,
    InputLimits,
    ts_ok,
)
from harness.capture.record import (
    SKIP_BAD_HEADER,
    SKIP_BAD_REQUEST_LINE,
    SKIP_ORPHAN_RESPONSE,
    SKIP_REPLAYED_RESPONSE,
    SKIP_TRUNCATED,
    Exchange,
    SkipLog,
    header_value,
)
from harness.capture.response import parse_response
from harness.errors import printable

MONKEYS = "🐵🙈🙉".encode()
SEPARATOR = b"\n" + MONKEYS + b"\n"
#: Any line-end variant of the separator (a file passed through unix2dos, mixed writers).
_ANY_SEPARATOR = re.compile(rb"\r?\n" + re.escape(MONKEYS) + rb"\r?\n")
_TAIL = re.compile(rb"(?:\r?\n" + re.escape(MONKEYS) + rb"(?:\r?\n)?|\r?\n)\Z")
_BOM = b"\xef\xbb\xbf"
DEFAULT_WINDOW = 10_000
DEFAULT_PAIR_HORIZON_NS = 60 * 1_000_000_000
#: Payload bytes the reorder buffer may hold before it hands records on early (large records
#: must not multiply by the window).
REORDER_BYTES = 256 << 20
SKIP_BAD_TIMESTAMP = "bad record header (timestamp out of range)"

#: A raw record: (ts_ns, file index, record number, type, id, latency_ns or -1, payload, source)
RawRecord = tuple[int, int, int, int, bytes, int, bytes, str]
_PAYLOAD = operator.itemgetter(6)
Progress = Callable[[int], None]
#: A request as paired: (ts_ns, id, payload, source, status, latency_ns, response body sha256,
#: raw response or None). The raw response is for the link learner, which reads and drops it.
PairedRequest = tuple[int, bytes, bytes, str, int | None, int | None, str | None, bytes | None]


def _separator(buf: bytes, at: int) -> bytes:
    """The separator of a file, from its first occurrence of the monkeys at ``at`` in ``buf``."""
    before = b"\r\n" if buf[max(0, at - 2) : at] == b"\r\n" else b"\n"
    after = b"\r\n" if buf[at + len(MONKEYS) : at + len(MONKEYS) + 2] == b"\r\n" else b"\n"
    return before + MONKEYS + after


def _split(buf: bytes, sep: bytes) -> list[bytes]:
    """``buf`` cut at separators: ``sep``, or every variant when the file mixes them."""
    parts = buf.split(sep)
    if buf.count(b"\n" + MONKEYS) != len(parts) - 1:
        # another line-end variant than the file's first separator (or monkeys inside a
        # body, which the pattern leaves alone): cut at every variant
        parts = _ANY_SEPARATOR.split(buf)
    return parts


def _records(
    path: Path,
    index: int,
    skips: SkipLog,
    progress: Progress | None,
    limits: InputLimits = DEFAULT_LIMITS,
) -> Iterator[RawRecord]:
    """Raw records of one file, in file order.

    The separator's line ends are taken from its first occurrence (GoReplay writes LF; a file
    that went through a CRLF conversion has CRLF), a byte-order mark is dropped, a record larger
    than ``limits.max_record_bytes`` is skipped and counted (read past without holding it), and
    a cut in the data (a corrupt or truncated gzip member) counts the record cut in two.
    """
    name = printable(path.name)
    number = 0
    buf = b""
    sep = b""  # sniffed from the first separator
    largest = limits.max_record_bytes
    oversized = False  # inside a record larger than the limit: dropped until its end
    first = True
    for block in blocks(path, skips, limits, progress):
        if block is BREAK or block is TRUNCATED:
            if buf.strip() or oversized:
                number += 1
                skips.add(SKIP_TRUNCATED, f"{name}:{number}")
            buf, oversized = b"", False
            if block is TRUNCATED:
                return
            continue
        if first:
            first = False
            buf = block.removeprefix(_BOM)
        else:
            buf += block
        if not sep:
            at = buf.find(MONKEYS)
            if at < 0 or at + len(MONKEYS) + 2 > len(buf):
                if not oversized and len(buf) > largest + len(SEPARATOR):
                    number += 1  # no separator yet, and the first record is too large already
                    skips.add(SKIP_TOO_LARGE, f"{name}:{number}")
                    oversized = True
                if oversized:
                    buf = buf[-(len(SEPARATOR) + 2) :]
                continue
            sep = _separator(buf, at)
        if oversized:
            end = buf.find(sep)
            if end < 0:
                buf = buf[-len(sep) :]  # a separator may straddle two blocks
                continue
            buf = buf[end + len(sep) :]
            oversized = False
        parts = _split(buf, sep)
        buf = parts.pop()
        for part in parts:
            number += 1
            if len(part) > largest:
                skips.add(SKIP_TOO_LARGE, f"{name}:{number}")
                continue
            # the usual record written out (a call per record costs as much as its work):
            # "1 <id> <ts>" and a payload; anything else takes _parse_header
            line, _, payload = part.partition(b"\n")
            fields = line.split()
            if len(fields) == 3 and fields[0] == b"1" and fields[2].isdigit():
                ts = int(fields[2])
                if ts <= INT64_MAX:
                    yield (ts, index, number, 1, fields[1], -1, payload, f"{name}:{number}")
                    continue
            record = _parse_header(part, name, index, number, skips)
            if record is not None:
                yield record
        if len(buf) > largest + len(sep):
            number += 1
            skips.add(SKIP_TOO_LARGE, f"{name}:{number}")
            oversized = True
            buf = buf[-len(sep) :]
    if oversized:
        return  # the file ended inside the record that was too large (counted)
    # the last record: its separator (whole, or without the final newline that GoReplay never
    # wrote), or just the newline written before a separator that never came
    buf = _TAIL.sub(b"", buf, count=1)
    if buf.strip():
        number += 1
        record = _parse_header(buf, name, index, number, skips)
        if record is not None:
            yield record


def _parse_header(
    part: bytes, name: str, index: int, number: int, skips: SkipLog
) -> RawRecord | None:
    part = part.lstrip(b"\r\n")
    line, _, payload = part.partition(b"\n")
    fields = line.split()
    # digits only: int() would also take "+5", "1_000" or a number thousands of digits long
    if (
        len(fields) not in (3, 4)
        or fields[0] not in (b"1", b"2", b"3")
        or not fields[2].isdigit()
        or (len(fields) == 4 and not fields[3].lstrip(b"-").isdigit())
        or (len(fields) == 4 and len(fields[3]) > 20)
    ):
        skips.add(SKIP_BAD_HEADER, f"{name}:{number}")
        return None
    if len(fields[2]) > 19:  # past any int64 (and short of int()'s 4,300-digit limit)
        skips.add(SKIP_BAD_TIMESTAMP, f"{name}:{number}")
        return None
    ts = int(fields[2])
    latency = int(fields[3]) if len(fields) == 4 else -1
    if not ts_ok(ts) or latency > INT64_MAX:
        skips.add(SKIP_BAD_TIMESTAMP, f"{name}:{number}")
        return None
    return (ts, index, number, int(fields[0]), fields[1], latency, payload, f"{name}:{number}")


def _reorder(
    records: Iterable[RawRecord], window: int, max_bytes: int = REORDER_BYTES
) -> Iterator[RawRecord]:
    """Records in timestamp order, fixing displacements of up to ``window`` records.

    The buffer holds up to two windows (or ``max_bytes`` of payload, whichever comes first);
    when full it is sorted and its older half emitted. Timsort is linear on input that is
    already (nearly) sorted, which is the usual case, so this costs far less per record than a
    heap. The sorted halves are chained in C: no generator step per record.
    """
    return itertools.chain.from_iterable(_sorted_halves(records, window, max_bytes))


def _sorted_halves(
    records: Iterable[RawRecord], window: int, max_bytes: int
) -> Iterator[list[RawRecord]]:
    buffer: list[RawRecord] = []
    append = buffer.append
    held = 0  # payload bytes in the buffer
    for record in records:
        append(record)
        held += len(record[6])
        if len(buffer) >= 2 * window or held > max_bytes:
            buffer.sort()
            half = min(window, (len(buffer) + 1) // 2)
            yield buffer[:half]
            del buffer[:half]
            held = sum(map(len, map(_PAYLOAD, buffer)))
    buffer.sort()
    yield buffer


class _Pending:
    """A request waiting for its response."""

    __slots__ = ("latency", "payload", "response", "rid", "sha", "source", "status", "ts")

    def __init__(self, ts: int, rid: bytes, payload: bytes, source: str) -> None:
        self.ts = ts
        self.rid = rid
        self.payload = payload
        self.source = source
        self.status: int | None = None
        self.latency: int | None = None
        self.sha: str | None = None
        self.response: bytes | None = None

    def request(self) -> PairedRequest:
        """The request with what was paired to it."""
        return (
            self.ts, self.rid, self.payload, self.source, self.status, self.latency, self.sha,
            self.response,
        )  # fmt: skip


def read_gor(
    paths: list[Path],
    skips: SkipLog,
    progress: Progress | None = None,
    window: int = DEFAULT_WINDOW,
    pair_horizon_ns: int = DEFAULT_PAIR_HORIZON_NS,
    *,
    limits: InputLimits = DEFAULT_LIMITS,
) -> Iterator[Exchange]:
    """Exchanges of GoReplay files ``paths`` (one capture, merged by timestamp), oldest first."""
    for request in read_gor_requests(
        paths, skips, progress, window, pair_horizon_ns, limits=limits
    ):
        exchange = _exchange(request, skips)
        if exchange is not None:
            yield exchange


def read_gor_requests(
    paths: list[Path],
    skips: SkipLog,
    progress: Progress | None = None,
    window: int = DEFAULT_WINDOW,
    pair_horizon_ns: int = DEFAULT_PAIR_HORIZON_NS,
    *,
    limits: InputLimits = DEFAULT_LIMITS,
) -> Iterator[PairedRequest]:
    """The requests of GoReplay files ``paths`` with their paired response, still unparsed.

    This is :func:`read_gor` without the request parsing, for callers that parse a whole batch
    at a time (:mod:`harness.capture.batch`): same order, same skips. Requests waiting for their
    response leave early when they hold more than :data:`REORDER_BYTES` of payload together.
    """
    streams = [_records(path, i, skips, progress, limits) for i, path in enumerate(paths)]
    merged: Iterable[RawRecord] = streams[0] if len(streams) == 1 else heapq.merge(*streams)
    records = _reorder(merged, window)
    # Until the first response (for good, in a requests-only capture: the common case) nothing
    # is paired: requests wait as the raw records they are, and leave by window or horizon.
    raw: deque[RawRecord] = deque()
    held = 0  # payload bytes of the requests waiting
    first_response: RawRecord | None = None
    for record in records:
        kind = record[3]
        if kind == 1:
            raw.append(record)
            held += len(record[6])
        elif kind == 2:
            first_response = record
            break
        else:
            skips.add(SKIP_REPLAYED_RESPONSE, record[7])
        oldest = record[0] - pair_horizon_ns
        while raw and (len(raw) > window or raw[0][0] < oldest or held > REORDER_BYTES):
            r = raw.popleft()
            held -= len(r[6])
            yield r[0], r[4], r[6], r[7], None, None, None, None
    if first_response is None:
        for r in raw:
            yield r[0], r[4], r[6], r[7], None, None, None, None
        return
    queue = deque(_Pending(r[0], r[4], r[6], r[7]) for r in raw)
    # request id -> requests still waiting for their response
    waiting: dict[bytes, list[_Pending]] = {}
    for older in queue:
        waiting.setdefault(older.rid, []).append(older)
    for ts, _, _, kind, rid, _latency, payload, source in itertools.chain(
        [first_response], records
    ):
        if kind == 1:
            entry = _Pending(ts, rid, payload, source)
            queue.append(entry)
            waiting.setdefault(rid, []).append(entry)
            held += len(payload)
        elif kind == 2:
            _pair(waiting.get(rid), ts, payload, source, skips)
        else:
            skips.add(SKIP_REPLAYED_RESPONSE, source)
        # emit requests whose response came, or that waited past the window or horizon
        while queue and (
            queue[0].status is not None
            or len(queue) > window
            or queue[0].ts < ts - pair_horizon_ns
            or held > REORDER_BYTES
        ):
            entry = queue.popleft()
            held -= len(entry.payload)
            _forget(waiting, entry)
            yield entry.request()
    for entry in queue:
        yield entry.request()


def _pair(
    candidates: list[_Pending] | None,
    ts: int,
    payload: bytes,
    source: str,
    skips: SkipLog,
) -> None:
    best: _Pending | None = None
    for entry in candidates or ():
        if entry.status is None and entry.ts <= ts and (best is None or entry.ts > best.ts):
            best = entry
    if best is None:
        skips.add(SKIP_ORPHAN_RESPONSE, source)
        return
    parsed = parse_status(payload)
    if parsed is None:
        skips.add("invalid response status line", source)
        return
    best.status, body = parsed
    # the response's own timestamp minus the request's: what the client waited for
    best.latency = ts - best.ts
    best.sha = hashlib.sha256(body).hexdigest()
    best.response = payload


def _forget(waiting: dict[bytes, list[_Pending]], entry: _Pending) -> None:
    same = waiting.get(entry.rid)
    if same is None:
        return
    if len(same) == 1:
        del waiting[entry.rid]
    else:
        same.remove(entry)


def split_target(target: str) -> tuple[str, str, str]:
    """(scheme, host, path) of a request target; host is empty unless the target is absolute."""
    if target.startswith(("http://", "https://")):
        scheme, _, rest = target.partition("://")
        host, slash, tail = rest.partition("/")
        return scheme, host, slash + tail or "/"
    return "http", "", target


def host_header(head: bytes) -> str:
    """The ``Host`` header of undecoded header lines (``""`` when there is none)."""
    if head.startswith(b"Host:"):  # where clients put it: skip the general lookup
        end = head.find(b"\n")
        return head[5 : None if end < 0 else end].decode("latin-1").strip()
    return header_value(head.decode("latin-1"), "host") or ""


def _exchange(request: PairedRequest, skips: SkipLog) -> Exchange | None:
    ts, rid, payload, source, status, latency, sha, response = request
    parsed = split_request(payload)
    if parsed is None:
        skips.add(SKIP_BAD_REQUEST_LINE, source)
        return None
    method, target, version, head, body = parsed
    scheme, host, path = split_target(target)
    if not host:
        host = host_header(head)
    return Exchange(
        ts_ns=ts,
        method=method,
        scheme=scheme,
        host=host,
        path=path,
        http_version=version,
        head=head.decode("latin-1"),
        body=body,
        source=source,
        conn=rid.decode("latin-1"),
        orig_status=status,
        orig_latency_ns=latency,
        orig_body_sha256=sha,
        response=None if response is None else parse_response(response),
    )
