"""The payments demo service against real PostgreSQL behind a real toxiproxy-server.

Each test starts the service as a subprocess on 127.0.0.1, talks to it over HTTP, kills the
database by disabling the toxiproxy proxy in front of it, and reads ``/metrics``.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.stack.ports import free_port
from harness.stack.postgres import EmbeddedPostgres
from harness.stack.toxiproxy import ToxiproxyClient

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "payments" / "app.py"
SCHEMA = ROOT / "examples" / "payments" / "schema.sql"
TEMPLATE = "payments_template"

pytestmark = pytest.mark.slow


@dataclass
class Service:
    """A running payments service and the proxy between it and its database."""

    url: str
    proc: subprocess.Popen[bytes]
    proxy: str
    toxiproxy: ToxiproxyClient
    log: Path
    database: str

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in (labels or {}).items()
                ):
                    total += sample.value
        return total

    def kill_database(self) -> None:
        self.toxiproxy.down(self.proxy)

    def partition_database(self) -> None:
        self.toxiproxy.partition(self.proxy)

    def heal_database(self) -> None:
        self.toxiproxy.heal(self.proxy)

    def restore_database(self) -> None:
        self.toxiproxy.up(self.proxy)


@pytest.fixture(scope="session")
def payments_template(postgres: EmbeddedPostgres) -> str:
    postgres.create_template(TEMPLATE, SCHEMA.read_text())
    return TEMPLATE


@pytest.fixture
def start_service(
    postgres: EmbeddedPostgres,
    toxiproxy: ToxiproxyClient,
    payments_template: str,
    tmp_path: Path,
) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(variant: str, *extra: str) -> Service:
        n = len(started)
        dbname = f"payments_{os.getpid()}_{n}"
        postgres.clone(payments_template, dbname)
        proxy = f"payments-db-{dbname}"
        proxy_port = free_port()
        toxiproxy.create_proxy(proxy, f"127.0.0.1:{proxy_port}", f"127.0.0.1:{postgres.port}")
        port = free_port()
        log = tmp_path / f"service-{n}.log"
        cmd = [sys.executable, str(APP), "--port", str(port), "--variant", variant]
        cmd += ["--dsn", postgres.dsn(dbname, port=proxy_port), *extra]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        service = Service(f"http://127.0.0.1:{port}", proc, proxy, toxiproxy, log, dbname)
        started.append(service)
        wait_until(lambda: _answers(service.url), 10, f"service did not start: {log.read_text()}")
        return service

    yield start
    for service in started:
        stop_process(service.proc)
        service.toxiproxy.delete_proxy(service.proxy)
        postgres.drop(service.database)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def stop_process(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(5)


def wait_until(check: Callable[[], bool], seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(message)


def timed(client: httpx.Client, method: str, path: str, **kw: object) -> tuple[int, float]:
    """Status (0 when no answer in time) and seconds taken."""
    started = time.monotonic()
    try:
        status = client.request(method, path, **kw).status_code  # type: ignore[arg-type]
    except httpx.TransportError:
        status = 0
    return status, time.monotonic() - started


def serves_balance(url: str) -> bool:
    try:
        return httpx.get(f"{url}/accounts/1/balance", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


# --- healthy database -----------------------------------------------------------------------


def test_every_endpoint_answers_on_a_healthy_database(start_service: Callable[..., Service]):
    service = start_service("v2.3.1")
    with httpx.Client(base_url=service.url, timeout=5) as client:
        assert client.get("/health").text == "ok\n"
        catalog = client.get("/catalog")
        assert catalog.status_code == 200
        assert {c["code"] for c in catalog.json()["currencies"]} == {"EUR", "USD"}

        before = client.get("/accounts/1/balance").json()
        assert before["account_id"] == 1
        assert before["currency"] == "USD"
        created = client.post(
            "/payments", json={"account_id": 1, "amount_cents": 1250, "currency": "USD"}
        )
        assert created.status_code == 201
        payment = created.json()
        assert payment["amount_cents"] == 1250
        assert payment["status"] == "settled"
        assert created.headers["location"] == f"/payments/{payment['id']}"
        after = client.get("/accounts/1/balance").json()
        assert after["balance_cents"] == before["balance_cents"] - 1250
        assert client.get(f"/payments/{payment['id']}").json() == payment
        seeded = client.get("/payments/1").json()
        assert seeded["created_at"].startswith("2026-01-01")

        assert client.get("/payments/999999999").status_code == 404
        assert client.get("/accounts/5000/balance").status_code == 404
        assert client.get("/nowhere").status_code == 404
        assert client.get("/payments/abc").status_code == 400
        assert client.post("/payments", content=b"{not json").status_code == 400
        assert client.post("/payments", json={"account_id": 1}).status_code == 400
        wrong_currency = {"account_id": 1, "amount_cents": 100, "currency": "EUR"}
        assert client.post("/payments", json=wrong_currency).status_code == 400
        unknown = {"account_id": 4242, "amount_cents": 100, "currency": "USD"}
        assert client.post("/payments", json=unknown).status_code == 404

        text = client.get("/metrics").text
        assert "payments_db_attempts_total" in text
        assert 'payments_requests_total{route="/payments",status="201"}' in text
        assert "payments_inflight_requests" in text
        assert "payments_request_duration_seconds_bucket" in text
    assert service.metric("payments_db_attempts_total") >= 5


def test_keep_alive_serves_many_requests_on_one_connection(start_service):
    service = start_service("v2.3.1")
    with httpx.Client(base_url=service.url, timeout=5, http2=False) as client:
        for _ in range(20):
            assert client.get("/catalog").status_code == 200
    assert service.metric("payments_requests_total", {"route": "/catalog"}) == 20


def test_sigterm_stops_the_service(start_service):
    service = start_service("hotfix-safe")
    assert stop_process(service.proc) == 0
    assert "stopped" in service.log.read_text()


# --- database killed ------------------------------------------------------------------------


def test_production_build_answers_503_quickly_and_recovers(start_service):
    service = start_service("v2.3.1")
    assert serves_balance(service.url)
    service.kill_database()
    attempts_before = service.metric("payments_db_attempts_total")
    with httpx.Client(base_url=service.url, timeout=5) as client:
        results = [timed(client, "GET", f"/accounts/{n}/balance") for n in range(1, 11)]
    assert [status for status, _ in results] == [503] * 10
    assert max(seconds for _, seconds in results) < 1.0
    # one attempt per request: v2.3.1 never retries
    assert service.metric("payments_db_attempts_total") - attempts_before == 10
    service.restore_database()
    wait_until(lambda: serves_balance(service.url), 5, "v2.3.1 did not recover")


def test_a_partitioned_database_does_not_hang_requests(start_service):
    service = start_service("v2.3.1")
    assert serves_balance(service.url)
    service.partition_database()
    with httpx.Client(base_url=service.url, timeout=10) as client:
        # the first request takes a pooled connection whose query now gets no answer
        first = client.get("/accounts/1/balance")
        assert (first.status_code, first.json()["reason"]) == (503, "query_timeout")
        results = [timed(client, "GET", f"/payments/{n}") for n in range(1, 6)]
    assert [status for status, _ in results] == [503] * 5
    assert max(seconds for _, seconds in results) < 3.0
    service.heal_database()
    wait_until(lambda: serves_balance(service.url), 10, "v2.3.1 did not recover")


def _storm(url: str, requests: int, parallel: int) -> list[int]:
    """Send ``requests`` payments from ``parallel`` threads; statuses (0: no answer)."""
    body = {"account_id": 7, "amount_cents": 100, "currency": "USD"}

    def one(_: int) -> int:
        try:
            return httpx.post(f"{url}/payments", json=body, timeout=15).status_code
        except httpx.TransportError:
            return 0

    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(requests)))


def _health_during_storm(
    service: Service, requests: int, parallel: int, started: Callable[[], bool]
) -> tuple[int, float]:
    """The worst /health answer while the storm lasts: the first failure, else the slowest.

    ``started`` says when the storm has reached the service. Health is asked again and again
    until the storm is over (not once after a fixed pause), so the answer does not depend on how
    fast a loaded machine started the storm; at least one answer must come while it lasts."""
    with concurrent.futures.ThreadPoolExecutor(1) as runner:
        storm = runner.submit(_storm, service.url, requests, parallel)
        wait_until(started, 30, "no storm")
        worst = (200, 0.0)
        asked = 0
        with httpx.Client(base_url=service.url, timeout=3.0) as client:
            while not storm.done():
                status, seconds = timed(client, "GET", "/health")
                asked += 1
                if status != 200:
                    worst = (status, seconds)
                    break
                worst = max(worst, (status, seconds), key=lambda answer: answer[1])
        statuses = storm.result(timeout=60)
    assert len(statuses) == requests
    assert asked >= 1, "the storm was over before health was asked once"
    return worst


def test_naive_hotfix_retries_and_health_degrades(start_service):
    service = start_service("hotfix-naive", "--workers", "16")
    assert serves_balance(service.url)
    service.kill_database()
    attempts_before = service.metric("payments_db_attempts_total")
    with httpx.Client(base_url=service.url, timeout=10) as client:
        status, _ = timed(client, "GET", "/accounts/1/balance")
    assert status == 503
    per_request = service.metric("payments_db_attempts_total") - attempts_before
    assert per_request > 1

    # the naive build's storm has filled the workers once requests wait for one
    filled = lambda: service.metric("payments_queued_requests") >= 1  # noqa: E731
    status, seconds = _health_during_storm(service, requests=48, parallel=24, started=filled)
    assert status != 200 or seconds >= 1.0, "health stayed fast while naive retries filled workers"

    service.restore_database()
    wait_until(lambda: serves_balance(service.url), 10, "hotfix-naive did not recover")


def test_a_full_worker_queue_is_answered_503_at_once(start_service):
    service = start_service("hotfix-naive", "--workers", "2", "--queue-limit", "2")
    service.kill_database()
    with concurrent.futures.ThreadPoolExecutor(1) as runner:
        storm = runner.submit(_storm, service.url, 8, 8)
        # 2 requests retrying, 2 waiting, the rest shed (/metrics is answered by the I/O thread)
        wait_until(lambda: service.metric("payments_queued_requests") >= 2, 30, "queue not full")
        health = httpx.get(f"{service.url}/health", timeout=5)
        statuses = storm.result(timeout=60)
    assert (health.status_code, health.json()["reason"]) == (503, "queue_full")
    assert statuses.count(503) == 8
    assert service.metric("payments_requests_total", {"route": "/health", "status": "503"}) == 1


def test_safe_hotfix_opens_its_breaker_and_answers_fast(start_service):
    service = start_service("hotfix-safe", "--workers", "16")
    assert serves_balance(service.url)
    assert service.metric("payments_breaker_state") == 0
    service.kill_database()
    with httpx.Client(base_url=service.url, timeout=5) as client:
        first = [timed(client, "GET", f"/accounts/{n}/balance") for n in range(1, 11)]
        assert {status for status, _ in first} == {503}
        assert service.metric("payments_breaker_state") == 2
        attempts_before = service.metric("payments_db_attempts_total")
        rejections_before = service.metric("payments_breaker_rejections_total")
        started = time.monotonic()
        later = [timed(client, "GET", f"/payments/{n}") for n in range(1, 21)]
        elapsed = time.monotonic() - started
    assert {status for status, _ in later} == {503}
    assert max(seconds for _, seconds in later) < 0.5
    # While open the breaker answers without touching the database: at most one half-open
    # probe per cool-down (1 s) reaches it.
    probes = service.metric("payments_db_attempts_total") - attempts_before
    assert probes <= 1 + elapsed // 1.0
    rejections = service.metric("payments_breaker_rejections_total") - rejections_before
    assert rejections >= 20 - probes

    # The breaker answers the storm at once, so requests rarely wait for a worker and the queue
    # gauge is no sign of it: the storm has begun once the breaker rejects its payments. It is
    # long enough that health is asked while it lasts.
    before = service.metric("payments_breaker_rejections_total")
    begun = lambda: service.metric("payments_breaker_rejections_total") >= before + 5  # noqa: E731
    status, seconds = _health_during_storm(service, requests=480, parallel=24, started=begun)
    assert (status, seconds < 1.0) == (200, True)

    service.restore_database()
    wait_until(lambda: serves_balance(service.url), 10, "hotfix-safe did not recover")
    assert service.metric("payments_breaker_state") == 0


def test_a_port_in_use_is_a_one_line_error_and_exit_1(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        cmd = [sys.executable, str(APP), "--port", str(port), "--dsn", "postgresql://x@127.0.0.1/x"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if " ERROR " in line]
    assert len(errors) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in errors[0]
    assert "Traceback" not in done.stdout + done.stderr


def test_the_dsn_is_required():
    done = subprocess.run(
        [sys.executable, str(APP), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PAYMENTS_DSN"},
    )
    assert done.returncode == 2
    assert "--dsn" in done.stderr
