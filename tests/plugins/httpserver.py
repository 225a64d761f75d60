"""pytest fixtures: httpserver (real component, started and stopped by the fixture).

A real HTTP/1.1 server on 127.0.0.1 (a thread of the test process, one thread per connection)
that records every arrival (monotonic and wall time, method, path, headers, body) and can delay
its answer for chosen paths. ``http_server`` yields one; ``make_http_server`` makes more (each
stopped in teardown).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Arrival:
    """One request as the server saw it arrive (times taken when its head was parsed)."""

    mono_ns: int
    wall_ns: int
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class RecordingServer:
    """One recording server: ``url``, ``arrivals``, ``delay``, ``answer``, ``drop``, ``stop``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrivals: list[Arrival] = []
        self._delays: dict[str, float] = {}
        self._answers: dict[str, tuple[int, dict[str, str]]] = {}
        self._drops: set[str] = set()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 30

            def _handle(self) -> None:
                mono, wall = time.monotonic_ns(), time.time_ns()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder._record(
                    Arrival(mono, wall, self.command, self.path, list(self.headers.items()), body)
                )
                pause = recorder._delay_for(self.path)
                if pause:
                    time.sleep(pause)
                if recorder._dropped(self.path):
                    self.close_connection = True  # hang up without an answer
                    return
                status, extra = recorder._answer_for(self.path)
                payload = f"{self.command} {self.path} {len(body)}".encode()
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass  # the arrivals are the log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _record(self, arrival: Arrival) -> None:
        with self._lock:
            self._arrivals.append(arrival)

    def _delay_for(self, path: str) -> float:
        with self._lock:
            for prefix, seconds in self._delays.items():
                if path.startswith(prefix):
                    return seconds
        return 0.0

    def _answer_for(self, path: str) -> tuple[int, dict[str, str]]:
        with self._lock:
            for prefix, answer in self._answers.items():
                if path.startswith(prefix):
                    return answer
        return 200, {}

    def _dropped(self, path: str) -> bool:
        with self._lock:
            return any(path.startswith(prefix) for prefix in self._drops)

    def answer(self, prefix: str, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer requests whose path starts with ``prefix`` with ``status`` and ``headers``."""
        with self._lock:
            self._answers[prefix] = (status, dict(headers or {}))

    def drop(self, prefix: str) -> None:
        """Close the connection without answering requests whose path starts with ``prefix``."""
        with self._lock:
            self._drops.add(prefix)

    @property
    def arrivals(self) -> list[Arrival]:
        with self._lock:
            return list(self._arrivals)

    def delay(self, prefix: str, seconds: float) -> None:
        """Answer requests whose path starts with ``prefix`` after ``seconds``."""
        with self._lock:
            self._delays[prefix] = seconds

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def make_http_server() -> Iterator[Callable[[], RecordingServer]]:
    """A factory of recording servers; every server made is stopped in teardown."""
    servers: list[RecordingServer] = []

    def make() -> RecordingServer:
        server = RecordingServer()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def http_server(make_http_server: Callable[[], RecordingServer]) -> RecordingServer:
    """One recording HTTP server on 127.0.0.1 (stopped in teardown)."""
    return make_http_server()
