"""The per-(session, target) state of a worker: links, cookies, logins and JWTs together."""

from __future__ import annotations

import json

from harness.replay.identities import Identity
from harness.replay.links import LINK_MISSING, LINK_NONE, LINK_OK, parse_links, sources_needed
from harness.replay.ordering import Order
from harness.replay.session_state import NeedLogin, RowState, SessionState, TargetState
from harness.replay.sources import Reply
from harness.replay.substitute import Outgoing
from harness.scenario.auth import AuthSpec

HOST = "notes.example.com"


def _state(rows: dict[int, RowState], identity: Identity | None = None) -> SessionState:
    targets = [
        TargetState("baseline", "127.0.0.1:8001", identity),
        TargetState("candidate", "127.0.0.1:8002", identity),
    ]
    needed = sources_needed(row.links for row in rows.values())
    return SessionState(rows, targets, needed, speed=2.0)


def _req(path: str, *headers: tuple[str, str], body: bytes = b"") -> Outgoing:
    return Outgoing("GET", path, [("Host", "127.0.0.1:8001"), *headers], body)


def test_each_target_gets_the_values_it_delivered() -> None:
    token_link = parse_links([
        {"src_idx": 1, "src": "json:$.user.token", "dst": "header:Authorization",
         "value": "CAP", "encoding": "raw", "kind": "token"},
    ])  # fmt: skip
    rows = {
        1: RowState("s", HOST),
        2: RowState("s", HOST, token_link, Order((0,), 1_000_000)),
        3: RowState("t", HOST),
    }
    state = _state(rows)
    assert state.think_ns(2) == 500_000  # at speed 2
    assert state.think_ns(1) is None and state.think_ns(99) is None
    state.answered(0, 1, "/login", Reply(200, [], b'{"user": {"token": "B"}}'), now=0)
    state.answered(1, 1, "/login", Reply(503, [], b"{}"), now=0)
    captured = _req("/api/user", ("Authorization", "Token CAP"))
    out0, link0 = state.prepare(0, 2, captured, now=1)  # type: ignore[misc]
    out1, link1 = state.prepare(1, 2, captured, now=1)  # type: ignore[misc]
    assert (out0.headers[1], link0) == (("Authorization", "Token B"), LINK_OK)
    assert (out1.headers[1], link1) == (("Authorization", "Token CAP"), LINK_MISSING)
    assert captured.headers[1] == ("Authorization", "Token CAP")  # the capture is not changed
    assert state.prepare(0, 3, _req("/x"), now=1)[1] == LINK_NONE  # type: ignore[index]
    assert state.prepare(0, 77, _req("/x"), now=1)[1] == LINK_NONE  # type: ignore[index]


def test_cookie_jar_per_session_and_target() -> None:
    rows = {1: RowState("s", HOST), 2: RowState("s", HOST), 3: RowState("other", HOST)}
    state = _state(rows)
    state.answered(0, 1, "/login", Reply(302, [("Set-Cookie", "sessionid=B1; Path=/")], b""), now=0)
    cookie = ("Cookie", "sessionid=CAP; theme=dark")
    out, _ = state.prepare(0, 2, _req("/notes", cookie), now=1)  # type: ignore[misc]
    assert out.headers[1] == ("Cookie", "sessionid=B1; theme=dark")
    other_target, _ = state.prepare(1, 2, _req("/notes", cookie), now=1)  # type: ignore[misc]
    assert other_target.headers[1] == cookie
    other_session, _ = state.prepare(0, 3, _req("/notes", cookie), now=1)  # type: ignore[misc]
    assert other_session.headers[1] == cookie
    # logout deletes it: the Cookie header goes without it, or not at all
    deleted = Reply(302, [("Set-Cookie", 'sessionid=""; Max-Age=0')], b"")
    state.answered(0, 2, "/logout", deleted, now=2)
    out, _ = state.prepare(0, 2, _req("/notes", ("Cookie", "sessionid=CAP")), now=3)  # type: ignore[misc]
    assert [n for n, _ in out.headers] == ["Host"]


