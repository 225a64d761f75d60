"""Connections each toxiproxy proxy accepted, counted from the server's log as it grows.

Every connection a target opens to its database goes through its proxy, and toxiproxy logs an
``Accepted client`` line for each (parsed by
:func:`harness.stack.toxiproxy_server.count_accepted_connections`). This reader keeps its place
in the log and parses only what was appended since the last read, so sampling stays cheap
however long the run. An external toxiproxy (``TOXIPROXY_URL``) has no log here: the probe then
fails (and is counted as failing) instead of reporting zeros.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from harness.stack.toxiproxy_server import count_accepted_connections


class AcceptedConnections:
    """A callable ``proxy name -> connections accepted so far``; thread-safe."""

    def __init__(self, log_path: Path | None) -> None:
        self.log_path = log_path
        self._offset = 0
        self._partial = b""
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, proxy: str) -> int:
        with self._lock:
            self._catch_up()
            return self._counts[proxy]

    def _catch_up(self) -> None:
        if self.log_path is None:
            raise FileNotFoundError("toxiproxy is external: its log is not readable here")
        with self.log_path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        complete, _, self._partial = data.rpartition(b"\n")  # keep a half-written last line
        if complete:
            text = complete.decode("utf-8", errors="replace")
            self._counts.update(count_accepted_connections(text))
