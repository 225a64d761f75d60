"""Sessions joined by value: what may join, what must not, and the import that uses it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.capture.clients import BY_CONNECTION, BY_JOINED, BY_KNOWN, BY_NEW, SessionTracker
from harness.capture.config import CaptureConfig, SessionConfig
from harness.capture.ingest import import_capture
from harness.capture.joins import (
    JoinReport,
    SessionJoiner,
    joinable,
    place_name,
    request_join_values,
)
from harness.capture.linksources import Delivered
from harness.capture.linktargets import request_places
from harness.capture.record import Exchange
from harness.capture.sessions import SessionKeyer
from harness.capture.store import read_capture
from tests.capture.gorfiles import GorRecord, request, write_gor

S = 1_000_000_000  # ns
EMAIL = "u1796408665x0@mail.com"
TOKEN_A = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnQQ"
TOKEN_B = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiIn0.c2lnQg"


# --- the rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (EMAIL, "email"),
        (EMAIL, "to"),  # an e-mail address joins whatever its field is called
        ("johnjacob", "username"),
        ("jake-the-dog", "login"),
        ("+15551234567", "phone"),
        ("07700406-8385-4321-9a3c-3f1e2d4c5b6a", "order_ref"),
        ("07700406-8385-4321-9a3c-3f1e2d4c5b6a", "order_id"),  # an id of enough entropy
        (TOKEN_A, "refresh_token"),
        ("c0a8f3e1b2d94f7a", "state"),
    ],
)
def test_distinctive_values_may_join(value: str, name: str) -> None:
    assert joinable(value, name)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("true", "remember"),
        ("42", "user"),  # a number, however it is named
        ("1796402762985", "since"),  # epoch milliseconds
        ("3.14159265", "ratio"),
        ("2026-12-04", "birthday"),
        ("2026-12-04T18:24:28.091734Z", "createdAt"),
        ("18:24:28", "at"),
        ("password", "password"),
        ("pw-3f9a8c7d-00c0ffee", "password"),  # a password is no identity, random or not
        ("pass-1-word", "new_password"),
        ("how-to-train-your-dragon", "slug"),  # a word slug: a resource anyone may address
        ("johnjacob", "title"),  # a word, in a field that is not an identity
        ("johnjacob", "user_id"),  # an id field needs an id of enough entropy
        ("Thank you so much!", "body"),  # free text
        ("https://cdn.example/a9f3c2d1e8b7a6f5.png", "image"),  # an address
        ("/api/articles/feed", "next"),
        ("anonymous", "username"),
        ("abc", "username"),  # too short
        ("aaaaaaaaaaaaaaaaaaaaaaaa1", "token"),  # long but not random
    ],
)
def test_common_values_never_join(value: str, name: str) -> None:
    assert not joinable(value, name)


def test_place_names() -> None:
    assert place_name("json:$.user.email") == "email"
    assert place_name("json:$.users[3].login") == "login"
    assert place_name("query:state") == "state"
    assert place_name("header:Location~^/a/([^/]+)$") == "Location"
    assert place_name("body") == ""


def test_only_whole_query_and_body_values_are_join_values() -> None:
    head = "Content-Type: application/json\r\nX-Client: c0a8f3e1b2d94f7a99\r\n"
    body = json.dumps(
        {"user": {"email": EMAIL, "password": "password", "bio": f"mail me at {EMAIL} x"}}
    ).encode()
    places = request_places(f"/api/users/{EMAIL}?state=c0a8f3e1b2d94f7a&page=2", head, body)
    assert request_join_values(places) == [
        ("c0a8f3e1b2d94f7a", "query:state"),
        (EMAIL, "json:$.user.email"),
    ]  # not the path segment, the header, a word of the bio, the password or the page


# --- the index -------------------------------------------------------------------------------


def test_a_value_a_session_sent_joins_a_later_request() -> None:
    joiner = SessionJoiner()
    joiner.sent("register", 1 * S, [(EMAIL, "json:$.user.email")])
    assert joiner.join(2 * S, [(EMAIL, "json:$.user.email")]) == "register"
    assert joiner.join(3 * S, [("someone-else@mail.com", "json:$.user.email")]) is None
    report = joiner.finish()
    assert report == JoinReport(
        enabled=True,
        joined=1,
        by={"json:$.user.email <- request json:$.user.email": 1},
    )


def test_a_value_a_response_delivered_joins_once_the_response_ended() -> None:
    joiner = SessionJoiner()
    token = Delivered(TOKEN_A, "json:$.refresh_token", "token", False)
    joiner.delivered("login", 5 * S, [token])
    # sent while the response was still on its way: it cannot have used the value
    assert joiner.join(4 * S, [(TOKEN_A, "json:$.refresh")]) is None
    assert joiner.join(6 * S, [(TOKEN_A, "json:$.refresh")]) == "login"
    assert joiner.finish().by == {"json:$.refresh <- response json:$.refresh_token": 1}


def test_a_value_seen_in_two_sessions_never_joins() -> None:
    joiner = SessionJoiner()
    joiner.sent("a", 1 * S, [(EMAIL, "json:$.user.email")])
    joiner.sent("b", 2 * S, [(EMAIL, "json:$.user.email")])
    assert joiner.join(3 * S, [(EMAIL, "json:$.user.email")]) is None
    # nor after a third session sent it, nor when the first sends it again
    joiner.sent("a", 4 * S, [(EMAIL, "json:$.user.email")])
    assert joiner.join(5 * S, [(EMAIL, "json:$.user.email")]) is None
    report = joiner.finish()
    assert (report.joined, report.shared) == (0, 2)


def test_a_value_seen_too_long_ago_does_not_join() -> None:
    joiner = SessionJoiner(window_s=60)
    joiner.sent("a", 0, [(EMAIL, "json:$.user.email")])
    assert joiner.join(61 * S, [(EMAIL, "json:$.user.email")]) is None
    assert joiner.finish().expired == 1
    joiner = SessionJoiner(window_s=60)
    joiner.sent("a", 0, [(EMAIL, "json:$.user.email")])
    joiner.sent("a", 30 * S, [(EMAIL, "json:$.user.email")])  # used again: the window restarts
    assert joiner.join(61 * S, [(EMAIL, "json:$.user.email")]) == "a"


def test_values_of_two_sessions_are_ambiguous_and_do_not_join() -> None:
    joiner = SessionJoiner()
    joiner.sent("a", 1 * S, [(EMAIL, "json:$.user.email")])
    joiner.sent("b", 1 * S, [("jake-the-dog", "json:$.user.username")])
    both = [(EMAIL, "json:$.user.email"), ("jake-the-dog", "json:$.user.username")]
    assert joiner.join(2 * S, both) is None
    assert joiner.finish().ambiguous == 1


def test_what_a_response_showed_of_someone_does_not_join() -> None:
    # a reader was shown the author's e-mail in a profile, and an item of a listing
    joiner = SessionJoiner()
    shown = [
        Delivered(EMAIL, "json:$.profile.email", "value", False),
        Delivered(TOKEN_B, "json:$.invites[3].code", "value", False),
    ]
    joiner.delivered("reader", 1 * S, shown)
    assert joiner.join(2 * S, [(EMAIL, "json:$.user.email")]) is None
    assert joiner.join(2 * S, [(TOKEN_B, "json:$.code")]) is None
    # the author registers and logs in: the login joins the author, not the reader
    joiner.sent("author", 3 * S, [(EMAIL, "json:$.user.email")])
    assert joiner.join(4 * S, [(EMAIL, "json:$.user.email")]) == "author"
    # a token the response handed out (not in a list) joins
    joiner.delivered("reader", 5 * S, [Delivered(TOKEN_A, "json:$.invite.code", "value", False)])
    assert joiner.join(6 * S, [(TOKEN_A, "json:$.code")]) == "reader"
    # not one under a password-like name
    joiner.delivered("reader", 5 * S, [Delivered(TOKEN_B, "json:$.new_password", "value", False)])
    assert joiner.join(6 * S, [(TOKEN_B, "json:$.code")]) is None


def test_delivered_common_values_are_not_remembered() -> None:
    joiner = SessionJoiner()
    joiner.delivered("a", 1 * S, [Delivered("2026-12-04T18:24:28Z", "json:$.at", "value", False)])
    assert joiner.join(2 * S, [("2026-12-04T18:24:28Z", "json:$.at")]) is None
    assert joiner.finish() == JoinReport(enabled=True)


def test_memory_is_bounded() -> None:
    joiner = SessionJoiner(max_values=3)
    for i in range(5):
        joiner.sent(f"s{i}", i * S, [(f"user{i}@mail.example", "json:$.email")])
    # the two oldest were dropped; the newest still join
    assert joiner.join(6 * S, [("user0@mail.example", "json:$.email")]) is None
    assert joiner.join(6 * S, [("user4@mail.example", "json:$.email")]) == "s4"
    assert joiner.finish().values_evicted == 2


# --- the tracker -----------------------------------------------------------------------------


def _ex(head: str, client: str) -> Exchange:
    return Exchange(0, "POST", "http", "h", "/", "HTTP/1.1", head, b"", "f:0", client=client)


def test_join_is_asked_only_when_no_credential_decides() -> None:
    tracker = SessionTracker(SessionKeyer(SessionConfig(salt="s")))
    asked: list[str] = []

    def join_to(session: str | None) -> Callable[[], str | None]:
        def join() -> str | None:
            asked.append(str(session))
            return session

        return join

    known = tracker.session(_ex(f"Authorization: Token {TOKEN_A}", "1.1.1.1:1"))
    # a known credential decides: the joiner is not asked
    again = _ex(f"Authorization: Token {TOKEN_A}", "1.1.1.1:2")
    assert tracker.session(again, join_to("x")) == known
    # a new nonce header (Postman-Token) and no known credential: the join decides
    nonce = "Postman-Token: 3c1e8f0a-0d7e-4f63-9a44-7c4e1d2b5a66"
    assert tracker.session(_ex(nonce, "1.1.1.1:3"), join_to(known)) == known
    # no credential at all: the join decides before the connection
    assert tracker.session(_ex("", "1.1.1.1:4"), join_to(known)) == known
    # nothing to join: a new credential starts a session, none falls back to the connection
    fresh = tracker.session(_ex(f"Authorization: Token {TOKEN_B}", "1.1.1.1:5"), join_to(None))
    alone = tracker.session(_ex("", "1.1.1.1:6"), join_to(None))
    assert len({known, fresh, alone}) == 3
    assert asked == [known, known, "None", "None"]
    by = tracker.finish().requests_by
    assert by == {BY_NEW: 2, BY_KNOWN: 1, BY_JOINED: 2, BY_CONNECTION: 1}


# --- the import ------------------------------------------------------------------------------


def _entry(
    t: float,
    method: str,
    path: str,
    headers: dict[str, str],
    body: object,
    status: int,
    answer: object,
) -> dict[str, object]:
    request: dict[str, object] = {
        "method": method,
        "url": f"http://api.test{path}",
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": k, "value": v} for k, v in headers.items()],
    }
    if body is not None:
        request["postData"] = {"mimeType": "application/json", "text": json.dumps(body)}
    return {
        "startedDateTime": f"2026-11-28T12:00:{t:06.3f}Z",
        "time": 20,
        "request": request,
        "response": {
            "status": status,
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "content": {"mimeType": "application/json", "text": json.dumps(answer)},
        },
    }


def _client(n: int, t0: float, email: str, token: str) -> list[dict[str, object]]:
    """A client that registers, logs in twice, then uses its token (each request a new nonce)."""
    account = {"email": email, "password": "password", "username": email.partition("@")[0]}

    def headers(i: int, auth: bool = False) -> dict[str, str]:
        out = {"Postman-Token": f"3c1e8f0a-0d7e-4f63-9a44-7c4e1d2b{n:02d}{i:02d}"}
        if auth:
            out["Authorization"] = f"Token {token}"
        return out

    user = {"user": {**account, "token": token}}
    login = {"user": {"email": email, "password": "password"}}
    return [
        _entry(t0, "POST", "/api/users", headers(1), {"user": account}, 201, user),
        _entry(t0 + 0.1, "POST", "/api/users/login", headers(2), login, 200, user),
        _entry(t0 + 0.2, "POST", "/api/users/login", headers(3), login, 200, user),
        _entry(t0 + 0.3, "GET", "/api/user", headers(4, auth=True), None, 200, user),
        _entry(t0 + 0.4, "GET", "/api/tags", headers(5), None, 200, {"tags": ["dragons"]}),
    ]


def _har(tmp_path: Path) -> Path:
    entries = _client(1, 1.0, "u1@mail.example", TOKEN_A) + _client(
        2, 3.0, "u2@mail.example", TOKEN_B
    )
    source = tmp_path / "api.har"
    source.write_text(json.dumps({"log": {"entries": entries}}))
    return source


def _sessions(out: Path) -> list[tuple[int, str]]:
    rows = read_capture(out, ["idx", "session"]).to_pylist()
    ids: dict[str, int] = {}
    return [(r["idx"], ids.setdefault(r["session"], len(ids))) for r in rows]  # type: ignore[misc]


def test_register_and_login_join_the_session_of_their_token(tmp_path: Path) -> None:
    out = tmp_path / "api.capture.parquet"
    meta = import_capture([_har(tmp_path)], out)
    # client 1: register, two logins and the token's request in session 0, the anonymous
    # GET /api/tags (a new nonce, nothing to join by) apart; client 2 likewise, not joined to
    # client 1 by the password both sent
    assert [s for _, s in _sessions(out)] == [0, 0, 0, 0, 1, 2, 2, 2, 2, 3]
    assert meta.sessions is not None
    joins = meta.sessions.joins
    assert joins is not None
    assert (joins.joined, joins.ambiguous, joins.shared, joins.expired) == (4, 0, 0, 0)
    assert joins.by == {"json:$.user.email <- request json:$.user.email": 4}
    assert meta.sessions.requests_by[BY_JOINED] == 4


def test_joins_switched_off_in_the_config(tmp_path: Path) -> None:
    out = tmp_path / "api.capture.parquet"
    config = CaptureConfig(session=SessionConfig(join=False))
    meta = import_capture([_har(tmp_path)], out, config=config)
    # each register and login on its own (new nonce): the token's request is the last login's
    assert [s for _, s in _sessions(out)] == [0, 1, 2, 2, 3, 4, 5, 6, 6, 7]
    assert meta.sessions is not None
    assert meta.sessions.joins is None
    assert BY_JOINED not in meta.sessions.requests_by


def test_a_login_too_long_after_its_registration_is_not_joined(tmp_path: Path) -> None:
    config = CaptureConfig(session=SessionConfig(join_window_s=0.05))
    out = tmp_path / "api.capture.parquet"
    meta = import_capture([_har(tmp_path)], out, config=config)
    assert meta.sessions is not None and meta.sessions.joins is not None
    # the first login, 0.1 s after the registration, is not joined: it starts a session; the
    # second, 0.1 s after the first, is not joined either (the e-mail is forgotten)
    assert [s for _, s in _sessions(out)] == [0, 1, 2, 2, 3, 4, 5, 6, 6, 7]
    assert (meta.sessions.joins.joined, meta.sessions.joins.expired) == (0, 4)
    config = CaptureConfig(session=SessionConfig(join_window_s=0.15))
    meta = import_capture([_har(tmp_path)], out, config=config)
    assert meta.sessions is not None and meta.sessions.joins is not None
    # 0.15 s: the first login joins its registration, the second joins them both
    assert [s for _, s in _sessions(out)] == [0, 0, 0, 0, 1, 2, 2, 2, 2, 3]


def test_the_goreplay_batch_path_joins_the_same_way(tmp_path: Path) -> None:
    records: list[GorRecord] = []
    for client, token in ((1, TOKEN_A), (2, TOKEN_B)):
        email = f"u{client}@mail.example"
        account = {"email": email, "password": "password", "username": f"u{client}"}
        login = {"user": {"email": email, "password": "password"}}
        answer = json.dumps({"user": {**account, "token": token}}).encode()
        steps = [
            ("POST", "/api/users", {}, json.dumps({"user": account}).encode()),
            ("POST", "/api/users/login", {}, json.dumps(login).encode()),
            ("GET", "/api/user", {"Authorization": f"Token {token}"}, b""),
        ]
        for i, (method, path, headers, body) in enumerate(steps):
            # a new connection for each request: the connection part of the id differs
            rid = f"{client:04x}{i:04x}7f000001{i:08x}"
            ts = (client * 10 + i) * S
            head = {"Content-Type": "application/json", **headers}
            records.append(GorRecord(1, rid, ts, request(path, method, head, body)))
            payload = (
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(answer)}\r\n\r\n"
            ).encode() + answer
            records.append(GorRecord(2, rid, ts + S // 10, payload, latency=S // 10))
    source = write_gor(tmp_path / "api.gor", records)
    out = tmp_path / "api.capture.parquet"
    meta = import_capture([source], out)
    assert [s for _, s in _sessions(out)] == [0, 0, 0, 1, 1, 1]
    assert meta.sessions is not None and meta.sessions.joins is not None
    assert meta.sessions.joins.joined == 2
