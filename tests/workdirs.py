"""Work folders for tests that run the embedded PostgreSQL.

pgserver runs PostgreSQL as an unprivileged user when the tests run as root, and that user
cannot enter pytest's private (0700) ``tmp_path`` root: a run directory or stack work dir that
holds a database cluster must live in a folder of its own under the system's temp dir.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def reachable_tmpdir(name: str) -> Iterator[Path]:
    """A fresh folder ``harness-test-NAME-*`` outside pytest's tmp root, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"harness-test-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
