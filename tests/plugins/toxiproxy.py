"""pytest fixtures: toxiproxy (real component, started and stopped by the fixture).

- ``toxiproxy_server`` (session): a real ``toxiproxy-server`` on a free port (or the one at
  ``TOXIPROXY_URL``), stopped at the end of the session.
- ``toxiproxy`` (function): a client to it that remembers the proxies it creates and deletes
  them after the test. It never touches a proxy it did not create: ``TOXIPROXY_URL`` may name a
  shared (staging) server whose proxies are not the test's business.
- ``tcp_upstream`` (function): a factory of small threaded TCP servers on 127.0.0.1 (echo, or
  greet-and-close) for proxies to point at; all stopped in teardown.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator, Sequence

import pytest

from harness.errors import ToxiproxyError
from harness.stack.toxics import Proxy, ProxyConfig
from harness.stack.toxiproxy import ToxiproxyClient
from harness.stack.toxiproxy_server import ToxiproxyServer

Handler = Callable[[socket.socket], None]


def echo(conn: socket.socket) -> None:
    """Send back every byte received, until the client closes."""
    while data := conn.recv(65536):
        conn.sendall(data)


def greet_and_close(conn: socket.socket) -> None:
    """Send ``hello`` and close at once (the upstream ends the connection)."""
    conn.sendall(b"hello")


class TcpUpstream:
    """A threaded TCP server on 127.0.0.1 running ``handler`` for each connection.

    ``stop()`` closes the listener and every open connection, then joins the threads, so no
    thread outlives the test even when a toxic holds a connection open.
    """

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.accepted = 0
        self._connections: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._connections.append(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._handler(conn)
        except OSError:
            pass  # the peer reset or the test is tearing down
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=2)
        self._listener.close()
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):  # already closed by its handler
                    conn.shutdown(socket.SHUT_RDWR)
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=2)


@pytest.fixture(scope="session")
def toxiproxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToxiproxyServer]:
    """A real toxiproxy server for the whole session (or the one at ``TOXIPROXY_URL``)."""
    log_path = tmp_path_factory.mktemp("toxiproxy") / "toxiproxy.log"
    with ToxiproxyServer(log_path=log_path) as server:
        yield server


class TrackingClient(ToxiproxyClient):
    """A client that remembers the proxies created through it (:meth:`delete_created`)."""

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(url, timeout=timeout)
        self.created: list[str] = []

    def create_proxy(self, name: str, listen: str, upstream: str, *, enabled: bool = True) -> Proxy:
        proxy = super().create_proxy(name, listen, upstream, enabled=enabled)
        self.created.append(name)
        return proxy

    def populate(self, proxies: Sequence[ProxyConfig]) -> list[Proxy]:
        existing = set(self.list_proxies())
        populated = super().populate(proxies)
        self.created += [p.name for p in populated if p.name not in existing]
        return populated

    def delete_created(self) -> None:
        """Delete every proxy this client created that still exists (and only those)."""
        for name in dict.fromkeys(self.created):
            try:
                self.delete_proxy(name)
            except ToxiproxyError as exc:
                if exc.status != 404:  # deleted by the test itself
                    raise
        self.created.clear()


@pytest.fixture
def toxiproxy(toxiproxy_server: ToxiproxyServer) -> Iterator[TrackingClient]:
    """A client to the session's server; the proxies it creates are deleted after the test."""
    with TrackingClient(toxiproxy_server.url, timeout=5.0) as client:
        try:
            yield client
        finally:
            client.delete_created()


@pytest.fixture
def tcp_upstream() -> Iterator[Callable[..., TcpUpstream]]:
    """A factory ``tcp_upstream(handler=echo)`` of upstream servers, all stopped in teardown."""
    started: list[TcpUpstream] = []

    def start(handler: Handler = echo) -> TcpUpstream:
        upstream = TcpUpstream(handler)
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        upstream.stop()
