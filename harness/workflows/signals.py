"""SIGINT and SIGTERM as a stop request: the work in progress ends early and keeps its results."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


@contextlib.contextmanager
def signals_to_stop() -> Iterator[tuple[threading.Event, list[int]]]:
    """SIGINT/SIGTERM set ``stop`` (the replay ends early, partial results are kept)."""
    stop = threading.Event()
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield stop, received
        return
    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop, received
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
