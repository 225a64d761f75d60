"""Target services: start a build from its command, wait until healthy, keep its logs, stop it.

A target process runs in its own process group, so stopping it (SIGTERM, then SIGKILL after a
grace period) also ends whatever it spawned. It is written to the stack ledger before it runs and
killed, with its whole process group, when the harness dies, even by SIGKILL
(:func:`harness.stack.spawn.spawn`: a lifeline pipe, and Linux's parent-death signal). Its
stdout and stderr go to one log file, whose tail is shown when it fails to start.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from harness.errors import TargetError
from harness.scenario.stackcommands import program_problem
from harness.stack.lifetime import ProcessRecord
from harness.stack.processes import log_tail
from harness.stack.spawn import Spawned, spawn


@dataclass
class TargetProcess:
    """One target service started from a command line.

    >>> t = TargetProcess("baseline", ["python", "app.py", "--port", "8001"], "http://127.0.0.1:8001",
    ...                   log_path=Path("baseline.log"))  # doctest: +SKIP
    >>> with t: t.wait_healthy()  # doctest: +SKIP
    """

    name: str
    argv: list[str]
    url: str
    log_path: Path
    health: str = "/health"
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    startup_timeout: float = 30.0
    stop_grace: float = 5.0
    #: where the process is written down before it runs (the stack ledger), if anywhere
    record: ProcessRecord | None = field(default=None, repr=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _child: Spawned | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start the process (not waiting for health)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        cmd = shlex.join(self.argv)
        # the gate's shell would start whatever the program: say what is wrong with it here
        problem = program_problem(self.argv, self.cwd or Path.cwd(), env)
        if problem is not None:
            raise TargetError(f"target {self.name}: cannot start `{cmd}`: {problem}")
        with self.log_path.open("ab") as log:
            try:
                self._child = spawn(
                    self.argv,
                    name=f"target {self.name}",
                    record=self.record,
                    cwd=self.cwd,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            except OSError as exc:
                raise TargetError(f"target {self.name}: cannot start `{cmd}`: {exc}") from None
            self._proc = self._child.process

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_healthy(self, client: httpx.Client | None = None) -> float:
        """Wait until the health path answers 2xx; return the seconds it took.

        Raises :class:`TargetError` with the tail of the log if the process exits or the
        timeout passes first.
        """
        started = time.monotonic()
        deadline = started + self.startup_timeout
        url = self.url.rstrip("/") + self.health
        own = client is None
        http = client or httpx.Client(timeout=1.0)
        last = "no answer"
        try:
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    raise TargetError(
                        f"target {self.name} exited with status {self._proc.returncode} before "
                        f"it became healthy; log {self.log_path}: {log_tail(self.log_path)}"
                    )
                try:
                    response = http.get(url)
                    if 200 <= response.status_code < 300:
                        return time.monotonic() - started
                    last = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                if time.monotonic() >= deadline:
                    raise TargetError(
                        f"target {self.name} did not become healthy at {url} within "
                        f"{self.startup_timeout:g}s (last: {last}); log {self.log_path}: "
                        f"{log_tail(self.log_path)}"
                    )
                time.sleep(0.1)
        finally:
            if own:
                http.close()

    def stop(self) -> int | None:
        """SIGTERM the process group, SIGKILL after the grace period; return the exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_grace)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Children the service left in its group go too.
        _signal_group(proc.pid, signal.SIGKILL)
        if self._child is not None:
            self._child.release()
        return proc.returncode

    def __enter__(self) -> TargetProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
