"""``harness worker --master-host H [--master-port P]``: a remote worker of a distributed replay.

A Locust worker: it connects to ``harness replay ... --master`` (a Locust master), replays the
shard it is given in a Locust user, sends its progress and Locust's stats, and, at the end, its
result rows to the master (one bulk message: no shared filesystem needed). The capture file must
be readable on this machine: at the master's path, or ``--capture``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from harness.errors import EXIT_INTERNAL, EXIT_PASS, ReplayError, UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``worker`` command."""
    parser = sub.add_parser(
        "worker",
        help="serve a distributed replay as a worker of `harness replay --master`",
        description=(
            "Connect to a replay master, replay the shard it assigns on the shared t0, and send "
            "the result rows back. Exits when the replay is done."
        ),
    )
    parser.add_argument(
        "--master-host",
        required=True,
        metavar="H",
        help="host of the `harness replay --master` to join",
    )
    parser.add_argument(
        "--master-port",
        type=int,
        default=5557,
        metavar="P",
        help="its --master-port (default 5557)",
    )
    parser.add_argument(
        "--capture",
        type=Path,
        default=None,
        metavar="PATH",
        help="the capture file on this machine (default: the path the master gives)",
    )
    parser.add_argument(
        "--locustfile",
        default=None,
        metavar="FILE",
        help="a Python file imported in this Locust worker: its event listeners and plugins see "
        "every request it replays",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=300.0,
        metavar="S",
        help="give up when no replay is assigned within S seconds (default 300)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    # the worker imports gevent and locust: run it in its own process, never in this one
    command = [
        sys.executable, "-m", "harness.replay.remote",
        "--master-host", args.master_host,
        "--master-port", str(args.master_port),
        "--wait", str(args.wait),
    ]  # fmt: skip
    if args.capture is not None:
        command += ["--capture", str(args.capture)]
    if args.locustfile is not None:
        if not Path(args.locustfile).is_file():
            raise UsageError(f"--locustfile {args.locustfile}: no such file")
        command += ["--locustfile", str(Path(args.locustfile).resolve())]
    code = subprocess.run(command, check=False).returncode
    if code == EXIT_INTERNAL:
        return EXIT_INTERNAL  # a bug: the worker printed its one line and saved the traceback
    if code != 0:
        raise ReplayError(
            f"worker for master {args.master_host}:{args.master_port} failed (exit {code})"
        )
    return EXIT_PASS
