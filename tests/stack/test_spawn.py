"""Children recorded before they run and ended with the harness (harness/stack/spawn.py), for real:
real /bin/sh gates, real process groups, a real parent killed with SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.stack.lifetime import ProcessIdentity
from harness.stack.spawn import GATE_CLOSED, spawn
from tests.waiting import wait_until


class Ledger:
    """A :class:`~harness.stack.lifetime.ProcessRecord` that remembers what it was told."""

    def __init__(self, on_record: Callable[[ProcessIdentity], None] | None = None) -> None:
        self.processes: dict[str, ProcessIdentity] = {}
        self.stopped: list[str] = []
        self._on_record = on_record

    def process(self, name: str, identity: ProcessIdentity) -> None:
        if self._on_record is not None:
            self._on_record(identity)
        self.processes[name] = identity

    def process_stopped(self, name: str) -> None:
        self.stopped.append(name)
        self.processes.pop(name, None)


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X")


def _pids(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()] if path.exists() else []


def test_the_command_runs_only_after_it_was_recorded(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    seen_before: list[bool] = []
    ledger = Ledger(on_record=lambda _identity: seen_before.append(marker.exists()))
    child = spawn(["sh", "-c", f"echo $$ > {marker}"], name="migrate 0", record=ledger)
    assert child.process.wait(timeout=30) == 0
    # the ledger had the entry before the command could run, and it names that very process
    assert seen_before == [False]
    assert int(marker.read_text()) == child.pid == ledger.processes["migrate 0"].pid
    assert ledger.processes["migrate 0"].pgid == child.pid  # a process group of its own
    child.release()
    assert ledger.stopped == ["migrate 0"] and ledger.processes == {}


def test_a_ledger_that_cannot_be_written_means_the_command_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    started: list[int] = []

    def refuse(identity: ProcessIdentity) -> None:
        started.append(identity.pid)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        spawn(["touch", str(marker)], name="action a1", record=Ledger(on_record=refuse))
    assert len(started) == 1
    # the gate stayed shut: the shell read end-of-file and left without running the command
    assert wait_until(lambda: _gone(started[0]), timeout=20.0)
    assert not marker.exists()


def test_release_ends_what_the_command_left_in_its_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    child = spawn(["sh", "-c", f"sleep 60 & echo $! > {pids}"], name="migrate 0", record=None)
    assert child.process.wait(timeout=30) == 0
    (left,) = _pids(pids)
    assert not _gone(left)  # the command is done, its background job still runs
    child.release()
    assert wait_until(lambda: _gone(left), timeout=20.0)


def test_feed_stdin_passes_the_script_after_the_gate(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with out.open("wb") as log:
        child = spawn(["cat"], name="psql", record=None, stdout=log, feed_stdin=True)
        child.stdin.write(b"SELECT 1;\n")
        child.release()  # closes the script's pipe: end of input
        assert child.process.wait(timeout=30) == 0
    assert out.read_bytes() == b"SELECT 1;\n"


def test_a_missing_program_is_the_shell_status_127_with_its_name(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with out.open("wb") as log:
        child = spawn(
            ["no-such-program-xyz"], name="migrate 3", record=None, stdout=log, stderr=log
        )
        assert child.process.wait(timeout=30) == 127
    child.release()
    assert "no-such-program-xyz" in out.read_text()
    assert GATE_CLOSED != 127


# A parent that starts a child from a worker thread (as the fault timeline does: no parent-death
# signal there), prints the pids of the command and of its background job, and waits to be killed.
_PARENT = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from harness.stack.spawn import spawn

    pids = Path(sys.argv[1])
    def start():
        spawn(["sh", "-c", f"sleep 61 & echo $$ $! > {pids}; exec sleep 62"], name="action a1",
              record=None)
    worker = threading.Thread(target=start)
    worker.start()
    worker.join()
    print("started", flush=True)
    time.sleep(120)
    """
)


def test_the_group_dies_with_a_parent_killed_by_sigkill(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT, str(pids)], stdout=subprocess.PIPE, text=True, env=env
    )
    found: list[int] = []
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "started"
        assert wait_until(lambda: len(_pids(pids)) == 2, timeout=20.0)
        found = _pids(pids)
        assert not any(_gone(pid) for pid in found)
        parent.kill()  # SIGKILL: no finally, no atexit
        parent.wait(timeout=30)
        assert wait_until(lambda: all(_gone(pid) for pid in found), timeout=20.0)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
        for pid in found:  # nothing may outlive the test, whatever it found
            if not _gone(pid):
                os.kill(pid, 9)
