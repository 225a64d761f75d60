"""The three files ``harness init`` writes, as commented YAML a user will go on editing.

- ``stack.yaml``: the build command(s), the template database (``init_sql`` / ``init_dump``,
  ``migrate``), health path and ``DATABASE_URL``; commands run in the directory ``harness
  init`` was run from, so the paths the user typed keep working;
- ``capture.yaml``: the capture config with the inferred routes as ``routes.templates``, for
  the next import of the same service's traffic;
- ``db-kill.yaml``: the scenario: the database killed under the replayed traffic, the gates
  of the bundled db-kill scenarios, the postgres probe and the confirmed independent routes.

Every relative path written is relative to the file it is in. Strings are written as JSON
strings (valid YAML), so commands with quotes, braces or colons stay what the user typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.workflows.initplan import Timing

#: The build names the stack file gets.
BASELINE_BUILD = "current"
CANDIDATE_BUILD = "candidate"


def q(text: str) -> str:
    """``text`` as a YAML scalar (a JSON string)."""
    return json.dumps(text, ensure_ascii=False)


@dataclass
class StackPlan:
    """What goes into ``stack.yaml``."""

    name: str
    build: str
    candidate_build: str | None
    cwd: str
    health: str
    init_sql: str | None = None
    init_dump: str | None = None
    migrate: list[str] = field(default_factory=list)
    dsn_env: str | None = None
    source: str = ""
    #: environment of the builds and migrations: a value, or None to read it when the stack starts
    env: dict[str, str | None] = field(default_factory=dict)


def stack_yaml(plan: StackPlan) -> str:
    """The stack file's text."""
    lines = [
        f"# The staging stack of {plan.name}, written by `harness init` from {plan.source}.",
        "# Every relative path is relative to this file; commands run in `cwd` below (where",
        "# `harness init` was run). Docs: docs/stacks.md",
        f"name: {plan.name}",
        "postgres:",
        f"  template: {plan.name.replace('-', '_').replace('.', '_')}_template",
    ]
    if plan.init_dump:
        lines.append(
            f"  init_dump: {q(plan.init_dump)}          # a pg_dump archive, restored first"
        )
    if plan.init_sql:
        lines.append(
            f"  init_sql: {q(plan.init_sql)}          # SQL or pg_dump output, run by psql"
        )
    if plan.migrate:
        lines.append("  migrate:                    # run on the template, {postgres.url} is it")
        env = {"DATABASE_URL": "{postgres.url}", **plan.env}
        for command in plan.migrate:
            lines += [f"    - run: {q(command)}", f"      cwd: {q(plan.cwd)}", "      env:"]
            lines += [f"        {key}: {_env_value(key, value)}" for key, value in env.items()]
    if plan.dsn_env:
        lines.append(f"  dsn_env: {plan.dsn_env}     # your PostgreSQL (the user needs CREATEDB)")
    else:
        lines.append(
            "  # dsn_env: STAGING_PG_DSN   # set to use your PostgreSQL, not the embedded one"
        )
    lines += ["builds:", f"  {BASELINE_BUILD}: {q(plan.build)}"]
    if plan.candidate_build:
        lines.append(f"  {CANDIDATE_BUILD}: {q(plan.candidate_build)}")
    candidate = CANDIDATE_BUILD if plan.candidate_build else BASELINE_BUILD
    lines += [
        "targets:",
        f"  baseline: {{build: {BASELINE_BUILD}, role: baseline}}",
        f"  candidate: {{build: {candidate}, role: candidate}}",
        "defaults:",
        f"  cwd: {q(plan.cwd)}",
        f"  health: {q(plan.health)}",
        "  startup_timeout: 60s",
        "  stop_grace: 5s",
        "  env:",
        '    DATABASE_URL: "{postgres.url}"   # each build\'s own database, through its proxy',
        *(f"    {key}: {_env_value(key, value)}" for key, value in plan.env.items()),
        "",
    ]
    return "\n".join(lines)


