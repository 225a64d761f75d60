"""Command lines of a stack file: which placeholders they may use, checked early, filled late.

A target's command (``builds:``, ``command:``, ``cmd:`` on the command line) and its ``env``
values may use :data:`TARGET_PLACEHOLDERS`; a ``postgres.migrate`` command and its ``env`` may
use :data:`MIGRATE_PLACEHOLDERS` (the template database itself, not a clone behind a proxy).
``{{`` and ``}}`` are literal braces. Every path a placeholder gives is absolute, so
``{stack_dir}/../venv/bin/uvicorn`` works whatever the working directory.

>>> command_problems("app --port {port} --db {pg.url}", ("port", "postgres.url"))
['unknown placeholder {pg.url} (known: {port}, {postgres.url})']
>>> fill_placeholders("--port {port} {{literal}}", {"port": "8001"})
'--port 8001 {literal}'
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

from harness.errors import StackFileError

#: Placeholders of a target's command line and environment.
TARGET_PLACEHOLDERS: tuple[str, ...] = (
    "port",
    "python",
    "name",
    "stack_dir",
    "postgres.url",
    "postgres.host",
    "postgres.port",
    "postgres.dbname",
)
#: Placeholders of a ``postgres.migrate`` command (run once, on the template database).
MIGRATE_PLACEHOLDERS: tuple[str, ...] = (
    "python",
    "stack_dir",
    "postgres.url",
    "postgres.host",
    "postgres.port",
    "postgres.dbname",
)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def _unescaped(text: str) -> str:
    return text.replace("{{", "\0L").replace("}}", "\0R")


def _escaped(text: str) -> str:
    return text.replace("\0L", "{").replace("\0R", "}")


def known_list(names: tuple[str, ...]) -> str:
    """``{a}, {b}, ...`` for messages."""
    return ", ".join("{" + n + "}" for n in names)


def unknown_placeholders(text: str, allowed: tuple[str, ...]) -> list[str]:
    """Placeholders in ``text`` that are not in ``allowed``, in order of appearance."""
    found = _PLACEHOLDER.finditer(_unescaped(text))
    return [m.group(0) for m in found if m.group(1) not in allowed]


def command_problems(command: str, allowed: tuple[str, ...]) -> list[str]:
    """What is wrong with a command line: shell quoting, emptiness, unknown placeholders."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return [f"cannot split the command into words: {exc}"]
    if not argv:
        return ["the command is empty"]
    return [
        f"unknown placeholder {name} (known: {known_list(allowed)})"
        for name in unknown_placeholders(command, allowed)
    ]


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders; an unknown one is a stack-file error listing the known."""

    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            known = ", ".join("{" + k + "}" for k in sorted(values))
            raise StackFileError(f"unknown placeholder {{{key}}} in command (known: {known})")
        return values[key]

    return _escaped(_PLACEHOLDER.sub(sub, _unescaped(text)))


def command_argv(command: str, values: dict[str, str]) -> list[str]:
    """The argument vector of ``command`` (split like a shell would, no shell run), filled in."""
    try:
        parts = shlex.split(command)
    except ValueError as exc:
        raise StackFileError(f"cannot split command {command!r} into arguments ({exc})") from None
    return [fill_placeholders(part, values) for part in parts]


def program_problem(argv: list[str], cwd: Path, environ: dict[str, str]) -> str | None:
    """Why ``argv[0]`` cannot be started from ``cwd`` (None when it can).

    A program with a ``/`` is a path (relative ones from ``cwd``); any other is looked up on
    the ``PATH`` of ``environ``, as ``exec`` would.
    """
    program = argv[0]
    if "/" in program:
        full = Path(os.path.normpath(cwd / program))
        if not full.exists():
            return f"no such file: {full}"
        if full.is_dir() or not os.access(full, os.X_OK):
            return f"not an executable file: {full}"
        return None
    if shutil.which(program, path=environ.get("PATH", os.defpath)) is None:
        return f"{program}: command not found on PATH"
    return None
