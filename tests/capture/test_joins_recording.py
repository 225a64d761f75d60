"""Sessions joined by value, end to end: a real mitmdump recording, the import, the replay.

The notes example runs on the embedded PostgreSQL behind a real ``mitmdump`` reverse proxy.
Four API clients register, log in with the e-mail they registered, then use the login's token,
each request on a new connection (as clients behind a pool or a per-request nonce are): no
credential ties the registration to the login, only the e-mail does. Imported with the
defaults, each client is one session (the login joined to its registration); replayed to a
fresh copy of the service in session order, every login leaves after its registration was
answered, and everything the clients did answers as captured.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from harness.capture.clients import BY_CONNECTION, BY_DELIVERED, BY_JOINED, BY_KNOWN
from harness.capture.config import CaptureConfig, SessionConfig
from harness.capture.ingest import import_capture
from harness.capture.store import read_capture
from harness.cli.main import main
from harness.stack.ports import free_port
from harness.stack.postgres import EmbeddedPostgres
from tests.examples.test_payments import stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "notes" / "app.py"
SCHEMA = ROOT / "examples" / "notes" / "schema.sql"
TEMPLATE = "notes_join_template"
CLIENTS = 4
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def start(postgres: EmbeddedPostgres, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Starts a notes service on a fresh copy of the seeded database; returns its URL."""
    postgres.create_template(TEMPLATE, SCHEMA.read_text())
    started: list[tuple[subprocess.Popen[bytes], str]] = []

    def run(name: str) -> str:
        dbname = f"notes_join_{os.getpid()}_{name}"
        postgres.clone(TEMPLATE, dbname)
        port = free_port()
        cmd = [sys.executable, str(APP), "--port", str(port), "--variant", "v1.8.0"]
        cmd += ["--dsn", postgres.dsn(dbname)]
        log = tmp_path / f"notes-{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        started.append((proc, dbname))
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(url), 20, f"notes did not start: {log.read_text()}")
        return url

    yield run
    for proc, dbname in started:
        stop_process(proc)
        postgres.drop(dbname)
    postgres.drop(TEMPLATE)


def _client(base: str, n: int, statuses: Counter[str]) -> None:
    """Register, log in, then use the token; a new connection for every request."""
    name = f"joiner-{n}-{os.getpid()}"
    email = f"{name}@mail.notes-demo.org"
    account = {"username": name, "email": email, "password": "same-password-1"}

    def call(method: str, path: str, **kw: object) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=30.0) as http:  # its own connection
            answer = http.request(method, path, **kw)  # type: ignore[arg-type]
        statuses[f"{method} {path.split('/')[2]} {answer.status_code}"] += 1
        return answer

    call("POST", "/api/users", json={"user": account})
    login = call(
        "POST", "/api/users/login", json={"user": {"email": email, "password": "same-password-1"}}
    )
    auth = {"Authorization": "Token " + login.json()["user"]["token"]}
    call("GET", "/api/user", headers=auth)
    note = {"note": {"title": f"Joined {n}", "body": "A note."}}
    slug = call("POST", "/api/notes", json=note, headers=auth).json()["note"]["slug"]
    call("GET", f"/api/notes/{slug}", headers=auth)


def _record(service: str, out: Path, tmp_path: Path) -> Counter[str]:
    port = free_port()
    cmd = [str(BIN / "mitmdump"), "--mode", f"reverse:{service}", "--listen-host", "127.0.0.1"]
    cmd += ["--listen-port", str(port), "-w", str(out), "--set", "flow_detail=0"]
    with (tmp_path / "mitmdump.log").open("wb") as log:
        proxy = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    statuses: Counter[str] = Counter()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(base), 30, "mitmdump did not start")
        threads = [
            threading.Thread(target=_client, args=(base, n, statuses)) for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        proxy.send_signal(signal.SIGINT)  # mitmdump writes the rest of its file on SIGINT
        try:
            proxy.wait(20)
        except subprocess.TimeoutExpired:
            proxy.kill()
            proxy.wait(5)
    return statuses


def test_logins_recorded_by_mitmdump_join_their_registrations_and_replay_after_them(
    start: Callable[[str], str], tmp_path: Path
) -> None:
    recording = tmp_path / "join.mitm"
    sent = _record(start("record"), recording, tmp_path)
    assert sent == Counter(
        {
            "POST users 201": CLIENTS, "POST users 200": CLIENTS, "GET user 200": CLIENTS,
            "POST notes 201": CLIENTS, "GET notes 200": CLIENTS,
        }
    )  # fmt: skip

    capture = tmp_path / "join.capture.parquet"
    meta = import_capture([recording], capture)
    rows = read_capture(capture, ["idx", "session", "method", "route"]).to_pylist()
    assert len(rows) == 5 * CLIENTS + 1  # and the readiness check of /health
    assert meta.sessions is not None and meta.sessions.joins is not None
    # every registration by its connection (nothing else to go by), every login joined to it
    # by the e-mail, the token's first request by delivery, the rest by the token
    assert meta.sessions.requests_by == {
        BY_CONNECTION: CLIENTS + 1, BY_JOINED: CLIENTS, BY_DELIVERED: CLIENTS,
        BY_KNOWN: 2 * CLIENTS,
    }  # fmt: skip
    assert meta.sessions.joins.joined == CLIENTS
    assert meta.sessions.joins.by == {"json:$.user.email <- request json:$.user.email": CLIENTS}
    sessions = Counter(r["session"] for r in rows if r["route"] != "/health")
    assert sorted(sessions.values()) == [5] * CLIENTS  # one session per client

    # switched off: registrations alone, the rest of each client joined by its token
    alone = tmp_path / "alone.capture.parquet"
    meta = import_capture(
        [recording], alone, config=CaptureConfig(session=SessionConfig(join=False))
    )
    split = Counter(
        r["session"]
        for r in read_capture(alone, ["session", "route"]).to_pylist()
        if r["route"] != "/health"
    )
    assert sorted(split.values()) == [1] * CLIENTS + [4] * CLIENTS

    run = tmp_path / "run"
    target = start("replay")
    code = main(
        [
            "replay",
            str(capture),
            "--target",
            f"notes={target}",
            "-o",
            str(run),
            "--quiet",
            "--allow-original-host",
            "--speed",
            "4",
        ]
    )
    assert code == 0
    replayed = pd.read_parquet(run / "requests.parquet")
    replayed = replayed[replayed["route"] != "/health"]
    got = Counter(
        f"{m} {'/api/notes/{slug}' if r.startswith('/api/notes/') else r} {s}"
        for m, r, s in zip(replayed["method"], replayed["route"], replayed["status"], strict=True)
    )
    assert got == Counter(
        {
            "POST /api/users 201": CLIENTS, "POST /api/users/login 200": CLIENTS,
            "GET /api/user 200": CLIENTS, "POST /api/notes 201": CLIENTS,
            "GET /api/notes/{slug} 200": CLIENTS,
        }
    )  # fmt: skip
    # in each session the login left after its registration was answered
    for _, session in replayed.sort_values("idx").groupby("session"):
        register, login = session.iloc[0], session.iloc[1]
        assert (register["route"], login["route"]) == ("/api/users", "/api/users/login")
        assert login["sent_ns"] >= register["sent_ns"] + register["latency_ms"] * 1e6
