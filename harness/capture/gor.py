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
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from harness.capture.httpwire import parse_status, split_request
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
from harness.errors import CaptureError

SEPARATOR = "\n🐵🙈🙉\n".encode()
_SEP_AT_EOF = SEPARATOR[:-1]
BLOCK = 1 << 20
DEFAULT_WINDOW = 10_000
DEFAULT_PAIR_HORIZON_NS = 60 * 1_000_000_000
_GZIP_MAGIC = b"\x1f\x8b"
_TRUNCATED = b"\0truncated gzip"

#: A raw record: (ts_ns, file index, record number, type, id, latency_ns or -1, payload, source)
RawRecord = tuple[int, int, int, int, bytes, int, bytes, str]
Progress = Callable[[int], None]
#: A request as paired: (ts_ns, id, payload, source, status, latency_ns, response body sha256,
#: raw response or None). The raw response is for the link learner, which reads and drops it.
PairedRequest = tuple[int, bytes, bytes, str, int | None, int | None, str | None, bytes | None]


def _blocks(path: Path, skips: SkipLog, progress: Progress | None) -> Iterator[bytes]:
    """Decompressed blocks of ``path``; a broken gzip stream ends the file with a skip."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise CaptureError(f"{path}: cannot open ({exc.strerror})") from exc
    with raw:
        first = raw.read(BLOCK)
        inflate = zlib.decompressobj(wbits=31) if first.startswith(_GZIP_MAGIC) else None
        chunk = first
        while chunk:
            if progress is not None:
                progress(len(chunk))
            if inflate is None:
                yield chunk
            else:
                try:
                    data = inflate.decompress(chunk)
                    # concatenated gzip members (e.g. appended chunks) each start a new stream
                    while inflate.eof and inflate.unused_data:
                        rest = inflate.unused_data
                        inflate = zlib.decompressobj(wbits=31)
                        data += inflate.decompress(rest)
                except zlib.error:
                    yield _TRUNCATED  # corrupt deflate data: keep what came before
                    return
                if data:
                    yield data
            chunk = raw.read(BLOCK)
        if inflate is not None and not inflate.eof:
            data = inflate.flush()
            if data:
                yield data
            yield _TRUNCATED  # the tail record is incomplete: counted by the caller


def _records(
    path: Path, index: int, skips: SkipLog, progress: Progress | None
) -> Iterator[RawRecord]:
    """Raw records of one file, in file order."""
    name = path.name
    number = 0
    buf = b""
    truncated = False
    for block in _blocks(path, skips, progress):
        if block is _TRUNCATED:
            truncated = True
            break
        buf += block
        parts = buf.split(SEPARATOR)
        buf = parts.pop()
        for part in parts:
            number += 1
            # the usual record written out (a call per record costs as much as its work):
            # "1 <id> <ts>" and a payload; anything else takes _parse_header
            line, _, payload = part.partition(b"\n")
            fields = line.split()
            if len(fields) == 3 and fields[0] == b"1" and fields[2].isdigit():
                ts = int(fields[2])
                yield (ts, index, number, 1, fields[1], -1, payload, f"{name}:{number}")
                continue
            record = _parse_header(part, name, index, number, skips)
            if record is not None:
                yield record
    if truncated:
        skips.add(SKIP_TRUNCATED, f"{name}:{number + 1}")
        return
    if buf.endswith(_SEP_AT_EOF):
        buf = buf[: -len(_SEP_AT_EOF)]
    elif buf.endswith(b"\n"):
        buf = buf[:-1]  # the newline GoReplay writes before the separator it never wrote
    if buf.strip():
        number += 1
        record = _parse_header(buf, name, index, number, skips)
        if record is not None:
            yield record


def _parse_header(
    part: bytes, name: str, index: int, number: int, skips: SkipLog
) -> RawRecord | None:
    if part[:1] in (b"\n", b"\r"):
        part = part.lstrip(b"\r\n")
    line, _, payload = part.partition(b"\n")
    fields = line.split()
    try:
        if len(fields) not in (3, 4) or fields[0] not in (b"1", b"2", b"3"):
            raise ValueError
        ts = int(fields[2])
        latency = int(fields[3]) if len(fields) == 4 else -1
    except ValueError:
        skips.add(SKIP_BAD_HEADER, f"{name}:{number}")
        return None
    return (ts, index, number, int(fields[0]), fields[1], latency, payload, f"{name}:{number}")


def _reorder(records: Iterable[RawRecord], window: int) -> Iterator[RawRecord]:
    """Records in timestamp order, fixing displacements of up to ``window`` records.

    The buffer holds up to two windows; when full it is sorted and its older half emitted.
    Timsort is linear on input that is already (nearly) sorted, which is the usual case,
    so this costs far less per record than a heap. The sorted halves are chained in C: no
    generator step per record.
    """
    return itertools.chain.from_iterable(_sorted_halves(records, window))


def _sorted_halves(records: Iterable[RawRecord], window: int) -> Iterator[list[RawRecord]]:
    buffer: list[RawRecord] = []
    append = buffer.append
    for record in records:
        append(record)
        if len(buffer) >= 2 * window:
            buffer.sort()
            yield buffer[:window]
            del buffer[:window]
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
) -> Iterator[Exchange]:
    """Exchanges of GoReplay files ``paths`` (one capture, merged by timestamp), oldest first."""
    for request in read_gor_requests(paths, skips, progress, window, pair_horizon_ns):
        exchange = _exchange(request, skips)
        if exchange is not None:
            yield exchange


def read_gor_requests(
    paths: list[Path],
    skips: SkipLog,
    progress: Progress | None = None,
    window: int = DEFAULT_WINDOW,
    pair_horizon_ns: int = DEFAULT_PAIR_HORIZON_NS,
) -> Iterator[PairedRequest]:
    """The requests of GoReplay files ``paths`` with their paired response, still unparsed.

    This is :func:`read_gor` without the request parsing, for callers that parse a whole batch
    at a time (:mod:`harness.capture.batch`): same order, same skips.
    """
    streams = [_records(path, i, skips, progress) for i, path in enumerate(paths)]
    merged: Iterable[RawRecord] = streams[0] if len(streams) == 1 else heapq.merge(*streams)
    records = _reorder(merged, window)
    # Until the first response (for good, in a requests-only capture: the common case) nothing
    # is paired: requests wait as the raw records they are, and leave by window or horizon.
    raw: deque[RawRecord] = deque()
    first_response: RawRecord | None = None
    for record in records:
        kind = record[3]
        if kind == 1:
            raw.append(record)
        elif kind == 2:
            first_response = record
            break
        else:
            skips.add(SKIP_REPLAYED_RESPONSE, record[7])
        oldest = record[0] - pair_horizon_ns
        while raw and (len(raw) > window or raw[0][0] < oldest):
            r = raw.popleft()
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
        elif kind == 2:
            _pair(waiting.get(rid), ts, payload, source, skips)
        else:
            skips.add(SKIP_REPLAYED_RESPONSE, source)
        # emit requests whose response came, or that waited past the window or horizon
        while queue and (
            queue[0].status is not None or len(queue) > window or queue[0].ts < ts - pair_horizon_ns
        ):
            entry = queue.popleft()
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
