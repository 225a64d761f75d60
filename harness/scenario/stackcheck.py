"""Checks of a loaded stack file that need more than its shape: paths and command lines.

Run by :func:`harness.scenario.stackfile.load_stack`, so ``lint``, ``stack up`` and every run
fail before starting anything, with the file and line of the offending key (exit 3):

- every path (``init_sql``, ``init_dump``, ``cwd``) exists, relative to the stack file;
- every ``migrate`` command splits into words and uses only known placeholders, and so do the
  ``env`` values given as strings (``builds`` and ``command`` are checked by ``load_stack``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.scenario.stackcommands import (
    MIGRATE_PLACEHOLDERS,
    TARGET_PLACEHOLDERS,
    command_problems,
    known_list,
    unknown_placeholders,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from harness.scenario.stackfile import EnvValue, Stack
    from harness.scenario.yamlfile import Loc, YamlDocument


def check_stack(stack: Stack, doc: YamlDocument) -> None:
    """Raise the stack file's error (file:line: key: message) for the first problem found."""
    for loc, message in stack_problems(stack):
        raise doc.fail(loc, message)


def stack_problems(stack: Stack) -> list[tuple[Loc, str]]:
    """Every problem found, as (location of the key, message)."""
    problems: list[tuple[Loc, str]] = []
    pg = stack.file.postgres
    if pg.init_sql is not None:
        full = stack.resolve_path(pg.init_sql)
        if not full.is_file():
            problems.append((("postgres", "init_sql"), f"no such file: {full}"))
    if pg.init_dump is not None:
        full = stack.resolve_path(pg.init_dump)
        if not full.exists():
            problems.append((("postgres", "init_dump"), f"no such file or directory: {full}"))
    for i, step in enumerate(pg.migrate):
        loc: Loc = ("postgres", "migrate", i)
        problems += [((*loc, "run"), m) for m in command_problems(step.run, MIGRATE_PLACEHOLDERS)]
        problems += _env_problems(step.env, (*loc, "env"), MIGRATE_PLACEHOLDERS)
        problems += _dir_problems(stack, step.cwd, (*loc, "cwd"))
    defaults = stack.file.defaults
    problems += _dir_problems(stack, defaults.cwd, ("defaults", "cwd"))
    problems += _env_problems(defaults.env, ("defaults", "env"), TARGET_PLACEHOLDERS)
    for name, target in stack.file.targets.items():
        loc = ("targets", name)
        problems += _dir_problems(stack, target.cwd, (*loc, "cwd"))
        problems += _env_problems(target.env, (*loc, "env"), TARGET_PLACEHOLDERS)
    return problems


def _dir_problems(stack: Stack, value: Path | None, loc: Loc) -> list[tuple[Loc, str]]:
    if value is None:
        return []
    full = stack.resolve_path(value)
    return [] if full.is_dir() else [(loc, f"no such directory: {full}")]


def _env_problems(
    env: Mapping[str, EnvValue], loc: Loc, allowed: tuple[str, ...]
) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    for key, value in env.items():
        if isinstance(value, str):
            for name in unknown_placeholders(value, allowed):
                message = f"unknown placeholder {name} (known: {known_list(allowed)})"
                problems.append(((*loc, key), message))
    return problems
