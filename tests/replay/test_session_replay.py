"""Session state end to end on a real HTTP server: links, cookies and session order on replay."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.capture.schema import CAPTURE_SCHEMA
from harness.errors import CaptureError
from harness.replay import ReplayOptions, ReplayTarget, replay
from tests.plugins.httpserver import RecordingServer

pytestmark = pytest.mark.slow


def _capture(path: Path, rows: list[dict[str, object]]) -> Path:
    full = []
    for i, row in enumerate(rows):
        offset = int(float(row["at"]) * 1e9)  # type: ignore[arg-type]
        full.append(
            {
                "idx": i, "ts_ns": 10**18 + offset, "offset_ns": offset,
                "session": row.get("session", "a"), "method": row.get("method", "GET"),
                "scheme": "http", "host": "app.example.com", "path": row["path"],
                "http_version": "HTTP/1.1", "headers": row.get("headers", []), "body": b"",
                "route": row["path"], "orig_status": 200,
                "orig_latency_ns": row.get("latency_ns", 10_000_000), "orig_body_sha256": None,
                "source": f"t:{i}", "orig_location_route": None, "links": row.get("links", []),
            }
        )  # fmt: skip
    pq.write_table(pa.Table.from_pylist(full, schema=CAPTURE_SCHEMA), path)
    return path


def _rows(run: Path) -> dict[tuple[str, int], dict[str, object]]:
    table = pq.read_table(run / "requests.parquet").to_pylist()
    return {(r["target"], r["idx"]): r for r in table}


def test_links_and_cookies_come_from_each_targets_own_replies(
    tmp_path: Path, make_http_server: Callable[[], RecordingServer]
) -> None:
    one, two = make_http_server(), make_http_server()
    one.answer("/login", 200, {"X-Token": "live-one", "Set-Cookie": "sid=one; Path=/"})
    two.answer("/login", 200, {"X-Token": "live-two", "Set-Cookie": "sid=two; Path=/"})
    token = {"src_idx": 0, "src": "header:X-Token", "dst": "header:Authorization",
             "value": "CAPTURED", "encoding": "raw", "kind": "token"}  # fmt: skip
    capture = _capture(
        tmp_path / "c.parquet",
        [
            {"at": 0.0, "path": "/login", "method": "POST"},
            {"at": 0.3, "path": "/me", "links": [token],
             "headers": [{"name": "Authorization", "value": "Token CAPTURED"},
                         {"name": "Cookie", "value": "sid=captured; theme=dark"}]},
            {"at": 0.35, "path": "/public", "session": "b",
             "headers": [{"name": "Cookie", "value": "sid=other"}]},
        ],
    )  # fmt: skip
    replay(
        capture,
        [ReplayTarget("one", one.url), ReplayTarget("two", two.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.5, allow_original_host=True),
    )
    for server, name in ((one, "one"), (two, "two")):
        me = next(a for a in server.arrivals if a.path == "/me")
        assert me.header("Authorization") == f"Token live-{name}"
        assert me.header("Cookie") == f"sid={name}; theme=dark"
        public = next(a for a in server.arrivals if a.path == "/public")
        assert public.header("Cookie") == "sid=other"  # another session's jar is its own
    rows = _rows(tmp_path / "run")
    assert rows[("one", 1)]["link"] == "ok" and rows[("two", 1)]["link"] == "ok"
    assert rows[("one", 0)]["link"] == "none"


def test_a_link_whose_source_failed_goes_out_captured_and_says_so(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    http_server.answer("/login", 503)
    token = {"src_idx": 0, "src": "header:X-Token", "dst": "header:Authorization",
             "value": "CAPTURED", "encoding": "raw", "kind": "token"}  # fmt: skip
    capture = _capture(
        tmp_path / "c.parquet",
        [
            {"at": 0.0, "path": "/login", "method": "POST"},
            {"at": 0.2, "path": "/me", "links": [token],
             "headers": [{"name": "Authorization", "value": "Token CAPTURED"}]},
        ],
    )  # fmt: skip
    replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.5, allow_original_host=True),
    )
    me = next(a for a in http_server.arrivals if a.path == "/me")
    assert me.header("Authorization") == "Token CAPTURED"
    assert _rows(tmp_path / "run")[("t", 1)]["link"] == "missing"


@pytest.mark.parametrize("ordering", ["session", "schedule"])
def test_session_order_waits_for_the_same_targets_previous_answer(
    tmp_path: Path, make_http_server: Callable[[], RecordingServer], ordering: str
) -> None:
    slow = make_http_server()
    slow.delay("/first", 0.8)
    capture = _capture(
        tmp_path / "c.parquet",
        [
            {"at": 0.0, "path": "/first", "latency_ns": 50_000_000},  # answered at 0.05 s
            {"at": 0.25, "path": "/second"},  # left 0.2 s after that answer
            {"at": 0.3, "path": "/other", "session": "b"},  # another session: never waits
        ],
    )
    result = replay(
        capture,
        [ReplayTarget("t", slow.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.5, allow_original_host=True, ordering=ordering),
    )
    at = {a.path: (a.wall_ns - result.t0_ns) / 1e9 for a in slow.arrivals}
    rows = _rows(tmp_path / "run")
    assert at["/other"] < 0.3 + 0.2
    if ordering == "session":
        # the answer came at ~0.8 s; then the captured think time of 0.2 s
        assert at["/second"] >= 0.8 + 0.2 - 0.02
        assert float(rows[("t", 1)]["wait_ms"]) > 600  # type: ignore[arg-type]
        assert float(rows[("t", 1)]["lag_ms"]) < 200  # type: ignore[arg-type]
    else:
        assert at["/second"] < 0.25 + 0.2
        assert rows[("t", 1)]["wait_ms"] == 0.0
    assert rows[("t", 2)]["wait_ms"] == 0.0


def test_a_link_whose_source_never_appears_is_refused_before_any_traffic(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    bad = {"src_idx": 7, "src": "json:$.id", "dst": "path", "value": "1",
           "encoding": "raw", "kind": "id"}  # fmt: skip
    capture = _capture(tmp_path / "c.parquet", [{"at": 0.0, "path": "/a/1", "links": [bad]}])
    with pytest.raises(CaptureError, match=r"c\.parquet: row idx 0 \(t:0\): link path takes its "
                       r"value from idx 7, which is not an earlier request"):  # fmt: skip
        replay(capture, [ReplayTarget("t", http_server.url)], tmp_path / "run",
               ReplayOptions(processes=1, allow_original_host=True))  # fmt: skip
    assert http_server.arrivals == []
