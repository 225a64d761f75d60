"""Statistics of a target's own database, read DIRECTLY from the server (never through its proxy,
so probes keep working while the proxy is down).

=================  ==================================================================
probe              value
=================  ==================================================================
``xact``           ``xact_commit + xact_rollback`` of ``pg_stat_database`` (a counter)
``sessions``       ``pg_stat_database.sessions`` (PostgreSQL 14+; a counter)
``numbackends``    ``pg_stat_database.numbackends`` (a gauge; includes this probe's one)
``waiting_locks``  lock requests not granted, of sessions on this database (a gauge)
``attempts``       the transactions of ``xact``; the sampler adds the connections the
                   target's proxy accepted (:mod:`harness.probes.sampler`)
=================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from harness.errors import DatabaseError

if TYPE_CHECKING:
    import psycopg

_EXPRESSIONS: dict[str, str] = {
    "xact": "(SELECT xact_commit + xact_rollback FROM pg_stat_database "
    "WHERE datname = current_database())",
    "sessions": "(SELECT sessions FROM pg_stat_database WHERE datname = current_database())",
    "numbackends": "(SELECT numbackends FROM pg_stat_database WHERE datname = current_database())",
    # pg_locks.database is null for transaction-id locks (row-lock waits), so go by session
    "waiting_locks": "(SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE NOT l.granted AND a.datname = current_database())",
}

# ``attempts`` reads the transactions; the sampler adds the connections the proxy accepted.
_EXPRESSIONS["attempts"] = _EXPRESSIONS["xact"]

STATS: tuple[str, ...] = tuple(_EXPRESSIONS)


class DatabaseStats:
    """Reads chosen statistics of one database over one kept-open connection (reconnects)."""

    def __init__(self, dsn: str, connect_timeout_s: float = 2.0) -> None:
        self.dsn = dsn
        self.connect_timeout_s = connect_timeout_s
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def read(self, stats: Sequence[str]) -> dict[str, float]:
        """The current value of each of ``stats``; :class:`DatabaseError` when unreadable."""
        import psycopg

        unknown = [s for s in stats if s not in _EXPRESSIONS]
        if unknown:
            raise ValueError(f"unknown postgres statistics: {unknown} (known: {list(STATS)})")
        sql = "SELECT " + ", ".join(_EXPRESSIONS[s] for s in stats)
        try:
            conn = self._connection()
            # a new transaction per read: pg_stat_* values are a snapshot per transaction
            row = conn.execute(sql.encode()).fetchone()
        except psycopg.Error as exc:
            self.close()
            raise DatabaseError(f"{_safe(self.dsn)}: {' '.join(str(exc).split())}") from None
        if row is None or any(v is None for v in row):
            raise DatabaseError(f"{_safe(self.dsn)}: no statistics for this database")
        return {name: float(value) for name, value in zip(stats, row, strict=True)}

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.dsn,
                autocommit=True,
                connect_timeout=max(1, round(self.connect_timeout_s)),
                application_name="harness-probe",
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


def _safe(dsn: str) -> str:
    """``dsn`` without its password, for messages."""
    import re

    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", re.sub(r"password=\S+", "password=***", dsn))
