"""The notes example service against real PostgreSQL behind a real toxiproxy-server.

Each test starts the service as a subprocess on 127.0.0.1 and talks to it over HTTP: the API
(register, log in, token-protected notes and comments by server-assigned slug and id), the
pages (cookie session, CSRF-checked forms, redirects to the login page) and a killed database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from examples.notes.auth import issue_token, read_token
from examples.notes.traffic import Mix, run_users
from harness.stack.ports import free_port
from harness.stack.postgres import EmbeddedPostgres
from harness.stack.toxiproxy import ToxiproxyClient
from tests.examples.test_payments import stop_process, wait_until

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "notes" / "app.py"
SCHEMA = ROOT / "examples" / "notes" / "schema.sql"
TEMPLATE = "notes_template"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

pytestmark = pytest.mark.slow


@dataclass
class Notes:
    """A running notes service and the proxy between it and its database."""

    url: str
    proc: subprocess.Popen[bytes]
    proxy: str
    log: Path
    database: str


@pytest.fixture(scope="session")
def notes_template(postgres: EmbeddedPostgres) -> str:
    postgres.create_template(TEMPLATE, SCHEMA.read_text())
    return TEMPLATE


@pytest.fixture
def start_notes(
    postgres: EmbeddedPostgres, toxiproxy: ToxiproxyClient, notes_template: str, tmp_path: Path
) -> Iterator[Callable[..., Notes]]:
    started: list[Notes] = []

    def start(variant: str = "v1.8.0") -> Notes:
        dbname = f"notes_{os.getpid()}_{len(started)}"
        postgres.clone(notes_template, dbname)
        proxy, proxy_port, port = f"notes-db-{dbname}", free_port(), free_port()
        toxiproxy.create_proxy(proxy, f"127.0.0.1:{proxy_port}", f"127.0.0.1:{postgres.port}")
        log = tmp_path / f"notes-{len(started)}.log"
        cmd = [sys.executable, str(APP), "--port", str(port), "--variant", variant]
        cmd += ["--dsn", postgres.dsn(dbname, port=proxy_port)]
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        notes = Notes(f"http://127.0.0.1:{port}", proc, proxy, log, dbname)
        started.append(notes)
        wait_until(lambda: _healthy(notes.url), 10, f"notes did not start: {log.read_text()}")
        return notes

    yield start
    for notes in started:
        stop_process(notes.proc)
        toxiproxy.delete_proxy(notes.proxy)
        postgres.drop(notes.database)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def test_token_round_trip_and_refusals() -> None:
    token = issue_token(7, "ann", "k", now=1000)
    assert read_token(token, "k", now=1001) == {
        "sub": "7", "username": "ann", "iat": 1000, "exp": 4600,
    }  # fmt: skip
    assert read_token(token, "other key", now=1001) is None
    assert read_token(token, "k", now=4600) is None  # expired
    assert read_token(token[:-2] + "xx", "k", now=1001) is None
    assert read_token("not.a.token", "k") is None


def test_api_register_login_and_server_assigned_ids(start_notes: Callable[..., Notes]) -> None:
    notes = start_notes()
    with httpx.Client(base_url=notes.url, timeout=5) as api:
        user = {"username": "ann", "email": "ann@mail.notes-demo.org", "password": "secret-pw-1"}
        assert api.post("/api/users", json={"user": user}).status_code == 201
        again = api.post("/api/users", json={"user": user})
        assert again.status_code == 422
        assert again.json() == {"errors": {"username": ["has already been taken"]}}
        bad = {**user, "username": "bob", "email": "bob@example.invalid"}
        assert api.post("/api/users", json={"user": bad}).json()["errors"] == {
            "email": ["is invalid"]
        }
        wrong = {"email": user["email"], "password": "wrong-password"}
        assert api.post("/api/users/login", json={"user": wrong}).status_code == 401
        login = api.post("/api/users/login", json={"user": {**wrong, "password": "secret-pw-1"}})
        assert login.status_code == 200
        token = login.json()["user"]["token"]

        assert api.get("/api/user").status_code == 401
        assert api.post("/api/notes", json={"note": {"title": "x", "body": ""}}).status_code == 401
        api.headers["Authorization"] = f"Token {token}"
        assert api.get("/api/user").json()["user"]["username"] == "ann"
        created = api.post("/api/notes", json={"note": {"title": "Hello, World!", "body": "b"}})
        assert created.status_code == 201
        slug = created.json()["note"]["slug"]
        assert re.fullmatch(r"hello-world-[0-9a-f]{6}", slug)
        assert created.headers["Location"] == f"/api/notes/{slug}"
        assert api.get(f"/api/notes/{slug}").json()["note"]["author"] == "ann"
        comment = api.post(f"/api/notes/{slug}/comments", json={"comment": {"body": "c"}})
        assert comment.status_code == 201
        comment_id = comment.json()["comment"]["id"]
        assert comment_id > 300  # after the 300 seeded comments
        edit = {"note": {"title": "Edited", "body": "e"}}
        assert api.put(f"/api/notes/{slug}", json=edit).json()["note"]["title"] == "Edited"
        assert api.put("/api/notes/welcome-note-001", json=edit).status_code == 403
        assert api.delete(f"/api/notes/{slug}/comments/{comment_id}").status_code == 204
        assert api.delete(f"/api/notes/{slug}/comments/{comment_id}").status_code == 404
        assert api.delete(f"/api/notes/{slug}").status_code == 204
        assert api.get(f"/api/notes/{slug}").status_code == 404
        # a token from another key (or the captured token of another build) is refused
        api.headers["Authorization"] = f"Token {issue_token(1, 'staging-01', 'other')}"
        assert api.get("/api/user").status_code == 401
        listed = api.get("/api/notes", params={"author": "staging-01", "limit": "3"}).json()
        assert listed["count"] == 3
        assert api.get("/api/notes", params={"limit": "0"}).status_code == 400
        assert api.get("/api/tags").json()["tags"][0] == "postgres"
        assert api.patch("/api/notes").status_code == 405
        assert api.get("/nowhere").status_code == 404


def test_pages_need_a_session_and_the_csrf_token(start_notes: Callable[..., Notes]) -> None:
    notes = start_notes()
    with httpx.Client(base_url=notes.url, timeout=5) as browser:
        assert browser.get("/notes").headers["Location"] == "/login?next=/notes"
        signup = browser.get("/signup")
        anonymous = browser.cookies["sessionid"]
        fields = {"username": "cid", "email": "cid@mail.notes-demo.org", "password": "pw-123456"}
        forged = browser.post("/signup", data={**fields, "csrfmiddlewaretoken": "forged"})
        assert forged.status_code == 403
        assert "CSRF verification failed" in forged.text
        done = browser.post("/signup", data={**fields, "csrfmiddlewaretoken": _csrf(signup)})
        assert (done.status_code, done.headers["Location"]) == (302, "/login?registered=1")

        page = browser.get("/login?registered=1")
        assert "Account created" in page.text
        login = {"username": "cid", "password": "pw-123456", "next": "/notes"}
        answer = browser.post("/login", data={**login, "csrfmiddlewaretoken": _csrf(page)})
        assert (answer.status_code, answer.headers["Location"]) == (302, "/notes")
        assert browser.cookies["sessionid"] != anonymous  # a new session at login
        listing = browser.get("/notes")
        assert listing.status_code == 200
        token = _csrf(listing)
        created = browser.post("/notes", data={"title": "Form note", "csrfmiddlewaretoken": token})
        assert created.status_code == 302
        path = created.headers["Location"]
        assert re.fullmatch(r"/notes/form-note-[0-9a-f]{6}", path)
        assert browser.get(path).status_code == 200
        stale = browser.post(f"{path}/comments", data={"body": "x", "csrfmiddlewaretoken": "old"})
        assert stale.status_code == 403
        commented = browser.post(
            f"{path}/comments", data={"body": "x", "csrfmiddlewaretoken": token}
        )
        assert commented.headers["Location"] == path
        assert "<b>cid</b>: x" in browser.get(path).text
        # a browser says where a form POST comes from: another site is refused (Django's check)
        host = notes.url.removeprefix("http://")
        for origin, status in (("http://evil.example", 403), (f"http://{host}", 302)):
            answer = browser.post(
                f"{path}/comments",
                data={"body": "y", "csrfmiddlewaretoken": token},
                headers={"Origin": origin},
            )
            assert answer.status_code == status, origin
        foreign = browser.post(
            f"{path}/comments",
            data={"body": "y", "csrfmiddlewaretoken": token},
            headers={"Origin": f"http://{host}", "Host": "other.example:8080"},
        )
        assert foreign.status_code == 403  # the origin must be the site the POST was sent to
        assert "CSRF verification failed" in foreign.text
        out = browser.post("/logout", data={"csrfmiddlewaretoken": token})
        assert out.headers["Location"] == "/login"
        assert "Max-Age=0" in out.headers["Set-Cookie"]
        assert "sessionid" not in browser.cookies
        assert browser.get(path).headers["Location"] == f"/login?next={path}"
    # the old session cookie is dead on the server too
    dead = httpx.get(f"{notes.url}/notes", cookies={"sessionid": anonymous}, timeout=5)
    assert dead.status_code == 302


def test_users_get_the_answers_they_expect(start_notes: Callable[..., Notes]) -> None:
    notes = start_notes()
    counts = run_users(notes.url, 4.0, Mix(writers=2, browsers=2, readers=1, think_s=0.1))
    # every answer is one the flows expect: no 400/403/404/422/5xx, no transport errors
    assert set(counts) <= {"200", "201", "204", "302", "401"}, counts
    assert counts["201"] >= 2 and counts["302"] >= 4


def test_a_killed_database_answers_503_fast_and_recovers(
    start_notes: Callable[..., Notes], toxiproxy: ToxiproxyClient
) -> None:
    notes = start_notes("v1.8.0")
    with httpx.Client(base_url=notes.url, timeout=5) as api:
        user = {"username": "dee", "email": "dee@mail.notes-demo.org", "password": "pw-123456"}
        token = api.post("/api/users", json={"user": user}).json()["user"]["token"]
        api.headers["Authorization"] = f"Token {token}"
        toxiproxy.down(notes.proxy)
        try:
            down = api.get("/api/user")
            assert down.status_code == 503
            assert down.headers["Retry-After"] == "1"
            assert api.get("/login").status_code == 503
            assert api.get("/api/tags").status_code == 200  # needs no database
            assert api.get("/health").status_code == 200
        finally:
            toxiproxy.up(notes.proxy)
        wait_until(lambda: api.get("/api/user").status_code == 200, 10, "did not recover")
