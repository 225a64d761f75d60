"""The run directory contract (DESIGN section 3): file names, table schemas, JSON shapes.

A run directory (``runs/<run-id>/``) is written by one run of a scenario and read by analysis
and reports, possibly on another machine. Writers and readers both import this module.

``manifest.json`` (a JSON object)::

    {"format_version": 1, "run_id": "...", "t0_ns": <epoch ns>, "speed": 2.0, "seed": 0,
     "host": "...", "command": ["harness", ...],
     "status": "complete" | "interrupted" | "failed" | "error", "error": "<one line>" (error),
     "capture": {"path": "...", "requests": N},
     "targets": {"baseline": {"url": "http://127.0.0.1:P", "role": "baseline"},
                 "candidate": {"url": "...", "role": "candidate"}},
     "scenario": {... the scenario as parsed, durations in seconds, or null for a bare replay},
     "versions": {"harness": "...", "toxiproxy": "...", "postgres": "...", "locust": "..."},
     "validity": {"valid": true, "reasons": [], "lag_p99_ms": 0.8}}

``requests.parquet``: one row per replayed request per target (:data:`REQUESTS_SCHEMA`). Columns
added after the first wave (``session``, ``wait_ms``, ``queue_ms``, ``connect_ms``, ``link``,
``orig_status``, ``orig_location_route``, ``location_route``) read as their defaults from an
older run directory (:func:`read_requests`).

``responses.parquet`` (optional: only when the run keeps response bodies, e.g. for the
``response_diff`` gate): one row per replayed response per target (:data:`RESPONSES_SCHEMA`),
bodies cut at the configured size (``body_truncated`` says so).

``events.jsonl``: one JSON object a line, in the order things happened. Every event has
``t_ns`` (ns from t0, measured when it happened) and ``kind``; fault events carry ``fault``::

    {"t_ns": 20000412345, "kind": "fault_applied",
     "fault": {"id": "f1", "label": "postgres down", "kind": "down", "dependency": "postgres",
               "targets": ["baseline", "candidate"], "at_s": 20.0, "for_s": 15.0},
     "verified": {"check": "connect_cut", "ok": true, "detail": "..."}}

Kinds: ``run_started``, ``run_finished``, ``fault_applied``, ``fault_reverted``,
``action_started``, ``action_finished`` (with ``exit_status``), ``target_started``,
``target_healthy``, ``target_stopped``, ``probes_started``, ``interrupted`` (with ``signal``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

MANIFEST = "manifest.json"
REQUESTS = "requests.parquet"
EVENTS = "events.jsonl"
PROBES = "probes.parquet"
RESPONSES = "responses.parquet"
VERDICT = "verdict.json"
JUNIT = "junit.xml"
SUMMARY = "summary.md"
REPORT = "report.html"

#: Values of the ``error`` column of ``requests.parquet``.
ERROR_KINDS: tuple[str, ...] = ("none", "timeout", "refused", "reset", "other")
#: Values of the ``link`` column: every link of the request was filled from the target's own
#: replayed response (``ok``), at least one was not and went out with the captured value
#: (``missing``), or the request has no link (``none``).
LINK_STATES: tuple[str, ...] = ("ok", "missing", "none")

REQUESTS_SCHEMA = pa.schema(
    [
        ("target", pa.string()),
        ("idx", pa.int64()),
        ("route", pa.string()),
        ("method", pa.string()),
        ("due_ns", pa.int64()),
        ("sent_ns", pa.int64()),
        ("lag_ms", pa.float64()),
        ("latency_ms", pa.float64()),
        ("latency_corrected_ms", pa.float64()),
        ("status", pa.int32()),
        ("error", pa.string()),
        ("bytes", pa.int64()),
        ("body_sha256", pa.string()),
        # -- added in wave 2 (session state, honest timing, fidelity) -------------------
        # the capture's session key of the request
        ("session", pa.string()),
        # waiting for the previous answer of the same session (not send lag), ms
        ("wait_ms", pa.float64()),
        # waiting for a pooled connection / opening one (null: not measured), ms
        ("queue_ms", pa.float64()),
        ("connect_ms", pa.float64()),
        # ok | missing | none (LINK_STATES)
        ("link", pa.string()),
        # the captured response's status and Location route (null: none captured)
        ("orig_status", pa.int32()),
        ("orig_location_route", pa.string()),
        # the route template of this response's Location header (null: none)
        ("location_route", pa.string()),
    ]
)
"""One row per replayed request per target; times are ns from the run's ``t0``.

