"""An HTTP/1.1 keep-alive server with a fixed pool of worker threads.

One I/O thread accepts connections and reads them; each complete request is queued for a fixed
number of worker threads, and requests wait in that queue when every worker is busy. A slow
request therefore delays every request behind it, including ones that never touch the
database: that bound is what lets a retry storm cascade into ``/health``.

When ``queue_limit`` requests already wait, a new one is answered 503 at once by the I/O thread
(like a servlet container's accept queue): overload then shows as errors, not only as waiting.
Paths in ``inline_paths`` (``/metrics``) are answered by the I/O thread itself, the way many
services serve metrics on an admin listener, so the harness can still read the counters while
the workers are saturated. While a worker handles a request, its connection is not read; the
connection goes back to the I/O thread once the answer is sent.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .metrics import Metrics

log = logging.getLogger("payments.server")

#: answer(raw request, client address, monotonic time it was read, whether to shed it)
#: -> (response bytes, close the connection)
Answer = Callable[[bytes, tuple[str, int], float, bool], tuple[bytes, bool]]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 1024 * 1024
_WRITE_TIMEOUT = 5.0
_IDLE_TIMEOUT = 75.0  # an idle keep-alive connection is closed after this many seconds


@dataclass(eq=False)
class _Client:
    sock: socket.socket
    address: tuple[str, int]
    buffer: bytearray = field(default_factory=bytearray)
    busy: bool = False
    last_active: float = field(default_factory=time.monotonic)


class FramingError(Exception):
    """The bytes on a connection are not a request this server accepts."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def request_length(buffer: bytearray) -> int | None:
    """Length of the first complete request in ``buffer``, or None while it is incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > _MAX_HEAD:
            raise FramingError(431, "Request Header Fields Too Large")
        return None
    length = 0
    for line in bytes(buffer[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            if not value.strip().isdigit():
                raise FramingError(400, "Bad Request")
            length = int(value.strip())
        elif name == b"transfer-encoding":
            raise FramingError(411, "Length Required")
    if length > _MAX_BODY:
        raise FramingError(413, "Content Too Large")
    total = end + 4 + length
    return total if len(buffer) >= total else None


class WorkerPoolServer:
    """Serves HTTP/1.1 on ``host:port`` with ``workers`` threads; see the module docstring."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        workers: int,
        queue_limit: int,
        answer: Answer,
        metrics: Metrics,
        inline_paths: frozenset[str] = frozenset({"/metrics"}),
    ) -> None:
        self._answer = answer
        self._queue_limit = queue_limit
        self._metrics = metrics
        self._inline = {b"GET " + p.encode() + b" " for p in inline_paths}
        self._listener = socket.create_server((host, port), backlog=1024, reuse_port=False)
        self._listener.setblocking(False)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._returns: deque[tuple[_Client, bool]] = deque()
        self._queue: queue.Queue[tuple[_Client, bytes, float] | None] = queue.Queue()
        self._clients: set[_Client] = set()
        self._stopping = threading.Event()
        self._io = threading.Thread(target=self._io_loop, name="http-io", daemon=True)
        self._workers = [
            threading.Thread(target=self._work, name=f"worker-{n}", daemon=True)
            for n in range(workers)
        ]

    def start(self) -> None:
        for thread in self._workers:
            thread.start()
        self._io.start()

    def stop(self, grace: float) -> None:
        """Stop reading; let the workers finish queued requests for up to ``grace`` seconds."""
        self._stopping.set()
        self._wake()
        self._io.join(timeout=1.0)
        for _ in self._workers:
            self._queue.put(None)
        deadline = time.monotonic() + grace
        for thread in self._workers:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for client in list(self._clients):
            with contextlib.suppress(OSError):
                client.sock.close()

    # --- I/O thread ---------------------------------------------------------------------
    def _io_loop(self) -> None:
        sel = self._selector
        sel.register(self._listener, selectors.EVENT_READ, "accept")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        next_sweep = time.monotonic() + 1.0
        while not self._stopping.is_set():
            for key, _ in sel.select(timeout=0.5):
                if key.data == "accept":
                    self._accept()
                elif key.data == "wake":
                    self._take_back()
                else:
                    self._read(key.data)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + 1.0
                self._close_idle()
        sel.close()
        self._listener.close()
        for client in list(self._clients):
            if not client.busy:
                self._close(client)

    def _close_idle(self) -> None:
        cutoff = time.monotonic() - _IDLE_TIMEOUT
        for client in list(self._clients):
            if not client.busy and client.last_active < cutoff:
                self._close(client)

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, address = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of file descriptors: keep serving the others
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = _Client(sock, address[:2])
            self._clients.add(client)
            self._selector.register(sock, selectors.EVENT_READ, client)

    def _read(self, client: _Client) -> None:
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(client)
            return
        client.buffer += data
        client.last_active = time.monotonic()
        self._dispatch(client)

    def _dispatch(self, client: _Client) -> None:
        try:
            length = request_length(client.buffer)
        except FramingError as exc:
            body = f"{exc.status} {exc.reason}\n".encode()
            head = f"HTTP/1.1 {exc.status} {exc.reason}\r\nContent-Length: {len(body)}\r\n"
            with contextlib.suppress(OSError):
                client.sock.send(head.encode() + b"Connection: close\r\n\r\n" + body)
            self._close(client)
            return
        if length is None:
            return
        raw = bytes(client.buffer[:length])
        del client.buffer[:length]
        client.busy = True
        self._selector.unregister(client.sock)
        self._metrics.inflight.inc()
        received = time.monotonic()
        if any(raw.startswith(prefix) for prefix in self._inline):
            self._serve(client, raw, received)
        elif self._queue.qsize() >= self._queue_limit:
            self._serve(client, raw, received, overloaded=True)
        else:
            self._metrics.queued.inc()
            self._queue.put((client, raw, received))

    def _take_back(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass
        while self._returns:
            client, close = self._returns.popleft()
            if close:
                self._close(client)
                continue
            client.busy = False
            client.last_active = time.monotonic()
            try:
                client.sock.setblocking(False)
                self._selector.register(client.sock, selectors.EVENT_READ, client)
            except (OSError, ValueError):
                self._close(client)
                continue
            self._dispatch(client)  # a pipelined request may already be buffered

    def _close(self, client: _Client) -> None:
        self._clients.discard(client)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(client.sock)
        with contextlib.suppress(OSError):
            client.sock.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    # --- workers ------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._metrics.queued.dec()
            self._serve(*item)

    def _serve(
        self, client: _Client, raw: bytes, received: float, *, overloaded: bool = False
    ) -> None:
        try:
            data, close = self._answer(raw, client.address, received, overloaded)
        except Exception:
            log.exception("request failed")
            body = b'{"error":"internal error"}\n'
            data = (
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
            )
            close = True
        try:
            client.sock.settimeout(_WRITE_TIMEOUT)
            client.sock.sendall(data)
        except OSError:
            close = True  # the client went away, perhaps after giving up on us
        self._metrics.inflight.dec()
        if self._stopping.is_set():
            self._clients.discard(client)
            with contextlib.suppress(OSError):
                client.sock.close()
            return
        self._returns.append((client, close))
        self._wake()
