"""Postgres probes against the real embedded PostgreSQL: counters move, locks are seen waiting."""

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from harness.errors import DatabaseError
from harness.probes.postgres import STATS, DatabaseStats
from harness.stack.postgres import EmbeddedPostgres

DB = "probes_pg_stats"


@pytest.fixture
def database(postgres: EmbeddedPostgres) -> Iterator[str]:
    postgres.create_template(f"{DB}_tpl", "CREATE TABLE t (id int primary key, v int);")
    postgres.clone(f"{DB}_tpl", DB)
    postgres.execute(DB, "INSERT INTO t VALUES (1, 0)")
    try:
        yield postgres.dsn(DB)
    finally:
        postgres.drop(DB)
        postgres.drop(f"{DB}_tpl")


def _wait_for(stats: DatabaseStats, name: str, predicate: object) -> float:
    deadline = time.monotonic() + 10
    value = stats.read([name])[name]
    while not predicate(value) and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.2)
        value = stats.read([name])[name]
    return value


def test_counters_and_gauges(database: str) -> None:
    stats = DatabaseStats(database)
    try:
        first = stats.read(list(STATS))
        assert set(first) == set(STATS)
        assert first["numbackends"] >= 1  # the probe's own connection
        assert first["waiting_locks"] == 0
        with psycopg.connect(database, autocommit=True) as conn:
            for _ in range(20):
                conn.execute("UPDATE t SET v = v + 1 WHERE id = 1")
        # backends flush their statistics about once a second
        xact = _wait_for(stats, "xact", lambda v: v >= first["xact"] + 20)
        assert xact >= first["xact"] + 20
        sessions = _wait_for(stats, "sessions", lambda v: v > first["sessions"])
        assert sessions > first["sessions"]
    finally:
        stats.close()


def test_waiting_locks(database: str) -> None:
    stats = DatabaseStats(database)
    holder = psycopg.connect(database)
    holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
    done = threading.Event()

    def blocked_write() -> None:
        with psycopg.connect(database, autocommit=True) as conn:
            conn.execute("UPDATE t SET v = 0 WHERE id = 1")
        done.set()

    writer = threading.Thread(target=blocked_write)
    writer.start()
    try:
        assert _wait_for(stats, "waiting_locks", lambda v: v >= 1) >= 1
    finally:
        holder.rollback()
        holder.close()
        writer.join(timeout=10)
        stats.close()
    assert done.is_set()


def test_unreachable_database_is_a_one_line_error() -> None:
    stats = DatabaseStats("postgresql://probe:secret@127.0.0.1:9/nothing", connect_timeout_s=1)
    with pytest.raises(DatabaseError) as err:
        stats.read(["xact"])
    assert "secret" not in str(err.value)
    assert "\n" not in str(err.value)
