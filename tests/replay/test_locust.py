"""The replay inside Locust's runner: stats, CSV, listeners, the web UI, timed connections.

Real Locust processes (a LocalRunner, or a master with two workers) replay to real HTTP servers
on 127.0.0.1; what Locust reports is checked against requests.parquet and against what the
servers saw arrive.
"""

from __future__ import annotations

import csv
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.replay import LocustOptions, ReplayOptions, ReplayTarget, replay
from harness.rundir import RESPONSES_SCHEMA
from tests.plugins.httpserver import RecordingServer
from tests.replay.captures import Req, steady, write_capture

pytestmark = pytest.mark.slow

LISTENER = Path(__file__).parent / "data" / "listener_locustfile.py"


def _routed(count: int, rate: float) -> list[Req]:
    """``count`` requests over three routes (one of them a POST), six sessions."""
    routes = ["/items/{id}", "/cart", "/health"]
    out = []
    for i in range(count):
        route = routes[i % 3]
        path = route.replace("{id}", str(i))
        method = "POST" if route == "/cart" else "GET"
        out.append(Req(i / rate, path, session=f"s{i % 6}", method=method, route=route))
    return out


@pytest.mark.parametrize("processes", [1, 2])
def test_locust_stats_and_listeners_see_every_replayed_request(
    processes: int,
    tmp_path: Path,
    make_http_server: Callable[[], RecordingServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    baseline, candidate = make_http_server(), make_http_server()
    candidate.answer("/health", 503)
    capture = write_capture(tmp_path / "c.parquet", _routed(60, 60.0))
    events = tmp_path / "events.jsonl"
    monkeypatch.setenv("HARNESS_TEST_EVENTS", str(events))
    locust = LocustOptions(
        locustfile=str(LISTENER),
        csv_prefix=str(tmp_path / "locust" / "run"),
        html=str(tmp_path / "locust" / "report.html"),
    )
    result = replay(
        capture,
        [ReplayTarget("baseline", baseline.url), ReplayTarget("candidate", candidate.url)],
        tmp_path / "run",
        ReplayOptions(processes=processes, start_delay_s=0.5, lag_bound_ms=1000, locust=locust),
    )
    assert result.workers == processes
    rows = pq.read_table(tmp_path / "run" / "requests.parquet").to_pylist()
    assert len(rows) == 120
    keys = [f"{r['method']} {r['target']} {r['route']}" for r in rows]
    expected = Counter(keys)
    failed = Counter(k for k, r in zip(keys, rows, strict=True) if r["status"] >= 500)
    assert failed == {"GET candidate /health": 20}

    # Locust's own stats, aggregated over the workers, as its CSV writer wrote them
    with (tmp_path / "locust" / "run_stats.csv").open() as f:
        stats = {f"{row['Type']} {row['Name']}": row for row in csv.DictReader(f) if row["Type"]}
    assert {k: int(v["Request Count"]) for k, v in stats.items()} == dict(expected)
    assert {k: int(v["Failure Count"]) for k, v in stats.items() if int(v["Failure Count"])} == (
        dict(failed)
    )
    report = (tmp_path / "locust" / "report.html").read_text()
    assert "candidate /health" in report

    # the user's listener ran in every worker, once per replayed request
    seen = [json.loads(line) for line in events.read_text().splitlines()]
    assert sorted((e["target"], e["idx"]) for e in seen) == sorted(
        (r["target"], r["idx"]) for r in rows
    )
    assert {e["name"] for e in seen} == {k.split(" ", 1)[1] for k in expected}
    assert all(e["failed"] == (e["target"] == "candidate" and e["name"].endswith("/health"))
               for e in seen)  # fmt: skip


def test_a_send_that_waits_for_a_connection_is_late_by_that_wait(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    # one connection, answers after 0.3 s, requests due every 0.1 s: each waits for the last
    http_server.delay("/r/", 0.3)
    capture = write_capture(tmp_path / "c.parquet", steady(8, 10.0, sessions=1))
    result = replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.5, max_connections=1, timeout_s=10),
    )
    rows = sorted(pq.read_table(tmp_path / "run" / "requests.parquet").to_pylist(),
                  key=lambda r: r["idx"])  # fmt: skip
    assert [r["status"] for r in rows] == [200] * 8
    # the 8th request was due at 0.7 s but could only leave after seven 0.3 s answers
    assert rows[-1]["lag_ms"] > 1000
    assert rows[-1]["queue_ms"] > 1000
    for r in rows:
        assert r["lag_ms"] >= r["queue_ms"] - 1.0  # the wait for a connection is lag
    assert not result.valid
    assert any("waited for a connection" in reason for reason in result.reasons)
    # fidelity at the server: each request arrived when its row says it was sent
    arrivals = {a.path: (a.wall_ns - result.t0_ns) / 1e6 for a in http_server.arrivals}
    for r in rows:
        sent_ms = r["sent_ns"] / 1e6
        assert abs(arrivals[f"/r/{r['idx']}?n={r['idx']}"] - sent_ms) < 100, r


def test_connect_time_is_measured_when_each_answer_closes_its_connection(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    http_server.answer("/r/", 200, {"Connection": "close"})
    capture = write_capture(tmp_path / "c.parquet", steady(12, 20.0, sessions=1))
    replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.5, lag_bound_ms=1000),
    )
    rows = pq.read_table(tmp_path / "run" / "requests.parquet").to_pylist()
    assert [r["status"] for r in rows] == [200] * 12
    # warm-up opened 4 connections before t0, each good for one answer; the others connected
    assert sum(1 for r in rows if r["connect_ms"] > 0) >= 8
    assert all(r["queue_ms"] is not None and r["connect_ms"] is not None for r in rows)


