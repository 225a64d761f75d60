"""Internal errors: an unexpected exception becomes exit 70, one line, and a saved traceback.

An exception that is not a :class:`~harness.errors.HarnessError` is a bug in the harness. The
user sees one line (``internal error (a bug in the harness): KeyError: 'type'; traceback saved
to PATH``) and the full traceback, with the command line and versions, waits in a file: in the
run directory when the failing work has one, else in ``<state dir>/crashes``
(:mod:`harness.statedir`)::

    with internal_errors(run_dir):     # any non-HarnessError leaves as InternalError (exit 70)
        run_the_scenario()

Threads and worker processes use :func:`save_traceback` / :func:`internal_error` themselves and
hand the :class:`~harness.errors.InternalError` to the thread that decides the exit code.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from harness.errors import EXIT_INTERNAL, HarnessError, InternalError
from harness.statedir import state_dir

#: Saved tracebacks are named ``internal-error-<UTC time>-<pid>-<n>.txt``.
FILE_PREFIX = "internal-error-"
#: The longest exception text kept in the one-line message.
MESSAGE_WIDTH = 300


def save_traceback(
    exc: BaseException, directory: Path | None = None, *, where: str = ""
) -> Path | None:
    """Write ``exc``'s traceback to a new file in ``directory`` (else the state directory).

    ``where`` says which part of the harness failed (a thread's or worker's name). Never raises:
    when neither directory can be written, returns None.
    """
    text = _report_text(exc, where)
    candidates: list[Path | None] = [directory] if directory is not None else []
    candidates.append(None)  # the state directory, resolved only when needed
    for candidate in candidates:
        try:
            folder = candidate if candidate is not None else state_dir() / "crashes"
            folder.mkdir(parents=True, exist_ok=True)
            return _write_new(folder, text)
        except OSError:
            continue
    return None


def _write_new(folder: Path, text: str) -> Path:
    """Write ``text`` to a file of a new name in ``folder`` (threads may crash at once)."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for n in range(1, 1000):
        path = folder / f"{FILE_PREFIX}{stamp}-{os.getpid()}-{n}.txt"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        return path
    raise FileExistsError(f"no free file name for a traceback in {folder}")


def one_line(exc: BaseException, width: int = MESSAGE_WIDTH) -> str:
    """``Type: message`` on one line (whitespace collapsed), cut at ``width`` characters."""
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return line if len(line) <= width else line[: width - 3] + "..."


def internal_error(
    exc: BaseException, directory: Path | None = None, *, where: str = ""
) -> InternalError:
    """Save ``exc``'s traceback and return the :class:`InternalError` that reports it."""
    path = save_traceback(exc, directory, where=where)
    saved = str(path) if path is not None else None
    return InternalError(message_for(one_line(exc), saved, where), traceback_path=saved)


def message_for(summary: str, traceback_path: str | None, where: str = "") -> str:
    """The one line shown for an internal error (also used for a worker's crash report)."""
    place = f" in {where}" if where else ""
    saved = (
        f"traceback saved to {traceback_path}"
        if traceback_path
        else "the traceback could not be saved"
    )
    return f"internal error (a bug in the harness){place}: {summary}; {saved}"


@contextlib.contextmanager
def internal_errors(directory: Path | None = None, *, where: str = "") -> Iterator[None]:
    """Turn any exception but a :class:`HarnessError` (and signals) into :class:`InternalError`,
    with the traceback saved in ``directory`` (when it exists) or the state directory."""
    try:
        yield
    except HarnessError:
        raise
    except Exception as exc:
        folder = directory if directory is not None and directory.is_dir() else None
        raise internal_error(exc, folder, where=where) from exc


def _report_text(exc: BaseException, where: str) -> str:
    from harness import __version__

    lines = [
        f"harness {__version__} internal error{f' in {where}' if where else ''}",
        f"time: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"command: {' '.join(sys.argv)}",
        f"python: {sys.version.split()[0]} on {platform.platform()}",
        f"process: {os.getpid()}, thread: {threading.current_thread().name}",
        "",
    ]
    body = "".join(traceback.format_exception(exc))
    return "\n".join(lines) + body


@contextlib.contextmanager
def thread_crashes() -> Iterator[list[InternalError]]:
    """Inside the block, an exception that ends a thread (a bug: threads hand their errors to
    their owner) is saved like any internal error and collected in the yielded list instead of
    printing a traceback. The CLI turns a collected crash into exit 70."""
    crashes: list[InternalError] = []
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or isinstance(args.exc_value, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "a thread"
        crashes.append(internal_error(args.exc_value, where=f"thread {name}"))

    threading.excepthook = hook
    try:
        yield crashes
    finally:
        threading.excepthook = previous


def guarded_main(
    main: Callable[[], int],
    *,
    where: str,
    on_crash: Callable[[BaseException, Path | None], None],
    directory: Path | None = None,
) -> int:
    """Run a subprocess's ``main``; a bug saves its traceback (in ``directory``, else the state
    directory), is handed to ``on_crash(exc, path)`` to report in one line, and exits 70."""
    try:
        return main()
    except Exception as exc:
        path = save_traceback(exc, directory, where=where)
        on_crash(exc, path)
        return EXIT_INTERNAL
