"""Orphaned stacks: find the ledgers of stacks whose owner died, and clean up after them.

A stack is orphaned when the process that owned it is gone (killed with SIGKILL, the machine's
OOM killer, a crash of the terminal) while its ledger (:mod:`harness.stack.ledger`) still lists
what it started. :func:`clean_orphans` runs at the start of every stack (so also of every
``harness run``, whatever folder it writes to) and in ``harness stack down``. For each orphan,
in this order, and saying what it did:

1. the processes it started (command actions, targets, with their process groups) are stopped:
   SIGTERM, SIGKILL after a grace period; a pid whose start time differs from the recorded one
   belongs to someone else now and is left alone;
2. its proxies: on an external toxiproxy, the ones it created are deleted and the ones it
   borrowed (``postgres_proxy`` of a target given by URL) are re-enabled with their toxics
   removed; a toxiproxy server of its own is stopped, and its proxies with it (one already
   gone took them along: nothing to clean, whereas an external server that cannot be
   reached is a problem, and the ledger is kept to try again);
3. its embedded PostgreSQL is stopped (fast shutdown, the pid taken from ``postmaster.pid`` and
   checked to be the postmaster of that data directory);
4. its ``stack.json`` and its ledger are removed.

Only ledgers of this host are considered (a state directory may be shared over NFS). Two
cleaners never work on one orphan: the first renames its ledger aside to claim it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ToxiproxyError
from harness.stack.ledger import boot_id, ledger_dir
from harness.stack.lifetime import ProcessIdentity, start_ticks, stop_process
from harness.stack.toxiproxy import ToxiproxyClient

#: How long an orphan's process gets between SIGTERM and SIGKILL.
STOP_GRACE_S = 5.0
#: How long an orphaned PostgreSQL gets for a fast shutdown before SIGKILL.
POSTGRES_GRACE_S = 30.0
_HTTP_NOT_FOUND = 404
_CLAIMED = ".cleaning-"


@dataclass
class Cleanup:
    """What cleaning one orphan did: ``done`` (one line each) and ``problems`` left over."""

    stack: str
    owner: str
    done: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"orphaned stack {self.stack} ({self.owner})"
        if not self.done and not self.problems:
            return [f"{head}: nothing of it was left running"]
        return [f"{head}: {line}" for line in self.done + self.problems]


def find_orphans(directory: Path | None = None) -> list[Path]:
    """Ledgers (and abandoned claims) of this host whose owner is no longer running."""
    folder = directory or ledger_dir()
    found = []
    for path in sorted(folder.glob("*.json*")):
        if path.name.endswith(".tmp"):
            continue
        if _CLAIMED in path.name and _claimer_alive(path):
            continue  # someone is cleaning it right now
        data = _read(path)
        if data is None or data.get("host") != socket.gethostname():
            continue
        if not _owner_alive(data):
            found.append(path)
    return found


def clean_orphans(
    on_line: Callable[[str], None] = lambda _line: None, directory: Path | None = None
) -> list[Cleanup]:
    """Clean every orphan (see the module docs); ``on_line`` gets each line as it happens."""
    results = []
    for path in find_orphans(directory):
        claimed = _claim(path)
        if claimed is None:
            continue  # another cleaner was faster
        data = _read(claimed) or {}
        result = clean(data)
        for line in result.lines():
            on_line(line)
        if result.problems:
            # keep the record, so a later run or `stack down` tries again
            with contextlib.suppress(OSError):
                claimed.replace(claimed.with_name(claimed.name.split(_CLAIMED, 1)[0]))
        else:
            with contextlib.suppress(OSError):
                claimed.unlink()
        results.append(result)
    return results


def clean(data: dict[str, Any]) -> Cleanup:
    """Stop and reset what the ledger ``data`` lists (its owner must be gone)."""
    owner = ProcessIdentity.from_json(data.get("owner"))
    command = " ".join(str(a) for a in data.get("command") or [])[:120]
    who = f"pid {owner.pid if owner else '?'}, gone" + (f": {command}" if command else "")
    result = Cleanup(stack=str(data.get("stack", "?")), owner=who)
    same_boot = data.get("boot_id") is None or data.get("boot_id") == boot_id()
    if same_boot:
        _stop_processes(data, result)
    _clean_toxiproxy(data, result, same_boot=same_boot)
    if same_boot:
        _stop_postgres(data, result)
    _remove_state_file(data, result)
    return result


# -- the steps ----------------------------------------------------------------------------------


def _stop_processes(data: dict[str, Any], result: Cleanup) -> None:
    processes = data.get("processes")
    if not isinstance(processes, dict):
        return
    # command actions first (a migration holding a lock), then the targets
    for name in sorted(processes, key=lambda n: (not n.startswith("action"), n)):
        identity = ProcessIdentity.from_json(processes[name])
        if identity is not None and stop_process(identity, STOP_GRACE_S):
            result.done.append(f"stopped {name} (pid {identity.pid})")


def _clean_toxiproxy(data: dict[str, Any], result: Cleanup, *, same_boot: bool) -> None:
    server = data.get("toxiproxy")
    proxies = data.get("proxies")
    if not isinstance(server, dict):
        server = {}
    own = ProcessIdentity.from_json(server.get("process"))
    external = server.get("external")
    if external is False or (external is None and own is not None):
        # the ledger says the server was the stack's own: its proxies lived in its memory and
        # are gone with it, so a server no longer there is nothing to clean, never a problem
        if own is not None and same_boot and stop_process(own, STOP_GRACE_S):
            result.done.append(f"stopped its toxiproxy-server (pid {own.pid}) and its proxies")
        return
    if not isinstance(proxies, dict) or not proxies:
        return
    by_server: dict[str, list[tuple[str, str]]] = {}
    for name, entry in proxies.items():
        if isinstance(entry, dict) and isinstance(entry.get("server"), str):
            by_server.setdefault(entry["server"], []).append((name, str(entry.get("cleanup"))))
    for url, entries in by_server.items():
        try:
            with ToxiproxyClient(url, timeout=5.0) as client:
                for name, how in entries:
                    _clean_proxy(client, url, name, how, result)
        except ToxiproxyError as exc:
            result.problems.append(f"could not clean its proxies on {url}: {exc}")


def _clean_proxy(client: ToxiproxyClient, url: str, name: str, how: str, result: Cleanup) -> None:
    try:
        if how == "delete":
            client.delete_proxy(name)
            result.done.append(f"deleted proxy {name} on {url}")
        else:
            before = client.get_proxy(name)
            if before.enabled and not before.toxics:
                return
            client.reset_proxy(name)
            removed = ", ".join(t.name for t in before.toxics) or "none"
            state = "re-enabled" if not before.enabled else "left enabled"
            result.done.append(f"reset proxy {name} on {url}: {state}, toxics removed: {removed}")
    except ToxiproxyError as exc:
        if exc.status != _HTTP_NOT_FOUND:
            raise
        # already gone: nothing to clean


def _stop_postgres(data: dict[str, Any], result: Cleanup) -> None:
    entry = data.get("postgres")
    if not isinstance(entry, dict) or not isinstance(entry.get("data_dir"), str):
        return
    data_dir = Path(entry["data_dir"])
    pid = _postmaster(data_dir)
    if pid is None:
        return
    try:
        os.kill(pid, signal.SIGINT)  # what `pg_ctl stop -m fast` sends
    except ProcessLookupError:
        return
    identity = ProcessIdentity.of(pid)
    deadline = time.monotonic() + POSTGRES_GRACE_S
    while identity.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if identity.alive():
        stop_process(identity, 1.0)
        result.done.append(f"killed PostgreSQL (pid {pid}, no fast shutdown) on {data_dir}")
    else:
        result.done.append(f"stopped PostgreSQL (pid {pid}) on {data_dir}")


def _postmaster(data_dir: Path) -> int | None:
    """The live postmaster of ``data_dir``: the pid in its ``postmaster.pid``, if that process
    runs in that data directory (its working directory), so a reused pid is never signalled."""
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
        pid = int(first.strip())
    except (OSError, IndexError, ValueError):
        return None
    if start_ticks(pid) is None:
        return None
    try:
        cwd = Path(f"/proc/{pid}/cwd").readlink()
    except OSError:
        return None
    return pid if cwd == data_dir.resolve() else None


def _remove_state_file(data: dict[str, Any], result: Cleanup) -> None:
    work_dir = data.get("work_dir")
    if not isinstance(work_dir, str):
        return
    from harness.stack.runtime import STATE_FILE

    path = Path(work_dir) / STATE_FILE
    state = _read(path)
    if state is None:
        return
    owner = ProcessIdentity.from_json(state.get("owner"))
    recorded = ProcessIdentity.from_json(data.get("owner"))
    if owner is not None and owner == recorded:
        with contextlib.suppress(OSError):
            path.unlink()
            result.done.append(f"removed {path}")


# -- ledgers ------------------------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _owner_alive(data: dict[str, Any]) -> bool:
    owner = ProcessIdentity.from_json(data.get("owner"))
    if owner is None:
        return False
    if data.get("boot_id") is not None and data.get("boot_id") != boot_id():
        return False  # the machine rebooted since: nothing of that boot runs
    return owner.alive()


def _claim(path: Path) -> Path | None:
    """Rename the ledger aside for this process; None when another cleaner got it first."""
    base = path.name.split(_CLAIMED, 1)[0]
    claimed = path.with_name(f"{base}{_CLAIMED}{os.getpid()}")
    try:
        path.rename(claimed)
    except OSError:
        return None
    return claimed


def _claimer_alive(path: Path) -> bool:
    try:
        pid = int(path.name.rsplit(_CLAIMED, 1)[1])
    except (IndexError, ValueError):
        return False
    return pid != os.getpid() and start_ticks(pid) is not None


def describe(results: list[Cleanup]) -> str:
    """One line for a list of cleanups (``nothing to clean`` when empty)."""
    if not results:
        return "no orphaned stack to clean"
    return f"cleaned {len(results)} orphaned stack{'s' if len(results) != 1 else ''}"