def test_responses_are_kept_when_asked_cut_at_the_size(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    http_server.answer("/r/1", 404, {"X-Why": "gone"})
    capture = write_capture(tmp_path / "c.parquet", steady(3, 20.0))
    replay(
        capture,
        [ReplayTarget("t", http_server.url), ReplayTarget("dead", "http://127.0.0.1:9")],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.3, lag_bound_ms=1000, keep_response_bytes=5),
    )
    table = pq.read_table(tmp_path / "run" / "responses.parquet")
    assert table.schema.equals(RESPONSES_SCHEMA)
    kept = {(r["target"], r["idx"]): r for r in table.to_pylist()}
    assert len(kept) == 6
    ok, missing = kept[("t", 1)], kept[("dead", 1)]
    assert ok["status"] == 404 and ok["body"] == b"GET /"
    assert ok["body_truncated"] is True  # the server answers "GET /r/1?n=1 0"
    assert {"name": "X-Why", "value": "gone"} in ok["headers"]
    assert (missing["status"], missing["headers"], missing["body"]) == (0, [], b"")
    assert not (tmp_path / "run" / ".replay").exists()


def test_no_responses_file_unless_asked(tmp_path: Path, http_server: RecordingServer) -> None:
    capture = write_capture(tmp_path / "c.parquet", steady(2, 20.0))
    replay(capture, [ReplayTarget("t", http_server.url)], tmp_path / "run",
           ReplayOptions(processes=1, start_delay_s=0.3, lag_bound_ms=1000))  # fmt: skip
    assert not (tmp_path / "run" / "responses.parquet").exists()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=b"user_count=50&spawn_rate=5", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("processes", [1, 2])
def test_the_web_ui_shows_the_replay_live_and_refuses_to_change_the_load(
    processes: int, tmp_path: Path, http_server: RecordingServer
) -> None:
    from harness.replay.launch import free_port

    web = f"127.0.0.1:{free_port()}"
    capture = write_capture(tmp_path / "c.parquet", _routed(200, 25.0))  # 8 s
    seen: dict[str, object] = {}

    def look() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "stats" not in seen:
            try:
                status, body = _get(f"http://{web}/stats/requests")
            except OSError:  # not serving yet
                time.sleep(0.2)
                continue
            data = json.loads(body)
            if status == 200 and data.get("stats") and data["state"] == "running":
                seen["stats"] = data
                seen["index"] = _get(f"http://{web}/")
                seen["swarm"] = _post(f"http://{web}/swarm")
                seen["stop"] = _post(f"http://{web}/stop")
            else:
                time.sleep(0.2)

    watcher = threading.Thread(target=look)
    watcher.start()
    try:
        result = replay(
            capture,
            [ReplayTarget("t", http_server.url)],
            tmp_path / "run",
            ReplayOptions(
                processes=processes,
                start_delay_s=0.5,
                lag_bound_ms=1000,
                locust=LocustOptions(web=web),
            ),
        )
    finally:
        watcher.join()
    assert "stats" in seen, "the web UI never showed the running replay"
    stats = seen["stats"]
    assert isinstance(stats, dict)
    assert {s["name"] for s in stats["stats"]} <= {"/items/{id}", "/cart", "/health", "Aggregated"}
    assert seen["index"][0] == 200  # type: ignore[index]
    for control in ("swarm", "stop"):
        status, body = seen[control]  # type: ignore[misc]
        assert status == 409 and b"capture's schedule" in body, control
    # the refused stop did not stop anything
    assert result.targets["t"].sent == 200 and not result.interrupted


def test_a_web_address_in_use_fails_the_replay_in_one_line(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    import socket

    from harness.errors import ReplayError

    capture = write_capture(tmp_path / "c.parquet", steady(3, 20.0))
    with socket.create_server(("127.0.0.1", 0)) as taken:
        web = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ReplayError, match=rf"--web {web}: cannot listen there"):
            replay(
                capture,
                [ReplayTarget("t", http_server.url)],
                tmp_path / "run",
                ReplayOptions(processes=1, start_delay_s=0.3, locust=LocustOptions(web=web)),
            )
    assert http_server.arrivals == []
