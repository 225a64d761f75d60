"""Shared pytest configuration: fixtures for real components live in tests/plugins/."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.statedir import STATE_DIR_VARIABLE

pytest_plugins = [
    "tests.plugins.toxiproxy",
    "tests.plugins.postgres",
    "tests.plugins.httpserver",
]

# A suite started as a background job of a non-interactive shell (`nohup make test &`, some CI
# runners) inherits SIGINT as ignored, and so would every process it starts: the tests that
# stop a child with SIGINT (Ctrl-C) would wait for it in vain. A signal with a handler is reset
# to its default in a child, so handling it here gives every child the usual Ctrl-C.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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
