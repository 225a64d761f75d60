"""The replay plan: sharding by session, due times at the speed factor, cut-off and loop."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.errors import CaptureError, UsageError
from harness.replay.plan import (
    PLAN_COLUMNS,
    original_hosts,
    plan_replay,
    read_capture,
    read_rows,
    shard_of,
)
from tests.replay.captures import Req, steady, write_capture


def _table(tmp_path: Path, requests: list[Req]):
    return read_capture(write_capture(tmp_path / "c.capture.parquet", requests), PLAN_COLUMNS)


def test_one_session_stays_on_one_shard_in_order(tmp_path: Path) -> None:
    table = _table(tmp_path, steady(400, 100.0, sessions=7))
    plan = plan_replay(table, shards=3)
    assert plan.total == 400
    idx = table.column("idx").to_pylist()
    sessions = table.column("session").to_pylist()
    seen: dict[str, int] = {}
    for shard in plan.shards:
        rows = shard.rows.tolist()
        assert shard.due_ns.tolist() == sorted(shard.due_ns.tolist())
        for row in rows:
            assert seen.setdefault(sessions[row], shard.shard) == shard.shard
        assert [idx[r] for r in rows] == sorted(idx[r] for r in rows)
    assert len(seen) == 7


def test_shard_of_is_stable_and_spreads() -> None:
    assert shard_of("client-1", 0, 8) == shard_of("client-1", 5, 8)
    assert len({shard_of(f"client-{i}", i, 8) for i in range(200)}) == 8
    # requests without a session are their own session
    assert shard_of(None, 1, 1000) != shard_of(None, 2, 1000)


def test_speed_divides_offsets(tmp_path: Path) -> None:
    table = _table(tmp_path, [Req(0.0), Req(1.0), Req(3.0)])
    plan = plan_replay(table, shards=1, speed=2.0)
    assert plan.shards[0].due_ns.tolist() == [0, 500_000_000, 1_500_000_000]
    assert plan.span_ns == 1_500_000_000


def test_duration_cuts_the_schedule_off(tmp_path: Path) -> None:
    table = _table(tmp_path, steady(100, 10.0))  # 10 s of traffic
    plan = plan_replay(table, shards=2, duration_s=2.0)
    assert plan.total == 20
    assert all(d < 2_000_000_000 for s in plan.shards for d in s.due_ns.tolist())


def test_loop_repeats_the_capture_until_the_duration(tmp_path: Path) -> None:
    table = _table(tmp_path, [Req(0.0, "/a"), Req(0.5, "/b")])  # period 1 s
    plan = plan_replay(table, shards=1, duration_s=3.0, loop=True)
    shard = plan.shards[0]
    assert shard.due_ns.tolist() == [0, 500_000_000, 10**9, 1_500_000_000, 2 * 10**9, 2_500_000_000]
    assert shard.rows.tolist() == [0, 1, 0, 1, 0, 1]


def test_peak_rate_counts_the_busiest_second(tmp_path: Path) -> None:
    table = _table(tmp_path, [Req(i * 0.01) for i in range(50)] + [Req(5.0)])
    assert plan_replay(table, shards=1).shards[0].peak_rate_per_s == 50


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"speed": 0.0}, "speed must be > 0"),
        ({"loop": True}, "needs a duration"),
        ({"shards": 0}, "at least one worker"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    table = _table(tmp_path, [Req(0.0)])
    args = {"shards": 1, **kwargs}
    with pytest.raises(UsageError, match=message):
        plan_replay(table, **args)


def test_missing_empty_or_foreign_files_are_capture_errors(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="not found"):
        read_capture(tmp_path / "missing.parquet", PLAN_COLUMNS)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet")
    with pytest.raises(CaptureError, match="not a capture file"):
        read_capture(junk, PLAN_COLUMNS)
    empty = write_capture(tmp_path / "empty.parquet", [])
    with pytest.raises(CaptureError, match="no requests"):
        read_capture(empty, PLAN_COLUMNS)
    other = tmp_path / "other.parquet"
    pq.write_table(pq.read_table(empty).select(["idx"]), other)
    with pytest.raises(CaptureError, match="lacks column"):
        read_capture(other, PLAN_COLUMNS)


def test_original_hosts_drop_the_port(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "c.parquet", [Req(0, host="API.example.com:443"), Req(1)])
    assert original_hosts(path) == {"api.example.com"}


def test_read_rows_reads_only_the_wanted_rows_across_row_groups(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "c.parquet", steady(50, 10.0))
    table = pq.read_table(path)
    pq.write_table(table, path, row_group_size=7)  # 8 row groups
    assert pq.ParquetFile(path).num_row_groups == 8
    rows = [0, 6, 7, 20, 49]
    got = read_rows(path, rows, ["idx", "path"])
    assert got.column("idx").to_pylist() == rows
    assert got.column("path").to_pylist() == [f"/r/{i}?n={i}" for i in rows]
    assert read_rows(path, [], ["idx"]).num_rows == 0
