"""PostgreSQL for the staging stack: embedded (pgserver's binaries) or any DSN the user gives.

Both builds under test must start from identical data without writing into each other, so the
schema and seed data go into one *template* database, and each target gets its own database
cloned from it (``CREATE DATABASE ... TEMPLATE ...``) before each run::

    with open_postgres(dsn=None, work_dir=Path("runs/r1")) as pg:
        pg.create_template("payments_template", schema_sql)
        pg.clone("payments_template", "payments_baseline")
        pg.clone("payments_template", "payments_candidate")
        url = pg.dsn("payments_baseline", port=proxy_port)  # through the target's toxiproxy proxy

psycopg errors are mapped to :class:`~harness.errors.DatabaseError` with one-line messages that
name the server and database (never the password). psycopg is imported lazily: it is slow to
import and ``harness --help`` must stay fast.
"""

from __future__ import annotations

import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import quote, urlencode

from harness.errors import DatabaseError
from harness.stack.pg_embedded import LOOPBACK, PortInUse, ServerProcess, pick_port, remove_tree

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg

    _Action = Callable[["psycopg.Connection[tuple[object, ...]]"], object]

CONNECT_TIMEOUT_S = 10
# Databases the harness never drops or recreates.
_PROTECTED = frozenset({"postgres", "template0", "template1"})
_MAX_NAME = 63  # PostgreSQL silently truncates longer identifiers
# libpq connection keywords and the environment variables that set them
_LIBPQ_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "options": "PGOPTIONS",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}


