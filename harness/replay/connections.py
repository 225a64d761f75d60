"""Locust's ``FastHttpSession``, sending captured requests as they were, on timed connections.

:class:`ReplaySession` is the replay user's ``client``: a Locust ``FastHttpSession`` (its
``request`` event, its geventhttpclient connection pools, its response type), so
``self.client.get(...)`` works as Locust users know. Its :meth:`~ReplaySession.replay` sends a
captured request verbatim where ``request()`` would not: ``request()`` adds ``Accept-Encoding``,
folds repeated headers into a dict, follows redirects, keeps one cookie jar for every session,
and measures from before the wait for a pooled connection. ``replay()`` keeps the captured
headers (repeats and order), never follows a redirect, hashes the body as it came (not
decompressed), and stamps three clocks per request through :class:`_TimedPool`:

- **sent**: when the request got its connection slot and starts onto the wire;
- **queue**: how long it waited for that slot (the per-target connection maximum was reached);
- **connect**: how long opening a new connection took (0 when a pooled one was reused).

Every replayed request fires Locust's ``request`` event (stats, ``--csv``, ``--html``, the web
UI and users' listeners see it) with ``response_time`` = sent to last byte, the exception for a
failure (no HTTP answer, or a 5xx: the harness's definition of an error), and a ``context`` that
names the target, the capture row and the sender's clocks.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from typing import Any

import gevent
from gevent.monkey import get_original
from geventhttpclient.client import HTTPClient, HTTPClientPool
from geventhttpclient.connectionpool import ConnectionPool, SSLConnectionPool
from geventhttpclient.header import Headers
from geventhttpclient.response import HTTPConnectionClosed, HTTPParseError
from locust.contrib.fasthttp import (
    ErrorResponse,
    FastHttpSession,
    FastResponse,
    insecure_ssl_context_factory,
)

from harness.replay.exchange import Answer, Outgoing

#: the blocking ``select.select`` (the liveness check polls with a zero timeout: it never blocks,
#: and gevent's own ``select`` would yield to the hub on every pooled request)
_poll = get_original("select", "select")


class RequestTimeout(Exception):
    """The per-request timeout fired (our own class, so no library catches it by accident)."""


class ServerError(Exception):
    """A 5xx answer, reported to Locust as a failure (the harness counts it as an error)."""


def error_kind(exc: BaseException) -> str:
    """The ``error`` column value for an exception raised by a send."""
    if isinstance(exc, RequestTimeout | TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "reset"
    if isinstance(exc, HTTPConnectionClosed):
        return "reset"
    if isinstance(exc, HTTPParseError) and "closed" in str(exc):
        return "reset"
    return "other"


#: the request timeout is checked this often (at most; 1/20 of a shorter timeout)
TIMEOUT_CHECK_S = 0.05


class _Clock:
    """The connection clocks of one request in flight (filled by :class:`_TimedPool`) and its
    deadline (for :class:`_Deadlines`)."""

    __slots__ = ("asked_ns", "connect_ns", "deadline_ns", "got_ns", "sock")

    def __init__(self, deadline_ns: int = 0) -> None:
        self.asked_ns = 0
        self.got_ns = 0
        self.connect_ns = 0
        self.sock: Any = None
        self.deadline_ns = deadline_ns


class _Deadlines:
    """The per-request timeout of a session: one periodic check instead of a timer per request.

    The session's clocks (greenlet -> :class:`_Clock` of its request in flight) are a dict in
    the order the requests started, and every request has the same timeout, so the expired ones
    are at its front: a libev timer every :data:`TIMEOUT_CHECK_S` (or 1/20 of the timeout)
    throws :class:`RequestTimeout` into the greenlet of each (from the hub, as
    ``gevent.Timeout`` does). A request is ended between its timeout and its timeout plus the
    check interval. A ``gevent.Timeout`` per request cost ~4 us of CPU (start, cancel, close);
    nothing is kept per request beyond its clock, which goes when its request ends.
    """

    def __init__(self, clocks: dict[Any, _Clock], timeout_s: float) -> None:
        self.clocks = clocks
        self.timeout_ns = int(timeout_s * 1e9)
        self.every_s = min(TIMEOUT_CHECK_S, timeout_s / 20)
        self._timer: Any = None

    def start(self, owner: Any) -> _Clock:
        """The clock of a request starting now in greenlet ``owner``, registered in flight."""
        clock = _Clock(time.monotonic_ns() + self.timeout_ns)
        self.clocks[owner] = clock  # removed when the request ends: the dict is in start order
        if self._timer is None:
            self._timer = gevent.get_hub().loop.timer(self.every_s, self.every_s)
            self._timer.ref = False  # never keeps the loop alive on its own
            self._timer.start(self._expire)
        return clock

    def _expire(self) -> None:
        now = time.monotonic_ns()
        expired = []
        for owner, clock in self.clocks.items():
            if clock.deadline_ns > now:
                break
            expired.append((owner, clock))
        for owner, clock in expired:
            if self.clocks.get(owner) is clock:  # still in that request
                owner.throw(RequestTimeout)

    def close(self) -> None:
        """Stop the check (requests still in flight are no longer bounded)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer.close()
            self._timer = None


