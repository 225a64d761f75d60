"""Process lifetimes: who a pid really is, children that die with us, stopping what we recorded.

A pid alone names a process only while it lives: after it exits, the kernel may hand the same
number to an unrelated process. So the harness records a process as a :class:`ProcessIdentity`,
its pid **and its start time** (field 22 of ``/proc/PID/stat``, clock ticks since boot), and
only signals a pid whose start time still matches::

    identity = ProcessIdentity.of(proc.pid)        # right after Popen
    ...
    if identity.alive():                           # the same process, not a reused pid
        stop_process(identity, grace_s=5)          # its process group, SIGTERM then SIGKILL

Children that should not outlive the orchestrator are started with
``preexec_fn=die_with_parent()``: Linux's ``PR_SET_PDEATHSIG`` sends them SIGKILL when the thread
that started them ends (on SIGKILL of the harness too, where no ``finally`` runs). Python children
may instead call :func:`set_parent_death_signal` first thing. Both are no-ops where the OS has no
such thing; what they cannot cover (a daemonising PostgreSQL, commands started from a worker
thread) is recorded and cleaned up by :mod:`harness.stack.orphans`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: ``PR_SET_PDEATHSIG`` from <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ")"
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 of the whole line
    except (IndexError, ValueError):
        return None


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[0] if fields else None


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


@dataclass(frozen=True)
class ProcessIdentity:
    """One process as recorded: ``pid``, ``start`` (ticks since boot) and its process ``pgid``."""

    pid: int
    start: int | None
    pgid: int | None = None

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity:
        """The identity of the live process ``pid`` (call it right after starting it)."""
        return cls(pid, start_ticks(pid), _pgid(pid))

    def alive(self) -> bool:
        """Whether this very process still runs (not a zombie, not a reused pid)."""
        if self.start is None:
            return False  # without a start time we cannot tell it from a reuse: never touch
        if start_ticks(self.pid) != self.start:
            return False
        return _state(self.pid) not in (None, "Z", "X")

    def to_json(self) -> dict[str, int | None]:
        return {"pid": self.pid, "start": self.start, "pgid": self.pgid}

    @classmethod
    def from_json(cls, data: object) -> ProcessIdentity | None:
        """The identity in ``data`` (as written by :meth:`to_json`), None if it is not one."""
        if not isinstance(data, dict):
            return None
        pid, start, pgid = data.get("pid"), data.get("start"), data.get("pgid")
        if not isinstance(pid, int) or pid <= 1:
            return None
        return cls(
            pid,
            start if isinstance(start, int) else None,
            pgid if isinstance(pgid, int) and pgid > 1 else None,
        )


class ProcessRecord(Protocol):
    """Where running processes are recorded (a :class:`~harness.stack.ledger.StackLedger`)."""

    def process(self, name: str, identity: ProcessIdentity) -> None: ...

    def process_stopped(self, name: str) -> None: ...


def group_members(pgid: int) -> list[int]:
    """Pids whose process group is ``pgid`` (read from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def own_group(identity: ProcessIdentity) -> bool:
    """Whether ``identity``'s process group is still the one it led: safe to signal as a group.

    True when the process leads its group (``pgid == pid``) and is alive, or has exited while
    members of its group remain: Linux does not reuse a pid while a process group of that number
    exists, so those members can only be its own children.
    """
    if identity.pgid is None or identity.pgid != identity.pid:
        return False
    if identity.alive():
        return True
    if start_ticks(identity.pid) is not None:
        return False  # the pid now names another process: its group is not ours
    return bool(group_members(identity.pgid))


def stop_process(identity: ProcessIdentity, grace_s: float = 5.0) -> bool:
    """Stop a recorded process (and its group, when it led one): SIGTERM, SIGKILL after
    ``grace_s``. Returns True when something of it was running; a reused pid is never signalled.
    """
    group = own_group(identity)
    alive = identity.alive()
    if not (alive or group):
        return False
    _signal(identity, signal.SIGTERM, group=group, alive=alive)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _running(identity, group):
        time.sleep(0.05)
    if _running(identity, group):
        _signal(identity, signal.SIGKILL, group=group, alive=identity.alive())
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and _running(identity, group):
            time.sleep(0.05)
    return True


def _running(identity: ProcessIdentity, group: bool) -> bool:
    if identity.alive():
        return True
    return group and identity.pgid is not None and bool(group_members(identity.pgid))


def _signal(identity: ProcessIdentity, signum: int, *, group: bool, alive: bool) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group and identity.pgid is not None:
            os.killpg(identity.pgid, signum)
        elif alive:
            os.kill(identity.pid, signum)


def die_with_parent(signum: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get ``signum`` when its parent dies (Linux).

    None (start the child as usual) off Linux and outside the main thread: the signal fires when
    the *thread* that started the child ends, which for a worker thread would be far too early.
    The function does as little as possible in the forked child: ``prctl`` resolved beforehand,
    then a check that the parent did not die before the call.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody will signal us
            os.kill(os.getpid(), signum)

    return preexec


def set_parent_death_signal(expected_parent: int, signum: int = signal.SIGKILL) -> bool:
    """For a Python child: get ``signum`` when the parent dies; exit at once when the parent is
    already gone (the child was orphaned before it could ask). True when it was set."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return False
    if prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        return False
    if os.getppid() != expected_parent:
        os.kill(os.getpid(), signum)
    return True
