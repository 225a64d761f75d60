"""Prometheus probes: parsing real exposition text, and scraping a real HTTP server."""

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from harness.errors import TargetError
from harness.probes.prometheus import MetricNotFound, MetricsScraper, metric_value
from tests.probes.conftest import MetricsServer


def _page() -> str:
    registry = CollectorRegistry()
    attempts = Counter("payments_db_attempts", "attempts", ["outcome"], registry=registry)
    attempts.labels("ok").inc(7)
    attempts.labels("error").inc(3)
    Gauge("payments_db_pool_connections", "pool", registry=registry).set(4)
    return generate_latest(registry).decode()


def test_counter_sums_label_sets_by_sample_or_family_name() -> None:
    page = _page()
    assert metric_value(page, "payments_db_attempts_total") == 10.0
    assert metric_value(page, "payments_db_attempts") == 10.0  # family name: the _total sample
    assert metric_value(page, "payments_db_attempts_total", {"outcome": "error"}) == 3.0


def test_gauge_and_missing() -> None:
    page = _page()
    assert metric_value(page, "payments_db_pool_connections") == 4.0
    with pytest.raises(MetricNotFound, match="no sample of nope"):
        metric_value(page, "nope")
    with pytest.raises(MetricNotFound, match="with labels"):
        metric_value(page, "payments_db_attempts_total", {"outcome": "timeout"})


def test_scrape_real_server(metrics_server: MetricsServer) -> None:
    metrics_server.text = _page()
    scraper = MetricsScraper(metrics_server.url, timeout_s=2)
    try:
        assert metric_value(scraper.fetch("/metrics"), "payments_db_attempts_total") == 10.0
        metrics_server.status = 500
        with pytest.raises(TargetError, match=r"/metrics: HTTP 500"):
            scraper.fetch("metrics")
    finally:
        scraper.close()
    closed = MetricsScraper("http://127.0.0.1:9", timeout_s=1)
    with pytest.raises(TargetError, match=r"http://127\.0\.0\.1:9/metrics: ConnectError"):
        closed.fetch("/metrics")
    closed.close()