class _TimedPool(ConnectionPool):
    """geventhttpclient's pool, stamping the clock of the greenlet that asks for a socket."""

    clocks: dict[Any, _Clock]

    def get_socket(self) -> Any:
        clock = self.clocks.get(gevent.getcurrent())
        if clock is not None and clock.asked_ns == 0:
            clock.asked_ns = time.monotonic_ns()
        self._semaphore.acquire()
        got = time.monotonic_ns()
        if clock is not None and clock.got_ns == 0:
            clock.got_ns = got
        if self._closed:
            self._semaphore.release()
            raise RuntimeError("connection pool closed")
        while not self._socket_queue.empty():
            sock = self._socket_queue.get(block=False)
            if self._is_socket_alive(sock):
                if clock is not None:
                    clock.sock = sock
                return sock
            sock.close()
        try:
            sock = self._create_socket()
        except BaseException:
            self._semaphore.release()
            raise
        finally:
            if clock is not None:
                clock.connect_ns += time.monotonic_ns() - got
        if clock is not None:
            clock.sock = sock
        return sock

    def _is_socket_alive(self, sock: Any) -> bool:
        """geventhttpclient's check (an idle keep-alive socket that is readable was closed by
        the server or holds stray bytes), without a switch to the hub on every request."""
        try:
            return sock is not None and sock.fileno() >= 0 and not _poll([sock], [], [], 0.0)[0]
        except (OSError, ValueError):
            return False

    def return_socket(self, sock: Any) -> None:
        self._forget(sock)
        super().return_socket(sock)

    def release_socket(self, sock: Any) -> None:
        self._forget(sock)
        super().release_socket(sock)

    def _forget(self, sock: Any) -> None:
        clock = self.clocks.get(gevent.getcurrent())
        if clock is not None and clock.sock is sock:
            clock.sock = None


class _TimedSSLPool(_TimedPool, SSLConnectionPool):
    """The same for https targets."""


