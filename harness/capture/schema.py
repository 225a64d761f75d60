"""The normalised capture file: its Arrow schema and metadata keys (DESIGN section 3).

A capture file (``*.capture.parquet``) has one row per HTTP exchange, sorted by ``ts_ns``. The
file-level metadata (Parquet key/value metadata) holds ``harness.capture`` -> a JSON document with
``format_version``, ``sources``, ``counts``, ``skipped`` (reason -> count), ``redaction``
(mode, and rule -> count, never a value) and the options used.

Readers in :mod:`harness.capture` produce rows with exactly these columns; the replay planner and
the analysis read them back. Both sides import this module (and :mod:`harness.capture.linkspec`,
the grammar of a link's locations), never each other.

Format versions
---------------
- **1** (wave 1): the columns up to ``source``.
- **2**: adds ``orig_location_route`` and ``links`` (session links learned at import, see
  below). Sensitive values are pseudonymised, not masked, unless the import said otherwise.
  A version-1 file is still read: :func:`upgrade` adds the two columns (null / empty lists).

Links
-----
A *link* says: the value a captured response delivered is sent again by a later request of the
same session, so on replay that request must send what **the same target's** replayed response
delivered instead. Links are stored on the row of the request that uses the value (the
*target* exchange), as a list of structs:

=============  ===============================================================================
``src_idx``    ``idx`` of the earlier exchange whose response delivered the value
``src``        where in that response (a source locator, :mod:`harness.capture.linkspec`):
               ``json:$.user.token``, ``header:Location~^/articles/([^/?#]+)``,
               ``cookie:sessionid``, ``html:csrfmiddlewaretoken``, ``body~token=(\\w+)``
``dst``        where in this request (a target locator): ``header:Authorization``,
               ``cookie:csrftoken``, ``path``, ``query:since``, ``json:$.comment.id``,
               ``form:csrfmiddlewaretoken``, ``multipart:token``, ``body``
``value``      the text this request holds there, exactly as stored in this row (so the
               pseudonym when the value was sensitive); the replay replaces it
``encoding``   how the value is written at ``dst``: ``raw``, ``url`` (percent-encoded) or
               ``json`` (JSON string escapes); the live value is written the same way
``kind``       ``token`` (a credential), ``cookie``, ``csrf``, ``id`` (a server-assigned id or
               slug) or ``value`` (anything else); for ``inspect`` and the replay's counts
=============  ===============================================================================
"""

from __future__ import annotations

import pyarrow as pa

FORMAT_VERSION = 2
#: Versions this harness reads (older ones are upgraded on read).
READABLE_VERSIONS: tuple[int, ...] = (1, 2)
METADATA_KEY = b"harness.capture"

HEADER_TYPE = pa.list_(pa.struct([("name", pa.string()), ("value", pa.string())]))

LINK_TYPE = pa.struct(
    [
        ("src_idx", pa.int64()),
        ("src", pa.string()),
        ("dst", pa.string()),
        ("value", pa.string()),
        ("encoding", pa.string()),
        ("kind", pa.string()),
    ]
)
LINKS_TYPE = pa.list_(LINK_TYPE)

#: Values of a link's ``encoding`` and ``kind`` fields.
LINK_ENCODINGS: tuple[str, ...] = ("raw", "url", "json")
LINK_KINDS: tuple[str, ...] = ("token", "cookie", "csrf", "id", "value")

_V1_FIELDS = [
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

CAPTURE_SCHEMA_V1 = pa.schema(_V1_FIELDS)
"""Columns of a version-1 capture file."""

CAPTURE_SCHEMA = pa.schema(
    [
        *_V1_FIELDS,
        # the route template of the captured response's Location header (redirects), else null
        ("orig_location_route", pa.string()),
        # session links whose value this request sends (see the module docstring); never null
        ("links", LINKS_TYPE),
    ]
)
"""Columns of the capture file, in order. ``orig_*`` are null when no response was captured."""

COLUMNS: tuple[str, ...] = tuple(CAPTURE_SCHEMA.names)
#: Columns added after version 1, with what an older file reads as.
ADDED_COLUMNS: tuple[str, ...] = ("orig_location_route", "links")


def schema_of_version(version: int) -> pa.Schema:
    """The columns a file of format ``version`` has (one of :data:`READABLE_VERSIONS`)."""
    return CAPTURE_SCHEMA_V1 if version == 1 else CAPTURE_SCHEMA


def missing_column(name: str, rows: int) -> pa.Array:
    """What a file that predates column ``name`` reads as: nulls, or empty link lists."""
    if name == "links":
        offsets = pa.array([0] * (rows + 1), pa.int32())
        return pa.ListArray.from_arrays(offsets, pa.array([], LINK_TYPE), type=LINKS_TYPE)
    return pa.nulls(rows, CAPTURE_SCHEMA.field(name).type)


def upgrade(data: pa.Table | pa.RecordBatch, columns: list[str] | None = None) -> pa.Table:
    """``data`` read from an older file, with the columns it lacks added (see :data:`COLUMNS`).

    ``columns`` is the selection that was asked for (every column when ``None``); the result
    has them in that order.
    """
    table = data if isinstance(data, pa.Table) else pa.Table.from_batches([data])
    wanted = list(columns) if columns is not None else list(COLUMNS)
    arrays = [
        table.column(name) if name in table.column_names else missing_column(name, len(table))
        for name in wanted
    ]
    return pa.Table.from_arrays(arrays, schema=pa.schema([CAPTURE_SCHEMA.field(n) for n in wanted]))
