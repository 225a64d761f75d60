"""The normalised capture file: its Arrow schema and metadata keys (DESIGN section 3).

A capture file (``*.capture.parquet``) has one row per HTTP exchange, sorted by ``ts_ns``. The
file-level metadata (Parquet key/value metadata) holds ``harness.capture`` -> a JSON document with
``format_version``, ``sources``, ``counts``, ``skipped`` (reason -> count), ``redaction``
(``enabled`` and rule -> count) and the options used.

Readers in :mod:`harness.capture` produce rows with exactly these columns; the replay planner and
the analysis read them back. Both sides import this module, never each other.
"""

from __future__ import annotations

import pyarrow as pa

FORMAT_VERSION = 1
METADATA_KEY = b"harness.capture"

HEADER_TYPE = pa.list_(pa.struct([("name", pa.string()), ("value", pa.string())]))

CAPTURE_SCHEMA = pa.schema(
    [
        ("idx", pa.int64()),
        ("ts_ns", pa.int64()),
        ("offset_ns", pa.int64()),
        ("session", pa.string()),
        ("method", pa.string()),
        ("scheme", pa.string()),
        ("host", pa.string()),
        ("path", pa.string()),
        ("http_version", pa.string()),
        ("headers", HEADER_TYPE),
        ("body", pa.binary()),
        ("route", pa.string()),
        ("orig_status", pa.int32()),
        ("orig_latency_ns", pa.int64()),
        ("orig_body_sha256", pa.string()),
        ("source", pa.string()),
    ]
)
"""Columns of the capture file, in order. ``orig_*`` are null when no response was captured."""

COLUMNS: tuple[str, ...] = tuple(CAPTURE_SCHEMA.names)
