"""The stack's state file (``stack.json``) is replaced whole: a reader never sees half of it.

Under load a test read it between its truncation and its write and got an empty file (the
SIGKILL campaign in tests/workflows/test_run.py); ``stack status`` and ``stack down`` read it
the same way.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harness.stack.runtime import STATE_FILE, StackRuntime


def test_readers_never_see_a_partial_state_file(tmp_path: Path) -> None:
    big = {"targets": {f"t{i}": {"url": "http://127.0.0.1:1" + "x" * 200} for i in range(200)}}
    runtime: Any = SimpleNamespace(work_dir=tmp_path, state=lambda: big)
    path = StackRuntime.write_state(runtime)
    assert path == tmp_path / STATE_FILE
    bad: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            text = path.read_text(encoding="utf-8")
            try:
                json.loads(text)
            except ValueError:
                bad.append(text[:40])

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(300):
            StackRuntime.write_state(runtime)
    finally:
        done.set()
        reader.join()
    assert bad == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE]  # nothing left aside
