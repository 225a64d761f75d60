"""The capture file on disk: a streaming writer and validating readers (DESIGN section 3).

:class:`CaptureWriter` appends :class:`Exchange` rows to column buffers (or takes ready columns
from the batch path, :meth:`CaptureWriter.write_rows`) and writes one Parquet row group per
``batch_rows`` rows, so memory stays flat whatever the input size. Rows arrive sorted by
``ts_ns`` from the readers' reorder windows; should a record arrive older than one already written
(disorder wider than the window), the writer notes it and, at :meth:`CaptureWriter.close`, sorts
the whole file once more in memory (the only path that is not bounded; its count is reported).
The file is written beside its destination and renamed into place, so a failed import leaves no
half-written capture behind.

Metadata (JSON under :data:`~harness.capture.schema.METADATA_KEY`) is :class:`CaptureMetadata`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, Field, ValidationError, model_validator

from harness.capture.bodyhash import PLAIN, ResponseHash
from harness.capture.clients import SessionReport
from harness.capture.config import CaptureConfig
from harness.capture.headerlines import HeaderLines
from harness.capture.links import DROP_RESORTED, LinkReport
from harness.capture.record import Exchange
from harness.capture.routelearn import LearnedRoute, RouteLearner
from harness.capture.schema import (
    CAPTURE_SCHEMA,
    FORMAT_VERSION,
    LINKS_TYPE,
    METADATA_KEY,
    READABLE_VERSIONS,
    missing_column,
    schema_of_version,
    upgrade,
)
from harness.errors import CaptureError, printable

DEFAULT_BATCH_ROWS = 32_768
#: Request bytes (bodies and heads) a row group may gather before it is written, whatever its
#: row count: large records must not multiply by the batch size.
BATCH_BYTES = 64 << 20
# Dictionary encoding only where values repeat (trying it on paths, headers and bodies costs a
# third of the writer's time and gains nothing); min/max statistics only on the numbers.
DICTIONARY_COLUMNS = ["method", "scheme", "host", "http_version", "route"]
STATISTICS_COLUMNS = ["idx", "ts_ns", "offset_ns", "orig_status", "orig_latency_ns"]


class SourceInfo(BaseModel):
    """One input file of the capture."""

    path: str
    format: str
    bytes: int


class Counts(BaseModel):
    """How many records went where."""

    read: int = Field(description="requests the readers produced")
    written: int = Field(description="rows in the capture file")
    responses: int = Field(description="rows with an original response")
    skipped: int = Field(description="records that could not be used")
    filtered: int = Field(description="requests dropped by filters")
    resorted: int = Field(0, description="rows that arrived outside the reorder window")


class RedactionReport(BaseModel):
    """Whether redaction ran, how, and how many values each rule replaced (never the values)."""

    enabled: bool
    mode: Literal["pseudonym", "mask", "off"] = Field(
        "mask", description="pseudonym (the default), mask (constant masks) or off"
    )
    key: str | None = Field(
        None, description="where the pseudonym key came from (never the key itself)"
    )
    rules: dict[str, int] = Field(default_factory=dict)
    response_hash: ResponseHash = Field(
        PLAIN,
        description="what orig_body_sha256 holds: hmac-sha256 (keyed, redacted imports) or "
        "sha256 (plain: --no-redact, and files written before keyed hashes)",
    )

    @model_validator(mode="before")
    @classmethod
    def _mode_of_older_files(cls, data: Any) -> Any:
        # files written before pseudonyms have no mode: they masked, or did nothing
        if isinstance(data, dict) and "mode" not in data:
            return {**data, "mode": "mask" if data.get("enabled", True) else "off"}
        return data


class ImportOptions(BaseModel):
    """The options an import ran with, kept for the record."""

    format: str = "auto"
    redact: bool = True
    redact_mode: str = "mask"
    reorder_window: int = 10_000
    config: CaptureConfig = CaptureConfig()


class CaptureMetadata(BaseModel):
    """The file-level metadata of a capture file."""

    format_version: int
    sources: list[SourceInfo]
    counts: Counts
    skipped: dict[str, int] = Field(default_factory=dict)
    skipped_examples: dict[str, list[str]] = Field(default_factory=dict)
    filtered: dict[str, int] = Field(default_factory=dict)
    redaction: RedactionReport
    options: ImportOptions = ImportOptions()
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    #: how sessions were found (None: a file written before sessions by credential)
    sessions: SessionReport | None = None
    #: what link learning found (format 2; a format-1 file reads as "not enabled")
    links: LinkReport = LinkReport()
    learned_routes: list[LearnedRoute] = Field(
        default_factory=list, description="route parameters learned from the whole capture"
    )


class CaptureWriter:
    """Writes a capture file row group by row group; call :meth:`close` or :meth:`abort`."""

    def __init__(
        self,
        path: Path,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        routes: RouteLearner | None = None,
    ) -> None:
        """``routes`` learns route parameters from the rows and maps each row group's routes
        through them as it is written (:mod:`harness.capture.routelearn`)."""
        self.path = path
        self._routes = routes
        self._closing = False  # the rows written now are the last ones
        self.responses = 0
        self._written = 0
        self.resorted = 0
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.min_ts = 0
        self._batch_rows = batch_rows
        self._pending: list[pa.Table] = []  # rows of write_rows not yet in a row group
        self._pending_rows = 0
        self._pending_bytes = 0
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self._writer = pq.ParquetWriter(
                self._tmp,
                CAPTURE_SCHEMA,
                compression="zstd",
                use_dictionary=DICTIONARY_COLUMNS,
                write_statistics=STATISTICS_COLUMNS,
            )
        except (OSError, pa.ArrowException) as exc:
            raise CaptureError(f"{path}: cannot write ({exc})") from exc
        self._reset()

    @property
    def batch_rows(self) -> int:
        """Rows per row group."""
        return self._batch_rows

    @property
    def rows(self) -> int:
        """Rows added so far."""
        return self._written + len(self._batch)

    def _reset(self) -> None:
        self._batch: list[Exchange] = []
        self._batch_bytes = 0

    def add(self, ex: Exchange) -> None:
        """Append one row (``idx`` and ``offset_ns`` are assigned when the batch is written)."""
        ts = ex.ts_ns
        if self.first_ts is None:
            self.first_ts = self.min_ts = ts
        if self.last_ts is not None and ts < self.last_ts:
            self.resorted += 1
            self.min_ts = min(self.min_ts, ts)
        else:
            self.last_ts = ts
        if ex.orig_status is not None:
            self.responses += 1
        self._batch.append(ex)
        self._batch_bytes += len(ex.body) + len(ex.head)
        if len(self._batch) >= self._batch_rows or self._batch_bytes > BATCH_BYTES:
            self._flush()

    def write_rows(self, columns: dict[str, pa.Array | pa.ChunkedArray]) -> None:
        """Add ready columns of some rows: every column but ``idx`` and ``offset_ns``.

        The batch path of :mod:`harness.capture.batch` uses this instead of :meth:`add`; the
        bookkeeping (order, first and last timestamp, responses) is the same, done per batch,
        and row groups still hold ``batch_rows`` rows (several record batches each).
        """
        if self._batch:
            self._flush()
        ts = columns["ts_ns"]
        n = len(ts)
        if not n:
            return
        assert isinstance(ts, pa.Array)
        values = ts.to_numpy()
        if self.first_ts is None:
            self.first_ts = self.min_ts = self.last_ts = int(values[0])
        assert self.last_ts is not None
        # a row is out of order when it is older than the newest row before it
        newest = np.maximum.accumulate(np.concatenate(([self.last_ts], values[:-1])))
        late = values < newest
        if late.any():
            self.resorted += int(late.sum())
            self.min_ts = min(self.min_ts, int(values.min()))
        self.last_ts = max(self.last_ts, int(values.max()))
        self.responses += n - columns["orig_status"].null_count
        columns = dict(columns)
        for name in ("orig_location_route", "links"):  # the batch path may leave them out
            if name not in columns:
                columns[name] = missing_column(name, n)
        if self._routes is not None:
            self._routes.observe(columns["route"])
        columns["idx"] = pa.array(np.arange(self._written, self._written + n, dtype=np.int64))
        columns["offset_ns"] = pc.subtract(ts, pa.scalar(self.first_ts, pa.int64()))
        arrays = [columns[name] for name in CAPTURE_SCHEMA.names]
        table = pa.Table.from_arrays(arrays, schema=CAPTURE_SCHEMA)
        self._written += n
        self._pending_bytes += table.nbytes
        while len(table):
            room = self._batch_rows - self._pending_rows
            self._pending.append(table.slice(0, room))
            self._pending_rows += len(self._pending[-1])
            table = table.slice(room)
            if self._pending_rows >= self._batch_rows or self._pending_bytes > BATCH_BYTES:
                self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            self._writer.write_table(self._learned(pa.concat_tables(self._pending)))
            self._pending = []
            self._pending_rows = 0
            self._pending_bytes = 0

    def _flush(self) -> None:
        self._write_pending()
        batch = self._batch
        if not batch:
            return
        n = len(batch)
        first = self.first_ts or 0
        ts = pa.array([e.ts_ns for e in batch], pa.int64())
        columns: dict[str, pa.Array] = {
            "idx": pa.array(range(self._written, self._written + n), pa.int64()),
            "ts_ns": ts,
            "offset_ns": pc.subtract(ts, pa.scalar(first, pa.int64())),
            "session": pa.array([e.session for e in batch], pa.string()),
            "method": pa.array([e.method for e in batch], pa.string()),
            "scheme": pa.array([e.scheme for e in batch], pa.string()),
            "host": pa.array([e.host for e in batch], pa.string()),
            "path": pa.array([e.path for e in batch], pa.string()),
            "http_version": pa.array([e.http_version for e in batch], pa.string()),
            "headers": _headers([e.head for e in batch]),
            "body": pa.array([e.body for e in batch], pa.binary()),
            "route": pa.array([e.route for e in batch], pa.string()),
            "orig_status": pa.array([e.orig_status for e in batch], pa.int32()),
            "orig_latency_ns": pa.array([e.orig_latency_ns for e in batch], pa.int64()),
            "orig_body_sha256": pa.array([e.orig_body_sha256 for e in batch], pa.string()),
            "source": pa.array([e.source for e in batch], pa.string()),
            "orig_location_route": pa.array([e.orig_location_route for e in batch], pa.string()),
            "links": links_column([e.links for e in batch]),
        }
        if self._routes is not None:
            self._routes.observe(columns["route"])
        arrays = [columns[name] for name in CAPTURE_SCHEMA.names]
        table = pa.Table.from_arrays(arrays, schema=CAPTURE_SCHEMA)
        self._writer.write_table(self._learned(table))
        self._written += n
        self._reset()

    def _learned(self, table: pa.Table) -> pa.Table:
        """``table`` with its routes (and Location routes) through the rules learned so far."""
        if self._routes is None:
            return table
        route = CAPTURE_SCHEMA.get_field_index("route")
        location = CAPTURE_SCHEMA.get_field_index("orig_location_route")
        routes = self._routes.apply(table.column(route), final=self._closing)
        table = table.set_column(route, "route", routes)
        return table.set_column(
            location, "orig_location_route", self._routes.map_array(table.column(location))
        )

    def close(self, metadata: CaptureMetadata) -> None:
        """Write the last rows and the metadata, then move the file into place."""
        self._closing = True
        self._flush()
        metadata.first_ts_ns = self.min_ts if self.rows else None
        metadata.last_ts_ns = self.last_ts
        metadata.counts.resorted = self.resorted
        remap = False
        if self._routes is not None:
            metadata.learned_routes = self._routes.report()
            remap = self._routes.needs_rewrite()
        if self.resorted:
            self._writer.close()
            if remap:
                assert self._routes is not None
                _remap_routes(self._tmp, None, self._routes)
            _resort(self._tmp, metadata)
        else:
            blob = metadata.model_dump_json().encode()
            if remap:
                assert self._routes is not None
                self._writer.close()
                _remap_routes(self._tmp, blob, self._routes)
            else:
                self._writer.add_key_value_metadata({METADATA_KEY: blob})
                self._writer.close()
        self._tmp.replace(self.path)

    def abort(self) -> None:
        """Drop the half-written file."""
        with contextlib.suppress(Exception):
            self._writer.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink()


def links_column(rows: list[list[dict[str, object]] | None]) -> pa.Array:
    """The ``links`` column of some rows (an empty list where a row has none)."""
    if not any(rows):
        return missing_column("links", len(rows))
    return pa.array([r or [] for r in rows], LINKS_TYPE)


def _headers(heads: list[str]) -> pa.Array:
    """The ``headers`` column of a batch, split from the ``head`` texts all at once (in C++)."""
    # an empty head becomes null, which splits into an empty list rather than one empty header
    lines = HeaderLines(pa.array([h or None for h in heads], pa.string()))
    return lines.column(lines.names, lines.values)


def _remap_routes(path: Path, blob: bytes | None, routes: RouteLearner) -> None:
    """Map the routes of the file at ``path`` again through the final learned rules.

    Row groups written before the rules settled carry routes of earlier rules; this rewrites
    the file once, a row group at a time (memory stays that of one row group).
    """
    source = pq.ParquetFile(path)
    out = path.with_name(path.name + ".routes")
    route = CAPTURE_SCHEMA.get_field_index("route")
    location = CAPTURE_SCHEMA.get_field_index("orig_location_route")
    try:
        with pq.ParquetWriter(
            out,
            CAPTURE_SCHEMA.with_metadata({METADATA_KEY: blob}) if blob else CAPTURE_SCHEMA,
            compression="zstd",
            use_dictionary=DICTIONARY_COLUMNS,
            write_statistics=STATISTICS_COLUMNS,
        ) as writer:
            for i in range(source.num_row_groups):
                table = source.read_row_group(i)
                table = table.set_column(route, "route", routes.map_array(table.column(route)))
                table = table.set_column(
                    location, "orig_location_route", routes.map_array(table.column(location))
                )
                writer.write_table(table.replace_schema_metadata(None))
        out.replace(path)
    finally:
        with contextlib.suppress(OSError):
            out.unlink()


def _resort(path: Path, metadata: CaptureMetadata) -> None:
    """Sort the written file by time once more; ``idx`` and the links' ``src_idx`` follow."""
    table = pq.read_table(path).sort_by([("ts_ns", "ascending"), ("idx", "ascending")])
    ts = table.column("ts_ns")
    old_idx = table.column("idx").to_numpy()
    table = table.set_column(0, "idx", pa.array(range(len(table)), pa.int64()))
    offsets = pc.subtract(ts, ts[0]) if len(table) else ts
    table = table.set_column(2, "offset_ns", offsets)
    links, dropped = _renumber_links(table.column("links"), old_idx)
    table = table.set_column(table.schema.get_field_index("links"), "links", links)
    if dropped:
        counts = metadata.links.dropped
        counts[DROP_RESORTED] = counts.get(DROP_RESORTED, 0) + dropped
        metadata.links.links -= dropped
    blob = metadata.model_dump_json().encode()
    table = table.replace_schema_metadata({METADATA_KEY: blob})
    pq.write_table(
        table,
        path,
        compression="zstd",
        row_group_size=DEFAULT_BATCH_ROWS,
        use_dictionary=DICTIONARY_COLUMNS,
        write_statistics=STATISTICS_COLUMNS,
    )


