"""Running a service until SIGTERM or SIGINT: its log on stdout, its server and database pool
started, and on the signal both stopped, the server letting its requests finish for a grace
period. Shared by the payments service and the notes example, which differ only in what they
answer."""

from __future__ import annotations

import io
import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from .metrics import Metrics
from .pool import ConnectionPool
from .server import Answer, WorkerPoolServer


def log_to_stdout() -> None:
    """INFO and above on stdout, a line at a time (a stack's log file sees it at once)."""
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)


def serve_until_signalled(
    *,
    host: str,
    port: int,
    workers: int,
    queue_limit: int,
    answer: Answer,
    metrics: Metrics,
    pool: ConnectionPool,
    grace: float,
    log: logging.Logger,
    listening: Callable[[str, int], str],
) -> int:
    """Serve ``answer`` on ``host:port`` until SIGTERM or SIGINT; the exit code (1: cannot
    listen). ``listening(host, port)`` is the line logged once the server is up."""
    try:
        server = WorkerPoolServer(
            host, port, workers=workers, queue_limit=queue_limit, answer=answer, metrics=metrics
        )
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror or exc)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s received: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    pool.start()
    server.start()
    log.info("%s", listening(*server.address))
    while not stop.wait(0.5):
        pass
    server.stop(grace=grace)
    pool.close()
    log.info("stopped")
    return 0
