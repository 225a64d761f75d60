"""The Locust options shared by ``replay``, ``run``, ``validate`` and ``ci``.

The replay runs inside Locust's runner, so what Locust users know applies: its web UI with the
live charts (``--web``), its CSV files (``--csv``) and HTML report (``--html``), and their own
event listeners and plugins (``--locustfile``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.replay.model import LocustOptions

#: where ``--web`` serves when no address is given (Locust's own default port)
DEFAULT_WEB = "127.0.0.1:8089"
#: the help of every command's ``--processes``
PROCESSES_HELP = (
    "Locust worker processes on this machine (default: one per 2,000 requests a second at the "
    "captured peak, at most one per core)"
)


def _web(text: str) -> str:
    host, colon, port = text.rpartition(":")
    if not colon:
        host, port = "127.0.0.1", text
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"write [HOST:]PORT, e.g. 127.0.0.1:8089, got {text!r}")
    return f"{host or '127.0.0.1'}:{port}"


def add_locust_options(parser: argparse.ArgumentParser) -> None:
    """Add the ``Locust`` option group."""
    group = parser.add_argument_group("Locust (the replay runs in Locust's runner)")
    group.add_argument(
        "--web",
        nargs="?",
        const=DEFAULT_WEB,
        default=None,
        type=_web,
        metavar="[HOST:]PORT",
        help=f"serve Locust's web UI with the live charts of the replay (default {DEFAULT_WEB}; "
        "its start, stop and user-count controls are disabled: the capture sets the load)",
    )
    group.add_argument(
        "--csv",
        dest="locust_csv",
        default=None,
        metavar="PREFIX",
        help="write Locust's stats as PREFIX_stats.csv, PREFIX_stats_history.csv, "
        "PREFIX_failures.csv and PREFIX_exceptions.csv",
    )
    group.add_argument(
        "--html", dest="locust_html", default=None, metavar="FILE", help="Locust's HTML report"
    )
    group.add_argument(
        "--locustfile",
        default=None,
        metavar="FILE",
        help="a Python file imported in every Locust process: its event listeners and plugins "
        "(e.g. @events.request.add_listener) see every replayed request; its User classes are "
        "not run",
    )


def locust_options(args: argparse.Namespace) -> LocustOptions:
    """The parsed options as :class:`~harness.replay.model.LocustOptions` (paths absolute, so
    the replay's processes find them whatever their working directory)."""
    from pathlib import Path

    from harness.errors import UsageError
    from harness.replay.model import LocustOptions

    locustfile = None
    if args.locustfile:
        path = Path(args.locustfile)
        if not path.is_file():
            raise UsageError(f"--locustfile {args.locustfile}: no such file")
        locustfile = str(path.resolve())
    return LocustOptions(
        locustfile=locustfile,
        web=args.web,
        csv_prefix=str(Path(args.locust_csv).resolve()) if args.locust_csv else None,
        html=str(Path(args.locust_html).resolve()) if args.locust_html else None,
    )
