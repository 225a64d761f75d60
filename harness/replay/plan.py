"""The replay plan: capture -> shards by session -> per-shard schedule of ``(due_ns, row)``.

Pure (pyarrow and numpy, no locust): the orchestrating process plans to know the totals, and each
worker plans again from the same capture and options to find its own shard, so schedules never
travel between processes.

A request's due time is ``offset_ns / speed`` (ns from the shared ``t0``). Requests are sharded by
a stable hash of ``session`` so that one client's requests stay on one worker, in order.

>>> shard_of("client-7", 0, 4) == shard_of("client-7", 99, 4)
True
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from harness.capture.schema import ADDED_COLUMNS, upgrade
from harness.errors import CaptureError, UsageError

#: columns the planner needs; workers add the ones needed to rebuild requests
PLAN_COLUMNS: tuple[str, ...] = ("idx", "offset_ns", "session")
REQUEST_COLUMNS: tuple[str, ...] = (
    "method", "path", "headers", "body", "route", "orig_status", "orig_location_route", "links",
)  # fmt: skip

Int64Array = npt.NDArray[np.int64]


def read_capture(path: Path, columns: Sequence[str]) -> pa.Table:
    """Read ``columns`` of the capture file at ``path``; one-line :class:`CaptureError` if not."""
    if not path.is_file():
        raise CaptureError(f"{path}: capture file not found")
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise CaptureError(f"{path}: not a capture file (parquet): {exc}") from None
    missing = [c for c in columns if c not in schema.names and c not in ADDED_COLUMNS]
    if missing:
        raise CaptureError(f"{path}: capture file lacks column(s) {', '.join(missing)}")
    try:
        table = pq.read_table(path, columns=[c for c in columns if c in schema.names])
    except (OSError, pa.ArrowException) as exc:
        raise CaptureError(f"{path}: cannot read capture: {exc}") from None
    if table.num_columns != len(columns):  # an older format version: add what it lacks
        table = upgrade(table, list(columns))
    if table.num_rows == 0:
        raise CaptureError(f"{path}: capture holds no requests")
    return table


def read_rows(path: Path, rows: Sequence[int], columns: Sequence[str]) -> pa.Table:
    """``columns`` of the capture rows at positions ``rows`` (sorted, file order), reading one
    row group at a time, so a worker holds only its own shard's bodies and headers."""
    try:
        capture = pq.ParquetFile(path)
        present = [c for c in columns if c in capture.schema_arrow.names]
        parts = []
        start, i = 0, 0
        for group in range(capture.num_row_groups):
            end = start + capture.metadata.row_group(group).num_rows
            j = bisect.bisect_left(rows, end, lo=i)
            if j > i:
                table = capture.read_row_group(group, columns=present)
                parts.append(table.take([r - start for r in rows[i:j]]))
            start, i = end, j
    except (OSError, pa.ArrowException) as exc:
        raise CaptureError(f"{path}: cannot read capture: {exc}") from None
    if not parts:
        return upgrade(pq.read_schema(path).empty_table().select(present), list(columns))
    table = pa.concat_tables(parts)
    return table if len(present) == len(columns) else upgrade(table, list(columns))


def shard_of(session: str | None, idx: int, shards: int) -> int:
    """The shard of a request: a stable hash of its session (a request without one is alone)."""
    key = session if session is not None else f"#idx:{idx}"
    return zlib.crc32(key.encode("utf-8")) % shards


@dataclass(frozen=True)
class ShardSchedule:
    """One shard's requests in send order: ``due_ns[i]`` from t0 for capture row ``rows[i]``."""

    shard: int
    due_ns: Int64Array
    rows: Int64Array
    """positions in the capture table (not ``idx``); a looped capture repeats them"""

    def __len__(self) -> int:
        return len(self.due_ns)

    @property
    def peak_rate_per_s(self) -> int:
        """Most requests due within any one second of this shard."""
        if len(self.due_ns) == 0:
            return 0
        ends = np.searchsorted(self.due_ns, self.due_ns + 1_000_000_000, side="left")
        return int((ends - np.arange(len(self.due_ns))).max())


@dataclass(frozen=True)
class Plan:
    """Every shard's schedule, plus what the whole replay adds up to."""

    shards: list[ShardSchedule]
    span_ns: int
    """due time of the last request"""

    @property
    def total(self) -> int:
        """Requests scheduled (per target)."""
        return sum(len(s) for s in self.shards)


def plan_replay(
    table: pa.Table,
    shards: int,
    speed: float = 1.0,
    duration_s: float | None = None,
    loop: bool = False,
) -> Plan:
    """Plan a replay of ``table`` (needs ``PLAN_COLUMNS``) over ``shards`` workers.

    ``duration_s`` cuts the schedule off (requests due at or after it are dropped); ``loop``
    repeats the capture back to back until ``duration_s``, one capture period apart (the
    capture's span plus its mean gap between requests).
    """
    if not speed > 0:
        raise UsageError(f"speed must be > 0, got {speed}")
    if shards < 1:
        raise UsageError(f"need at least one worker, got {shards}")
    if loop and duration_s is None:
        raise UsageError("looping a capture needs a duration to stop at (--duration)")
    offsets = np.asarray(table.column("offset_ns").to_numpy(zero_copy_only=False), dtype=np.int64)
    idxs = table.column("idx").to_pylist()
    sessions = table.column("session").to_pylist()
    n = len(offsets)
    order = np.argsort(offsets, kind="stable").astype(np.int64)
    due = (offsets[order] / speed).astype(np.int64)
    rows = order
    if loop:
        assert duration_s is not None
        span = int(due[-1] - due[0]) if n else 0
        period = span + (span // (n - 1) if n > 1 and span > 0 else 1_000_000_000)
        limit = int(duration_s * 1e9)
        copies = max(1, -(-limit // period))
        due = np.concatenate([due + k * period for k in range(copies)])
        rows = np.tile(rows, copies)
    if duration_s is not None:
        keep = due < int(duration_s * 1e9)
        due, rows = due[keep], rows[keep]
    owner = np.fromiter(
        (shard_of(sessions[i], idxs[i], shards) for i in range(n)), dtype=np.int64, count=n
    )
    row_owner = owner[rows] if len(rows) else np.zeros(0, dtype=np.int64)
    schedules = [
        ShardSchedule(
            shard=k,
            due_ns=np.ascontiguousarray(due[row_owner == k]),
            rows=np.ascontiguousarray(rows[row_owner == k]),
        )
        for k in range(shards)
    ]
    return Plan(shards=schedules, span_ns=int(due[-1]) if len(due) else 0)


def original_hosts(path: Path) -> set[str]:
    """The hosts the capture was recorded against (lower case, without port)."""
    hosts = read_capture(path, ["host"]).column("host").unique().to_pylist()
    return {h.lower().rsplit(":", 1)[0] if h.count(":") == 1 else h.lower() for h in hosts if h}
