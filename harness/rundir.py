"""The run directory contract (DESIGN section 3): file names, table schemas, JSON shapes.

A run directory (``runs/<run-id>/``) is written by one run of a scenario and read by analysis
and reports, possibly on another machine. Writers and readers both import this module.

``manifest.json`` (a JSON object)::

    {"format_version": 1, "run_id": "...", "t0_ns": <epoch ns>, "speed": 2.0, "seed": 0,
     "host": "...", "command": ["harness", ...], "status": "complete" | "interrupted" | ...,
     "capture": {"path": "...", "requests": N},
     "targets": {"baseline": {"url": "http://127.0.0.1:P", "role": "baseline"},
                 "candidate": {"url": "...", "role": "candidate"}},
     "scenario": {... the scenario as parsed, durations in seconds, or null for a bare replay},
     "versions": {"harness": "...", "toxiproxy": "...", "postgres": "...", "locust": "..."},
     "validity": {"valid": true, "reasons": [], "lag_p99_ms": 0.8}}

``events.jsonl``: one JSON object a line, in the order things happened. Every event has
``t_ns`` (ns from t0, measured when it happened) and ``kind``; fault events carry ``fault``::

    {"t_ns": 20000412345, "kind": "fault_applied",
     "fault": {"id": "f1", "label": "postgres down", "kind": "down", "dependency": "postgres",
               "targets": ["baseline", "candidate"], "at_s": 20.0, "for_s": 15.0},
     "verified": {"check": "connect_refused", "ok": true, "detail": "..."}}

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
VERDICT = "verdict.json"
JUNIT = "junit.xml"
SUMMARY = "summary.md"
REPORT = "report.html"

#: Values of the ``error`` column of ``requests.parquet``.
ERROR_KINDS: tuple[str, ...] = ("none", "timeout", "refused", "reset", "other")

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
    ]
)
"""One row per replayed request per target; times are ns from the run's ``t0``."""

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
