"""The stack ledger: what a running stack started and owns, written down BEFORE it is started.

A stack killed with SIGKILL runs no ``finally``: its processes, its PostgreSQL and the state of
its proxies are left behind. So while a stack is up, one JSON file per stack in
``<state dir>/stacks/`` (:mod:`harness.statedir`) records its owner (the orchestrating process,
by pid and start time), and, each before it is started or touched: the toxiproxy server (its
pid, or the URL of an external one), the embedded PostgreSQL's data directory, every proxy it
creates (to delete) or borrows (to re-enable and clear), and every process it starts (targets,
command actions: pid, start time, process group). :mod:`harness.stack.orphans` reads the ledgers
whose owner is gone and cleans up after them. A stack that comes down in order deletes its
ledger.

::

    ledger = StackLedger.create(work_dir, stack_name="payments")
    ledger.proxy("payments-baseline-postgres", server=url, cleanup="delete")  # then create it
    process = subprocess.Popen(...)
    ledger.process("target baseline", ProcessIdentity.of(process.pid))
    ...
    ledger.close()                                 # everything stopped: nothing to recover

The file is replaced atomically at each change (written aside, then renamed), under a lock:
command actions are started from the fault timeline's thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from harness.errors import InfrastructureError
from harness.stack.lifetime import ProcessIdentity
from harness.statedir import state_dir

#: Ledgers live in ``<state dir>/stacks/<id>.json``.
LEDGER_DIR = "stacks"
FORMAT_VERSION = 1

Cleanup = Literal["delete", "reset"]


def ledger_dir() -> Path:
    """The folder of every stack ledger of this user (created)."""
    path = state_dir() / LEDGER_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def boot_id() -> str | None:
    """This boot's id (Linux): start times only compare within one boot."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


class StackLedger:
    """The ledger of one running stack (see the module docs)."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def create(cls, work_dir: Path, stack_name: str) -> StackLedger:
        """A new ledger owned by this process; :class:`InfrastructureError` if it cannot be
        written (a stack that could not be recovered after a kill is not started)."""
        owner = ProcessIdentity.of(os.getpid())
        data: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "stack": stack_name,
            "work_dir": str(work_dir),
            "host": socket.gethostname(),
            "boot_id": boot_id(),
            "owner": owner.to_json(),
            "command": list(sys.argv),
            "started_at": time.time(),
            "toxiproxy": None,
            "postgres": None,
            "proxies": {},
            "processes": {},
        }
        try:
            path = ledger_dir() / f"{uuid.uuid4().hex}.json"
        except OSError as exc:
            raise InfrastructureError(f"cannot create the stack ledger folder: {exc}") from None
        ledger = cls(path, data)
        ledger._write()
        return ledger

    # -- what the stack records ---------------------------------------------------------------
    def toxiproxy(self, url: str | None, identity: ProcessIdentity | None, external: bool) -> None:
        """The toxiproxy server: ours (``identity``), or an external one at ``url``."""
        entry = {
            "url": url,
            "external": external,
            "process": identity.to_json() if identity is not None else None,
        }
        self._change(lambda d: d.__setitem__("toxiproxy", entry))

    def postgres(self, data_dir: Path, identity: ProcessIdentity | None = None) -> None:
        """The embedded PostgreSQL's data directory (before start), then its postmaster."""
        entry = {
            "data_dir": str(data_dir),
            "process": identity.to_json() if identity is not None else None,
        }
        self._change(lambda d: d.__setitem__("postgres", entry))

    def postgres_stopped(self) -> None:
        self._change(lambda d: d.__setitem__("postgres", None))

    def proxy(self, name: str, *, server: str, cleanup: Cleanup) -> None:
        """A proxy the stack creates (``delete`` it) or borrows (``reset``: enable, no toxics)."""
        entry = {"server": server, "cleanup": cleanup}
        self._change(lambda d: d["proxies"].__setitem__(name, entry))

    def proxy_released(self, name: str) -> None:
        self._change(lambda d: d["proxies"].pop(name, None))

    def process(self, name: str, identity: ProcessIdentity) -> None:
        """A process the stack started (``name``: e.g. ``target baseline``, ``action a1``)."""
        self._change(lambda d: d["processes"].__setitem__(name, identity.to_json()))

    def process_stopped(self, name: str) -> None:
        self._change(lambda d: d["processes"].pop(name, None))

    def close(self) -> None:
        """Everything is stopped in order: the ledger is deleted (nothing to recover)."""
        with self._lock, contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    # -- writing ------------------------------------------------------------------------------
    def _change(self, change: Callable[[dict[str, Any]], object]) -> None:
        with self._lock:
            change(self.data)
            self._write_locked()

    def _write(self) -> None:
        with self._lock:
            self._write_locked()

    def _write_locked(self) -> None:
        aside = self.path.with_suffix(f".{os.getpid()}.tmp")
        try:
            fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(self.data, out, indent=1)
            aside.replace(self.path)
        except OSError as exc:
            raise InfrastructureError(f"cannot write the stack ledger {self.path}: {exc}") from None
