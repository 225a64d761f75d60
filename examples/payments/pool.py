"""A small bounded PostgreSQL connection pool whose checkout waits, with query deadlines.

Why not ``psycopg_pool``: its reconnect backoff grows to a minute, so how fast a build recovers
after the database returns would depend on the pool's history rather than on the build. This pool
keeps two rules, like the pools of most web frameworks:

- a checkout that finds no idle connection, while the pool has room, starts one connection
  attempt of its own (in a short-lived thread) and waits up to its timeout for any connection:
  so every retry of a request that needs a connection is an attempt the database side sees;
- a connector thread keeps ``min_size`` connections open and, while the database is
  unreachable, tries again once ``reconnect_interval`` seconds have passed since the last
  attempt of anyone (so the pool notices quickly when the database is back, even when nobody
  asks, without adding attempts of its own while requests keep trying).

A query cannot be interrupted through the network when the database is partitioned away (a
cancel request would hang too), so a watchdog thread shuts the socket of a connection whose
attempt outlived its deadline; the blocked query then fails at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from .metrics import Metrics

log = logging.getLogger("payments.pool")


class DatabaseUnavailable(Exception):
    """One attempt to use the database failed for a reason outside the request's control.

    ``reason`` is a short label (``checkout_timeout``, ``connection_lost``, ``query_timeout``,
    ``commit_unknown``, ``circuit_open``...). ``maybe_committed`` is true when a write may have
    been committed before the failure, so retrying it could apply it twice.
    """

    def __init__(self, reason: str, *, maybe_committed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maybe_committed = maybe_committed


class QueryWatchdog:
    """Shuts the socket of a connection whose attempt passed its deadline."""

    def __init__(self, interval: float = 0.02) -> None:
        self._interval = interval
        self._lock = threading.Lock()
        self._watched: dict[int, tuple[float, psycopg.Connection[Any]]] = {}
        self._fired: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="query-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)

    def watch(self, conn: psycopg.Connection[Any], timeout: float) -> None:
        with self._lock:
            self._watched[id(conn)] = (time.monotonic() + timeout, conn)

    def unwatch(self, conn: psycopg.Connection[Any]) -> bool:
        """Stop watching ``conn``; true when its deadline had fired (the socket is dead)."""
        with self._lock:
            self._watched.pop(id(conn), None)
            if id(conn) in self._fired:
                self._fired.discard(id(conn))
                return True
            return False

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            with self._lock:
                for key, (deadline, conn) in list(self._watched.items()):
                    if now >= deadline and key not in self._fired:
                        self._fired.add(key)
                        _shut_socket(conn)


def _shut_socket(conn: psycopg.Connection[Any]) -> None:
    # shutdown() acts on the socket, not on the descriptor, so a duplicate is enough to wake
    # the thread blocked on the original one.
    try:
        dup = socket.socket(fileno=os.dup(conn.pgconn.socket))
    except (OSError, psycopg.Error):
        return
    try:
        dup.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        dup.close()


class ConnectionPool:
    """At most ``max_size`` connections; :meth:`connection` waits up to its timeout for one."""

    def __init__(
        self,
        dsn: str,
        metrics: Metrics,
        *,
        min_size: int = 2,
        max_size: int = 10,
        connect_timeout: int = 2,
        reconnect_interval: float = 0.05,
        leak_on_error: bool = False,
    ) -> None:
        self._dsn = dsn
        self._metrics = metrics
        self._min_size = min_size
        self._max_size = max_size
        self._connect_timeout = connect_timeout  # libpq's minimum is 2 s
        self._reconnect_interval = reconnect_interval
        # One lock, two conditions: checkouts wait for a connection, the connector for demand.
        # (Waking everyone on one condition made waiting checkouts wake each other in a loop.)
        self._lock = threading.Lock()
        self._available = threading.Condition(self._lock)
        self._demand = threading.Condition(self._lock)
        self._idle: list[psycopg.Connection[Any]] = []
        self._in_use = 0
        self._opening = 0
        self._waiting = 0
        self._closed = False
        self._db_up = True
        self._last_attempt = 0.0
        # A bug of the hotfix-leak build: a failed attempt never gives its slot back.
        self._leak_on_error = leak_on_error
        self.leaked = 0
        self._watchdog = QueryWatchdog()
        self._connector = threading.Thread(target=self._connect_loop, name="connector", daemon=True)

    def start(self) -> None:
        self._watchdog.start()
        self._connector.start()

    def close(self) -> None:
        """Close every idle connection; connections in use are closed when returned."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._available.notify_all()
            self._demand.notify_all()
        for conn in idle:
            conn.close()
        self._connector.join(timeout=self._connect_timeout + 1)
        self._watchdog.stop()

    def has_idle_connection(self) -> bool:
        """Whether a connection is waiting in the pool (it may still turn out dead)."""
        with self._lock:
            return bool(self._idle)

    @contextmanager
    def connection(self, timeout: float, query_timeout: float) -> Iterator[psycopg.Connection[Any]]:
        """Check a connection out for one attempt (waiting up to ``timeout`` seconds).

        The attempt must finish within ``query_timeout`` seconds. Connection failures become
        :class:`DatabaseUnavailable`, and a connection that failed is closed, not reused.
        """
        conn = self._checkout(timeout)
        broken = False
        self._watchdog.watch(conn, query_timeout)
        try:
            yield conn
        except DatabaseUnavailable:
            broken = True
            raise
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            broken = True
            reason = "query_timeout" if self._watchdog.unwatch(conn) else "connection_lost"
            log.debug("attempt failed: %s: %s", reason, str(exc).strip())
            raise DatabaseUnavailable(reason) from exc
        finally:
            expired = self._watchdog.unwatch(conn)
            self._checkin(conn, broken=broken or expired or conn.broken)

    def _checkout(self, timeout: float) -> psycopg.Connection[Any]:
        deadline = time.monotonic() + timeout
        asked = False
        with self._lock:
            self._waiting += 1
            try:
                while True:
                    if self._closed:
                        raise DatabaseUnavailable("pool_closed")
                    if self._idle:
                        self._in_use += 1
                        return self._idle.pop()
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        if self._leak_on_error:
                            self._leak()  # the slot taken for this attempt is never returned
                        raise DatabaseUnavailable("checkout_timeout")
                    if not asked and self._has_room():
                        asked = True
                        self._opening += 1
                        threading.Thread(target=self._open_one, name="opener", daemon=True).start()
                    self._available.wait(remaining)
            finally:
                self._waiting -= 1

    def _has_room(self) -> bool:
        return len(self._idle) + self._in_use + self._opening < self._max_size

    def _open_one(self) -> None:
        """One connection attempt for a waiting checkout; a success joins the idle list."""
        conn = self._open()
        with self._lock:
            self._opening -= 1
            if conn is not None and not self._closed:
                self._idle.append(conn)
                self._metrics.pool_size.set(len(self._idle) + self._in_use)
                self._available.notify_all()
                return
        if conn is not None:
            conn.close()

    def _leak(self) -> None:
        """Count a slot as in use for good (called with the lock held)."""
        self._in_use += 1
        self.leaked += 1
        self._metrics.pool_size.set(len(self._idle) + self._in_use)

    def _checkin(self, conn: psycopg.Connection[Any], *, broken: bool) -> None:
        if broken and self._leak_on_error:
            conn.close()  # the socket goes, the slot stays taken
            with self._lock:
                self.leaked += 1
            return
        with self._lock:
            self._in_use -= 1
            if not broken and not self._closed:
                self._idle.append(conn)
                self._available.notify_all()
            else:
                self._demand.notify()  # a slot is free: open a replacement if one is wanted
            self._metrics.pool_size.set(len(self._idle) + self._in_use)
        if broken or self._closed:
            conn.close()

    def _wants_connection(self) -> bool:
        return len(self._idle) + self._in_use + self._opening < self._min_size

    def _connect_loop(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._wants_connection():
                    self._demand.wait(0.5)
                if self._closed:
                    return
                self._opening += 1
            conn = self._open()
            with self._lock:
                self._opening -= 1
                if conn is not None:
                    if self._is_closed():  # close() may have run while we were connecting
                        conn.close()
                        return
                    self._idle.append(conn)
                    self._metrics.pool_size.set(len(self._idle) + self._in_use)
                    self._available.notify_all()
            if conn is None:
                self._pause_after_failure()

    def _pause_after_failure(self) -> None:
        """Wait until ``reconnect_interval`` has passed since the LAST attempt of anyone: while
        requests keep trying on their own, the connector adds none of its own."""
        with self._lock:
            while not self._closed:
                wait = self._last_attempt + self._reconnect_interval - time.monotonic()
                if wait <= 0:
                    return
                self._demand.wait(wait)

    def _is_closed(self) -> bool:
        return self._closed

    def _open(self) -> psycopg.Connection[Any] | None:
        self._last_attempt = time.monotonic()  # a float store: atomic enough for a heuristic
        try:
            conn = psycopg.connect(
                self._dsn, autocommit=True, connect_timeout=self._connect_timeout
            )
        except psycopg.Error as exc:
            self._metrics.db_connects.labels(result="failed").inc()
            if self._db_up:
                log.warning("database unreachable: %s", str(exc).strip().splitlines()[0])
            self._db_up = False
            return None
        self._metrics.db_connects.labels(result="ok").inc()
        if not self._db_up:
            log.warning("database reachable again")
        self._db_up = True
        return conn
