"""The template database of a stack: restored from a dump, loaded from SQL, then migrated.

::

    build_template(postgres, stack, log_path=work_dir / "logs" / "template.log")

In this order, each step optional (the stack file's ``postgres:``):

1. ``init_dump``: a ``pg_dump`` archive (custom ``-Fc``, directory ``-Fd`` or tar ``-Ft``),
   restored by ``pg_restore --no-owner --no-privileges --exit-on-error``;
2. ``init_sql``: plain SQL or ``pg_dump`` output (gzip-compressed too), run by ``psql`` with
   ``ON_ERROR_STOP``, streamed through :class:`~harness.stack.sqlscript.ScriptFilter`;
3. ``migrate``: the user's commands (alembic, Django, Flyway...) with ``{postgres.url}`` the
   template itself and the libpq variables (``PGHOST``...) in their environment.

Either file key takes either kind of dump (the content decides). All output goes to the
template log. A script or archive that does not load is an input error (exit 3) naming the
file and line (or archive entry); a migration that fails or times out is exit 4, naming the
command and the log's last lines. On any failure the half-built template is dropped.

Every process (``psql``, ``pg_restore``, each migration) is started by
:func:`~harness.stack.spawn.spawn`: written to the stack ledger before it runs, so the orphan
cleanup after a SIGKILL finds it, and ended with the harness (its process group by the
lifeline, ``psql`` by the parent-death signal).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from harness.errors import DatabaseError, StackFileError
from harness.scenario.stackcommands import command_argv, program_problem
from harness.scenario.stackfile import MigrateCommand, Stack, resolve_env
from harness.stack.clients import client_program
from harness.stack.lifetime import ProcessRecord
from harness.stack.postgres import Postgres
from harness.stack.spawn import Spawned, spawn
from harness.stack.sqlscript import ScriptFilter, dump_kind

_PSQL_ERROR = re.compile(r"^psql:<stdin>:(\d+): (ERROR|FATAL|error):\s+(.*)$")
_TOC = re.compile(r"^pg_restore: from TOC entry (\d+); \d+ \d+ (.*?)(?: \S+)?$")
_RESTORE_ERROR = re.compile(r"^pg_restore: error: (?:could not execute query: )?(.*)$")


@dataclass
class TemplateBuilder:
    """Builds the stack's template database on ``postgres``; see the module docstring."""

    postgres: Postgres
    stack: Stack
    log_path: Path
    on_step: Callable[[str], None] = field(default=lambda _msg: None)
    #: where each process is written down before it runs (the stack ledger), if anywhere
    record: ProcessRecord | None = None

    @property
    def name(self) -> str:
        return self.stack.file.postgres.template

    def build(self) -> None:
        """(Re)create the template, load and migrate it, and mark it a template."""
        spec = self.stack.file.postgres
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("")
        self.postgres.create_database(self.name)
        try:
            for key, value in (("init_dump", spec.init_dump), ("init_sql", spec.init_sql)):
                if value is not None:
                    self.load(key, self.stack.resolve_path(value))
            for i, step in enumerate(spec.migrate):
                self.migrate(i, step)
        except BaseException:
            with contextlib.suppress(Exception):
                self.postgres.drop(self.name)
            raise
        self.postgres.mark_template(self.name)

    # -- dumps and scripts ---------------------------------------------------------------------
    def load(self, key: str, path: Path) -> None:
        """Load ``path`` (any dump kind) into the template; ``key`` names it in messages."""
        kind = dump_kind(path)
        self.on_step(f"loading {path.name} ({kind}) into {self.name}")
        if kind in ("plain", "gzip"):
            self._psql(key, path, kind)
        else:
            self._pg_restore(key, path)

    def _psql(self, key: str, path: Path, kind: str) -> None:
        psql = client_program("psql")
        script = ScriptFilter(path)
        # results of the script's queries are not kept; errors and notices are
        argv = [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", os.devnull, "-f", "-"]
        start = self._log_note(f"$ psql < {path} ({key})")
        with self._log() as log:
            child = self._spawn(
                f"template psql {key}", argv, log, feed_stdin=True,
                cwd=path.parent,  # \i and \copy name files relative to the script
            )  # fmt: skip
        proc = child.process
        try:
            try:
                with _open_script(path, kind) as raw:
                    for line in script.lines(raw):
                        child.stdin.write(line)
                child.stdin.close()
            except BrokenPipeError:
                pass  # psql stopped at an error: its exit status and output say which
            except StackFileError:
                _kill(proc)
                raise
            except OSError as exc:
                _kill(proc)
                raise StackFileError(f"{path}: cannot read {key}: {exc}") from None
            except BaseException:
                _kill(proc)
                raise
            status = _wait(proc)
        finally:
            child.release()  # the script's pipe closed (a broken pipe again, when psql has gone)
        skipped = ", ".join(f"{kind} x{n}" for kind, n in sorted(script.skipped.items()))
        if skipped:
            self._log_note(
                f"skipped statements (as pg_restore --no-owner --no-privileges): {skipped}"
            )
        if status == 0:
            return
        said = self._log_since(start)
        for text in said:
            found = _PSQL_ERROR.match(text)
            if found:
                raise StackFileError(
                    f"{path}:{found.group(1)}: {found.group(2)}: {found.group(3)} "
                    f"(postgres.{key} of {self.stack.path}, loading into {self.name})"
                )
        raise DatabaseError(
            f"psql could not load {path} into {self.name} (exit status {status}); "
            f"log {self.log_path}: {_tail(said)}"
        )

    def _pg_restore(self, key: str, path: Path) -> None:
        restore = client_program("pg_restore")
        argv = [str(restore), "--no-owner", "--no-privileges", "--exit-on-error"]
        argv += ["-d", self.name, str(path)]
        start = self._log_note(f"$ pg_restore {path} ({key})")
        with self._log() as log:
            child = self._spawn(f"template pg_restore {key}", argv, log)
        try:
            status = _wait(child.process)
        finally:
            child.release()
        if status == 0:
            return
        said = self._log_since(start)
        entry = next((m for m in map(_TOC.match, said) if m), None)
        error = next((m.group(1) for m in map(_RESTORE_ERROR.match, said) if m), None)
        text = " ".join((error or _tail(said)).split())
        if "connection to server" in text:
            raise DatabaseError(f"pg_restore could not reach {self.name}: {text}")
        where = f"{path}: TOC entry {entry.group(1)} ({entry.group(2)})" if entry else str(path)
        hint = ""
        if "unsupported version" in text:
            hint = f"; {restore} is too old for this archive: put a newer pg_restore on PATH"
        raise StackFileError(
            f"{where}: {text}{hint} (postgres.{key} of {self.stack.path}, into {self.name})"
        )

    # -- migrations ----------------------------------------------------------------------------
    def migrate(self, index: int, step: MigrateCommand) -> None:
        """Run one ``migrate`` command against the template."""
        pg = self.postgres
        values = {
            "python": sys.executable,
            "stack_dir": str(self.stack.dir),
            "postgres.url": pg.dsn(self.name),
            "postgres.host": pg.host,
            "postgres.port": str(pg.port),
            "postgres.dbname": self.name,
        }
        loc = ("postgres", "migrate", index)
        where = f"{self.stack.where(loc)}: postgres.migrate.{index}"
        argv = command_argv(step.run, values)
        cwd = self.stack.resolve_path(step.cwd) if step.cwd else self.stack.dir
        env = {**self._env(), **resolve_env(step.env, values)}
        problem = program_problem(argv, cwd, env)
        if problem is not None:
            run_at = self.stack.where((*loc, "run"))
            raise StackFileError(f"{run_at}: postgres.migrate.{index}.run: cannot run: {problem}")
        self.on_step(f"migrating {self.name}: {step.run}")
        self._log_note(f"$ {step.run}  (postgres.migrate.{index}, in {cwd})")
        start = self._log_note("")
        began = time.monotonic()
        with self._log() as log:
            child = self._spawn(f"template migrate {index}", argv, log, cwd=cwd, env=env)
        proc = child.process
        try:
            status = proc.wait(timeout=step.timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            raise DatabaseError(
                f"{where}: `{step.run}` did not finish within {step.timeout:g}s; "
                f"log {self.log_path}: {_tail(self._log_since(start))}"
            ) from None
        except BaseException:
            _kill(proc)
            raise
        finally:
            child.release()  # whatever the migration left in its process group ends with it
        said = self._log_since(start)
        self._log_note(f"(exit status {status} after {time.monotonic() - began:.1f}s)")
        if status != 0:
            raise DatabaseError(
                f"{where}: `{step.run}` failed with exit status {status}; "
                f"log {self.log_path}: {_tail(said)}"
            )

    # -- helpers -------------------------------------------------------------------------------
    def _spawn(
        self,
        name: str,
        argv: list[str],
        log: IO[bytes],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        feed_stdin: bool = False,
    ) -> Spawned:
        """Start one process of the build, recorded before it runs (see the module docs)."""
        try:
            return spawn(
                argv, name=name, record=self.record, cwd=cwd, env=env or self._env(),
                stdout=log, stderr=subprocess.STDOUT, feed_stdin=feed_stdin,
            )  # fmt: skip
        except OSError as exc:
            raise DatabaseError(f"cannot start {name} (`{' '.join(argv)}`): {exc}") from None

    def _env(self) -> dict[str, str]:
        env = {**os.environ, **self.postgres.client_env(self.name)}
        env["PGAPPNAME"] = "harness-template"
        return env

    @contextlib.contextmanager
    def _log(self) -> Iterator[IO[bytes]]:
        with self.log_path.open("ab") as log:
            yield log

    def _log_note(self, text: str) -> int:
        """Append ``text`` as a line of the log; return the log's size before it."""
        with self.log_path.open("a", encoding="utf-8") as log:
            start = log.tell()
            log.write(text + "\n")
        return start

    def _log_since(self, offset: int) -> list[str]:
        with self.log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", errors="replace")
        return [line for line in text.splitlines() if line.strip()]


def build_template(
    postgres: Postgres,
    stack: Stack,
    log_path: Path,
    on_step: Callable[[str], None] | None = None,
    record: ProcessRecord | None = None,
) -> None:
    """Build ``stack``'s template database on ``postgres`` (see the module docstring);
    ``record`` (the stack ledger) gets each process before it runs."""
    builder = TemplateBuilder(postgres, stack, log_path, record=record)
    if on_step is not None:
        builder.on_step = on_step
    builder.build()


@contextlib.contextmanager
def _open_script(path: Path, kind: str) -> Iterator[IO[bytes]]:
    if kind == "gzip":
        with gzip.open(path, "rb") as zipped:
            yield zipped  # type: ignore[misc]
    else:
        with path.open("rb") as fh:
            yield fh


def _wait(proc: subprocess.Popen[bytes]) -> int:
    try:
        return proc.wait()
    except BaseException:
        _kill(proc)
        raise


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """End ``proc`` (and its process group when it has one of its own)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(proc.pid) == proc.pid:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _tail(lines: list[str], count: int = 3, width: int = 400) -> str:
    joined = " | ".join(" ".join(line.split()) for line in lines[-count:]) or "(no output)"
    return joined if len(joined) <= width else "..." + joined[-width:]
