"""Waiting on a condition instead of a fixed sleep: fast when things are fast, patient when the
machine is loaded, and a clear failure when the condition never comes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, every: float = 0.02) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (its last value)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def event_count(path: Path, kind: str) -> int:
    """How many events of ``kind`` an ``events.jsonl`` holds so far (0 before it exists)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return 0
    return sum(1 for line in lines if line.strip() and json.loads(line)["kind"] == kind)
