"""Process lifetimes with real processes: identities, reused pids, groups, parent death."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import pytest

from harness.stack.lifetime import (
    ProcessIdentity,
    die_with_parent,
    group_members,
    start_ticks,
    stop_process,
)
from tests.waiting import wait_until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; killed (with their groups) in teardown."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _sleeper(spawned: list[subprocess.Popen[bytes]], **kwargs: object) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(SLEEPER, **kwargs)  # type: ignore[call-overload]
    spawned.append(proc)
    return proc


def test_identity_of_a_live_process_and_after_it_died(
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    proc = _sleeper(spawned, start_new_session=True)
    identity = ProcessIdentity.of(proc.pid)
    assert identity.start == start_ticks(proc.pid) and identity.start is not None
    assert identity.pgid == proc.pid  # it leads its own group
    assert identity.alive()
    assert ProcessIdentity.from_json(identity.to_json()) == identity
    proc.kill()
    proc.wait()
    assert not identity.alive()
    assert start_ticks(proc.pid) is None


def test_a_reused_pid_is_never_signalled(spawned: list[subprocess.Popen[bytes]]) -> None:
    proc = _sleeper(spawned, start_new_session=True)
    real = ProcessIdentity.of(proc.pid)
    assert real.start is not None
    # what a ledger would hold if this pid had belonged to an earlier process
    earlier = ProcessIdentity(proc.pid, real.start - 1, proc.pid)
    assert not earlier.alive()
    assert stop_process(earlier, grace_s=0.2) is False
    assert proc.poll() is None and real.alive()  # untouched
    unknown_start = ProcessIdentity(proc.pid, None, proc.pid)
    assert stop_process(unknown_start, grace_s=0.2) is False
    assert proc.poll() is None


def test_the_group_is_stopped_after_its_leader_exited(
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    # a shell that starts a service in the background and exits: the service stays in the group
    shell = subprocess.Popen(
        ["/bin/sh", "-c", f"{sys.executable} -c 'import time; time.sleep(60)' & echo $!"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    spawned.append(shell)
    identity = ProcessIdentity.of(shell.pid)
    assert shell.stdout is not None
    child = int(shell.stdout.readline())
    shell.wait()
    assert group_members(identity.pid) == [child]
    assert stop_process(identity, grace_s=2) is True
    assert wait_until(lambda: start_ticks(child) is None or not group_members(identity.pid))
    assert group_members(identity.pid) == []


def test_sigterm_ignored_means_sigkill_after_the_grace(
    spawned: list[subprocess.Popen[bytes]],
) -> None:
    stubborn = [
        sys.executable,
        "-c",
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n",
    ]
    proc = subprocess.Popen(stubborn, stdout=subprocess.PIPE, start_new_session=True)
    spawned.append(proc)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    identity = ProcessIdentity.of(proc.pid)
    began = time.monotonic()
    assert stop_process(identity, grace_s=0.5) is True
    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert time.monotonic() - began >= 0.5  # SIGTERM was given its grace first


_PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from harness.stack.lifetime import die_with_parent
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=die_with_parent()
    )
    print(child.pid, flush=True)
    time.sleep(60)
    """
)


def test_a_child_dies_with_its_parent_killed_by_sigkill() -> None:
    with subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE) as parent:
        try:
            assert parent.stdout is not None
            child = ProcessIdentity.of(int(parent.stdout.readline()))
            assert child.alive()
        finally:
            parent.kill()  # SIGKILL: no finally, no atexit in the parent
            parent.wait()
        assert wait_until(lambda: not child.alive())


_SELF_PARENT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    code = (
        "import os, sys, time\\n"
        "from harness.stack.lifetime import set_parent_death_signal\\n"
        "assert set_parent_death_signal(int(sys.argv[1]))\\n"
        "print('armed', flush=True)\\n"
        "time.sleep(60)\\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(os.getpid())], stdout=subprocess.PIPE)
    assert child.stdout.readline() == b"armed\\n"
    print(child.pid, flush=True)
    time.sleep(60)
    """
)


def test_a_python_child_can_arm_its_own_parent_death_signal() -> None:
    with subprocess.Popen([sys.executable, "-c", _SELF_PARENT], stdout=subprocess.PIPE) as parent:
        try:
            assert parent.stdout is not None
            child = ProcessIdentity.of(int(parent.stdout.readline()))
            assert child.alive()
        finally:
            parent.kill()
            parent.wait()
        assert wait_until(lambda: not child.alive())


def test_no_parent_death_signal_from_a_worker_thread() -> None:
    # it would fire when that thread ends, long before the harness does
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(die_with_parent()))
    thread.start()
    thread.join()
    assert got == [None]
    assert callable(die_with_parent())  # the main thread gets one (Linux)
    assert os.getpid() > 1
