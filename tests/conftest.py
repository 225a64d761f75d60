"""Shared pytest configuration: fixtures for real components live in tests/plugins/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.statedir import STATE_DIR_VARIABLE

pytest_plugins = [
    "tests.plugins.toxiproxy",
    "tests.plugins.postgres",
    "tests.plugins.httpserver",
]


@pytest.fixture(autouse=True, scope="session")
def harness_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A state directory of this test session's own (saved tracebacks, the stack ledger), so
    the tests neither write into the user's ~/.local/state nor see another session's stacks;
    subprocesses inherit it through the environment."""
    path = tmp_path_factory.mktemp("harness-state")
    before = os.environ.get(STATE_DIR_VARIABLE)
    os.environ[STATE_DIR_VARIABLE] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop(STATE_DIR_VARIABLE, None)
        else:
            os.environ[STATE_DIR_VARIABLE] = before