def _env_value(key: str, value: str | None) -> str:
    """A literal value, or ``{from_env: KEY}`` (read when the stack starts: secrets)."""
    return f"{{from_env: {key}}}" if value is None else q(value)


def capture_yaml(
    routes: list[str], learned: list[str], session_header: str | None, session_cookie: str | None
) -> str:
    """The capture config: the inferred routes as templates (the user's word from now on)."""
    lines = [
        "# Capture config written by `harness init`: use it for the next import of this",
        "# service's traffic (harness capture import ... --config capture.yaml).",
        "# Docs: docs/capture.md",
    ]
    if session_header or session_cookie:
        key = (
            f"header: {q(session_header)}"
            if session_header
            else f"cookie: {q(session_cookie or '')}"
        )
        lines.append(f"session: {{{key}}}")
    lines += [
        "routes:",
        "  # The routes inferred from the traffic; a {name} segment matches any one segment, and",
        "  # a literal one wins over it. Rename parameters, merge or split routes as you like:",
        "  # paths no template matches are still templated by shape and learned.",
    ]
    for template in learned:
        lines.append(f"  # learned from the traffic: {template}")
    lines.append("  templates:")
    lines += [f"    - {q(route)}" for route in routes]
    lines.append("")
    return "\n".join(lines)


@dataclass
class ScenarioPlan:
    """What goes into ``db-kill.yaml``."""

    name: str
    capture: str
    timing: Timing
    independent: list[str]
    loopback: bool
    metrics_route: bool = False
    source: str = ""


def scenario_yaml(plan: ScenarioPlan) -> str:
    """The db-kill scenario's text."""
    t = plan.timing
    lines = [
        f"# {plan.name}: the database killed for {t.fault_for_s:g} s under the replayed traffic of",
        f"# {plan.source}, written by `harness init`. Docs: docs/scenarios.md",
        "#   harness lint {this file}; harness run {this file}",
        f"name: {plan.name}",
        f"capture: {q(plan.capture)}",
        f"speed: {t.speed:g}",
        f"duration: {t.duration_s:g}s",
    ]
    if t.loop:
        lines.append("loop: true                      # the capture is short: replayed again")
    if plan.loopback:
        lines.append("allow_original_host: true       # the capture was recorded on loopback")
    lines += [
        "stack: stack.yaml",
        "faults:",
        f"  - {{at: {t.fault_at_s:g}s, for: {t.fault_for_s:g}s, dependency: postgres, kind: down}}",
        "probes:",
        "  - {name: db_xacts, postgres: xact}   # transactions in each build's own database",
    ]
    if plan.metrics_route:
        lines.append(
            "  # the service has /metrics: a counter of its database attempts would go here, e.g."
        )
        lines.append(
            "  # - {name: db_attempts, prometheus: {path: /metrics, metric: app_db_attempts_total}}"
        )
    if plan.independent:
        routes = ", ".join(q(r) for r in plan.independent)
        lines.append(f"independent_routes: [{routes}]   # must keep working without the database")
    else:
        lines.append(
            "independent_routes: []   # routes that must keep working without the database"
        )
    lines += [
        "gates:",
        "  error_rate: {max_increase_pp: 1.0}",
        "  latency_p99: {max_ratio: 1.25}",
        "  retry_amplification: {max_ratio: 1.5}   # database attempts per request, via the proxy",
        "  recovery_time: {max: 10s}",
    ]
    if plan.independent:
        lines.append("  cascade: {max_error_rate: 0.01}")
    lines.append("")
    return "\n".join(lines)


def relative(path: Path, start: Path) -> str:
    """``path`` as a file in directory ``start`` should name it: relative to ``start`` when
    both are in the current directory's tree (a folder committed with the service), else
    absolute."""
    import os

    here = Path.cwd()
    inside = path.absolute().is_relative_to(here) and start.absolute().is_relative_to(here)
    if not inside:
        return str(path.absolute())
    return Path(os.path.relpath(path.absolute(), start.absolute())).as_posix()
