"""The sender's hooks for session state: reply slots in schedule order, extra exchanges, rows.

``ReplyBoard`` is pure and tested here directly; the hooks are also run through the real sender
(a gevent process of ``data/hooks_run.py``) against a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.replay.exchange import ReplyBoard
from harness.replay.priority import WRITER_NICER
from harness.replay.spec import ShardSpec, TargetSpec
from tests.plugins.httpserver import RecordingServer
from tests.replay.captures import Req, write_capture


def test_a_request_finds_the_reply_slot_of_the_occurrence_it_follows() -> None:
    board = ReplyBoard()
    first = board.post(0, 7)
    assert board.slots(0, (7,)) == [first]
    assert board.slots(1, (7,)) == []  # another target has its own replies
    assert board.slots(0, (8,)) == []  # never posted: nothing to wait for
    again = board.post(0, 7)  # a looped capture sends idx 7 again
    assert board.slots(0, (7,)) == [again] and again is not first
    again.end_ns = 123
    assert board.slots(0, (7,))[0].end_ns == 123
    assert first.end_ns is None and len(board) == 1


@pytest.mark.slow
def test_hooks_order_requests_send_extra_exchanges_and_mark_rows(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    http_server.delay("/even/", 0.3)
    # two sessions; in each, an odd request is due 20 ms after the even one it awaits
    requests = []
    for i in range(8):
        session = f"s{(i // 2) % 2}"
        kind = "odd" if i % 2 else "even"
        requests.append(Req(i // 2 * 0.4 + (i % 2) * 0.02, f"/{kind}/{i}", session=session))
    capture = write_capture(tmp_path / "c.parquet", requests)
    spec = ShardSpec(
        capture=str(capture), shard=0, shards=1, targets=[TargetSpec("t", http_server.url)],
        t0_ns=0, part=str(tmp_path / "part.parquet"), timeout_s=5.0,
    )  # fmt: skip
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(spec.to_json())
    out = tmp_path / "out.json"
    script = Path(__file__).parent / "data" / "hooks_run.py"
    done = subprocess.run(
        [sys.executable, str(script), str(spec_path), str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    rows = {r["idx"]: r for r in result["rows"]}
    assert sorted(rows) == list(range(8))  # the logins wrote no row
    assert result["logins"] == [200, 200]
    assert sorted(result["events"]) == sorted(["login"] * 2 + [f"/{k}/{i}" for i, k in (
        (i, "odd" if i % 2 else "even") for i in range(8))])  # fmt: skip
    arrivals = {a.path: a for a in http_server.arrivals}
    assert {p for p in arrivals if p.startswith("/login/")} == {"/login/s0", "/login/s1"}
    for i in range(1, 8, 2):
        odd, even = arrivals[f"/odd/{i}"], arrivals[f"/even/{i - 1}"]
        # the odd request left after the even one's answer (0.3 s) and the 50 ms think time
        assert (odd.mono_ns - even.mono_ns) / 1e6 > 340
        assert rows[i]["wait_ms"] > 300
        assert rows[i]["lag_ms"] < 250  # the wait moved its schedule: it is not lag
        assert odd.header("X-Previous-Status") == "200"
        assert rows[i]["link"] == "ok"
    assert all(rows[i]["wait_ms"] == 0 for i in range(0, 8, 2))


def _run_schedule(
    tmp_path: Path, server: RecordingServer, requests: list[Req], flush_rows: int, mode: str
) -> dict:
    """One shard in strict-schedule order through ``data/hooks_run.py`` in ``mode``."""
    capture = write_capture(tmp_path / "c.parquet", requests)
    spec = ShardSpec(
        capture=str(capture), shard=0, shards=1, targets=[TargetSpec("t", server.url)],
        t0_ns=0, part=str(tmp_path / "part.parquet"), timeout_s=5.0, flush_rows=flush_rows,
        ordering="schedule",
    )  # fmt: skip
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(spec.to_json())
    out = tmp_path / "out.json"
    script = Path(__file__).parent / "data" / "hooks_run.py"
    done = subprocess.run(
        [sys.executable, str(script), str(spec_path), str(out), mode],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(out.read_text())


@pytest.mark.slow
def test_strict_schedule_writes_its_rows_while_it_runs(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    # the strict-schedule dispatcher used to skip the batching of rows: every row stayed in
    # Python lists until the end of the run, written as one row group
    requests = [Req(i * 0.02, f"/r/{i}", session=f"s{i % 3}") for i in range(30)]
    result = _run_schedule(tmp_path, http_server, requests, 5, "plain")
    assert sorted(r["idx"] for r in result["rows"]) == list(range(30))
    assert result["row_groups"] > 1


@pytest.mark.slow
def test_a_slow_part_file_write_does_not_hold_up_the_schedule(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    # the dispatcher used to wait for the previous write at every flush: with a writer that
    # took a core's time slices (or a slow disk), requests went out late by the write's length
    requests = [Req(i * 0.02, f"/r/{i}") for i in range(30)]
    result = _run_schedule(tmp_path, http_server, requests, 10, "slow-writer")
    rows = result["rows"]
    assert sorted(r["idx"] for r in rows) == list(range(30))  # no row lost
    assert result["row_groups"] > 1
    # the first write (rows 0-9) lasted 1.5 s, past the last request's due time (0.58 s): the
    # later rows waited for the next flush instead of the dispatcher waiting for the writer
    assert max(r["lag_ms"] for r in rows) < 500
    # the writer's thread runs nicer than the sending loop's
    assert result["writer_nice"] == min(19, result["nice"] + WRITER_NICER)
