"""What the harness checks of processes it started: the tail of their log, whether they live."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def log_tail(
    path: Path, lines: int = 5, width: int = 400, clean: Callable[[str], str] | None = None
) -> str:
    """The last ``lines`` non-empty lines of ``path`` joined with `` | `` (at most ``width``).

    ``clean`` rewrites each line first (e.g. strips a timestamp prefix, or shortens JSON).
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    tail = [" ".join(line.split()) for line in text.splitlines() if line.strip()][-lines:]
    if clean is not None:
        tail = [clean(line) for line in tail]
    joined = " | ".join(tail) or "(log is empty)"
    return joined if len(joined) <= width else "..." + joined[-width:]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (an exited, unreaped one counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"
