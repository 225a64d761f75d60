"""``harness init``: from your traffic and your build command to a first validated scenario.

::

    result = init_service(InitRequest(sources=["traffic.mitm"], build="app --port {port}",
                                      out_dir=Path("replay")), asker=Defaults())

1. the traffic is imported into ``OUT/<name>.capture.parquet`` (a capture file is used as it is);
2. the capture is read for proposals (:mod:`harness.workflows.initplan`): name, health path,
   independent routes, timing; each is asked for when an :class:`Asker` that asks is given
   (a terminal), else the proposal or the flag is taken;
3. ``OUT/stack.yaml``, ``OUT/capture.yaml`` and ``OUT/db-kill.yaml`` are written
   (:mod:`harness.workflows.initfiles`), loaded back and linted like any user file;
4. the result lists the files, lint's findings and the commands to run next.

Files that exist are not overwritten unless the request says so (or the user agrees).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from harness.errors import CaptureError, UsageError
from harness.scenario.stackcommands import TARGET_PLACEHOLDERS, command_problems
from harness.workflows.initfiles import (
    BASELINE_BUILD,
    CANDIDATE_BUILD,
    ScenarioPlan,
    StackPlan,
    capture_yaml,
    relative,
    scenario_yaml,
    stack_yaml,
)
from harness.workflows.initplan import (
    CaptureFacts,
    phase_rates,
    propose_health,
    propose_independent,
    propose_name,
    propose_timing,
    read_facts,
    safe_name,
    thin_phases,
)

STACK_FILE = "stack.yaml"
CAPTURE_CONFIG = "capture.yaml"
SCENARIO_FILE = "db-kill.yaml"


class Asker(Protocol):
    """How ``init`` asks its questions: a terminal, or the defaults (``--yes``, CI)."""

    def ask(self, question: str, default: str | None) -> str | None:
        """An answer (``default`` when the user just presses enter; None: no answer)."""

    def confirm(self, question: str, default: bool) -> bool:
        """Yes or no."""

    def say(self, text: str) -> None:
        """Tell the user something (progress, proposals)."""


class Defaults:
    """Takes every proposal without asking (``--yes``, or no terminal)."""

    def __init__(self, say: bool = True) -> None:
        self._say = say

    def ask(self, question: str, default: str | None) -> str | None:
        return default

    def confirm(self, question: str, default: bool) -> bool:
        return default

    def say(self, text: str) -> None:
        if self._say:
            import sys

            print(text, file=sys.stderr)


@dataclass
class InitRequest:
    """The options of ``harness init`` (None: propose, or ask)."""

    sources: list[str]
    out_dir: Path
    build: str | None = None
    candidate_build: str | None = None
    migrate: list[str] = field(default_factory=list)
    init_sql: Path | None = None
    init_dump: Path | None = None
    dsn_env: str | None = None
    health: str | None = None
    independent: list[str] | None = None
    name: str | None = None
    session_header: str | None = None
    session_cookie: str | None = None
    force: bool = False
    #: environment of builds and migrations: a value, or None to read it from the environment
    env: dict[str, str | None] = field(default_factory=dict)


@dataclass
class InitResult:
    """What ``init`` wrote and what to do next."""

    capture: Path
    files: list[Path]
    problems: list[str]
    next_commands: list[str]
    facts: CaptureFacts


def init_service(request: InitRequest, asker: Asker) -> InitResult:
    """Write the stack file, capture config and db-kill scenario of ``request``'s service."""
    out = request.out_dir
    out.mkdir(parents=True, exist_ok=True)
    capture = _capture(request, asker)
    facts = read_facts(capture)
    asker.say(
        f"capture {capture}: {facts.requests} requests over {facts.duration_s:.1f} s, "
        f"{len(facts.routes)} routes"
    )
    for template in facts.learned:
        asker.say(f"  learned route parameter {template}")
    name = request.name or asker.ask(
        "name of the stack (prefixes databases and proxies)",
        propose_name(facts, Path.cwd().name),
    )
    name = safe_name(name or "service")
    build = _build(request, asker)
    proposed = propose_health(facts)
    if proposed is None and request.health is None:
        asker.say("no GET route answered 2xx in the traffic: /health proposed as the health path")
    health = request.health or asker.ask(
        "health path (answers 2xx when the build is up)", proposed or "/health"
    )
    independent = _independent(request, facts, asker)
    files = {n: out / n for n in (STACK_FILE, CAPTURE_CONFIG, SCENARIO_FILE)}
    _may_write(list(files.values()), request.force, asker)
    # commands run where `harness init` ran, so the paths the user typed keep working
    cwd = relative(Path.cwd(), out)
    stack = StackPlan(
        name=name,
        build=build,
        candidate_build=request.candidate_build,
        cwd=cwd,
        health=health or "/health",
        init_sql=relative(request.init_sql, out) if request.init_sql else None,
        init_dump=relative(request.init_dump, out) if request.init_dump else None,
        migrate=list(request.migrate),
        dsn_env=request.dsn_env,
        source=", ".join(request.sources),
        env=dict(request.env),
    )
    files[STACK_FILE].write_text(stack_yaml(stack), encoding="utf-8")
    files[CAPTURE_CONFIG].write_text(
        capture_yaml(facts.routes, facts.learned, request.session_header, request.session_cookie),
        encoding="utf-8",
    )
    rate, independent_rate = phase_rates(facts, independent)
    timing = propose_timing(facts.duration_s, rate, independent_rate)
    thin = thin_phases(timing, rate, independent_rate)
    if thin:
        asker.say(f"warning: {thin}")
    scenario = ScenarioPlan(
        name=f"{name}-db-kill",
        capture=os.path.relpath(capture.absolute(), out.absolute())
        if capture.absolute().is_relative_to(out.absolute())
        else relative(capture, out),
        timing=timing,
        independent=independent,
        loopback=facts.loopback,
        metrics_route=("GET", "/metrics") in facts.calls,
        source=", ".join(request.sources),
    )
    files[SCENARIO_FILE].write_text(scenario_yaml(scenario), encoding="utf-8")
    problems = _check(files)
    return InitResult(
        capture=capture,
        files=list(files.values()),
        problems=problems,
        next_commands=_next_commands(files, request),
        facts=facts,
    )


