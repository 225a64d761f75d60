"""The embedded PostgreSQL server process: initdb, pg_ctl start and stop, on TCP.

The binaries come from the ``pgserver`` wheel (``pgserver/pginstall/bin``). We do not call
``pgserver.get_server()``: it listens on a unix socket only, and toxiproxy needs TCP. The package
is located without importing it (importing it creates runtime directories and warns).

PostgreSQL refuses to run as root. When the harness runs as root, initdb, pg_ctl and the server
run as the unprivileged system user ``pgserver`` (the user pgserver itself would create), which
then owns the data directory, the socket directory and the log file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DatabaseError
from harness.stack import processes
from harness.stack.processes import pid_alive

SYSTEM_USER = "pgserver"
LOOPBACK = "127.0.0.1"

#: Settings for a throwaway test server: durability off, room for the demo's pools and probes.
TEST_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
}

# Ports outside the kernel's ephemeral range (32768-60999 by default), so they do not collide
# with outgoing connections.
_PORT_RANGE = (20000, 32000)
# "2026-11-28 17:29:29.765 UTC [15290] " before each server log line: noise in a one-line error.
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] ")
_ERROR_LINE = re.compile(r"error:|FATAL|could not|failed|cannot", re.IGNORECASE)


class PortInUse(DatabaseError):
    """The server's port is taken (a picked port may be retried with another)."""


def bin_dir() -> Path:
    """The directory holding the ``initdb``/``pg_ctl``/``postgres`` binaries of pgserver."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise DatabaseError(
            "embedded PostgreSQL needs the 'pgserver' package: pip install pgserver"
        )
    path = Path(spec.origin).parent / "pginstall" / "bin"
    if not (path / "pg_ctl").is_file():
        raise DatabaseError(f"the pgserver package has no PostgreSQL binaries in {path}")
    return path


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether ``host:port`` can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(attempts: int = 50) -> int:
    """A free TCP port on 127.0.0.1 outside the ephemeral range."""
    # Private fallback until harness/stack/ports.py offers free_port().
    for _ in range(attempts):
        port = random.randint(*_PORT_RANGE)
        if port_is_free(port):
            return port
    raise DatabaseError(f"no free port for PostgreSQL in {_PORT_RANGE[0]}-{_PORT_RANGE[1]}")


def log_tail(path: Path, lines: int = 3, width: int = 400) -> str:
    """The server log's last lines, without their timestamp prefixes, as one line."""
    return processes.log_tail(path, lines, width, clean=lambda line: _LOG_PREFIX.sub("", line))


def running_pid(data_dir: Path) -> int | None:
    """The pid of a live postmaster recorded in ``data_dir/postmaster.pid``, if any."""
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
        pid = int(first.strip())
    except (OSError, IndexError, ValueError):
        return None
    return pid if pid_alive(pid) else None


