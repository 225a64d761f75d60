"""The writer of ``events.jsonl`` (contract in :mod:`harness.rundir`): what happened, and when.

Every event gets ``t_ns``, measured when :meth:`EventLog.emit` is called, in ns from the run's
t0 (negative before t0), and ``kind``. Lines are written and flushed one at a time under a lock,
so the fault timeline, the probes and the orchestrator can share one log across threads and a
run killed midway still leaves every event written so far.

>>> log = EventLog(Path("runs/r1/events.jsonl"), t0_ns=time.time_ns())  # doctest: +SKIP
>>> log.emit("fault_applied", fault={...}, verified={...})              # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, TextIO

#: Event kinds of the run-directory contract, plus ``probes_failed`` (a probe could not be read).
EVENT_KINDS: frozenset[str] = frozenset(
    {
        "run_started",
        "run_finished",
        "fault_applied",
        "fault_reverted",
        "action_started",
        "action_finished",
        "target_started",
        "target_healthy",
        "target_stopped",
        "probes_started",
        "probes_failed",
        "interrupted",
    }
)


class EventLog:
    """Appends events to one ``events.jsonl``; thread-safe; a context manager that closes it."""

    def __init__(self, path: Path, t0_ns: int) -> None:
        self.path = path
        self.t0_ns = t0_ns
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = path.open("a", encoding="utf-8")

    def now_ns(self) -> int:
        """Nanoseconds since t0, now."""
        return time.time_ns() - self.t0_ns

    def emit(self, kind: str, *, t_ns: int | None = None, **fields: Any) -> dict[str, Any]:
        """Write one event (``t_ns`` defaults to now) and return it."""
        event: dict[str, Any] = {"t_ns": self.now_ns() if t_ns is None else t_ns, "kind": kind}
        event.update(fields)
        line = json.dumps(event, separators=(",", ":"), default=str)
        with self._lock:
            if self._file is None:
                raise ValueError(f"{self.path}: the event log is closed")
            self._file.write(line + "\n")
            self._file.flush()
        return event

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event of an ``events.jsonl`` file, in order."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