LOGIN = {
    "request": {"path": "/api/users/login",
                "json": {"user": {"email": "{account.email}", "password": "{account.password}"}}},
    "accounts_env": {"email": "E", "password": "P"},
    "token": "json:$.user.token",
    "apply": "header:Authorization",
    "format": "Token {token}",
}  # fmt: skip


def test_a_session_logs_in_once_per_target_before_its_first_authenticated_request() -> None:
    identity = Identity(
        AuthSpec.model_validate({"login": LOGIN}),
        [{"email": "staging-01@example.org", "password": "hunter22"}],
        ["s"],
        None,
    )
    rows = {1: RowState("s", HOST), 2: RowState("s", HOST), 3: RowState("anon", HOST)}
    state = _state(rows, identity)
    authed = _req("/api/user", ("Authorization", "Token CAPTURED"))
    assert state.prepare(0, 1, _req("/api/tags"), now=0)[1] == LINK_NONE  # type: ignore[index]
    need = state.prepare(0, 2, authed, now=0)
    assert isinstance(need, NeedLogin)
    assert json.loads(need.request.body)["user"]["email"] == "staging-01@example.org"
    assert (
        state.logged_in(0, "s", need.request, Reply(200, [], b'{"user":{"token":"T0"}}'), now=0)
        is None
    )
    out, _ = state.prepare(0, 2, authed, now=1)  # type: ignore[misc]
    assert out.headers[1] == ("Authorization", "Token T0")
    out, _ = state.prepare(0, 1, authed, now=2)  # type: ignore[misc]
    assert out.headers[1] == ("Authorization", "Token T0")  # no second login
    # the other target logs in on its own; a failure says so without the password
    need = state.prepare(1, 2, authed, now=0)
    assert isinstance(need, NeedLogin)
    failure = state.logged_in(
        1, "s", need.request, Reply(401, [], b'{"error": "bad password hunter22"}\nmore'), now=0
    )
    assert failure == 'POST /api/users/login answered 401: {"error": "bad password ***"}'
    out, _ = state.prepare(1, 2, authed, now=1)  # type: ignore[misc]
    assert out.headers[1] == ("Authorization", "Token CAPTURED")
    assert (state.counts[1].logins, state.counts[1].logins_failed) == (1, 1)
    # a session that needs no identity never logs in
    assert state.prepare(0, 3, authed, now=1)[1] == LINK_NONE  # type: ignore[index]


def test_untouched_requests_take_the_fast_path() -> None:
    link = parse_links([{"src_idx": 1, "src": "json:$.t", "dst": "path", "value": "x",
                         "encoding": "raw", "kind": "id"}])  # fmt: skip
    rows = {1: RowState("s", HOST), 2: RowState("s", HOST, link), 3: RowState(None, HOST)}
    state = _state(rows)
    assert state.untouched(0, 1) and state.untouched(0, 3) and state.untouched(0, 99)
    assert not state.untouched(0, 2)
    state.answered(0, 1, "/", Reply(200, [("Set-Cookie", "a=1")], b""), now=0)
    assert not state.untouched(0, 1) and state.untouched(1, 1)  # only that target's jar


def test_a_login_done_before_the_replay_is_used_without_asking_again() -> None:
    identity = Identity(
        AuthSpec.model_validate({"login": LOGIN}), [{"email": "e", "password": "p"}], ["s"], None
    )
    state = _state({1: RowState("s", HOST)}, identity)
    login = identity.login_request("s")
    assert state.logged_in(0, "s", login, Reply(200, [], b'{"user":{"token":"T"}}'), now=0) is None
    out, _ = state.prepare(0, 1, _req("/api/user", ("Authorization", "Token C")), now=1)  # type: ignore[misc]
    assert out.headers[1] == ("Authorization", "Token T")
