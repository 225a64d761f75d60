"""Session state before the replay: link checks, who logs in, row states, the login check."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.capture.schema import CAPTURE_SCHEMA
from harness.errors import CaptureError, StackFileError, TargetError
from harness.replay.ordering import Order
from harness.replay.session_plan import (
    TargetAuth,
    check_capture_links,
    check_logins,
    plan_identities,
    worker_state,
)
from harness.scenario.auth import AuthSpec
from tests.plugins.httpserver import RecordingServer

MS = 1_000_000


def _capture(path: Path, rows: list[dict[str, object]]) -> Path:
    full = []
    for i, row in enumerate(rows):
        full.append(
            {
                "idx": i,
                "ts_ns": 10**18 + int(row.get("offset_ns", i * 100 * MS)),  # type: ignore[call-overload]
                "offset_ns": row.get("offset_ns", i * 100 * MS),
                "session": row.get("session", "s1"),
                "method": "GET",
                "scheme": "http",
                "host": "notes.example.com",
                "path": row.get("path", "/"),
                "http_version": "HTTP/1.1",
                "headers": row.get("headers", []),
                "body": b"",
                "route": "/",
                "orig_status": 200,
                "orig_latency_ns": row.get("latency", 10 * MS),
                "orig_body_sha256": None,
                "source": f"rec:{i + 1}",
                "orig_location_route": None,
                "links": row.get("links", []),
            }
        )
    pq.write_table(pa.Table.from_pylist(full, schema=CAPTURE_SCHEMA), path)
    return path


def _link(src: int, dst: str = "header:Authorization", value: str = "CAP") -> dict[str, object]:
    return {"src_idx": src, "src": "json:$.token", "dst": dst, "value": value,
            "encoding": "raw", "kind": "token"}  # fmt: skip


AUTH = [{"name": "Authorization", "value": "Token CAP"}]


def test_capture_links_are_checked_before_any_traffic(tmp_path: Path) -> None:
    good = _capture(tmp_path / "good.parquet", [{}, {"links": [_link(0)], "headers": AUTH}])
    assert check_capture_links(good) == 1
    bad = _capture(tmp_path / "bad.parquet", [{}, {"links": [_link(7)]}])
    with pytest.raises(CaptureError, match=r"bad\.parquet: row idx 1 \(rec:2\): link "
                       r"header:Authorization takes its value from idx 7"):  # fmt: skip
        check_capture_links(bad)
    none = _capture(tmp_path / "none.parquet", [{}, {}])
    assert check_capture_links(none) == 0


def test_worker_rows_carry_links_host_and_order(tmp_path: Path) -> None:
    path = _capture(
        tmp_path / "c.parquet",
        [
            {"offset_ns": 0, "latency": 50 * MS},
            {"offset_ns": 300 * MS, "links": [_link(0)], "headers": AUTH},
            {"offset_ns": 310 * MS, "session": "s2"},
        ],
    )
    states, links = worker_state(path, [2, 0, 1])
    assert links == 1
    assert states[0].order is None and states[2].order is None
    assert states[1].order == Order((0,), 250 * MS)
    assert (
        states[1].host == "notes.example.com"
        and str(states[1].links[0].dst) == "header:Authorization"
    )
    assert worker_state(path, []) == ({}, 0)


LOGIN = {
    "request": {"path": "/login", "json": {"user": "{account.user}"}},
    "accounts": "accounts.csv",
    "token": "header:X-Token",
    "apply": "header:Authorization",
    "format": "Token {token}",
}


def _auth(tmp_path: Path, accounts: str, **change: object) -> TargetAuth:
    (tmp_path / "accounts.csv").write_text(accounts)
    auth = AuthSpec.model_validate({"login": {**LOGIN, **change}})
    return TargetAuth("baseline", auth, "stack.yaml:12", tmp_path)


def test_plan_identities_counts_sessions_and_refuses_too_few_accounts(tmp_path: Path) -> None:
    path = _capture(
        tmp_path / "c.parquet",
        [
            {"session": "a", "headers": AUTH},
            {"session": "b", "headers": AUTH, "links": [_link(0)]},  # logged in within
            {"session": "c", "headers": AUTH},
            {"session": "d"},  # anonymous
        ],
    )
    one = _auth(tmp_path, "user\nann\n")
    with pytest.raises(
        StackFileError, match=r"stack\.yaml:12: auth\.login: 1 account\(s\) for 2 sessions"
    ):
        plan_identities(path, [one])
    two = _auth(tmp_path, "user\nann\nbob\n")
    assert plan_identities(path, [two]) == {"baseline": ["a", "c"]}
    shared = _auth(tmp_path, "user\nann\n", share=True)
    assert plan_identities(path, [shared]) == {"baseline": ["a", "c"]}


def test_login_check_before_traffic(tmp_path: Path, http_server: RecordingServer) -> None:
    target = _auth(tmp_path, "user\nann-secret\n")
    http_server.answer("/login", 200, {"X-Token": "T1"})
    check_logins([("baseline", http_server.url, target)], {"baseline": ["a"]}, timeout_s=5)
    arrival = http_server.arrivals[-1]
    assert (arrival.method, arrival.path, arrival.body) == (
        "POST",
        "/login",
        b'{"user": "ann-secret"}',
    )
    http_server.answer("/login", 401)
    with pytest.raises(
        TargetError,
        match=r"^target baseline: staging login failed: POST /login answered 401: POST /login 22$",
    ):
        check_logins([("baseline", http_server.url, target)], {"baseline": ["a"]}, timeout_s=5)
    http_server.answer("/login", 200)  # no token in the answer
    with pytest.raises(TargetError, match=r"answered 200 without a token at header:X-Token"):
        check_logins([("baseline", http_server.url, target)], {"baseline": ["a"]}, timeout_s=5)
    # nobody to log in: nothing sent
    before = len(http_server.arrivals)
    check_logins([("baseline", http_server.url, target)], {"baseline": []}, timeout_s=5)
    assert len(http_server.arrivals) == before


def test_login_check_names_a_dead_target(tmp_path: Path) -> None:
    target = _auth(tmp_path, "user\nann\n")
    with pytest.raises(
        TargetError, match=r"target baseline: staging login failed: POST /login got no answer"
    ):
        check_logins([("baseline", "http://127.0.0.1:9", target)], {"baseline": ["a"]}, timeout_s=2)