@dataclass
class _RunAs:
    """Who the PostgreSQL binaries run as: ourselves, or ``pgserver`` when we are root."""

    user: str | None
    uid: int = -1
    gid: int = -1

    @classmethod
    def for_this_process(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls(None)
        entry = _ensure_system_user(SYSTEM_USER)
        return cls(SYSTEM_USER, entry.pw_uid, entry.pw_gid)

    def own(self, path: Path) -> None:
        """Give ``path`` to the server's user (no-op when we are not root)."""
        if self.user is not None:
            os.chown(path, self.uid, self.gid)

    def make_reachable(self, path: Path) -> None:
        """Let the server's user traverse every parent directory of ``path``.

        Adds only the search bit (o+x) where it is missing, as pgserver itself does; without it a
        data directory under e.g. /root cannot be opened by the unprivileged user.
        """
        if self.user is None:
            return
        for parent in path.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    cmd = [
        "useradd",
        "--system",
        "--user-group",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
    ]
    done = subprocess.run([*cmd, name], capture_output=True, text=True, check=False)
    try:
        # Another process may have created it meanwhile; the lookup decides.
        return pwd.getpwnam(name)
    except KeyError:
        reason = (done.stderr.strip().splitlines() or ["useradd failed"])[-1]
        raise DatabaseError(
            f"cannot create system user {name!r} to run PostgreSQL: {reason}"
        ) from None


@dataclass
class ServerProcess:
    """One PostgreSQL cluster on disk and the postmaster serving it on ``127.0.0.1:port``."""

    data_dir: Path
    port: int
    log_path: Path
    socket_dir: Path
    settings: dict[str, str] = field(default_factory=lambda: dict(TEST_SETTINGS))
    pid: int | None = None
    _run_as: _RunAs = field(default_factory=_RunAs.for_this_process)
    _bin: Path = field(default_factory=bin_dir)

    def prepare(self) -> bool:
        """Create the data directory with initdb unless it already holds a cluster.

        Returns True when initdb ran (a cold start), False when an existing cluster is reused.
        """
        try:
            for directory in (self.data_dir.parent, self.socket_dir, self.log_path.parent):
                directory.mkdir(parents=True, exist_ok=True)
            for path in (self.data_dir, self.log_path, self.socket_dir):
                self._run_as.make_reachable(path)
            self._run_as.own(self.socket_dir)
            self.log_path.touch()
            self._run_as.own(self.log_path)
            if (self.data_dir / "PG_VERSION").is_file():
                return False
            self.data_dir.mkdir(exist_ok=True)
            self.data_dir.chmod(0o700)
            self._run_as.own(self.data_dir)
        except OSError as exc:
            where = exc.filename or self.data_dir
            raise DatabaseError(
                f"cannot prepare PostgreSQL data dir {self.data_dir}: {where}: {exc.strerror}"
            ) from None
        args = ["--auth=trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]
        self._run("initdb", [*args, "-D", str(self.data_dir)], timeout=120)
        return True

    def start(self) -> None:
        """Start the postmaster and wait until it accepts connections."""
        pid = running_pid(self.data_dir)
        if pid is not None:
            raise DatabaseError(
                f"PostgreSQL is already running on data dir {self.data_dir} (pid {pid}); "
                f"stop it first: pg_ctl -D {self.data_dir} stop -m fast"
            )
        if not port_is_free(self.port):
            raise PortInUse(f"cannot start PostgreSQL: port {self.port} on {LOOPBACK} is in use")
        opts = ["-h", LOOPBACK, "-p", str(self.port), "-k", str(self.socket_dir)]
        for key, value in self.settings.items():
            opts += ["-c", f"{key}={value}"]
        args = ["-w", "-t", "60", "-D", str(self.data_dir), "-l", str(self.log_path)]
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        # pg_ctl hands -o to a shell, so each option is quoted.
        try:
            self._run("pg_ctl", [*args, "-o", shlex.join(opts), "start"], timeout=90)
        except DatabaseError as exc:
            # Someone bound the port between our check and the server's bind.
            if b"Address already in use" in self.log_path.read_bytes()[log_start:]:
                raise PortInUse(f"port {self.port} on {LOOPBACK} is in use: {exc}") from None
            raise
        self.pid = running_pid(self.data_dir)
        if self.pid is None:
            raise DatabaseError(
                f"PostgreSQL on port {self.port} exited right after starting; "
                f"log {self.log_path}: {log_tail(self.log_path)}"
            )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the postmaster (fast shutdown) and make sure its pid is gone."""
        pid, self.pid = self.pid, None
        if pid is None or not pid_alive(pid):
            return
        args = ["-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(int(timeout)), "stop"]
        try:
            # Parents may have lost their search bit meanwhile (pytest resets its tmp root).
            self._run_as.make_reachable(self.data_dir)
            self._run("pg_ctl", args, timeout=timeout + 10)
        except (DatabaseError, OSError):
            # What pg_ctl stop -m fast would have sent to our postmaster.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            # Ours, and it ignored a fast shutdown: do not leave it behind.
            os.kill(pid, signal.SIGKILL)
            raise DatabaseError(
                f"PostgreSQL (pid {pid}) did not stop within {timeout:.0f}s; killed"
            )

    def _run(self, program: str, args: list[str], timeout: float) -> None:
        label = f"pg_ctl {args[-1]}" if program == "pg_ctl" else program
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": "/"}
        with tempfile.TemporaryFile("w+") as out:
            # Files, not pipes: the postmaster forked by pg_ctl would keep a pipe open.
            try:
                done = subprocess.run(
                    [str(self._bin / program), *args],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd="/",
                    timeout=timeout,
                    check=False,
                    user=self._run_as.user,
                    group=self._run_as.user,
                    extra_groups=[] if self._run_as.user else None,
                )
            except subprocess.TimeoutExpired:
                raise DatabaseError(
                    f"{label} timed out after {timeout:.0f}s; "
                    f"log {self.log_path}: {log_tail(self.log_path)}"
                ) from None
            except OSError as exc:
                raise DatabaseError(f"cannot run {program}: {exc}") from None
            if done.returncode != 0:
                out.seek(0)
                said = [line.strip() for line in out.read().splitlines() if line.strip()]
                # The error line says why; hints and "Examine the log output." come after it.
                errors = [line for line in said if _ERROR_LINE.search(line)]
                reason = (errors or said or [f"exit code {done.returncode}"])[-1]
                message = f"{label} failed: {reason}"
                if program != "initdb":  # initdb does not write the server log
                    message += f"; log {self.log_path}: {log_tail(self.log_path)}"
                raise DatabaseError(message)


def remove_tree(path: Path) -> None:
    """Remove a directory the harness created (ignores what is already gone)."""
    shutil.rmtree(path, ignore_errors=True)