def _capture(request: InitRequest, asker: Asker) -> Path:
    """The capture file: the one given, or the recordings imported into the output folder."""
    from harness.capture.ingest import import_capture, resolve_sources
    from harness.capture.store import capture_metadata

    if len(request.sources) == 1 and request.sources[0].endswith(".parquet"):
        path = Path(request.sources[0])
        capture_metadata(path)  # a CaptureError (exit 3) when it is not a capture file
        return path
    sources = resolve_sources(request.sources)
    stem = request.name or sources[0].name.split(".")[0]
    out = request.out_dir / f"{safe_name(stem)}.capture.parquet"
    _may_write([out], request.force, asker)
    asker.say(f"importing {', '.join(map(str, sources))} into {out}")
    config = None
    if request.session_header or request.session_cookie:
        from harness.capture.config import CaptureConfig, SessionConfig

        session = SessionConfig(header=request.session_header, cookie=request.session_cookie)
        config = CaptureConfig(session=session)
    try:
        import_capture(sources, out, config=config)
    except CaptureError:
        raise
    return out


def _build(request: InitRequest, asker: Asker) -> str:
    build = request.build or asker.ask(
        "command that starts your service ({port}: the port to listen on; "
        "{postgres.url}: its database, also in $DATABASE_URL)",
        None,
    )
    if not build:
        raise UsageError(
            "harness init needs the command that starts your service: --build "
            "'COMMAND --port {port}' (it asks for it when run in a terminal)"
        )
    for command, option in ((build, "--build"), (request.candidate_build, "--candidate-build")):
        if command is None:
            continue
        problems = command_problems(command, TARGET_PLACEHOLDERS)
        if problems:
            raise UsageError(f"{option} {command!r}: {problems[0]}")
        if "{port}" not in command:
            raise UsageError(
                f"{option} {command!r} has no {{port}}: the harness gives each build its port "
                "and checks its health there"
            )
    return build


def _independent(request: InitRequest, facts: CaptureFacts, asker: Asker) -> list[str]:
    if request.independent is not None:
        return list(request.independent)
    chosen = []
    proposals = propose_independent(facts)
    if proposals:
        asker.say(
            "routes that look independent of the database (the cascade gate checks they keep "
            "working while it is down):"
        )
    for route in proposals:
        if asker.confirm(f"  {route} works without the database?", True):
            chosen.append(route)
    more = asker.ask("more independent routes (comma-separated, empty for none)", "")
    chosen += [r.strip() for r in (more or "").split(",") if r.strip()]
    return chosen


def _may_write(paths: list[Path], force: bool, asker: Asker) -> None:
    existing = [p for p in paths if p.exists()]
    if not existing or force:
        return
    names = ", ".join(map(str, existing))
    if not asker.confirm(f"overwrite {names}?", False):
        raise UsageError(f"{names} exists: choose another -o DIR, or --force to overwrite")


def _check(files: dict[str, Path]) -> list[str]:
    """Load the written files back as the harness will; lint's findings as lines."""
    from harness.capture.config import load_config
    from harness.scenario.lint import lint
    from harness.scenario.stackfile import load_stack

    load_stack(files[STACK_FILE])
    load_config(files[CAPTURE_CONFIG])
    report = lint(files[SCENARIO_FILE])
    return [str(problem) for problem in report.problems]


def _next_commands(files: dict[str, Path], request: InitRequest) -> list[str]:
    stack = _shown(files[STACK_FILE])
    scenario = _shown(files[SCENARIO_FILE])
    candidate = CANDIDATE_BUILD if request.candidate_build else BASELINE_BUILD
    return [
        f"harness stack up {stack}",
        f"harness run {scenario}",
        f"harness validate {scenario} --baseline {BASELINE_BUILD} --candidate {candidate}",
    ]


def _shown(path: Path) -> str:
    """``path`` as the user would type it from here."""
    text = os.path.relpath(path)
    return text if not text.startswith("..") else str(path.absolute())
