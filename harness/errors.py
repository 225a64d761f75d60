"""The harness's exception tree and the exit codes it maps to.

Every error the harness raises on purpose is a :class:`HarnessError`. Errors of the libraries
underneath (httpx, psycopg, pyarrow, mitmproxy, yaml) are caught at the boundary of the room that
uses them and re-raised as one of these, with a one-line message that names the file, line,
record, URL or process concerned. The CLI turns them into exit codes in one place
(:func:`harness.cli.main.main`); library code never calls ``sys.exit``.

::

    HarnessError
    ├── UsageError              exit 2   bad command-line usage
    ├── InputError              exit 3   invalid input
    │   ├── CaptureError                 capture files (gor, mitmproxy, HAR, parquet)
    │   ├── ScenarioError                scenario files
    │   └── StackFileError               stack files
    ├── InfrastructureError     exit 4   something the harness needs is unreachable or broken
    │   ├── ToxiproxyError               toxiproxy server missing, unreachable, or refusing a call
    │   ├── DatabaseError                PostgreSQL could not start, or a query failed
    │   ├── TargetError                  a target service did not start, became unhealthy, died
    │   ├── FaultError                   a fault could not be applied, verified or reverted
    │   └── ReplayError                  the load generator failed (worker crash, no results)
    ├── GateFailed              exit 1   the verdict is "fail"
    ├── RunInvalid              exit 5   the load generator could not hold the schedule
    ├── InternalError           exit 70  an unexpected exception (a bug): traceback saved to a file
    └── Interrupted             exit 130 (SIGINT) or 143 (SIGTERM)

Any exception that is not a :class:`HarnessError` is a bug in the harness. It becomes exit 70
(sysexits' ``EX_SOFTWARE``) with one line on stderr and its traceback saved to a file
(:mod:`harness.crashes`), never a traceback on the terminal and never exit 0 or 1: a broken input
must not read as a pass or as a failed gate.
"""

from __future__ import annotations

import signal

EXIT_PASS = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
EXIT_INVALID_INPUT = 3
EXIT_INFRASTRUCTURE = 4
EXIT_RUN_INVALID = 5
#: sysexits.h ``EX_SOFTWARE``: an internal software error.
EXIT_INTERNAL = 70
EXIT_SIGINT = 128 + int(signal.SIGINT)
EXIT_SIGTERM = 128 + int(signal.SIGTERM)

#: The exit-code table of the CLI (documented in docs/exit-codes.md).
EXIT_CODES: dict[int, str] = {
    EXIT_PASS: "pass: every gate passed (or the command succeeded)",
    EXIT_GATE_FAILED: "fail: at least one gate failed",
    EXIT_USAGE: "usage error: bad command-line arguments",
    EXIT_INVALID_INPUT: "invalid input: capture, scenario or stack file",
    EXIT_INFRASTRUCTURE: (
        "infrastructure error: toxiproxy, database or target unreachable, "
        "or a fault or action failed at run time"
    ),
    EXIT_RUN_INVALID: "run invalid: the load generator could not hold the schedule",
    EXIT_INTERNAL: "internal error (a bug): one line on stderr, the traceback saved to a file",
    EXIT_SIGINT: "interrupted by SIGINT (Ctrl-C); faults were reverted",
    EXIT_SIGTERM: "interrupted by SIGTERM; faults were reverted",
}


#: Longest error message printed: an input quoted whole must not flood the terminal.
MAX_MESSAGE_CHARS = 800


def printable(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` on one line: control characters escaped (a file name with a newline, an
    embedded multi-line error), cut to ``limit`` characters.

    >>> printable("bad\\nname.gor: line 1\\nline 2")
    'bad\\\\nname.gor: line 1\\\\nline 2'
    """
    if text.isprintable() and len(text) <= limit:
        return text
    out = "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text[: limit + 1]
    )
    return out if len(out) <= limit else out[: limit - 3] + "..."


class HarnessError(Exception):
    """Base of every error the harness raises on purpose.

    ``str(error)`` is a single line meant for the user (control characters are escaped, so a
    file name or a library's multi-line message cannot break it); ``exit_code`` is what the CLI
    exits with.
    """

    exit_code: int = EXIT_INFRASTRUCTURE

    def __init__(self, message: str) -> None:
        message = printable(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(HarnessError):
    """Bad command-line usage (exit 2)."""

    exit_code = EXIT_USAGE


class InputError(HarnessError):
    """Invalid user input: a capture, scenario or stack file (exit 3)."""

    exit_code = EXIT_INVALID_INPUT


class CaptureError(InputError):
    """A capture file cannot be read or holds nothing usable."""


class ScenarioError(InputError):
    """A scenario file is invalid; the message names the file and line."""


class StackFileError(InputError):
    """A stack file is invalid; the message names the file and line."""


class InfrastructureError(HarnessError):
    """A component the harness needs is missing, unreachable or broken (exit 4)."""

    exit_code = EXIT_INFRASTRUCTURE


class ToxiproxyError(InfrastructureError):
    """toxiproxy-server is missing, unreachable, or refused an API call.

    ``status`` is the HTTP status of a refused call (``None`` when the server was not reached);
    the message carries the server's own error text.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class DatabaseError(InfrastructureError):
    """PostgreSQL could not be started, reached, or a statement failed."""


class TargetError(InfrastructureError):
    """A target service did not start, did not become healthy, or died."""


class FaultError(InfrastructureError):
    """A fault could not be applied, verified or reverted."""


class ReplayError(InfrastructureError):
    """The load generator failed: a worker crashed or produced no results."""


class GateFailed(HarnessError):
    """The verdict is ``fail`` (exit 1)."""

    exit_code = EXIT_GATE_FAILED


class RunInvalid(HarnessError):
    """The run cannot be judged: the load generator could not hold the schedule (exit 5)."""

    exit_code = EXIT_RUN_INVALID


class InternalError(HarnessError):
    """An unexpected exception (a bug in the harness), exit 70.

    ``traceback_path`` is the file its traceback was saved to (``None`` when it could not be
    written anywhere); the message names it.
    """

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, traceback_path: str | None = None) -> None:
        super().__init__(message)
        self.traceback_path = traceback_path


class Interrupted(HarnessError):
    """The run was interrupted by a signal; faults were reverted (exit 130 or 143)."""

    def __init__(self, message: str, signum: int = int(signal.SIGINT)) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


def exit_code_for(error: BaseException) -> int:
    """The CLI exit code for ``error`` (the single place this decision is made)."""
    if isinstance(error, HarnessError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_SIGINT
    return EXIT_INTERNAL
