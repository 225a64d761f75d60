"""The orchestrator's side of the worker processes: start them, read their lines, stop them.

Runs in the orchestrating process, which never imports gevent: workers are subprocesses
(``python -m harness.replay.worker`` or ``python -m harness.replay.master``) that speak the line
protocol of :mod:`harness.replay.spec` on stdout. Every process started here is stopped here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from harness.replay.model import ReplayProgress, TargetProgress
from harness.replay.spec import decode_line
from harness.stack.lifetime import die_with_parent


@dataclass
class _Child:
    name: str
    process: subprocess.Popen[str]
    log: Path
    reader: threading.Thread | None = None


@dataclass
class _State:
    progress: dict[int, dict[str, Any]] = field(default_factory=dict)
    summaries: dict[int, dict[str, Any]] = field(default_factory=dict)
    ready: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    #: error lines of workers that crashed on a bug (their traceback saved, see harness.crashes)
    internal: list[str] = field(default_factory=list)
    t0_ns: int | None = None


class WorkerGroup:
    """Worker subprocesses of one replay and what they reported."""

    def __init__(self, names: Sequence[str], total: int) -> None:
        self.names = list(names)
        self.total = total
        self.children: list[_Child] = []
        self.state = _State()
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._last_done: dict[str, int] = {}
        self._last_at = self._started
        self._signalled = False

    def start(self, name: str, args: Sequence[str], log: Path, stdin: bool = False) -> None:
        """Start ``python -m <args>`` with stdout read by a thread, stderr into ``log``
        (``stdin``: keep a pipe to send the worker its t0 later)."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("w") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", *args],
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                text=True,
                bufsize=1,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                preexec_fn=die_with_parent(),  # noqa: PLW1509 (only prctl runs in the child)
            )
        child = _Child(name, process, log)
        assert process.stdout is not None
        child.reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        child.reader.start()
        self.children.append(child)

    @property
    def pids(self) -> list[int]:
        return [c.process.pid for c in self.children]

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            data = decode_line(line)
            if data is None:
                continue
            kind = data["kind"]
            with self._lock:
                if kind == "ready":
                    self.state.ready.add(int(data["worker"]))
                elif kind == "progress":
                    self.state.progress[int(data["worker"])] = data
                elif kind == "summary":
                    self.state.summaries[int(data["worker"])] = data
                elif kind == "error":
                    message = str(data.get("message", "worker error"))
                    self.state.errors.append(message)
                    if data.get("internal"):
                        self.state.internal.append(_internal_line(message, data))
                elif kind == "t0":
                    self.state.t0_ns = int(data["t0_ns"])

    def wait_ready(self, timeout_s: float, stop: threading.Event | None) -> bool:
        """Wait until every worker reported ``ready``; False on timeout, stop or a failure."""
        give_up = time.monotonic() + timeout_s
        while time.monotonic() < give_up and not (stop is not None and stop.is_set()):
            with self._lock:
                if len(self.state.ready) == len(self.children):
                    return True
                if self.state.errors:
                    return False
            if any(c.process.poll() is not None for c in self.children):
                return False
            time.sleep(0.02)
        return False

    def send_t0(self, t0_ns: int) -> None:
        """Tell every waiting worker the shared start (``t0 <epoch ns>`` on its stdin)."""
        for child in self.children:
            if child.process.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    child.process.stdin.write(f"t0 {t0_ns}\n")
                    child.process.stdin.close()

    @property
    def t0_ns(self) -> int | None:
        """The t0 a master reported, once it did."""
        with self._lock:
            return self.state.t0_ns

    def alive(self) -> bool:
        return any(c.process.poll() is None for c in self.children)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to every worker still running (they stop and write their rows)."""
        self._signalled = True
        for child in self.children:
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signum)

    def close(self, grace_s: float = 5.0) -> None:
        """Make sure every worker has exited: SIGTERM, then SIGKILL after ``grace_s``."""
        self.signal(signal.SIGTERM)
        for child in self.children:
            if child.process.stdin is not None and not child.process.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    child.process.stdin.close()
        deadline = time.monotonic() + grace_s
        for child in self.children:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            if child.reader is not None:
                child.reader.join(timeout=2.0)
            if child.process.stdout is not None:
                child.process.stdout.close()

    def failures(self) -> list[str]:
        """One line per worker that failed: its error line, or its last line of stderr."""
        with self._lock:
            lines = list(self.state.errors)
        for child in self.children:
            code = child.process.poll()
            if self._signalled and code == -signal.SIGTERM:
                continue  # we stopped it before it could install its own handler
            if code not in (0, None) and not lines:
                tail = [ln for ln in child.log.read_text(errors="replace").splitlines() if ln]
                last = tail[-1] if tail else "no output"
                lines.append(f"{child.name} exited with {code}: {last}")
        return lines

    def internal_failures(self) -> list[str]:
        """One line per worker that crashed on a bug, naming its saved traceback."""
        with self._lock:
            return list(self.state.internal)

    def summaries(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return dict(self.state.summaries)

    def progress(self) -> ReplayProgress:
        """The workers' latest counters, summed per target; rate since the previous call."""
        with self._lock:
            latest = list(self.state.progress.values())
        now = time.monotonic()
        targets = {}
        for name in self.names:
            done = sum(int(p["done"].get(name, 0)) for p in latest)
            rate = (done - self._last_done.get(name, 0)) / max(1e-3, now - self._last_at)
            self._last_done[name] = done
            targets[name] = TargetProgress(
                sent=sum(int(p["sent"].get(name, 0)) for p in latest),
                done=done,
                errors=sum(int(p["errors"].get(name, 0)) for p in latest),
                lag_p99_ms=max((float(p["lag_p99_ms"].get(name, 0.0)) for p in latest), default=0),
                rate_per_s=max(0.0, rate),
            )
        self._last_at = now
        return ReplayProgress(
            elapsed_s=now - self._started, total=self.total, targets=targets, workers=len(latest)
        )


def _internal_line(message: str, data: dict[str, Any]) -> str:
    from harness.crashes import message_for

    path = data.get("traceback")
    return message_for(message, str(path) if path else None)
