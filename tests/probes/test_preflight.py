"""Probes that cannot start: a real metrics server and real PostgreSQL, read once before a run."""

from __future__ import annotations

import pytest

from harness.errors import InfrastructureError
from harness.probes.preflight import check_probes
from harness.probes.sampler import ProbeTarget
from harness.scenario.model import PostgresProbe, PrometheusProbe, PrometheusSource, ToxiproxyProbe
from harness.stack.postgres import EmbeddedPostgres
from tests.probes.conftest import MetricsServer

ATTEMPTS = PrometheusProbe(name="db_attempts", prometheus=PrometheusSource(metric="attempts_total"))
XACTS = PostgresProbe(name="db_xacts", postgres="xact")
ACCEPTS = ToxiproxyProbe(name="accepts", toxiproxy="accepted_connections")


def test_readable_sources_pass(metrics_server: MetricsServer, postgres: EmbeddedPostgres) -> None:
    metrics_server.text = "# TYPE attempts counter\nattempts_total 5\n"
    target = ProbeTarget("baseline", metrics_server.url, postgres.dsn("postgres"), proxy="p")
    check_probes([ATTEMPTS, XACTS, ACCEPTS], [target], pause_s=0)
    assert metrics_server.hits == 1


def test_a_metric_not_exposed_yet_and_a_source_the_target_lacks_are_tolerated(
    metrics_server: MetricsServer,
) -> None:
    metrics_server.text = "# TYPE other counter\nother_total 1\n"  # labelled series come later
    check_probes([ATTEMPTS, XACTS, ACCEPTS], [ProbeTarget("url-target", metrics_server.url)])
    assert metrics_server.hits == 1


def test_a_metrics_page_that_refuses_stops_the_run(metrics_server: MetricsServer) -> None:
    metrics_server.status = 401
    with pytest.raises(InfrastructureError) as caught:
        check_probes([XACTS, ATTEMPTS], [ProbeTarget("baseline", metrics_server.url)], pause_s=0)
    assert str(caught.value) == (
        f"probe db_attempts of target baseline cannot start: {metrics_server.url}/metrics: "
        "HTTP 401 (3 attempts)"
    )
    assert metrics_server.hits == 3  # retried before giving up


def test_a_database_that_refuses_the_probe_stops_the_run(postgres: EmbeddedPostgres) -> None:
    target = ProbeTarget("candidate", dsn=postgres.dsn("no_such_database"))
    with pytest.raises(InfrastructureError, match="probe db_xacts of target candidate cannot") as e:
        check_probes([XACTS], [target], attempts=1)
    assert 'database "no_such_database" does not exist' in str(e.value)
    assert str(e.value).endswith("(1 attempt)")
