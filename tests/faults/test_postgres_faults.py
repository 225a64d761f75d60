"""Faults in front of the real PostgreSQL: what a database client sees, and the verifications."""

import time
from pathlib import Path

import psycopg
import pytest

from harness.faults.events import EventLog, read_events
from harness.faults.timeline import FaultTarget, FaultTimeline
from harness.scenario.model import DownFault, LatencyFault, PartitionFault, TimelineEntry
from harness.stack.postgres import EmbeddedPostgres
from harness.stack.toxiproxy import ToxiproxyClient
from tests.waiting import event_count, wait_until


def _query_ms(dsn: str) -> float:
    started = time.perf_counter()
    with psycopg.connect(dsn, connect_timeout=2) as conn:
        conn.execute("SELECT 1")
    return (time.perf_counter() - started) * 1000


def test_client_side_effects_and_verifications(
    postgres: EmbeddedPostgres, toxiproxy: ToxiproxyClient, tmp_path: Path
) -> None:
    proxy = toxiproxy.create_proxy("faults_pg", "127.0.0.1:0", f"{postgres.host}:{postgres.port}")
    host, port = proxy.listen.rsplit(":", 1)
    dsn = postgres.dsn("postgres", host=host, port=int(port))
    clean_ms = _query_ms(dsn)
    entries: list[TimelineEntry] = [
        DownFault(kind="down", at=0.1, **{"for": 1.0}),
        PartitionFault(kind="partition", at=1.5, **{"for": 3.0}),
        LatencyFault(kind="latency", at=5.0, latency_ms=150, **{"for": 1.5}),
    ]
    t0 = time.time_ns()
    events_path = tmp_path / "events.jsonl"
    targets = [FaultTarget("candidate", {"postgres": "faults_pg"})]
    with (
        EventLog(tmp_path / "events.jsonl", t0) as log,
        FaultTimeline(entries, toxiproxy, targets, log, t0_ns=t0),
    ):
        assert wait_until(lambda: event_count(events_path, "fault_applied") == 1)
        with pytest.raises(psycopg.OperationalError):  # down: cut before any answer
            _query_ms(dsn)
        assert wait_until(lambda: event_count(events_path, "fault_applied") == 2)  # partition
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):  # partition: no answer, the client times out
            _query_ms(dsn)
        assert time.monotonic() - started >= 1.5
        assert wait_until(lambda: event_count(events_path, "fault_applied") == 3)  # latency
        slow_ms = _query_ms(dsn)  # latency: each round trip of the protocol waits 150 ms
        assert wait_until(lambda: event_count(events_path, "fault_reverted") == 3)
    assert slow_ms >= clean_ms + 150
    assert _query_ms(dsn) < slow_ms  # reverted
    events = {(e["kind"], e["fault"]["id"]): e for e in read_events(tmp_path / "events.jsonl")}
    assert len(events) == 6
    assert all(e["verified"]["ok"] for e in events.values()), events
    latency = events[("fault_applied", "f3")]["verified"]["per_target"]["candidate"]
    assert latency["measured_ms"] >= 150  # the SSLRequest round trip through the proxy
    assert events[("fault_applied", "f2")]["verified"]["check"] == "no_answer"
