"""Entry point of the ``harness`` command: builds the parser and maps errors to exit codes.

Each command lives in its own module under :mod:`harness.cli` and exposes
``register(subparsers)``, which adds its parser and sets ``handler`` to a function
``(argparse.Namespace) -> int``. Command modules import heavy libraries inside their handlers
so that ``harness --help`` stays fast and ``import harness`` never imports gevent.

The exit code is decided here and only here (see :mod:`harness.errors`). An exception that is
not a :class:`~harness.errors.HarnessError` is a bug: exit 70, one line on stderr, the traceback
saved to a file whose path the line names (:mod:`harness.crashes`); the same for an exception
that ends one of the command's threads.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType

from harness import __version__
from harness.errors import (
    EXIT_CODES,
    EXIT_GATE_FAILED,
    EXIT_INFRASTRUCTURE,
    EXIT_INTERNAL,
    EXIT_PASS,
    EXIT_RUN_INVALID,
    EXIT_USAGE,
    HarnessError,
    Interrupted,
    exit_code_for,
)

#: Command modules in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "init",
    "capture",
    "lint",
    "replay",
    "worker",
    "run",
    "compare",
    "report",
    "validate",
    "chaos",
    "ci",
    "calibrate",
    "stack",
    "demo",
)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so usage errors get exit code 2 from one place."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise _UsageExit(f"{self.prog}: error: {message}")


class _UsageExit(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    """The full ``harness`` parser, with every command module that exists registered."""
    codes = "\n".join(f"  {code:>3}  {text}" for code, text in EXIT_CODES.items())
    epilog = "exit codes:\n" + codes
    parser = _Parser(
        prog="harness",
        description=(
            "Replay captured production traffic against a staging stack, break its database "
            "with Toxiproxy, and judge a hotfix against the production build."
        ),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"harness.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"harness.cli.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def _raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted("terminated by SIGTERM", signum=signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageExit as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from harness.crashes import thread_crashes

    with thread_crashes() as crashed:
        code = _run_handler(handler, args)
    for crash in crashed:
        print(f"harness: error: {crash}", file=sys.stderr)
    if crashed and code in _VERDICT_CODES:
        # the work of a thread is missing: whatever the verdict says, it is not to be trusted
        return EXIT_INTERNAL
    return code


#: Codes that report a judged outcome; a crashed thread makes them untrustworthy (exit 70).
_VERDICT_CODES = frozenset({EXIT_PASS, EXIT_GATE_FAILED, EXIT_RUN_INVALID})


def _run_handler(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        return int(handler(args))
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted (SIGINT)", file=sys.stderr)
        return exit_code_for(KeyboardInterrupt())
    except BrokenPipeError:
        return EXIT_INFRASTRUCTURE
    except Exception as exc:  # a bug: one line, the traceback in a file, exit 70
        from harness.crashes import internal_error

        print(f"harness: error: {internal_error(exc)}", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        signal.signal(signal.SIGTERM, previous)


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
