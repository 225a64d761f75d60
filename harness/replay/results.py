"""Result rows: buffered by each worker into its own part file, merged into requests.parquet.

Pure pyarrow (no gevent). The worker turns its buffer into an Arrow batch every
:data:`BATCH_ROWS` rows on its own loop (a fraction of a millisecond: converting Python values
holds the GIL, so doing it in a thread would only fight the dispatcher for it) and hands whole
groups of batches to :meth:`PartWriter.write` in a thread (parquet encoding releases the GIL).
Kept responses (``responses.parquet``, optional) take the same way with :class:`ResponseBuffer`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from harness.rundir import REQUESTS_SCHEMA, RESPONSES_SCHEMA

#: rows converted to Arrow at a time on the worker's loop
BATCH_ROWS = 1000


class RowBuffer:
    """Result rows not yet written, one tuple per row (columns of ``REQUESTS_SCHEMA``); they
    become columns in :meth:`take`, once per batch, not value by value on every response."""

    def __init__(self) -> None:
        self.rows: list[tuple[object, ...]] = []
        self.count = 0

    def append(  # noqa: PLR0917 - called once per response: positional on purpose
        self,
        target: str,
        idx: int,
        route: str | None,
        method: str,
        due_ns: int,
        sent_ns: int,
        end_ns: int,
        status: int,
        error: str,
        size: int,
        body_sha256: str | None,
        session: str | None = None,
        wait_ms: float = 0.0,
        queue_ms: float | None = None,
        connect_ms: float | None = None,
        link: str = "none",
        orig_status: int | None = None,
        orig_location_route: str | None = None,
        location_route: str | None = None,
    ) -> None:
        """Add one row; times are ns from t0 (``end_ns`` = last byte or failure).

        The keyword fields are the wave-2 columns of :data:`~harness.rundir.REQUESTS_SCHEMA`.
        A session wait (``wait_ms``) moves the request's schedule: lag and the corrected
        latency count from ``due + wait``, not from ``due``.
        """
        moved_ns = due_ns + int(wait_ms * 1e6)
        values = (
            target,
            idx,
            route,
            method,
            due_ns,
            sent_ns,
            (sent_ns - moved_ns) / 1e6,
            (end_ns - sent_ns) / 1e6,
            (end_ns - moved_ns) / 1e6,
            status,
            error,
            size,
            body_sha256,
            session,
            wait_ms,
            queue_ms,
            connect_ms,
            link,
            orig_status,
            orig_location_route,
            location_route,
        )
        self.rows.append(values)
        self.count += 1

    def take(self) -> pa.RecordBatch:
        """The buffered rows as one Arrow batch; the buffer starts empty again."""
        rows, self.rows, self.count = self.rows, [], 0
        columns = zip(*rows, strict=True) if rows else ([] for _ in REQUESTS_SCHEMA.names)
        arrays = [
            pa.array(col, type=f.type) for col, f in zip(columns, REQUESTS_SCHEMA, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=REQUESTS_SCHEMA)


class ResponseBuffer:
    """Replayed responses not yet written (``RESPONSES_SCHEMA``), bodies cut at ``keep`` bytes."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.columns: list[list[object]] = [[] for _ in RESPONSES_SCHEMA.names]
        self.count = 0

    def append(  # noqa: PLR0917 - called once per response: positional on purpose
        self,
        target: str,
        idx: int,
        due_ns: int,
        status: int,
        headers: Sequence[tuple[str, str]],
        body: bytes,
    ) -> None:
        """Add one response (a failed exchange: status 0, no headers, empty body)."""
        values = (
            target,
            idx,
            due_ns,
            status,
            [{"name": n, "value": v} for n, v in headers],
            body[: self.keep],
            len(body) > self.keep,
        )
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)
        self.count += 1

    def take(self) -> pa.RecordBatch:
        """The buffered responses as one Arrow batch; the buffer starts empty again."""
        columns = self.columns
        self.columns = [[] for _ in RESPONSES_SCHEMA.names]
        self.count = 0
        arrays = [
            pa.array(col, type=f.type) for col, f in zip(columns, RESPONSES_SCHEMA, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=RESPONSES_SCHEMA)


class PartWriter:
    """One worker's part file: batches of rows appended as parquet row groups."""

    def __init__(self, path: Path, schema: pa.Schema = REQUESTS_SCHEMA) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(path, schema)

    def write(self, batches: Sequence[pa.RecordBatch]) -> None:
        """Append ``batches`` (from :meth:`RowBuffer.take`) as one row group."""
        rows = sum(b.num_rows for b in batches)
        if rows:
            self._writer.write_table(pa.Table.from_batches(batches, schema=self.schema))
            self.rows += rows

    def close(self) -> None:
        self._writer.close()


def merge_parts(parts: Sequence[Path], out: Path, schema: pa.Schema = REQUESTS_SCHEMA) -> pa.Table:
    """Merge worker part files into ``out`` (sorted by due time, then target); returns it.

    ``schema`` is :data:`~harness.rundir.REQUESTS_SCHEMA`, or ``RESPONSES_SCHEMA`` for the
    kept responses.
    """
    tables = [pq.read_table(p, schema=schema) for p in parts if p.is_file()]
    table = pa.concat_tables(tables) if tables else schema.empty_table()
    if table.num_rows:
        table = table.sort_by([("due_ns", "ascending"), ("target", "ascending")])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(out)
    return table


def lag_quantiles(table: pa.Table) -> tuple[float, float, float]:
    """Send lag p50, p99 and max (ms) over every row of ``table``; zeros when empty."""
    if table.num_rows == 0:
        return 0.0, 0.0, 0.0
    lag = table.column("lag_ms")
    q = pc.quantile(lag, q=[0.5, 0.99], interpolation="linear").to_pylist()
    return float(q[0]), float(q[1]), float(pc.max(lag).as_py())