class Postgres(ABC):
    """A PostgreSQL server the harness can create, clone and drop databases on.

    Use it as a context manager (``start()`` on enter, ``stop()`` on exit).
    """

    host: str
    port: int
    user: str
    #: The database administrative statements connect to.
    admin_db: str = "postgres"

    @abstractmethod
    def dsn(self, dbname: str, *, host: str | None = None, port: int | None = None) -> str:
        """A libpq URL for ``dbname``; ``host``/``port`` replace the server's (e.g. a proxy's)."""

    @abstractmethod
    def start(self) -> None:
        """Make the server available (only checks it when it is not ours to start)."""

    @abstractmethod
    def stop(self) -> None:
        """Release the server (no-op when it is not ours to stop)."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def version(self) -> str:
        """The server version, e.g. ``"16.2"``."""
        rows = self.query(self.admin_db, "SHOW server_version")
        return str(rows[0][0]).split()[0]

    def create_template(self, name: str, sql: str) -> None:
        """(Re)create database ``name``, run ``sql`` (schema and seed) in it, make it a template.

        The template accepts no connections afterwards, so it can always be cloned.
        """
        self.create_database(name)
        try:
            self.execute(name, sql)
        except DatabaseError:
            self.drop(name)
            raise
        self.mark_template(name)

    def create_database(self, name: str) -> None:
        """(Re)create the empty database ``name`` (dropping one of that name first)."""
        self._check_name(name)
        self._admin(lambda conn: self._drop_on(conn, name), name)
        self._admin(lambda conn: conn.execute(_ddl("CREATE DATABASE {}", name)), name)

    def mark_template(self, name: str) -> None:
        """Make ``name`` a template that accepts no connections, so it can always be cloned."""
        mark = "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
        self._admin(lambda conn: conn.execute(_ddl(mark, name)), name)

    def client_env(self, dbname: str) -> dict[str, str]:
        """libpq environment variables (``PGHOST``...) for client programs such as psql.

        The password travels this way rather than on a command line other users can read.
        """
        from psycopg import conninfo

        params = conninfo.conninfo_to_dict(self.dsn(dbname))
        env = {}
        for key, value in params.items():
            name = _LIBPQ_ENV.get(key)
            if name is not None and value is not None:
                env[name] = str(value)
        return env

    def clone(self, template: str, name: str) -> None:
        """Replace database ``name`` by a fresh copy of ``template`` (closing its sessions)."""
        self._check_name(name)

        def run(conn: psycopg.Connection[tuple[object, ...]]) -> None:
            self._drop_on(conn, name)
            conn.execute(_ddl("CREATE DATABASE {} TEMPLATE {}", name, template))

        self._admin(run, name)

    def drop(self, name: str) -> None:
        """Drop database ``name`` if it exists, closing its sessions (templates included)."""
        self._check_name(name)
        self._admin(lambda conn: self._drop_on(conn, name), name)

    def execute(self, dbname: str, sql: str) -> None:
        """Run ``sql`` (one or more statements, no parameters) in ``dbname``."""
        with self._connect(dbname) as conn:
            conn.execute(sql.encode())

    def query(
        self, dbname: str, sql: str, params: tuple[object, ...] = ()
    ) -> list[tuple[object, ...]]:
        """Run one statement with ``%s`` parameters in ``dbname`` and return its rows."""
        with self._connect(dbname) as conn:
            cur = conn.execute(sql.encode(), params or None)
            return cur.fetchall() if cur.description is not None else []

    def _check_name(self, name: str) -> None:
        if not name or len(name.encode()) > _MAX_NAME:
            raise DatabaseError(f"invalid database name {name!r}: 1 to {_MAX_NAME} bytes")
        if name in _PROTECTED or name == self.admin_db:
            raise DatabaseError(f"refusing to drop or recreate database {name!r}")

    def _admin(self, action: _Action, name: str) -> None:
        """Run ``action`` on an autocommit connection to the admin database."""
        with self._connect(self.admin_db, about=name) as conn:
            action(conn)

    @staticmethod
    def _drop_on(conn: psycopg.Connection[tuple[object, ...]], name: str) -> None:
        found = conn.execute(
            "SELECT datistemplate FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if found is None:
            return
        if found[0]:
            conn.execute(_ddl("ALTER DATABASE {} WITH IS_TEMPLATE false", name))
        if conn.info.server_version >= 130000:
            conn.execute(_ddl("DROP DATABASE IF EXISTS {} WITH (FORCE)", name))
            return
        # Before PostgreSQL 13 there is no FORCE: end the sessions ourselves.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(_ddl("DROP DATABASE IF EXISTS {}", name))

    @contextmanager
    def _connect(
        self, dbname: str, about: str | None = None
    ) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """An autocommit connection; psycopg errors become one-line DatabaseErrors."""
        import psycopg

        where = f"PostgreSQL {self.host}:{self.port}, database {about or dbname!r}"
        try:
            with psycopg.connect(
                self.dsn(dbname), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            ) as conn:
                yield conn
        except psycopg.Error as exc:
            raise DatabaseError(f"{where}: {one_line(exc)}") from None


def _ddl(template: str, *names: str) -> psycopg.sql.Composed:
    from psycopg import sql

    return sql.SQL(template).format(*(sql.Identifier(name) for name in names))


def one_line(exc: BaseException, width: int = 300) -> str:
    """A psycopg error as one line: SQL errors keep their first line, connection errors all."""
    text = str(exc).strip()
    if getattr(exc, "sqlstate", None):
        text = text.splitlines()[0] if text else ""
    text = re.sub(r"\s+", " ", text) or type(exc).__name__
    return text[:width]


def to_url(params: dict[str, str]) -> str:
    """A ``postgresql://`` URL from libpq keywords (sockets and extra keywords go in the query)."""
    rest = dict(params)
    user, password = rest.pop("user", ""), rest.pop("password", "")
    host, port, dbname = rest.pop("host", ""), rest.pop("port", ""), rest.pop("dbname", "")
    netloc = ""
    if user:
        netloc = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "") + "@"
    if host and not host.startswith("/") and "," not in host:
        netloc += f"[{host}]" if ":" in host else host
        netloc += f":{port}" if port else ""
    else:
        # A unix-socket directory or a host list cannot sit in the authority part.
        rest.update({k: v for k, v in (("host", host), ("port", port)) if v})
    url = f"postgresql://{netloc}/{quote(dbname, safe='')}"
    return f"{url}?{urlencode(rest)}" if rest else url


