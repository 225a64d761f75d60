"""Placeholders in the commands of a timeline's ``run:`` actions.

=============================  =====================================================================
``{python}``                   the Python running the harness (has psycopg: ``{python} -m ...``)
``{run_dir}``                  the run directory (absolute)
``{scenario_dir}``             the directory of the scenario file (absolute)
``{postgres.url}``             DSN of the target's own database, DIRECT to the server (not through
                               its proxy: an operator's migration does not go through the fault)
``{postgres.dbname}``          the target's database name
``{postgres.host}`` / ``.port``  the database server's address
``{target.url}``               the target's base URL
``{target.name}``              the target's name
=============================  =====================================================================

The per-target ones take a target name, ``{postgres.url:candidate}``; without it the command
runs once per target (all, or those in the action's ``targets``), each with its own values.
``{{`` and ``}}`` are literal braces; shell ``${VAR}`` is left alone. The same values are in the
command's environment: ``HARNESS_RUN_DIR``, ``HARNESS_PG_URL_<TARGET>``,
``HARNESS_TARGET_URL_<TARGET>`` (target names upper-cased, ``-`` and ``.`` as ``_``), and for a
per-target run ``HARNESS_TARGET``, ``HARNESS_PG_URL`` and ``HARNESS_TARGET_URL``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PLACEHOLDER = re.compile(r"(?<!\$)\{([a-z_]+(?:\.[a-z_]+)?)(?::([A-Za-z0-9_.-]+))?\}")

GLOBAL_KEYS: frozenset[str] = frozenset({"python", "run_dir", "scenario_dir"})
TARGET_KEYS: frozenset[str] = frozenset(
    {
        "postgres.url",
        "postgres.dbname",
        "postgres.host",
        "postgres.port",
        "target.url",
        "target.name",
    }
)


@dataclass(frozen=True)
class Placeholder:
    """One ``{key}`` or ``{key:target}`` found in a command."""

    key: str
    target: str | None
    text: str


def find_placeholders(command: str) -> list[Placeholder]:
    """Every placeholder in ``command`` (escaped ``{{...}}`` excluded)."""
    unescaped = command.replace("{{", "\0\0").replace("}}", "\0\0")
    return [
        Placeholder(m.group(1), m.group(2), m.group(0)) for m in _PLACEHOLDER.finditer(unescaped)
    ]


def placeholder_problems(command: str, targets: set[str] | None) -> list[str]:
    """What is wrong with the placeholders of ``command`` (unknown keys or target names)."""
    problems = []
    for found in find_placeholders(command):
        if found.key not in GLOBAL_KEYS | TARGET_KEYS:
            known = ", ".join(sorted(GLOBAL_KEYS | TARGET_KEYS))
            problems.append(f"unknown placeholder {found.text} (known: {known})")
        elif found.target is not None and found.key in GLOBAL_KEYS:
            problems.append(f"{found.text}: {{{found.key}}} takes no target name")
        elif found.target is not None and targets is not None and found.target not in targets:
            problems.append(f"{found.text}: no target named {found.target!r}")
    return problems


def runs_per_target(command: str) -> bool:
    """Whether ``command`` uses a per-target placeholder without naming the target."""
    return any(p.key in TARGET_KEYS and p.target is None for p in find_placeholders(command))


def substitute(command: str, values: dict[str, str]) -> str:
    """``command`` with placeholders replaced from ``values`` (keys ``postgres.url`` or
    ``postgres.url:candidate``); raises ``KeyError`` naming a placeholder without a value."""
    unescaped = command.replace("{{", "\0L").replace("}}", "\0R")

    def one(match: re.Match[str]) -> str:
        key = match.group(1) if match.group(2) is None else f"{match.group(1)}:{match.group(2)}"
        return values[key]

    out = _PLACEHOLDER.sub(one, unescaped)
    return out.replace("\0L", "{").replace("\0R", "}")


def env_name(target: str) -> str:
    """``candidate-2.x`` -> ``CANDIDATE_2_X`` for environment variable names."""
    return re.sub(r"[^A-Za-z0-9]", "_", target).upper()
