"""The embedded server's life: cold start, reuse of a data dir, clean stop, one-line errors.

These start servers of their own (about half a second each); other tests use the session's
``postgres`` fixture.
"""

from __future__ import annotations

import os
import pwd
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import DatabaseError
from harness.stack import pg_embedded
from harness.stack import postgres as postgres_module
from harness.stack.pg_embedded import pid_alive, remove_tree
from harness.stack.postgres import EmbeddedPostgres


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory under /tmp, removed afterwards.

    Not pytest's tmp_path: as root the server runs as ``pgserver``, which needs to traverse the
    parents, and every pytest session resets /tmp/pytest-of-root to 0700 (another session
    starting meanwhile would lock the running server's user out of its data dir).
    """
    path = Path(tempfile.mkdtemp(prefix="test-pg-"))
    yield path
    remove_tree(path)


@pytest.fixture
def started() -> Iterator[list[EmbeddedPostgres]]:
    """Servers a test starts; whatever is still running at teardown is stopped."""
    servers: list[EmbeddedPostgres] = []
    yield servers
    for server in servers:
        server.stop()


def processes_using(path: Path) -> list[int]:
    """Live processes whose command line names ``path`` (the postmaster shows its -D)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline and pid_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def test_stop_leaves_no_postgres_process(scratch: Path, started: list[EmbeddedPostgres]) -> None:
    pg = EmbeddedPostgres(data_dir=scratch / "data")
    started.append(pg)
    pg.start()
    pid = pg.pid
    assert pid is not None and pid_alive(pid)
    assert pg.initialised

    pg.stop()

    assert not pid_alive(pid)
    assert processes_using(scratch / "data") == []
    assert pg.pid is None
    pg.stop()  # a second stop is harmless


def test_temporary_data_dir_is_removed_after_stop(started: list[EmbeddedPostgres]) -> None:
    pg = EmbeddedPostgres()
    started.append(pg)
    pg.start()
    log_path = pg.log_path
    assert log_path is not None and "database system is ready" in log_path.read_text()

    pg.stop()

    assert not log_path.parent.exists()


def test_an_initialised_data_dir_is_reused(scratch: Path, started: list[EmbeddedPostgres]) -> None:
    first = EmbeddedPostgres(data_dir=scratch / "data")
    started.append(first)
    with first:
        first.execute("postgres", "CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")

    again = EmbeddedPostgres(data_dir=scratch / "data")
    started.append(again)
    with again:
        assert not again.initialised
        assert again.query("postgres", "SELECT x FROM kept") == [(42,)]


def test_starting_twice_on_one_data_dir_is_one_line_error(
    scratch: Path, started: list[EmbeddedPostgres]
) -> None:
    first = EmbeddedPostgres(data_dir=scratch / "data")
    started.append(first)
    first.start()
    second = EmbeddedPostgres(data_dir=scratch / "data")
    started.append(second)

    with pytest.raises(DatabaseError) as caught:
        second.start()

    message = str(caught.value)
    assert "\n" not in message
    assert f"already running on data dir {scratch / 'data'} (pid {first.pid})" in message
    assert first.query("postgres", "SELECT 1") == [(1,)]  # the first one is untouched


def test_a_port_in_use_is_one_line_error(scratch: Path, started: list[EmbeddedPostgres]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        pg = EmbeddedPostgres(data_dir=scratch / "data", port=port)
        started.append(pg)

        with pytest.raises(DatabaseError) as caught:
            pg.start()

    message = str(caught.value)
    assert "\n" not in message
    assert f"port {port} on 127.0.0.1 is in use" in message
    assert processes_using(scratch / "data") == []


def test_initdb_failure_is_one_line_error_with_its_reason(
    scratch: Path, started: list[EmbeddedPostgres]
) -> None:
    data_dir = scratch / "data"
    data_dir.mkdir()
    (data_dir / "not-a-cluster.txt").write_text("something else lives here")
    pg = EmbeddedPostgres(data_dir=data_dir)
    started.append(pg)

    with pytest.raises(DatabaseError, match=r"^initdb failed: .*exists but is not empty") as caught:
        pg.start()

    assert "\n" not in str(caught.value)


def test_a_port_taken_after_the_check_is_one_line_error_from_the_log(
    scratch: Path, started: list[EmbeddedPostgres], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lose the race between our port check and the server's bind on purpose.
    monkeypatch.setattr(pg_embedded, "port_is_free", lambda *_: True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        pg = EmbeddedPostgres(data_dir=scratch / "data", port=port)
        started.append(pg)

        with pytest.raises(DatabaseError) as caught:
            pg.start()

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"port {port} on 127.0.0.1 is in use: pg_ctl start failed: ")
    assert "could not create any TCP/IP sockets" in message
    assert processes_using(scratch / "data") == []


def test_a_picked_port_lost_to_a_race_is_replaced(
    started: list[EmbeddedPostgres], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        lost = taken.getsockname()[1]
        picks = iter([lost, pg_embedded.pick_port()])
        monkeypatch.setattr(pg_embedded, "port_is_free", lambda *_: True)
        monkeypatch.setattr(postgres_module, "pick_port", lambda: next(picks))
        pg = EmbeddedPostgres()
        started.append(pg)

        pg.start()

        assert pg.port != lost
        assert pg.query("postgres", "SELECT 1") == [(1,)]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another user")
def test_as_root_a_data_dir_under_a_private_directory_is_made_reachable(
    scratch: Path, started: list[EmbeddedPostgres]
) -> None:
    private = scratch / "private"
    private.mkdir(mode=0o700)
    pg = EmbeddedPostgres(data_dir=private / "data")
    started.append(pg)

    with pg:
        assert pg.version() == "16.2"

    # Only the search bit is added for the server's user: nothing becomes listable.
    assert private.stat().st_mode & 0o777 == 0o701
    assert (private / "data").stat().st_uid == pwd.getpwnam("pgserver").pw_uid


def test_stop_still_works_when_pg_ctl_cannot(
    scratch: Path, started: list[EmbeddedPostgres]
) -> None:
    pg = EmbeddedPostgres(data_dir=scratch / "data")
    started.append(pg)
    pg.start()
    pid = pg.pid
    assert pid is not None
    # pg_ctl fails (as when it cannot reach the data dir); the postmaster is signalled instead.
    server = pg._server
    assert server is not None
    server._bin = scratch / "no-such-bin"

    pg.stop()

    assert not pid_alive(pid)
    assert "received fast shutdown request" in (scratch / "postgres.log").read_text()