def _renumber_links(column: pa.ChunkedArray, old_idx: np.ndarray) -> tuple[pa.Array, int]:
    """``links`` with ``src_idx`` renumbered after a sort; links whose source now comes at or
    after their own row are dropped (returns how many)."""
    links = column.combine_chunks()
    if not len(links) or not pc.sum(pc.list_value_length(links)).as_py():
        return links, 0
    new_of_old = np.empty(len(old_idx), dtype=np.int64)
    new_of_old[old_idx] = np.arange(len(old_idx))
    flat = links.flatten()
    src = new_of_old[flat.field("src_idx").to_numpy()]
    owner = links.value_parent_indices().to_numpy()
    keep = src < owner
    fields = [flat.field(name) for name in ("src", "dst", "value", "encoding", "kind")]
    rebuilt = pa.StructArray.from_arrays(
        [pa.array(src, pa.int64()), *fields], fields=list(LINKS_TYPE.value_type)
    ).filter(pa.array(keep))
    counts = np.bincount(owner[keep], minlength=len(links))
    new_offsets = np.zeros(len(links) + 1, dtype=np.int32)
    np.cumsum(counts, out=new_offsets[1:])
    out = pa.ListArray.from_arrays(pa.array(new_offsets), rebuilt, type=LINKS_TYPE)
    return out, int((~keep).sum())


