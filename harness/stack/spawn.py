"""Starting a child the harness answers for: recorded before it runs, ended when the harness dies.

A pid exists only once the child is forked, so "record it, then start it" cannot be done with a
plain ``Popen``: a harness killed between the fork and the ledger write would leave an unrecorded
process behind. :func:`spawn` closes that gap with a **gate**: the child starts as a small
``/bin/sh`` that waits for one line on a pipe only the harness holds; the harness writes the
child's pid and start time to the ledger (:class:`~harness.stack.lifetime.ProcessRecord`), then
opens the gate, and the shell ``exec`` s the real command (same pid, same start time). A harness
that dies before opening it closes the pipe: the shell reads end-of-file and exits without
running anything.

The same pipe is then a **lifeline**: a background subshell of the child's process group blocks
reading it and, when it reads end-of-file (the harness released it, or died, even by SIGKILL,
even when the child was started from a worker thread, where the parent-death signal cannot be
used), kills the whole group with SIGKILL. So the command and everything it started in its group
end with the harness, and :mod:`harness.stack.orphans` finds what escaped the group in the
ledger. On Linux the child also gets the parent-death signal when started from the main thread
(:func:`~harness.stack.lifetime.die_with_parent`).

::

    child = spawn(["alembic", "upgrade", "head"], name="template migrate 0", record=ledger,
                  stdout=log, stderr=subprocess.STDOUT)
    status = child.process.wait()
    child.release()          # the group's leftovers are killed, the ledger entry removed

A child that reads its standard input from the harness (``psql`` reading a script) uses
``feed_stdin=True``: gate only, the script follows the gate's line on the same pipe, and the
child stays in the harness's process group (the parent-death signal covers it).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from harness.stack.lifetime import ProcessIdentity, ProcessRecord, die_with_parent

__all__ = ["GATE_CLOSED", "Spawned", "spawn"]

#: Exit status of a child whose gate was never opened (the harness died first).
GATE_CLOSED = 125
_SHELL = "/bin/sh"
# fd 3 keeps the pipe (an asynchronous list's stdin would be /dev/null); the subshell's read
# returns at end-of-file only, and ``kill -9 0`` ends the child's own process group
_LIFELINE = (
    f"exec 3<&0 </dev/null; read -r _ <&3 || exit {GATE_CLOSED}; "
    '( read -r _ <&3; kill -9 0 ) & exec "$@" 3<&-'
)
_GATE = f'read -r _ || exit {GATE_CLOSED}; exec "$@"'


@dataclass
class Spawned:
    """A child started by :func:`spawn`; call :meth:`release` once it has ended or was stopped."""

    process: subprocess.Popen[bytes]
    name: str
    record: ProcessRecord | None
    feed_stdin: bool
    released: bool = field(default=False, init=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def stdin(self) -> IO[bytes]:
        """The pipe after the gate: the script (``feed_stdin``), else the lifeline."""
        assert self.process.stdin is not None
        return self.process.stdin

    def release(self) -> None:
        """Let go of the child: close the lifeline (what is left of its process group is
        killed) and remove its ledger entry. Idempotent."""
        if self.released:
            return
        self.released = True
        with contextlib.suppress(OSError):
            self.stdin.close()
        if self.record is not None:
            self.record.process_stopped(self.name)


def spawn(
    argv: Sequence[str],
    *,
    name: str,
    record: ProcessRecord | None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
    feed_stdin: bool = False,
) -> Spawned:
    """Start ``argv`` recorded as ``name`` in ``record`` before it runs (see the module docs).

    Without ``feed_stdin`` the child runs in a process group of its own with ``/dev/null`` as
    its input, tied to the harness by the lifeline. Raises :class:`OSError` when ``/bin/sh``
    cannot start (a missing program is the shell's exit status 127, with its message in the
    child's output), and whatever ``record`` raises (the child is then ended unstarted).
    """
    script = _GATE if feed_stdin else _LIFELINE
    process = subprocess.Popen(
        [_SHELL, "-c", script, name.replace(" ", "-"), *argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=stdout,
        stderr=stderr,
        start_new_session=not feed_stdin,  # a group for the lifeline's kill (never ours)
        preexec_fn=die_with_parent(),  # noqa: PLW1509 (only prctl runs in the child)
    )
    child = Spawned(process, name, record, feed_stdin)
    try:
        if record is not None:
            record.process(name, ProcessIdentity.of(process.pid))
        child.stdin.write(b"go\n")
        child.stdin.flush()
    except BaseException:
        # the gate stays shut: the shell reads end-of-file and exits without running argv
        with contextlib.suppress(OSError):
            child.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if record is not None:
            with contextlib.suppress(Exception):
                record.process_stopped(name)
        raise
    return child
