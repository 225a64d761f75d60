"""Command actions of a timeline: a shell command at ``at``, its output kept, its status recorded.

Each command runs with ``/bin/sh -c`` in its own process group (so a timeout or the run's end
kills it and everything it started), is written to the stack ledger before it runs and ends with
the harness even when that is killed with SIGKILL (:func:`harness.stack.spawn.spawn`), its
stdout and stderr go to
``<run_dir>/actions/<id>[-<target>].log``, and the timeline records ``action_started`` and
``action_finished`` (``exit_status``, ``timed_out``, ``duration_s``, ``output``). A command that
exits with a non-zero status or times out has failed (:meth:`RunningCommand.failure`): the
timeline then stops the run (exit 4). Placeholders and environment variables:
:mod:`harness.faults.placeholders`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import FaultError
from harness.faults.placeholders import (
    GLOBAL_KEYS,
    TARGET_KEYS,
    env_name,
    runs_per_target,
    substitute,
)
from harness.scenario.model import CommandAction
from harness.stack.lifetime import ProcessRecord
from harness.stack.processes import log_tail
from harness.stack.spawn import spawn

#: How long a command gets between SIGTERM and SIGKILL when it is stopped.
KILL_GRACE_S = 2.0


@dataclass(frozen=True)
class ActionTarget:
    """What commands may know of one target: its URL and its own database (direct address)."""

    name: str
    url: str | None = None
    dsn: str | None = None
    dbname: str | None = None
    db_host: str | None = None
    db_port: int | None = None

    def values(self) -> dict[str, str]:
        given = {
            "postgres.url": self.dsn,
            "postgres.dbname": self.dbname,
            "postgres.host": self.db_host,
            "postgres.port": None if self.db_port is None else str(self.db_port),
            "target.url": self.url,
            "target.name": self.name,
        }
        return {key: value for key, value in given.items() if value is not None}


@dataclass(frozen=True)
class ActionContext:
    """Everything commands can refer to in one run."""

    run_dir: Path
    scenario_dir: Path
    targets: dict[str, ActionTarget] = field(default_factory=dict)
    python: str = sys.executable
    #: Where started commands are recorded, so a killed run's commands are stopped later.
    record: ProcessRecord | None = None


@dataclass(frozen=True)
class PlannedCommand:
    """One command line to start for an action (one per target for per-target commands)."""

    action_id: str
    target: str | None
    command: str
    env: dict[str, str]
    output: Path


def plan_commands(
    action: CommandAction, action_id: str, ctx: ActionContext
) -> list[PlannedCommand]:
    """The commands ``action`` starts, with placeholders filled; :class:`FaultError` when one
    has no value (e.g. ``{postgres.url}`` for a target given only by URL)."""
    # absolute: the command may change directory, and its output goes elsewhere
    run_dir = str(ctx.run_dir.absolute())
    values = {
        "python": ctx.python,
        "run_dir": run_dir,
        "scenario_dir": str(ctx.scenario_dir.absolute()),
    }
    env = dict(os.environ)
    env["HARNESS_RUN_DIR"] = run_dir
    for target in ctx.targets.values():
        for key, value in target.values().items():
            values[f"{key}:{target.name}"] = value
        if target.dsn:
            env[f"HARNESS_PG_URL_{env_name(target.name)}"] = target.dsn
        if target.url:
            env[f"HARNESS_TARGET_URL_{env_name(target.name)}"] = target.url
    names = action.targets or list(ctx.targets)
    out_dir = ctx.run_dir / "actions"
    if not runs_per_target(action.run):
        output = out_dir / f"{action_id}.log"
        return [_plan(action, action_id, None, values=values, env=env, output=output)]
    planned = []
    for name in names:
        if name not in ctx.targets:
            raise FaultError(f"action {action_id}: no target named {name!r}")
        target = ctx.targets[name]
        own = values | target.values()
        own_env = env | {"HARNESS_TARGET": name}
        if target.dsn:
            own_env["HARNESS_PG_URL"] = target.dsn
        if target.url:
            own_env["HARNESS_TARGET_URL"] = target.url
        planned.append(
            _plan(
                action,
                action_id,
                name,
                values=own,
                env=own_env,
                output=out_dir / f"{action_id}-{name}.log",
            )
        )
    return planned


def _plan(
    action: CommandAction,
    action_id: str,
    target: str | None,
    *,
    values: dict[str, str],
    env: dict[str, str],
    output: Path,
) -> PlannedCommand:
    try:
        command = substitute(action.run, values)
    except KeyError as exc:
        key = str(exc.args[0])
        known = key.split(":", maxsplit=1)[0] in GLOBAL_KEYS | TARGET_KEYS
        why = "has no value in this run" if known else "is unknown"
        raise FaultError(f"action {action_id}: placeholder {{{key}}} {why}") from None
    return PlannedCommand(action_id, target, command, env, output)


class RunningCommand:
    """A started command: :meth:`poll`, :meth:`stop`; the log file is closed when it ends.

    ``record`` (the stack ledger) gets it as ``name`` before it runs; :meth:`stop` ends what
    is left of its process group and lets the harness's tie to it go.
    """

    def __init__(
        self,
        planned: PlannedCommand,
        timeout_s: float,
        *,
        record: ProcessRecord | None = None,
        name: str | None = None,
    ) -> None:
        self.planned = planned
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.started = time.monotonic()
        self.timed_out = False
        self.killed = False
        planned.output.parent.mkdir(parents=True, exist_ok=True)
        self._log = planned.output.open("wb")
        try:
            # its own process group: stop() reaches its children
            self._child = spawn(
                ["/bin/sh", "-c", planned.command],
                name=name or f"action {planned.action_id}",
                record=record,
                env=planned.env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            self._log.close()
            raise FaultError(f"action {planned.action_id}: cannot start /bin/sh: {exc}") from None
        except BaseException:
            self._log.close()
            raise
        self.process = self._child.process

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        """The exit status once finished; kills the command past its timeout."""
        status = self.process.poll()
        if status is None and time.monotonic() >= self.deadline:
            self.timed_out = True
            return self.stop()
        if status is not None:
            self._log.close()
        return status

    def stop(self) -> int:
        """Terminate the command's process group (SIGTERM, then SIGKILL) and return its status;
        what the command left running in its group after it ended is killed too."""
        if self.process.poll() is None:
            self.killed = True
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait()
        self._log.close()
        self._child.release()
        return self.process.returncode

    def _signal(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)  # the group we created for this command

    def failure(self) -> str | None:
        """Why the finished command failed (timed out, or a non-zero exit status it gave
        itself), or None: a success, or a command the run stopped when it ended."""
        label = f"action {self.planned.action_id}"
        if self.planned.target is not None:
            label += f" on {self.planned.target}"
        status = self.process.returncode
        if self.timed_out:
            why = f"timed out after {self.timeout_s:g}s"
        elif status is None or status == 0 or self.killed:
            return None
        elif status < 0:
            why = f"was killed by {_signal_name(-status)}"
        else:
            why = f"exited with status {status}"
        return f"{label} {why} (`{self.planned.command}`); output {self.planned.output}: " + (
            log_tail(self.planned.output, lines=3, width=300)
        )

    @property
    def duration_s(self) -> float:
        return time.monotonic() - self.started


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"
