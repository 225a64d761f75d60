"""``harness stack up|status|down``: run the staging stack of a stack file as local processes."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from harness.stack.runtime import StackRuntime

DEFAULT_WORK_DIR = Path(".harness") / "stack"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "stack",
        help="bring a staging stack up or down, or show its status",
        description="Run the stack of a stack file (toxiproxy, PostgreSQL, targets) locally.",
    )
    commands = parser.add_subparsers(dest="stack_command", metavar="ACTION", required=True)

    up = commands.add_parser(
        "up",
        help="bring the stack up and stay in the foreground until Ctrl-C or SIGTERM",
        description=(
            "Start toxiproxy, PostgreSQL (embedded unless the stack file names a DSN), one "
            "database and one proxy per target, and the targets; print their URLs and proxies; "
            "tear everything down on Ctrl-C or SIGTERM (exit 0)."
        ),
    )
    up.add_argument("stack_file", type=Path, metavar="STACK", help="the stack file (YAML)")
    add_build_option(up)
    _work_dir_option(up)
    up.set_defaults(handler=_up)

    status = commands.add_parser(
        "status",
        help="show the targets and proxies of a running stack",
        description=(
            "Show each target of the stack running from --work-dir with its URL and whether it "
            "answers a GET of its own health path (from the stack file) with 2xx now, and each "
            "toxiproxy proxy with its upstream, whether it is enabled and its toxics. Exit 3 when "
            "no stack is running there."
        ),
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    _work_dir_option(status)
    status.set_defaults(handler=_status)

    down = commands.add_parser(
        "down",
        help="stop a stack started by `harness stack up`, and clean up after killed runs",
        description=(
            "Stop the stack whose state is in --work-dir (its `harness stack up` process tears "
            "it down), then clean up every orphaned stack of this user on this machine: what a "
            "run or `stack up` killed with SIGKILL left behind (targets, command actions, its "
            "toxiproxy or its proxies on an external one, its PostgreSQL), saying what was "
            "cleaned. Exit 3 when there was neither."
        ),
    )
    _work_dir_option(down)
    down.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    down.set_defaults(handler=_down)


def _work_dir_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=DEFAULT_WORK_DIR,
        help=f"where logs, the database and the state file live (default {DEFAULT_WORK_DIR})",
    )


def add_build_option(parser: argparse.ArgumentParser) -> None:
    """``--build TARGET=BUILD`` (repeatable), shared by ``stack up``, ``run`` and ``chaos``."""
    parser.add_argument(
        "--build",
        action="append",
        default=[],
        metavar="TARGET=BUILD",
        help="run BUILD (a name under `builds:`) as TARGET, e.g. candidate=hotfix-naive",
    )


def parse_builds(values: list[str]) -> dict[str, str]:
    """``--build`` values as ``{target: build}``; a malformed one is a usage error."""
    builds: dict[str, str] = {}
    for value in values:
        name, sep, build = value.partition("=")
        if not sep or not name or not build:
            raise UsageError(f"--build takes TARGET=BUILD, got {value!r}")
        builds[name] = build
    return builds


def _up(args: argparse.Namespace) -> int:
    from rich.console import Console

    from harness.scenario.stackfile import load_stack
    from harness.stack.runtime import StackRuntime

    console = Console(stderr=True)
    stack = load_stack(args.stack_file, parse_builds(args.build))
    runtime = StackRuntime(
        stack, args.work_dir, on_step=lambda msg: console.print(f"[dim]… {msg}[/dim]")
    )
    try:
        runtime.up()
        _print_up(runtime, console)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping the stack (Ctrl-C)…")
    except BaseException as exc:
        from harness.errors import Interrupted

        if not isinstance(exc, Interrupted):
            raise
        console.print("stopping the stack (SIGTERM)…")
    finally:
        runtime.down()
    console.print("stack is down: no process and no proxy left behind")
    return 0


def _print_up(runtime: StackRuntime, console: Console) -> None:
    from rich.table import Table

    table = Table(title=f"stack {runtime.stack.file.name} is up (Ctrl-C to stop)")
    for column in ("target", "role", "build", "url", "database proxy"):
        table.add_column(column)
    for t in runtime.targets.values():
        table.add_row(t.name, t.role, t.build or "-", t.url, f"{t.proxy} @ {t.proxy_listen}")
    console.print(table)
    if runtime.toxiproxy is not None:
        console.print(f"toxiproxy API: {runtime.toxiproxy.url}")
    console.print(f"state: {runtime.work_dir / 'stack.json'}")


def _read_state(work_dir: Path) -> dict[str, object]:
    from harness.errors import StackFileError
    from harness.stack.runtime import STATE_FILE

    path = work_dir / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StackFileError(
            f"no running stack: {path} does not exist (start one with `harness stack up STACK`)"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise StackFileError(f"{path}: unreadable stack state: {exc}") from None
    if not isinstance(state, dict):
        raise StackFileError(f"{path}: unreadable stack state")
    return state


def _status(args: argparse.Namespace) -> int:
    from harness.stack.status import stack_status

    report = stack_status(_read_state(args.work_dir))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"stack {report['stack']}")
    for column in ("target", "url", "health", "healthy"):
        table.add_column(column)
    targets = report["targets"]
    assert isinstance(targets, dict)
    for name, info in targets.items():
        healthy = "yes" if info["healthy"] else "NO"
        table.add_row(name, info["url"], info["health"], healthy)
    proxies = Table(title="proxies")
    for column in ("proxy", "listen", "upstream", "enabled", "toxics"):
        proxies.add_column(column)
    proxy_map = report["proxies"]
    assert isinstance(proxy_map, dict)
    for name, info in proxy_map.items():
        proxies.add_row(
            name, info["listen"], info["upstream"], str(info["enabled"]), str(len(info["toxics"]))
        )
    console = Console()
    console.print(table)
    console.print(proxies)
    return 0


def _down(args: argparse.Namespace) -> int:
    """Stop the stack of ``--work-dir`` if its process runs; clean up every orphaned stack."""
    from harness.errors import InfrastructureError, StackFileError
    from harness.stack.lifetime import ProcessIdentity
    from harness.stack.orphans import clean_orphans
    from harness.stack.processes import pid_alive
    from harness.stack.runtime import STATE_FILE

    path = args.work_dir / STATE_FILE
    state = _read_state(args.work_dir) if path.exists() else None
    stopped = False
    if state is not None:
        owner = ProcessIdentity.from_json(state.get("owner"))
        pid = owner.pid if owner is not None else state.get("pid")
        # a stack.json without the owner's start time (older harness): trust the pid alone
        alive = owner.alive() if owner is not None else isinstance(pid, int) and pid_alive(pid)
        if alive and isinstance(pid, int):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline and pid_alive(pid):
                time.sleep(0.2)
            if pid_alive(pid):
                raise InfrastructureError(
                    f"the stack process {pid} did not stop within {args.timeout:g}s"
                )
            print(f"stack is down (its process {pid} stopped everything it started)")
            stopped = True
    cleaned = clean_orphans(print)
    if state is not None and not stopped:
        with contextlib.suppress(OSError):
            path.unlink()  # the orphan cleanup removes it when its ledger is known
        if not cleaned:
            print(f"the stack process {state.get('pid')} is gone and left nothing recorded")
    problems = [line for c in cleaned for line in c.problems]
    if problems:
        raise InfrastructureError(
            f"could not clean up everything (tried again next time): {problems[0]}"
        )
    if state is None and not cleaned:
        raise StackFileError(
            f"no running stack: {path} does not exist and no orphaned stack was found "
            "(start one with `harness stack up STACK`)"
        )
    return 0
