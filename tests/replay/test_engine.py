"""replay() with real worker processes against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.replay import ReplayOptions, ReplayProgress, ReplayTarget, replay, update_manifest
from harness.rundir import REQUESTS_SCHEMA
from tests.plugins.httpserver import RecordingServer
from tests.replay.captures import Req, steady, write_capture
from tests.replay.procs import processes_mentioning

pytestmark = pytest.mark.slow


def test_every_request_arrives_once_per_target_and_leaves_in_session_order(
    tmp_path: Path, make_http_server: Callable[[], RecordingServer]
) -> None:
    baseline, candidate = make_http_server(), make_http_server()
    requests = [
        *steady(120, 60.0, sessions=5),
        Req(
            1.0,
            "/pay?x=1",
            session="client-9",
            method="POST",
            body=b'{"amount": 5}',
            headers=[("Content-Length", "99"), ("Connection", "close"), ("X-Trace", "t1")],
        ),
    ]
    capture = write_capture(tmp_path / "c.capture.parquet", requests)
    run_dir = tmp_path / "run"
    seen: list[ReplayProgress] = []
    t0s: list[int] = []
    result = replay(
        capture,
        [
            ReplayTarget("baseline", baseline.url),
            ReplayTarget("candidate", candidate.url, {"Authorization": "Bearer staging"}),
        ],
        run_dir,
        # the machine is shared: validity (send lag) is not what this test is about
        ReplayOptions(processes=2, start_delay_s=0.5, lag_bound_ms=1000),
        on_t0=t0s.append,
        on_progress=seen.append,
    )
    assert result.valid, result.reasons
    assert t0s == [result.t0_ns]
    for server, name in ((baseline, "baseline"), (candidate, "candidate")):
        arrivals = server.arrivals
        paths = sorted(a.path for a in arrivals)
        assert paths == sorted(r.path for r in requests), name
        assert result.targets[name].sent == result.targets[name].answered == len(requests)
        post = next(a for a in arrivals if a.method == "POST")
        assert post.body == b'{"amount": 5}'
        assert post.header("Content-Length") == "13"
        assert post.header("Connection") is None or post.header("Connection") != "close"
        assert post.header("X-Trace") == "t1"
        assert post.header("Host") == server.url.removeprefix("http://")
    assert candidate.arrivals[0].header("Authorization") == "Bearer staging"
    assert baseline.arrivals[0].header("Authorization") is None

    table = pq.read_table(run_dir / "requests.parquet")
    assert table.schema.equals(REQUESTS_SCHEMA)
    assert table.num_rows == 2 * len(requests)
    rows = table.to_pylist()
    assert {r["error"] for r in rows} == {"none"} and {r["status"] for r in rows} == {200}
    # one session's requests went onto their connections in capture order, on every target
    # (the order they reach a threaded server also depends on its threads: not checked here)
    for name in ("baseline", "candidate"):
        for session in {r.session for r in requests}:
            mine = sorted((r for r in rows if r["target"] == name and r["session"] == session),
                          key=lambda r: r["idx"])  # fmt: skip
            assert [r["sent_ns"] for r in mine] == sorted(r["sent_ns"] for r in mine)
    assert all(r["latency_corrected_ms"] >= r["latency_ms"] for r in rows)
    assert all(r["body_sha256"] and len(r["body_sha256"]) == 64 for r in rows)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["t0_ns"] == result.t0_ns
    assert manifest["targets"]["candidate"]["url"] == candidate.url
    assert manifest["validity"]["valid"] is True
    # as root the Locust workers run at a raised priority (harness.replay.priority)
    assert manifest["replay"]["priority_raised"] is (os.geteuid() == 0)
    assert seen and seen[-1].targets["baseline"].done == len(requests)
    update_manifest(run_dir, {"scenario": {"name": "x"}})
    assert json.loads((run_dir / "manifest.json").read_text())["scenario"] == {"name": "x"}
    assert not (run_dir / ".replay").exists()
    assert processes_mentioning(str(run_dir)) == []


def test_arrivals_follow_the_schedule_at_the_speed_factor(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    # 40 requests over 4 s of capture, replayed at 2x: 2 s
    capture = write_capture(tmp_path / "c.parquet", steady(40, 10.0, sessions=3))
    result = replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(speed=2.0, processes=1, start_delay_s=0.5),
    )
    due_by_path = {f"/r/{i}?n={i}": i / 10.0 / 2.0 for i in range(40)}
    deviations = sorted(
        abs((a.wall_ns - result.t0_ns) / 1e9 - due_by_path[a.path]) for a in http_server.arrivals
    )
    assert len(deviations) == 40
    # generous bounds: this checks the schedule is kept, not how tightly (see benchmarks/)
    assert deviations[len(deviations) // 2] < 0.05
    assert deviations[-1] < 0.25
    assert result.scheduled_rate_per_s == pytest.approx(20.0)


def test_a_slow_target_does_not_delay_later_requests(
    tmp_path: Path, make_http_server: Callable[[], RecordingServer]
) -> None:
    slow, fast = make_http_server(), make_http_server()
    slow.delay("/r/", 1.5)  # every request to `slow` takes 1.5 s to answer
    capture = write_capture(tmp_path / "c.parquet", steady(30, 20.0, sessions=1))
    result = replay(
        capture,
        [ReplayTarget("slow", slow.url), ReplayTarget("fast", fast.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.5, timeout_s=5.0),
    )
    rows = pq.read_table(tmp_path / "run" / "requests.parquet").to_pylist()
    slow_rows = [r for r in rows if r["target"] == "slow"]
    assert len(slow_rows) == 30 and all(r["status"] == 200 for r in slow_rows)
    assert min(r["latency_ms"] for r in slow_rows) > 1000
    # one session, 50 ms apart, 1.5 s answers: a closed loop would send the last one ~43 s late
    assert max(r["lag_ms"] for r in slow_rows) < 200
    assert result.lag_p99_ms < 200


def test_a_per_request_timeout_is_a_timeout_row(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    http_server.delay("/r/1", 3.0)
    capture = write_capture(tmp_path / "c.parquet", steady(3, 10.0))
    replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.3, timeout_s=0.5),
    )
    rows = {r["idx"]: r for r in pq.read_table(tmp_path / "run" / "requests.parquet").to_pylist()}
    assert rows[1]["error"] == "timeout" and rows[1]["status"] == 0
    assert rows[1]["body_sha256"] is None
    assert 400 < rows[1]["latency_ms"] < 2000
    assert rows[0]["error"] == rows[2]["error"] == "none"


def test_stop_ends_early_and_still_writes_what_was_sent(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    capture = write_capture(tmp_path / "c.parquet", steady(200, 20.0))  # 10 s
    stop = threading.Event()

    def stop_after_some_arrivals() -> None:
        for _ in range(600):  # at most 60 s
            if len(http_server.arrivals) >= 10:
                break
            time.sleep(0.1)
        stop.set()

    stopper = threading.Thread(target=stop_after_some_arrivals)
    stopper.start()
    try:
        result = replay(
            capture,
            [ReplayTarget("t", http_server.url)],
            tmp_path / "run",
            ReplayOptions(processes=2, start_delay_s=0.3),
            stop=stop,
        )
    finally:
        stop.set()
        stopper.join()
    assert result.interrupted
    sent = result.targets["t"].sent
    assert 10 <= sent < 200
    assert pq.read_table(tmp_path / "run" / "requests.parquet").num_rows == sent
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "interrupted"
    assert processes_mentioning(str(tmp_path / "run")) == []


def test_an_unreachable_target_gives_refused_rows(tmp_path: Path) -> None:
    capture = write_capture(tmp_path / "c.parquet", steady(10, 20.0))
    result = replay(
        capture,
        [ReplayTarget("gone", "http://127.0.0.1:9")],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.3),
    )
    assert result.targets["gone"].errors == {"refused": 10}
    rows = pq.read_table(tmp_path / "run" / "requests.parquet").to_pylist()
    assert {(r["status"], r["error"]) for r in rows} == {(0, "refused")}


def test_a_lag_bound_that_cannot_be_held_makes_the_run_invalid(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    capture = write_capture(tmp_path / "c.parquet", steady(20, 50.0))
    result = replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.3, lag_bound_ms=0.001),
    )
    assert not result.valid
    assert "send lag p99" in result.reasons[0]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["validity"]["valid"] is False


def test_redirects_are_not_followed_and_a_hang_up_is_a_reset(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    http_server.answer("/r/0", 302, {"Location": "/elsewhere"})
    http_server.drop("/hangup")
    requests = [Req(0.0, "/r/0"), Req(0.1, "/hangup", method="POST", body=b"x"), Req(0.2, "/r/2")]
    capture = write_capture(tmp_path / "c.parquet", requests)
    replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.3),
    )
    rows = {r["idx"]: r for r in pq.read_table(tmp_path / "run" / "requests.parquet").to_pylist()}
    assert rows[0]["status"] == 302 and rows[0]["error"] == "none"
    assert rows[1]["status"] == 0 and rows[1]["error"] == "reset"
    assert rows[2]["status"] == 200
    assert sorted(a.path for a in http_server.arrivals) == ["/hangup", "/r/0", "/r/2"]


def test_rows_written_in_many_batches_are_all_merged(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    capture = write_capture(tmp_path / "c.parquet", steady(50, 100.0, sessions=10))
    result = replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(processes=2, start_delay_s=0.3, flush_rows=7),
    )
    table = pq.read_table(tmp_path / "run" / "requests.parquet")
    assert table.num_rows == 50 == result.targets["t"].answered
    assert sorted(table.column("idx").to_pylist()) == list(range(50))
    assert table.column("due_ns").to_pylist() == sorted(table.column("due_ns").to_pylist())


def test_stop_before_the_start_writes_an_empty_interrupted_run(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    capture = write_capture(tmp_path / "c.parquet", steady(20, 20.0))
    stop = threading.Event()
    stop.set()
    result = replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(processes=1),
        stop=stop,
    )
    assert result.interrupted and result.targets["t"].sent == 0
    assert http_server.arrivals == []
    assert pq.read_table(tmp_path / "run" / "requests.parquet").num_rows == 0
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "interrupted"
    assert processes_mentioning(str(tmp_path / "run")) == []


def test_loop_repeats_the_capture_until_the_duration(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    capture = write_capture(tmp_path / "c.parquet", [Req(0.0, "/a"), Req(0.25, "/b")])
    result = replay(
        capture,
        [ReplayTarget("t", http_server.url)],
        tmp_path / "run",
        ReplayOptions(processes=1, start_delay_s=0.3, duration_s=1.5, loop=True),
    )
    # period 0.5 s: /a at 0, 0.5, 1.0 and /b at 0.25, 0.75, 1.25
    assert [a.path for a in http_server.arrivals] == ["/a", "/b"] * 3
    assert result.targets["t"].sent == 6


def test_original_host_is_refused_unless_allowed_but_loopback_is_fine(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    from harness.errors import UsageError
    from harness.replay import check_targets

    prod = write_capture(tmp_path / "prod.parquet", [Req(0.0, host="api.example.com")])
    target = [ReplayTarget("t", "https://API.example.com:8443")]
    with pytest.raises(UsageError, match=r"original host api\.example\.com"):
        check_targets(prod, target, ReplayOptions())
    check_targets(prod, target, ReplayOptions(allow_original_host=True))
    local = write_capture(tmp_path / "local.parquet", [Req(0.0, host="127.0.0.1:8001")])
    check_targets(local, [ReplayTarget("t", http_server.url)], ReplayOptions())


def test_a_manifest_written_before_the_replay_keeps_the_callers_fields(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    run_dir = tmp_path / "run"
    update_manifest(
        run_dir, {"scenario": {"name": "db-kill"}, "seed": 7, "versions": {"toxiproxy": "2.12.0"}}
    )
    capture = write_capture(tmp_path / "c.parquet", steady(3, 20.0))
    replay(capture, [ReplayTarget("t", http_server.url)], run_dir, ReplayOptions(processes=1))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["scenario"] == {"name": "db-kill"} and manifest["seed"] == 7
    assert manifest["versions"]["toxiproxy"] == "2.12.0" and manifest["versions"]["locust"]
    assert manifest["status"] == "complete" and manifest["capture"]["requests"] == 3