``sent_ns`` is when the request went onto a connection (after any wait for a pooled
connection), so ``lag_ms`` = ``sent - due`` includes that queueing; ``wait_ms`` (a session
waiting for its previous answer) is not lag: the schedule of that request moved with its
session.
"""

#: What the wave-2 columns read as in a run directory written before them.
REQUEST_DEFAULTS: dict[str, object] = {
    "session": None,
    "wait_ms": 0.0,
    "queue_ms": None,
    "connect_ms": None,
    "link": "none",
    "orig_status": None,
    "orig_location_route": None,
    "location_route": None,
}

RESPONSES_SCHEMA = pa.schema(
    [
        ("target", pa.string()),
        ("idx", pa.int64()),
        ("due_ns", pa.int64()),
        ("status", pa.int32()),
        ("headers", pa.list_(pa.struct([("name", pa.string()), ("value", pa.string())]))),
        ("body", pa.binary()),
        ("body_truncated", pa.bool_()),
    ]
)
"""Replayed responses kept for field-level comparison (``responses.parquet``, optional)."""

PROBES_SCHEMA = pa.schema(
    [
        ("t_ns", pa.int64()),
        ("target", pa.string()),
        ("probe", pa.string()),
        ("value", pa.float64()),
    ]
)
"""Probe samples; ``t_ns`` is ns from the run's ``t0``."""


@dataclass(frozen=True)
class RunDir:
    """Paths of the files of one run directory."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def requests(self) -> Path:
        return self.root / REQUESTS

    @property
    def events(self) -> Path:
        return self.root / EVENTS

    @property
    def probes(self) -> Path:
        return self.root / PROBES

    @property
    def responses(self) -> Path:
        return self.root / RESPONSES

    @property
    def verdict(self) -> Path:
        return self.root / VERDICT

    @property
    def junit(self) -> Path:
        return self.root / JUNIT

    @property
    def summary(self) -> Path:
        return self.root / SUMMARY

    @property
    def report(self) -> Path:
        return self.root / REPORT


def read_requests(path: Path, columns: list[str] | None = None) -> pa.Table:
    """``columns`` of a ``requests.parquet`` (every column when ``None``), in that order.

    Columns an older run directory lacks are filled with :data:`REQUEST_DEFAULTS`. Arrow and
    I/O errors are left to the caller (readers map them to their own one-line errors).
    """
    import pyarrow.parquet as pq

    wanted = list(columns) if columns is not None else list(REQUESTS_SCHEMA.names)
    present = set(pq.read_schema(path).names)
    table = pq.read_table(path, columns=[c for c in wanted if c in present])
    if len(table.column_names) == len(wanted):
        return table
    arrays = []
    for name in wanted:
        if name in present:
            arrays.append(table.column(name))
        else:
            field = REQUESTS_SCHEMA.field(name)
            arrays.append(pa.array([REQUEST_DEFAULTS.get(name)] * len(table), field.type))
    return pa.Table.from_arrays(
        arrays, schema=pa.schema([REQUESTS_SCHEMA.field(n) for n in wanted])
    )


def requests_table(columns: dict[str, object]) -> pa.Table:
    """A ``requests.parquet`` table from ``columns`` (name -> values), in schema order.

    Wave-2 columns left out are filled with :data:`REQUEST_DEFAULTS` (for writers of synthetic
    runs: tests and benchmarks).
    """
    rows = len(next(iter(columns.values()))) if columns else 0  # type: ignore[arg-type]
    arrays = []
    for field in REQUESTS_SCHEMA:
        if field.name in columns:
            values = columns[field.name]
            if isinstance(values, pa.Array | pa.ChunkedArray):
                arrays.append(values.cast(field.type))
            else:
                arrays.append(pa.array(values, field.type))
        elif field.name in REQUEST_DEFAULTS:
            arrays.append(pa.array([REQUEST_DEFAULTS[field.name]] * rows, field.type))
        else:
            raise ValueError(f"requests table: column {field.name!r} is required")
    return pa.Table.from_arrays(arrays, schema=REQUESTS_SCHEMA)