class _TimedClient(HTTPClient):
    """An ``HTTPClient`` whose pool stamps clocks; no default headers (the capture's are sent)."""

    def __init__(self, *args: Any, clocks: dict[Any, _Clock], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pool: Any = self._connection_pool
        # the pool is built inside HTTPClient.__init__: give it the timed behaviour in place
        pool.__class__ = _TimedSSLPool if isinstance(pool, SSLConnectionPool) else _TimedPool
        pool.clocks = clocks
        self.default_headers = Headers()


class _TimedClientPool(HTTPClientPool):
    """Locust's client pool (one ``HTTPClient`` per host and port), making timed clients."""

    def __init__(self, clocks: dict[Any, _Clock], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clocks = clocks

    def get_client(self, url: Any) -> HTTPClient:
        from geventhttpclient.url import URL

        parsed = url if isinstance(url, URL) else URL(url)
        key = parsed.host, parsed.port
        client = self.clients.get(key)
        if client is None:
            client = _TimedClient.from_url(parsed, clocks=self.clocks, **self.client_args)
            self.clients[key] = client
        return client


class ReplayResponse(FastResponse):
    """The response handed to Locust listeners; ``content`` decodes the body kept by the
    sender (the raw bytes are what the harness hashes)."""

    raw = b""

    def _content(self) -> bytes:
        value = self.headers.get("content-encoding") if self.headers else None
        encoding = (value if isinstance(value, str) else "identity").lower()
        try:
            if encoding == "gzip":
                return zlib.decompress(self.raw, 16 + zlib.MAX_WBITS)
            if encoding == "deflate":
                return zlib.decompress(self.raw, -zlib.MAX_WBITS)
        except zlib.error:
            return self.raw
        return self.raw


class ReplaySession(FastHttpSession):
    """A ``FastHttpSession`` over several targets, each with its own pool of ``connections``.

    ``targets`` are base URLs (``http(s)://host[:port]``); :meth:`replay` names a target by its
    index. ``timeout_s`` bounds each replayed request as a whole: the wait for a connection,
    connecting, sending and reading the answer (ended within the check interval of
    :class:`_Deadlines` after it).
    """

    def __init__(
        self,
        request_event: Any,
        targets: Sequence[str],
        connections: int,
        timeout_s: float,
        user: Any = None,
    ) -> None:
        self.clocks: dict[Any, _Clock] = {}
        # Sockets have no timeout of their own once connected: the request's deadline
        # (:class:`_Deadlines`) bounds every read and write. A socket timeout armed a libev timer
        # (a ``gevent.Timeout``) on every recv and send that blocked: ~3 % of a worker's CPU at
        # 6,000 req/s, for a bound the deadline already holds. Connecting keeps its timeout (the
        # pool opens connections before t0 too, outside any request).
        pool = _TimedClientPool(
            self.clocks,
            concurrency=connections,
            connection_timeout=timeout_s,
            network_timeout=None,
            insecure=True,
            ssl_context_factory=insecure_ssl_context_factory,
        )
        super().__init__(
            base_url=targets[0] if len(targets) == 1 else None,
            request_event=request_event,
            user=user,
            client_pool=pool,
            connection_timeout=timeout_s,
            network_timeout=None,
        )
        self.connections = connections
        self.urls = list(targets)
        self.targets = [pool.get_client(url) for url in targets]
        self._epoch_ns = time.time_ns() - time.monotonic_ns()
        self._deadlines = _Deadlines(self.clocks, timeout_s)

    def warm_up(self, connections: int = 4) -> None:
        """Resolve each target and open a few connections (before t0, so the first requests do
        not pay for the resolver's thread pool and the TCP handshakes)."""
        for client in self.targets:
            pool = client._connection_pool
            socks = []
            try:
                for _ in range(min(connections, pool.size)):
                    socks.append(pool.get_socket())
            except Exception:  # an unreachable target shows up in the rows, not here
                pass
            for sock in socks:
                pool.return_socket(sock)

    def close(self) -> None:
        """Close every connection of every target."""
        for client in self.targets:
            client.close()
        self._deadlines.close()

    def replay(
        self,
        target: int,
        out: Outgoing,
        name: str,
        context: dict[str, Any],
    ) -> Answer:
        """Send ``out`` to target number ``target``; fire Locust's ``request`` event."""
        client = self.targets[target]
        me = gevent.getcurrent()
        clock = self._deadlines.start(me)
        start = time.monotonic_ns()
        status, error, body = 0, "none", b""
        answered: list[tuple[str, str]] = []
        exception: BaseException | None = None
        response = None
        headers = out.headers
        if isinstance(headers, list):  # (name, value) pairs from a hook: keep repeats and order
            headers = Headers()
            for pair in out.headers:
                headers.add(*pair)
        try:
            response = client.request(out.method, out.path, body=out.body, headers=headers)
            body = response.read()
            status = response.status_code
            answered = list(response.items())
        except (Exception, RequestTimeout) as exc:
            exception = exc
            error = error_kind(exc)
            if clock.sock is not None:  # interrupted while sending: the pool gets its slot back
                client._connection_pool.release_socket(clock.sock)
        finally:
            del self.clocks[me]
        end = time.monotonic_ns()
        sent = clock.got_ns or end
        # a request that never got a slot waited from asking for one (or from the start) to now
        asked = clock.asked_ns or start
        answer = Answer(
            status=status,
            error=error,
            headers=answered,
            body=body,
            sent_ns=sent,
            end_ns=end,
            queue_ns=sent - asked,
            connect_ns=clock.connect_ns,
            exception=exception,
        )
        self._fire(target, out, name, context, answer, response=response)
        return answer

    def _fire(
        self,
        target: int,
        out: Outgoing,
        name: str,
        context: dict[str, Any],
        answer: Answer,
        *,
        response: Any,
    ) -> None:
        failure: BaseException | None
        if answer.exception is not None or response is None:
            failure = answer.exception or RuntimeError("no response")
            shown: FastResponse = ErrorResponse(None, failure)  # type: ignore[arg-type]
        else:
            failure = ServerError(f"HTTP {answer.status}") if answer.status >= 500 else None
            shown = ReplayResponse(response)
            shown.raw = answer.body
        context["queue_ms"] = answer.queue_ns / 1e6
        context["connect_ms"] = answer.connect_ns / 1e6
        self.request_event.fire(
            request_type=out.method,
            name=name,
            response_time=(answer.end_ns - answer.sent_ns) / 1e6,
            response_length=len(answer.body),
            response=shown,
            context=context,
            exception=failure,
            start_time=(answer.sent_ns + self._epoch_ns) / 1e9,
            url=self.urls[target] + out.path,
        )