def open_capture(path: Path) -> tuple[pq.ParquetFile, CaptureMetadata]:
    """Open and validate a capture file: Parquet, harness metadata, format version, columns.

    Each refusal is a :class:`CaptureError` naming the place: the byte where the Parquet footer
    should be, the metadata key (and the field inside it), or the first column that differs.
    """
    name = printable(str(path))
    try:
        pf = pq.ParquetFile(path)
    except FileNotFoundError as exc:
        raise CaptureError(f"{name}: no such file") from exc
    except (OSError, pa.ArrowException) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        # a Parquet file ends with its footer: its length and the magic PAR1, 8 bytes
        footer = max(path.stat().st_size - 8, 0) if path.is_file() else 0
        raise CaptureError(
            f"{name}: byte {footer}: not a capture file (unreadable Parquet footer: {first})"
        ) from exc
    key = METADATA_KEY.decode()
    raw = (pf.metadata.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise CaptureError(
            f"{name}: metadata key {key}: missing, not a capture file "
            "(make one with `harness capture import`)"
        )
    try:
        meta = CaptureMetadata.model_validate_json(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        inside = f" field {field}" if field else ""
        raise CaptureError(
            f"{name}: metadata key {key}{inside}: capture metadata is invalid ({error['msg']})"
        ) from exc
    if meta.format_version not in READABLE_VERSIONS:
        raise CaptureError(
            f"{name}: metadata key {key}: capture format version {meta.format_version} is not "
            f"supported (this harness reads versions {', '.join(map(str, READABLE_VERSIONS))}); "
            "re-import the traffic"
        )
    found = pf.schema_arrow.remove_metadata()
    expected = schema_of_version(meta.format_version)
    if found != expected:
        raise CaptureError(f"{name}: {_column_mismatch(found, expected)} (format version "
                           f"{meta.format_version})")  # fmt: skip
    return pf, meta


def _column_mismatch(found: pa.Schema, expected: pa.Schema) -> str:
    """``column ts_ns: int64 expected, found string``: the first column that differs."""
    for i, field in enumerate(expected):
        if i >= len(found):
            return f"column {field.name}: missing"
        if found.field(i).name != field.name:
            return f"column {field.name}: missing (found {found.field(i).name} in its place)"
        if found.field(i).type != field.type:
            return f"column {field.name}: {field.type} expected, found {found.field(i).type}"
    extra = found.field(len(expected)).name if len(found) > len(expected) else "?"
    return f"column {extra}: not a column of a capture file"


def capture_metadata(path: Path) -> CaptureMetadata:
    """The validated metadata of the capture file ``path``."""
    return open_capture(path)[1]


def iter_capture(
    path: Path, columns: list[str] | None = None, batch_rows: int = 65_536
) -> Iterator[pa.RecordBatch]:
    """Record batches of a capture file (streaming; memory bounded by ``batch_rows``).

    A file of an older format version reads as the current one (see
    :func:`harness.capture.schema.upgrade`).
    """
    pf, meta = open_capture(path)
    old = meta.format_version != FORMAT_VERSION
    present = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
    try:
        for batch in pf.iter_batches(batch_size=batch_rows, columns=present if old else columns):
            if old:
                yield from upgrade(batch, columns).combine_chunks().to_batches()
            else:
                yield batch
    except (OSError, pa.ArrowException) as exc:
        raise CaptureError(f"{path}: capture file is damaged ({exc})") from exc


def read_capture(path: Path, columns: list[str] | None = None) -> pa.Table:
    """The whole capture file as a table (validated; see :func:`iter_capture` to stream)."""
    pf, meta = open_capture(path)
    try:
        if meta.format_version != FORMAT_VERSION:
            present = (
                None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
            )
            return upgrade(pf.read(columns=present), columns)
        return pf.read(columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise CaptureError(f"{path}: capture file is damaged ({exc})") from exc
