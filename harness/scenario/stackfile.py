"""The stack file: which targets to run, how, and what sits between them and their database.

::

    name: payments
    postgres:
      template: payments_template      # the template database each target's database is cloned from
      init_sql: schema.sql             # schema + seed data (or pg_dump output), beside this file
      # init_dump: prod.dump           # a pg_dump archive (-Fc, -Fd, -Ft), restored first
      # migrate: "alembic upgrade head"  # commands run on the template after the files
      # dsn_env: STAGING_PG_DSN        # use that server instead of the embedded one
    builds:                            # named builds a target can run
      v2.3.1: "{python} app.py --port {port} --dsn {postgres.url} --variant v2.3.1"
      hotfix-safe: "{python} app.py --port {port} --dsn {postgres.url} --variant hotfix-safe"
    targets:
      baseline: {build: v2.3.1}
      candidate: {build: "${PAYMENTS_CANDIDATE:-hotfix-safe}"}
    defaults: {health: /health, startup_timeout: 30s}

A target either runs a ``command`` (or a named ``build``) that the harness starts and stops, or
is a running service given by ``url`` (then ``postgres_proxy`` names the toxiproxy proxy in
front of its database, which the harness does not create). Commands and ``env`` values may use
the placeholders of :mod:`harness.scenario.stackcommands` (``{port}``, ``{python}``, ``{name}``,
``{stack_dir}`` (absolute), ``{postgres.url}``...: the target's own database, reached through
its own proxy). Values of ``env`` and ``headers`` are strings or ``{from_env: NAME}``; ``build``,
``url`` and ``dsn`` may use ``${VAR}`` and ``${VAR:-default}``. Relative paths are relative to
the stack file's directory; :mod:`harness.scenario.stackcheck` checks paths and command lines
when the file is loaded.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from harness.errors import StackFileError
from harness.scenario.auth import AuthSpec
from harness.scenario.durations import Duration
from harness.scenario.paths import FilePath
from harness.scenario.stackcheck import check_stack
from harness.scenario.stackcommands import TARGET_PLACEHOLDERS, command_problems, fill_placeholders
from harness.scenario.yamlfile import YamlDocument

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

#: The dependency name faults use for each target's database.
POSTGRES = "postgres"

#: Placeholders a target's command (or build) may use: the values the stack fills in when it
#: starts the target (:mod:`harness.stack.runtime`); anything else in braces is an error.
COMMAND_PLACEHOLDERS: tuple[str, ...] = TARGET_PLACEHOLDERS


class FromEnv(BaseModel):
    """A value read from an environment variable when the stack starts (staging credentials)."""

    model_config = ConfigDict(extra="forbid")
    from_env: str
    default: str | None = None

    def resolve(self, environ: dict[str, str] | None = None) -> str:
        env = os.environ if environ is None else environ
        if self.from_env in env:
            return env[self.from_env]
        if self.default is not None:
            return self.default
        raise StackFileError(f"environment variable {self.from_env} is not set")


EnvValue = str | FromEnv


def resolve_env(
    values: dict[str, EnvValue], placeholders: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment/header values with ``{from_env: NAME}`` read from the environment.

    With ``placeholders``, placeholders in the values given as strings are filled in too
    (``DATABASE_URL: "{postgres.url}"``); values read from the environment are taken as they are.
    """
    out = {}
    for key, value in values.items():
        if isinstance(value, FromEnv):
            out[key] = value.resolve()
        elif placeholders is not None:
            out[key] = fill_placeholders(value, placeholders)
        else:
            out[key] = value
    return out