class ExternalPostgres(Postgres):
    """A server the user runs, given by a DSN (URL or ``key=value``); start/stop do not touch it.

    ``dsn(name)`` keeps the given DSN's user, password and options and swaps its database (and
    host/port when asked). The given DSN's own database serves administrative statements.
    """

    def __init__(self, dsn: str) -> None:
        from psycopg import conninfo

        try:
            params = conninfo.conninfo_to_dict(dsn)
        except Exception as exc:  # psycopg raises ProgrammingError; libpq may say more
            raise DatabaseError(f"invalid PostgreSQL DSN: {one_line(exc)}") from None
        self._params = {key: str(value) for key, value in params.items() if value is not None}
        self.host = self._params.get("host") or "localhost"
        self.port = int(self._params.get("port") or 5432)
        self.user = self._params.get("user") or "postgres"
        self.admin_db = self._params.get("dbname") or "postgres"

    def dsn(self, dbname: str, *, host: str | None = None, port: int | None = None) -> str:
        params = {**self._params, "dbname": dbname}
        if host is not None:
            params["host"] = host
        if port is not None:
            params["port"] = str(port)
        return to_url(params)

    def start(self) -> None:
        """Check that the server answers (fails early with a DatabaseError)."""
        self.version()

    def stop(self) -> None:
        """Nothing to do: the server is the user's."""


class EmbeddedPostgres(Postgres):
    """A PostgreSQL server of our own on 127.0.0.1, from pgserver's binaries.

    Without ``data_dir`` the cluster lives in a temporary directory removed by :meth:`stop`; a
    given ``data_dir`` is kept, and an initialised one is reused (a fast restart). Without
    ``port`` a free one outside the ephemeral range is chosen at start.

    >>> with EmbeddedPostgres() as pg:  # doctest: +SKIP
    ...     pg.version()
    '16.2'
    """

    def __init__(
        self, data_dir: Path | None = None, port: int | None = None, log_path: Path | None = None
    ) -> None:
        self.host = LOOPBACK
        self.port = port or 0
        self.user = "postgres"
        self._data_dir = data_dir
        self._fixed_port = port
        self._log_path = log_path
        self._server: ServerProcess | None = None
        self._scratch: Path | None = None
        #: Whether the last start ran initdb, and how long the start took (seconds).
        self.initialised = False
        self.start_seconds: float | None = None

    @property
    def data_dir(self) -> Path | None:
        """The data directory given at construction (None: a temporary one, made at start)."""
        return self._data_dir

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while running."""
        return self._server.pid if self._server is not None else None

    @property
    def log_path(self) -> Path | None:
        """The server log of the running (or last started) server."""
        return self._server.log_path if self._server is not None else self._log_path

    def dsn(self, dbname: str, *, host: str | None = None, port: int | None = None) -> str:
        return to_url(
            {
                "user": self.user,
                "host": host or self.host,
                "port": str(port or self.port),
                "dbname": dbname,
            }
        )

    def start(self) -> None:
        """initdb (unless the data dir holds a cluster), then start and wait until ready."""
        if self._server is not None:
            return
        began = time.monotonic()
        try:
            self._server = self._launch()
        except BaseException:
            self._cleanup()
            raise
        self.port = self._server.port
        self.start_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Fast shutdown; returns once the postmaster's pid is gone."""
        server, self._server = self._server, None
        try:
            if server is not None:
                server.stop()
        finally:
            self._cleanup()

    def _launch(self) -> ServerProcess:
        if self._data_dir is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="replay-harness-pg-"))
            data_dir, socket_dir = self._scratch / "data", self._scratch
        else:
            # Short path: a unix socket path may not exceed 107 bytes.
            self._scratch = Path(tempfile.mkdtemp(prefix="replay-harness-pgsock-"))
            data_dir, socket_dir = self._data_dir, self._scratch
        log_path = self._log_path or data_dir.parent / "postgres.log"
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            server = ServerProcess(data_dir, self._fixed_port or pick_port(), log_path, socket_dir)
            if attempt == 0:
                self.initialised = server.prepare()
            try:
                server.start()
            except PortInUse:
                # A port picked by us may be taken before the server binds it: pick again.
                if attempt + 1 == attempts:
                    raise
                continue
            return server
        raise AssertionError("unreachable")

    def _cleanup(self) -> None:
        if self._scratch is not None:
            remove_tree(self._scratch)
            self._scratch = None


def open_postgres(dsn: str | None, work_dir: Path) -> Postgres:
    """The user's server when ``dsn`` is given, else an embedded one under ``work_dir/postgres``.

    The result is not started yet: use it as a context manager.
    """
    if dsn:
        return ExternalPostgres(dsn)
    base = work_dir / "postgres"
    return EmbeddedPostgres(data_dir=base / "data", log_path=base / "postgres.log")
