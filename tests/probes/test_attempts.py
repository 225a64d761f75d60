"""The harness's own count of database attempts (``postgres_attempts``), on real components:
a real toxiproxy-server in front of real PostgreSQL, killed with the ``down`` fault."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from harness.analysis.gates import ATTEMPTS_PROBE
from harness.faults.kinds import ProxyFaults
from harness.probes.sampler import ProbeSampler, ProbeTarget
from harness.probes.toxiproxy import AcceptedConnections
from harness.scenario.model import DownFault, PostgresProbe
from harness.stack.postgres import EmbeddedPostgres
from harness.stack.toxiproxy import ToxiproxyClient
from harness.stack.toxiproxy_server import ToxiproxyServer

DOWN = DownFault(kind="down", at=0, **{"for": 1})


@pytest.fixture
def database(postgres: EmbeddedPostgres) -> Iterator[str]:
    """A database of its own: its transaction counter is this test's alone."""
    name = f"attempts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield name
    finally:
        with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)'.encode())


def _last(path: Path) -> float:
    rows = [r for r in pq.read_table(path).to_pylist() if r["probe"] == ATTEMPTS_PROBE]
    return float(rows[-1]["value"]) - float(rows[0]["value"])


def _live(sampler: ProbeSampler) -> float:
    """The count so far, from the samples the sampler holds (written to its file at stop)."""
    with sampler._lock:
        values = [row[3] for row in sampler._rows if row[2] == ATTEMPTS_PROBE]
    return values[-1] - values[0] if values else 0.0


def test_counts_transactions_and_attempts_while_the_database_is_down(
    tmp_path: Path,
    postgres: EmbeddedPostgres,
    database: str,
    toxiproxy_server: ToxiproxyServer,
    toxiproxy: ToxiproxyClient,
) -> None:
    if toxiproxy_server.log_path is None or toxiproxy_server.external:
        pytest.skip("an external toxiproxy's log is not readable")
    proxy = toxiproxy.create_proxy("attempts_pg", "127.0.0.1:0", f"{postgres.host}:{postgres.port}")
    host, port = proxy.listen.rsplit(":", 1)
    app_dsn = postgres.dsn(database, host=host, port=int(port))  # the app's way: the proxy
    out = tmp_path / "probes.parquet"
    sampler = ProbeSampler(
        [PostgresProbe(name=ATTEMPTS_PROBE, postgres="attempts")],
        [ProbeTarget("candidate", dsn=postgres.dsn(database), proxy="attempts_pg")],
        out,
        t0_ns=time.time_ns(),
        interval_s=0.2,
        accepted_connections=AcceptedConnections(toxiproxy_server.log_path),
    )
    faults = ProxyFaults()
    with sampler:
        deadline = time.monotonic() + 10
        while sampler.result.samples == 0:  # the counters' starting values are read first
            assert time.monotonic() < deadline, sampler.result.last_error
            time.sleep(0.02)
        with psycopg.connect(app_dsn, autocommit=True) as conn:  # 1 connection
            for _ in range(20):  # 20 transactions
                conn.execute(b"SELECT 1")
        faults.apply(toxiproxy, "attempts_pg", DOWN, "f1")
        try:
            for _ in range(15):  # 15 attempts while the database is "down"
                with pytest.raises(psycopg.OperationalError):
                    psycopg.connect(app_dsn, connect_timeout=2).close()
        finally:
            faults.revert(toxiproxy, "attempts_pg", DOWN, "f1")
        # PostgreSQL publishes a backend's counters within a second or so: wait for the count
        deadline = time.monotonic() + 15
        while _live(sampler) < 36:
            assert time.monotonic() < deadline, _live(sampler)
            time.sleep(0.05)
    assert sampler.result.failures == {}
    # 1 connection + 20 transactions + 15 attempts while down (measured 37-39: the
    # connection's own transaction, and the server's own work on the database, such as an
    # autovacuum's analyze); nothing of the probe's own reads. Without the down fault's
    # accepting proxy the 15 attempts would not count at all (21 at most).
    assert 36 <= _last(out) <= 41, _last(out)