def expand_vars(text: str, environ: dict[str, str] | None = None) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in ``text``."""
    env = os.environ if environ is None else environ

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if env.get(name):
            return env[name]
        if default is not None:
            return default
        raise StackFileError(f"environment variable {name} is not set (used as ${{{name}}})")

    return _VAR.sub(sub, text)


class MigrateCommand(BaseModel):
    """A command run once against the template database (schema migrations, seed scripts)."""

    model_config = ConfigDict(extra="forbid")
    run: str
    env: dict[str, EnvValue] = Field(default_factory=dict)
    cwd: FilePath | None = None
    timeout: Duration = 600.0


def _migrate_list(value: object) -> object:
    """``migrate:`` as one command line, one ``{run: ...}``, or a list of either."""
    items = value if isinstance(value, list) else [value]
    return [{"run": item} if isinstance(item, str) else item for item in items]


class PostgresSpec(BaseModel):
    """The database: embedded (default) or an external server given by DSN.

    The template is loaded in this order: ``init_dump`` (a custom, directory or tar dump, through
    ``pg_restore``), ``init_sql`` (plain SQL or ``pg_dump`` output, through ``psql``), then the
    ``migrate`` commands; then every target's database is cloned from it.
    """

    model_config = ConfigDict(extra="forbid")
    template: Name = "harness_template"
    init_sql: FilePath | None = None
    init_dump: FilePath | None = None
    migrate: Annotated[list[MigrateCommand], BeforeValidator(_migrate_list)] = Field(
        default_factory=list
    )
    dsn: str | None = None
    dsn_env: str | None = None

    def resolved_dsn(self) -> str | None:
        if self.dsn_env and os.environ.get(self.dsn_env):
            return os.environ[self.dsn_env]
        return expand_vars(self.dsn) if self.dsn else None


class TargetDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    health: str = "/health"
    startup_timeout: Duration = 30.0
    stop_grace: Duration = 5.0
    cwd: FilePath | None = None
    env: dict[str, EnvValue] = Field(default_factory=dict)
    headers: dict[str, EnvValue] = Field(default_factory=dict)
    #: staging identities (harness.scenario.auth): a login per session, re-signed JWTs
    auth: AuthSpec | None = None


class TargetSpec(BaseModel):
    """One build under test: started from a command/build, or already running at a URL."""

    model_config = ConfigDict(extra="forbid")
    build: str | None = None
    command: str | None = None
    url: str | None = None
    postgres_proxy: str | None = None
    health: str | None = None
    startup_timeout: Duration | None = None
    stop_grace: Duration | None = None
    cwd: FilePath | None = None
    env: dict[str, EnvValue] = Field(default_factory=dict)
    headers: dict[str, EnvValue] = Field(default_factory=dict)
    auth: AuthSpec | None = None
    role: Literal["baseline", "candidate", "aa"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> TargetSpec:
        given = [k for k in ("build", "command", "url") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of build, command or url")
        if self.url is not None and not self.url.startswith(("http://", "https://", "${")):
            raise ValueError(f"url must start with http:// or https://, got {self.url!r}")
        return self


class StackFile(BaseModel):
    """A whole stack file, as written (before placeholders and variables are resolved)."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    postgres: PostgresSpec = Field(default_factory=PostgresSpec)
    builds: dict[Name, str] = Field(default_factory=dict)
    targets: dict[Name, TargetSpec]
    defaults: TargetDefaults = Field(default_factory=TargetDefaults)

    @model_validator(mode="after")
    def _targets(self) -> StackFile:
        if not self.targets:
            raise ValueError("a stack needs at least one target")
        return self


class Stack(BaseModel):
    """A loaded stack file with its location, so relative paths resolve beside it."""

    file: StackFile
    path: Path
    _doc: YamlDocument | None = PrivateAttr(default=None)

    def where(self, loc: tuple[str | int, ...]) -> str:
        """``file:line`` of the key at ``loc`` (for errors found after loading)."""
        return self._doc.where(loc) if self._doc is not None else str(self.path)

    def written(self, loc: tuple[str | int, ...]) -> bool:
        """Whether the key at ``loc`` is written in the file (not added on the command line)."""
        return self._doc is not None and loc in self._doc.lines

    @property
    def dir(self) -> Path:
        """The stack file's directory, absolute (``{stack_dir}``)."""
        # not resolve(): a symlinked checkout keeps the path the user knows
        return Path(os.path.normpath(self.path.parent.absolute()))

    def resolve_path(self, value: Path) -> Path:
        """``value`` if absolute, else relative to the stack file's directory (absolute)."""
        return value if value.is_absolute() else Path(os.path.normpath(self.dir / value))


