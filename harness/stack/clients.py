"""PostgreSQL client programs (``psql``, ``pg_restore``): the newest one at hand.

The ``pgserver`` wheel brings its own (the embedded server's version); the machine may have
others on ``PATH``. A dump loads with a client at least as new as the ``pg_dump`` that made it,
so the newest of them is used.

>>> client_program("psql")  # doctest: +SKIP
PosixPath('/…/site-packages/pgserver/pginstall/bin/psql')
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from harness.errors import DatabaseError
from harness.stack.pg_embedded import bin_dir

_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def client_version(program: Path) -> tuple[int, int] | None:
    """``(major, minor)`` that ``program --version`` reports, None when it does not run."""
    try:
        done = subprocess.run(
            [str(program), "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    found = _VERSION.search(done.stdout)
    if done.returncode != 0 or found is None:
        return None
    return int(found.group(1)), int(found.group(2) or 0)


@functools.cache
def client_program(name: str, search_path: str | None = None) -> Path:
    """The newest working ``name`` among pgserver's bundled binaries and ``PATH``."""
    candidates: list[Path] = []
    with contextlib.suppress(DatabaseError):  # no pgserver: PATH only
        candidates.append(bin_dir() / name)
    on_path = shutil.which(name, path=search_path or os.environ.get("PATH", os.defpath))
    if on_path is not None:
        candidates.append(Path(on_path))
    best: tuple[tuple[int, int], Path] | None = None
    for candidate in candidates:
        version = client_version(candidate)
        if version is not None and (best is None or version > best[0]):
            best = (version, candidate)
    if best is None:
        raise DatabaseError(
            f"no working {name} found (looked in the pgserver package and on PATH); "
            "reinstall with `make setup` or install the PostgreSQL client programs"
        )
    return best[1]
