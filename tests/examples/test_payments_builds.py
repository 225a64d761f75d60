"""The demo's known-bad and known-good builds, each on its own, against real PostgreSQL behind a
real toxiproxy-server (the fixtures of ``test_payments``): the behaviour each verdict rests on."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from examples.payments import handlers
from examples.payments.handlers import App, timed_answer
from examples.payments.variants import BUILDS, VARIANTS
from tests.examples.test_payments import Service, serves_balance, timed, wait_until

pytestmark = pytest.mark.slow


def test_every_build_is_in_the_stack_file() -> None:
    from pathlib import Path

    stack = (Path(__file__).resolve().parents[2] / "examples/payments/stack.yaml").read_text()
    for name in BUILDS:
        assert f'--variant {name}"' in stack, name
    assert VARIANTS["hotfix-leak"] == VARIANTS["v2.3.1"]  # the same retries, a different pool


def test_hang_waits_past_the_clients_timeout(start_service: Callable[..., Service]) -> None:
    service = start_service("hotfix-hang")
    assert serves_balance(service.url)
    service.kill_database()
    before = service.metric("payments_db_attempts_total")
    with httpx.Client(base_url=service.url, timeout=10) as client:
        status, seconds = timed(client, "GET", "/accounts/1/balance")
    assert status == 503
    assert 4.5 <= seconds < 8  # its 5 s deadline, where production answers in 0.15 s
    assert service.metric("payments_db_attempts_total") - before >= 10  # every 0.25 s + 0.15 s
    service.restore_database()
    wait_until(lambda: serves_balance(service.url), 10, "hotfix-hang did not recover")


def test_leak_exhausts_the_pool_and_never_recovers(start_service: Callable[..., Service]) -> None:
    service = start_service("hotfix-leak", "--pool-max", "5")
    assert serves_balance(service.url)
    service.kill_database()
    with httpx.Client(base_url=service.url, timeout=5) as client:
        failed = [timed(client, "GET", f"/accounts/{n}/balance")[0] for n in range(1, 8)]
    assert failed == [503] * 7
    service.restore_database()
    assert service.toxiproxy.get_proxy(service.proxy).enabled  # the database is back
    # production reconnects on its next request; the leaky one's slots stay taken: each of
    # these waits its checkout timeout and gives up, however long the machine takes
    with httpx.Client(base_url=service.url, timeout=5) as client:
        after = [client.get("/accounts/1/balance") for _ in range(3)]
    assert [(r.status_code, r.json()["reason"]) for r in after] == [(503, "checkout_timeout")] * 3
    assert service.metric("payments_db_pool_connections") >= 5  # every slot counted as taken


def test_backoff_makes_three_attempts_per_request(start_service: Callable[..., Service]) -> None:
    service = start_service("hotfix-backoff")
    assert serves_balance(service.url)
    service.kill_database()
    before = service.metric("payments_db_attempts_total")
    with httpx.Client(base_url=service.url, timeout=5) as client:
        results = [timed(client, "GET", f"/payments/{n}") for n in range(1, 6)]
    assert [status for status, _ in results] == [503] * 5
    assert service.metric("payments_db_attempts_total") - before == 15
    service.restore_database()
    wait_until(lambda: serves_balance(service.url), 5, "hotfix-backoff did not recover")


def test_slower_sleeps_five_percent_of_each_answers_time(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(handlers.time, "sleep", slept.append)
    monkeypatch.setattr(handlers.time, "monotonic", lambda: 100.0)
    build = BUILDS["hotfix-slower"]
    app = App(
        variant="hotfix-slower",
        caller=None,  # type: ignore[arg-type]  # /health never touches the database
        metrics=_metrics(),
        catalog=b"{}",
        slowdown=build.slowdown,
    )
    data, _ = timed_answer(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", ("127.0.0.1", 1), app, 98.0)
    assert data.startswith(b"HTTP/1.1 200")
    assert slept == [pytest.approx(0.1)]  # 5 % of the 2 s since the request was received


def _metrics() -> handlers.Metrics:
    return handlers.Metrics(variant="hotfix-slower", with_breaker=False)
