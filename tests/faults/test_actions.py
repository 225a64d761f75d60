"""Command actions: placeholders, per-target planning, and the SQL helper on real PostgreSQL."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from harness.errors import FaultError
from harness.faults.actions import ActionContext, ActionTarget, RunningCommand, plan_commands
from harness.faults.placeholders import (
    find_placeholders,
    placeholder_problems,
    runs_per_target,
    substitute,
)
from harness.probes.postgres import DatabaseStats
from harness.scenario.model import CommandAction
from harness.stack.lifetime import ProcessIdentity
from harness.stack.postgres import EmbeddedPostgres

CTX = ActionContext(
    run_dir=Path("/runs/r1"),
    scenario_dir=Path("/scenarios"),
    targets={
        "baseline": ActionTarget("baseline", url="http://b", dsn="postgresql://h/b", dbname="b"),
        "candidate": ActionTarget("candidate", url="http://c", dsn="postgresql://h/c"),
        "external": ActionTarget("external", url="http://e"),
    },
    python="/py",
)


def test_placeholders() -> None:
    command = "{python} x {postgres.url:candidate} {{literal}} ${HOME} {run_dir}"
    assert [p.text for p in find_placeholders(command)] == [
        "{python}",
        "{postgres.url:candidate}",
        "{run_dir}",
    ]
    assert not runs_per_target(command)
    assert runs_per_target("psql {postgres.url}")
    values = {"python": "/py", "postgres.url:candidate": "pg://c", "run_dir": "/r"}
    assert substitute(command, values) == "/py x pg://c {literal} ${HOME} /r"
    assert placeholder_problems("{nope} {python:x} {target.url:ghost}", {"baseline"}) == [
        "unknown placeholder {nope} (known: postgres.dbname, postgres.host, postgres.port, "
        "postgres.url, python, run_dir, scenario_dir, target.name, target.url)",
        "{python:x}: {python} takes no target name",
        "{target.url:ghost}: no target named 'ghost'",
    ]


def test_plan_once_or_per_target() -> None:
    once = plan_commands(CommandAction(at=1, run="echo {postgres.url:baseline}"), "a1", CTX)
    assert [(p.target, p.command, p.output) for p in once] == [
        (None, "echo postgresql://h/b", Path("/runs/r1/actions/a1.log"))
    ]
    assert once[0].env["HARNESS_PG_URL_CANDIDATE"] == "postgresql://h/c"
    assert once[0].env["HARNESS_TARGET_URL_EXTERNAL"] == "http://e"
    each = plan_commands(
        CommandAction(
            at=1, run="echo {target.name} {postgres.url}", targets=["baseline", "candidate"]
        ),
        "a2",
        CTX,
    )
    assert [p.command for p in each] == [
        "echo baseline postgresql://h/b",
        "echo candidate postgresql://h/c",
    ]
    assert each[1].env["HARNESS_PG_URL"] == "postgresql://h/c"
    assert each[1].env["HARNESS_TARGET"] == "candidate"
    with pytest.raises(FaultError, match=r"a3: placeholder \{postgres.url\} has no value"):
        plan_commands(CommandAction(at=1, run="echo {postgres.url}"), "a3", CTX)  # external


DB = "actions_lock"


@pytest.fixture
def database(postgres: EmbeddedPostgres) -> Iterator[str]:
    postgres.create_template(f"{DB}_tpl", "CREATE TABLE payments (id int primary key, v int);")
    postgres.clone(f"{DB}_tpl", DB)
    try:
        yield postgres.dsn(DB)
    finally:
        postgres.drop(DB)
        postgres.drop(f"{DB}_tpl")


def test_sql_helper_holds_a_lock_that_blocks_writes(database: str) -> None:
    sql = "BEGIN; LOCK TABLE payments IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;"
    helper = subprocess.Popen(
        [sys.executable, "-m", "harness.faults.sql", database, sql],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stats = DatabaseStats(database)
    blocked: list[float] = []

    def write() -> None:
        with psycopg.connect(database, autocommit=True) as conn:
            started = time.monotonic()
            conn.execute("INSERT INTO payments VALUES (1, 1)")
            blocked.append(time.monotonic() - started)

    try:
        with psycopg.connect(database, autocommit=True) as check:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # wait until the helper holds the lock
                held = check.execute(
                    "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted"
                ).fetchone()
                if held == (1,):
                    break
                time.sleep(0.05)
        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 5
        waiting = 0.0
        while waiting < 1 and time.monotonic() < deadline:
            waiting = stats.read(["waiting_locks"])["waiting_locks"]
            time.sleep(0.05)
        assert waiting >= 1
        writer.join(timeout=10)
        out, err = helper.communicate(timeout=10)
    finally:
        stats.close()
        if helper.poll() is None:
            helper.kill()
            helper.wait()
    assert helper.returncode == 0, err
    assert b"done in" in out
    assert blocked and blocked[0] > 0.3


def test_sql_helper_reports_failure(database: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.faults.sql", database, "SELECT * FROM nowhere"],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 1
    assert b"nowhere" in done.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "harness.faults.sql"], capture_output=True, check=False
    )
    assert usage.returncode == 2


class _Ledger:
    """Remembers what a command was recorded as, and whether its command had run by then."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker
        self.recorded: dict[str, tuple[int, bool]] = {}
        self.stopped: list[str] = []

    def process(self, name: str, identity: ProcessIdentity) -> None:
        self.recorded[name] = (identity.pid, self.marker.exists())

    def process_stopped(self, name: str) -> None:
        self.stopped.append(name)


def test_a_command_is_recorded_before_it_runs_and_stop_ends_its_group(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ledger = _Ledger(marker)
    ctx = ActionContext(run_dir=tmp_path / "run", scenario_dir=tmp_path, record=ledger)
    action = CommandAction(at=1, run=f"sleep 60 & echo $! > {marker}")
    (planned,) = plan_commands(action, "a1", ctx)
    command = RunningCommand(planned, 30.0, record=ledger, name="action a1")
    deadline = time.monotonic() + 30
    while (status := command.poll()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert status == 0
    assert ledger.recorded == {"action a1": (command.pid, False)}  # written before it ran
    left = int(marker.read_text())
    try:
        assert Path(f"/proc/{left}").exists()  # its background job outlived the command
        assert command.stop() == 0 and command.failure() is None
        assert ledger.stopped == ["action a1"]
        deadline = time.monotonic() + 20  # the run's end takes what the command left running
        while _running(left) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _running(left)
    finally:
        if _running(left):
            os.kill(left, signal.SIGKILL)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