def load_stack(path: Path, builds: dict[str, str] | None = None) -> Stack:
    """Load and check a stack file; errors name the file and line (exit code 3).

    ``builds`` overrides the build of named targets (``{"candidate": "hotfix-naive"}``), as the
    CLI's ``--build candidate=hotfix-naive`` does; ``${VAR:-default}`` in a target's build is
    expanded from the environment here, so the checked stack names concrete builds.
    """
    doc = YamlDocument.load(path, StackFileError)
    stack_file = doc.validate(StackFile)
    for name, build in (builds or {}).items():
        if name not in stack_file.targets:
            known = ", ".join(sorted(stack_file.targets))
            raise StackFileError(f"{path}: no target named {name!r} (targets: {known})")
        stack_file.targets[name] = stack_file.targets[name].model_copy(
            update={"build": build, "command": None, "url": None}
        )
    _check_commands(doc, stack_file)
    for name, target in stack_file.targets.items():
        if target.url is not None:
            _expand_at(doc, ("targets", name, "url"), target.url)
        if target.build is None:
            continue
        build = _expand_at(doc, ("targets", name, "build"), target.build)
        if build not in stack_file.builds:
            known = ", ".join(sorted(stack_file.builds)) or "none"
            raise doc.fail(("targets", name, "build"), f"unknown build {build!r} (builds: {known})")
        target.build = build
    pg = stack_file.postgres
    if pg.dsn is not None and not (pg.dsn_env and os.environ.get(pg.dsn_env)):
        _expand_at(doc, ("postgres", "dsn"), pg.dsn)
    stack = Stack(file=stack_file, path=path)
    stack._doc = doc
    check_stack(stack, doc)
    _check_auth(stack, doc)
    return stack


def _check_auth(stack: Stack, doc: YamlDocument) -> None:
    """The accounts file of a login reads, and a JWT key at hand parses (file:line, exit 3)."""
    from harness.scenario.accounts import load_accounts
    from harness.scenario.jwtkey import load_jwt_key

    places: list[tuple[tuple[str, ...], AuthSpec]] = []
    if stack.file.defaults.auth is not None:
        places.append((("defaults", "auth"), stack.file.defaults.auth))
    places += [
        (("targets", name, "auth"), t.auth) for name, t in stack.file.targets.items() if t.auth
    ]
    for loc, auth in places:
        for key, login in (("login", auth.login), ("captured_login", auth.captured_login)):
            if login is not None and login.accounts is not None:
                try:
                    load_accounts(login, stack.dir)
                except ValueError as exc:
                    raise doc.fail((*loc, key, "accounts"), str(exc)) from None
        jwt = auth.jwt
        if jwt is not None and (jwt.key_file is not None or jwt.key_env in os.environ):
            try:
                load_jwt_key(auth, stack.dir)
            except ValueError as exc:
                key = "key_file" if jwt.key_file is not None else "key_env"
                raise doc.fail((*loc, "jwt", key), str(exc)) from None


def target_auth(stack: Stack, name: str) -> tuple[AuthSpec | None, tuple[str, ...]]:
    """The staging identities of target ``name`` (its own, else the defaults') and their key."""
    own = stack.file.targets[name].auth
    if own is not None:
        return own, ("targets", name, "auth")
    return stack.file.defaults.auth, ("defaults", "auth")


def _expand_at(doc: YamlDocument, loc: tuple[str, ...], text: str) -> str:
    """``text`` with ``${VAR}`` expanded; an unset variable is an error at ``loc``'s line."""
    try:
        return expand_vars(text)
    except StackFileError as exc:
        raise doc.fail(loc, exc.message) from None


def _check_commands(doc: YamlDocument, stack_file: StackFile) -> None:
    """Every build and target command splits into words and uses known placeholders only."""
    commands: list[tuple[tuple[str, ...], str]] = [
        (("builds", name), command) for name, command in stack_file.builds.items()
    ]
    commands += [
        (("targets", name, "command"), target.command)
        for name, target in stack_file.targets.items()
        if target.command is not None
    ]
    for loc, command in commands:
        problems = command_problems(command, TARGET_PLACEHOLDERS)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise doc.fail(loc, problems[0] + more)
