"""Where the harness keeps what outlives one command: saved tracebacks and the stack ledger.

``$HARNESS_STATE_DIR`` when set, else ``$XDG_STATE_HOME/harness``, else
``~/.local/state/harness`` (the XDG base-directory default). When none of these can be created
(a read-only home, no home at all), ``<tmp>/harness-state-<uid>`` is used instead, so a crash
report or a record of running processes is never lost for want of a directory.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: Environment variable that overrides the state directory (tests point it at a temporary one).
STATE_DIR_VARIABLE = "HARNESS_STATE_DIR"


def state_dir(environ: Mapping[str, str] | None = None, *, create: bool = True) -> Path:
    """The state directory (see the module docs), created (mode 0700) unless ``create`` is off."""
    env = os.environ if environ is None else environ
    chosen = _configured(env)
    if not create:
        return chosen
    try:
        chosen.mkdir(parents=True, exist_ok=True, mode=0o700)
        return chosen
    except OSError:
        fallback = Path(tempfile.gettempdir()) / f"harness-state-{os.getuid()}"
        fallback.mkdir(parents=True, exist_ok=True, mode=0o700)
        return fallback


def _configured(env: Mapping[str, str]) -> Path:
    if env.get(STATE_DIR_VARIABLE):
        return Path(env[STATE_DIR_VARIABLE]).expanduser()
    if env.get("XDG_STATE_HOME"):
        return Path(env["XDG_STATE_HOME"]).expanduser() / "harness"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "state" / "harness"
