"""pytest fixtures: postgres (real component, started and stopped by the fixture).

One embedded PostgreSQL server serves the whole test session; tests create their own databases
on it (use unique names, e.g. from the test's name) instead of starting servers of their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.stack.postgres import EmbeddedPostgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    """A started embedded PostgreSQL on 127.0.0.1 (temporary data dir), stopped at session end."""
    server = EmbeddedPostgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()
