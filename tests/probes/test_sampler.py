"""The sampler: probes.parquet from a real metrics server and real PostgreSQL; failures counted."""

import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.faults.events import EventLog, read_events
from harness.probes.sampler import ProbeSampler, ProbeTarget
from harness.rundir import PROBES_SCHEMA
from harness.scenario.model import PostgresProbe, PrometheusProbe, PrometheusSource, ToxiproxyProbe
from harness.stack.postgres import EmbeddedPostgres
from harness.stack.toxiproxy import ToxiproxyClient
from tests.probes.conftest import MetricsServer
from tests.waiting import wait_until

PROBES = [
    PrometheusProbe(name="db_attempts", prometheus=PrometheusSource(metric="attempts_total")),
    PostgresProbe(name="db_xacts", postgres="xact", interval=0.5),
    ToxiproxyProbe(name="accepts", toxiproxy="accepted_connections"),
]


@pytest.fixture
def dsn(postgres: EmbeddedPostgres) -> str:
    return postgres.dsn("postgres")


def test_samples_written_and_failures_counted(
    tmp_path: Path, metrics_server: MetricsServer, dsn: str
) -> None:
    metrics_server.text = "# TYPE attempts counter\nattempts_total 5\n"
    targets = [
        ProbeTarget("baseline", url=metrics_server.url, dsn=dsn, proxy="pg_baseline"),
        ProbeTarget("candidate", url="http://127.0.0.1:9", dsn=dsn, proxy=None),
    ]
    # the sampler starts before t0, as in a run (t0 far enough ahead that a loaded machine
    # still takes its first samples before it)
    t0 = time.time_ns() + 5_000_000_000
    out = tmp_path / "probes.parquet"
    with EventLog(tmp_path / "events.jsonl", t0) as log:
        sampler = ProbeSampler(
            PROBES,
            targets,
            out,
            t0_ns=t0,
            interval_s=0.25,
            events=log,
            accepted_connections=lambda proxy: {"pg_baseline": 3}[proxy],
        )
        with sampler:
            assert wait_until(lambda: metrics_server.hits >= 7)  # 1.5 s of 0.25 s ticks
            metrics_server.text = "# TYPE attempts counter\nattempts_total 9\n"
            assert wait_until(lambda: metrics_server.hits >= 9)
    table = pq.read_table(out)
    assert table.schema.equals(PROBES_SCHEMA)
    rows = table.to_pylist()
    base = [r for r in rows if r["target"] == "baseline"]
    attempts = [r["value"] for r in base if r["probe"] == "db_attempts"]
    assert attempts[0] == 5.0 and attempts[-1] == 9.0
    assert len(attempts) >= 5  # every 0.25 s for ~1.7 s, plus the last one
    xacts = [r for r in base if r["probe"] == "db_xacts"]
    assert 3 <= len(xacts) < len(attempts)  # its own, longer interval
    assert {r["value"] for r in base if r["probe"] == "accepts"} == {3.0}
    assert min(r["t_ns"] for r in rows) < 0  # samples before t0 are kept
    assert [r["t_ns"] for r in rows] == sorted(r["t_ns"] for r in rows)
    candidate = [r for r in rows if r["target"] == "candidate"]
    assert {r["probe"] for r in candidate} == {"db_xacts"}  # the database is still readable
    result = sampler.result
    assert result.failures[("candidate", "db_attempts")] >= 5
    assert result.failures[("candidate", "accepts")] >= 5
    assert ("baseline", "db_attempts") not in result.failures
    events = read_events(tmp_path / "events.jsonl")
    assert [e["kind"] for e in events] == ["probes_started", "probes_failed"]
    failed = {(f["target"], f["probe"]): f for f in events[1]["failures"]}
    assert "ConnectError" in failed[("candidate", "db_attempts")]["last_error"]


def test_no_probes_writes_an_empty_table(tmp_path: Path) -> None:
    sampler = ProbeSampler([], [ProbeTarget("a")], tmp_path / "p.parquet", t0_ns=time.time_ns())
    with sampler:
        pass
    assert pq.read_table(tmp_path / "p.parquet").num_rows == 0


def test_postgres_probes_keep_reading_while_the_proxy_is_down(
    tmp_path: Path, postgres: EmbeddedPostgres, toxiproxy: ToxiproxyClient
) -> None:
    import psycopg

    proxy = toxiproxy.create_proxy("probes_pg", "127.0.0.1:0", f"{postgres.host}:{postgres.port}")
    host, port = proxy.listen.rsplit(":", 1)
    through_proxy = postgres.dsn("postgres", host=host, port=int(port))
    direct = postgres.dsn("postgres")
    probes = [PostgresProbe(name="db_backends", postgres="numbackends")]
    sampler = ProbeSampler(
        probes,
        [ProbeTarget("candidate", dsn=direct)],
        tmp_path / "p.parquet",
        t0_ns=time.time_ns(),
        interval_s=0.2,
    )
    with sampler:
        toxiproxy.disable("probes_pg")  # the database is "killed" for the target
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(through_proxy, connect_timeout=2).close()
        assert wait_until(lambda: sampler.result.samples >= 5)  # read while the proxy is down
        toxiproxy.enable("probes_pg")
    assert sampler.result.failures == {}
    assert pq.read_table(tmp_path / "p.parquet").num_rows >= 5


def test_a_bug_in_a_sampling_thread_is_handed_to_the_run(
    tmp_path: Path, metrics_server: MetricsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.crashes import FILE_PREFIX
    from harness.errors import InternalError
    from harness.probes import sampler as module

    def broken(_self: object, _probes: object) -> None:
        raise KeyError("value")

    monkeypatch.setattr(module._Readers, "read", broken)
    sampler = ProbeSampler(
        PROBES[:1],
        [ProbeTarget("baseline", url=metrics_server.url)],
        tmp_path / "p.parquet",
        t0_ns=time.time_ns(),
    )
    with sampler:
        assert sampler.failed.wait(10)
    assert isinstance(sampler.failure, InternalError)
    assert "in thread probes-baseline: KeyError: 'value'" in str(sampler.failure)
    saved = list(tmp_path.glob(f"{FILE_PREFIX}*"))
    assert len(saved) == 1 and "in broken" in saved[0].read_text()
