"""Bring a stack up and down: toxiproxy, PostgreSQL, per-target databases, proxies, targets.

::

    with StackRuntime(load_stack(Path("examples/payments/stack.yaml")), Path(".harness")) as rt:
        print(rt.targets["baseline"].url)

``up()`` starts (or joins) toxiproxy, starts the database, loads the template from the stack's
``init_sql``, clones one database per started target, puts one proxy in front of each target's
database, starts the targets with the placeholders filled in, and waits until they are healthy.
``down()`` undoes all of it in reverse, each step attempted even when an earlier one fails,
so no process and no proxy outlives it.

For the case where ``down()`` never runs (SIGKILL), ``up()`` first cleans up after stacks whose
owner died (:mod:`harness.stack.orphans`), then writes down in a ledger what it is about to
start or touch, before it does (:mod:`harness.stack.ledger`); toxiproxy and the targets are
started to die with this process where the OS allows (:mod:`harness.stack.lifetime`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import HarnessError, StackFileError
from harness.scenario.auth import AuthSpec
from harness.scenario.stackcommands import command_argv, program_problem
from harness.scenario.stackfile import POSTGRES, Stack, TargetSpec, expand_vars, resolve_env
from harness.stack.ledger import StackLedger
from harness.stack.lifetime import ProcessIdentity
from harness.stack.ports import free_port
from harness.stack.postgres import EmbeddedPostgres, Postgres, open_postgres
from harness.stack.targets import TargetProcess
from harness.stack.template import build_template
from harness.stack.toxiproxy import ToxiproxyClient
from harness.stack.toxiproxy_server import ToxiproxyServer

STATE_FILE = "stack.json"


@dataclass
class RunningTarget:
    """A target of a stack that is up: where it answers and what sits in front of its database."""

    name: str
    url: str
    role: str
    headers: dict[str, str]
    database: str | None = None
    proxy: str | None = None
    proxy_listen: str | None = None
    process: TargetProcess | None = None
    build: str | None = None
    #: The health path and its timeout, as the stack file says (``stack status`` probes them).
    health: str = "/health"
    #: Epoch ns when the process was started and when its health check first passed.
    started_ns: int | None = None
    healthy_ns: int | None = None
    #: Staging identities (``auth:`` of the target, else of ``defaults``) and their line.
    auth: AuthSpec | None = None
    auth_where: str = ""

    def as_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "role": self.role,
            "build": self.build,
            "health": self.health,
            "database": self.database,
            "proxy": self.proxy,
            "pid": self.process.pid if self.process is not None else None,
            "log": str(self.process.log_path) if self.process is not None else None,
        }


@dataclass
class StackRuntime:
    """A stack brought up as local processes (or joined, for targets given by URL)."""

    stack: Stack
    work_dir: Path
    on_step: Callable[[str], None] = field(default=lambda _msg: None)
    #: Gets one line per thing cleaned up after a killed stack (default: ``on_step``).
    on_cleanup: Callable[[str], None] | None = None
    targets: dict[str, RunningTarget] = field(default_factory=dict, init=False)
    toxiproxy: ToxiproxyServer | None = field(default=None, init=False)
    postgres: Postgres | None = field(default=None, init=False)
    _proxies: list[str] = field(default_factory=list, init=False)
    _client: ToxiproxyClient | None = field(default=None, init=False)
    #: What this stack started and owns, for the cleanup after a SIGKILL (None until up).
    ledger: StackLedger | None = field(default=None, init=False)
    #: Versions of the components, recorded at start for the run manifest.
    toxiproxy_version: str | None = field(default=None, init=False)
    postgres_version: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        # Absolute: PostgreSQL and the targets run with other working directories (and users).
        self.work_dir = self.work_dir.resolve()

    # -- naming -------------------------------------------------------------------------------
    def proxy_name(self, target: str, dependency: str = POSTGRES) -> str:
        """The proxy this stack owns in front of ``target``'s ``dependency``."""
        spec = self.stack.file.targets[target]
        if spec.url is not None and spec.postgres_proxy:
            return spec.postgres_proxy
        return f"{self.stack.file.name}-{target}-{dependency}"

    def database_name(self, target: str) -> str:
        raw = f"{self.stack.file.name}_{target}".lower()
        return re.sub(r"[^a-z0-9_]", "_", raw)[:63]

    def owned_proxies(self) -> list[str]:
        """Names of every proxy this stack owns (created by it or named by a URL target)."""
        return [self.proxy_name(name) for name in self.stack.file.targets]

    # -- lifecycle ----------------------------------------------------------------------------
    def up(self) -> None:
        """Bring everything up; on any failure, tear down what was started and re-raise."""
        try:
            self._up()
        except BaseException:
            # The first error is the one to report; teardown problems must not hide it.
            with contextlib.suppress(Exception):
                self.down()
            raise

    def _up(self) -> None:
        from harness.stack.orphans import clean_orphans

        self.work_dir.mkdir(parents=True, exist_ok=True)
        clean_orphans(self.on_cleanup or (lambda line: self.on_step(f"cleaning up: {line}")))
        ledger = self.ledger = StackLedger.create(self.work_dir, self.stack.file.name)
        self.on_step("starting toxiproxy")
        self.toxiproxy = ToxiproxyServer(log_path=self.work_dir / "toxiproxy.log").start()
        self.toxiproxy_version = self.toxiproxy.version
        own = ProcessIdentity.of(self.toxiproxy.pid) if self.toxiproxy.pid else None
        ledger.toxiproxy(self.toxiproxy.url, own, self.toxiproxy.external)
        client = self.client()
        for spec in self.stack.file.targets.values():
            if spec.url is not None and spec.postgres_proxy:  # borrowed: reset, never deleted
                ledger.proxy(spec.postgres_proxy, server=self.toxiproxy.url, cleanup="reset")
        self._reset_owned(client)
        started = {n: t for n, t in self.stack.file.targets.items() if t.url is None}
        if started:
            self._start_database()
        for name, spec in self.stack.file.targets.items():
            self.targets[name] = (
                self._join(name, spec) if spec.url is not None else self._launch(name, spec)
            )
        for target in self.targets.values():
            if target.process is not None:
                self.on_step(f"waiting for {target.name} to become healthy")
                target.process.wait_healthy()
                target.healthy_ns = time.time_ns()
        self.write_state()

    def _reset_owned(self, client: ToxiproxyClient) -> None:
        """Delete proxies a previous (perhaps killed) run of this stack left behind."""
        existing = client.list_proxies()
        for name in self.owned_proxies():
            spec_is_url = any(
                self.proxy_name(t) == name and s.url is not None
                for t, s in self.stack.file.targets.items()
            )
            if name in existing:
                if spec_is_url:
                    client.reset_proxy(name)
                else:
                    client.delete_proxy(name)

    def _start_database(self) -> None:
        pg_spec = self.stack.file.postgres
        self.on_step("starting PostgreSQL")
        self.postgres = open_postgres(pg_spec.resolved_dsn(), self.work_dir)
        embedded = self.postgres if isinstance(self.postgres, EmbeddedPostgres) else None
        if embedded is not None and embedded.data_dir is not None and self.ledger is not None:
            self.ledger.postgres(embedded.data_dir)
        self.postgres.start()
        if embedded is not None and embedded.data_dir is not None and self.ledger is not None:
            pid = embedded.pid
            self.ledger.postgres(embedded.data_dir, ProcessIdentity.of(pid) if pid else None)
        self.postgres_version = self.postgres.version()
        self.on_step(f"building template database {pg_spec.template}")
        build_template(
            self.postgres, self.stack, self.work_dir / "logs" / "template.log", self.on_step,
            record=self.ledger,
        )  # fmt: skip

    def _launch(self, name: str, spec: TargetSpec) -> RunningTarget:
        assert self.postgres is not None and self.toxiproxy is not None
        defaults = self.stack.file.defaults
        database = self.database_name(name)
        self.on_step(f"cloning database {database}")
        self.postgres.clone(self.stack.file.postgres.template, database)
        proxy = self.proxy_name(name)
        listen_port = free_port()
        if self.ledger is not None:
            self.ledger.proxy(proxy, server=self.toxiproxy.url, cleanup="delete")
        self.client().create_proxy(
            proxy,
            listen=f"127.0.0.1:{listen_port}",
            upstream=f"{self.postgres.host}:{self.postgres.port}",
        )
        self._proxies.append(proxy)
        port = free_port()
        build = spec.build
        command = spec.command if build is None else self.stack.file.builds[build]
        assert command is not None
        values = {
            "port": str(port),
            "python": sys.executable,
            "name": name,
            "stack_dir": str(self.stack.dir),  # absolute
            "postgres.url": self.postgres.dsn(database, host="127.0.0.1", port=listen_port),
            "postgres.host": "127.0.0.1",
            "postgres.port": str(listen_port),
            "postgres.dbname": database,
        }
        argv = command_argv(command, values)
        cwd = spec.cwd or defaults.cwd
        workdir = self.stack.resolve_path(cwd) if cwd else self.stack.dir
        env = resolve_env({**defaults.env, **spec.env}, values)
        self._check_program(name, build, argv, workdir, env)
        process = TargetProcess(
            name=name,
            argv=argv,
            url=f"http://127.0.0.1:{port}",
            log_path=self.work_dir / "logs" / f"{name}.log",
            health=spec.health or defaults.health,
            cwd=workdir,
            env=env,
            startup_timeout=spec.startup_timeout or defaults.startup_timeout,
            stop_grace=spec.stop_grace or defaults.stop_grace,
            record=self.ledger,  # written down before it runs
        )
        self.on_step(f"starting {name} ({build or 'command'}) on port {port}")
        process.start()
        started_ns = time.time_ns()
        return RunningTarget(
            name=name,
            url=process.url,
            role=spec.role or _default_role(name),
            headers=resolve_env({**defaults.headers, **spec.headers}),
            database=database,
            proxy=proxy,
            proxy_listen=f"127.0.0.1:{listen_port}",
            process=process,
            build=build,
            health=process.health,
            started_ns=started_ns,
            **self._auth(name, spec),
        )

    def _check_program(
        self, name: str, build: str | None, argv: list[str], cwd: Path, env: dict[str, str]
    ) -> None:
        """A program that does not exist is a mistake in the stack file (exit 3), not a crash."""
        problem = program_problem(argv, cwd, {**os.environ, **env})
        if problem is None:
            return
        loc: tuple[str, ...] = ("builds", build) if build else ("targets", name, "command")
        if self.stack.written(loc):
            where = f"{self.stack.where(loc)}: {'.'.join(loc)}"
        else:
            where = f"target {name} (given on the command line)"
        raise StackFileError(f"{where}: cannot run: {problem}")

    def _join(self, name: str, spec: TargetSpec) -> RunningTarget:
        assert spec.url is not None
        defaults = self.stack.file.defaults
        return RunningTarget(
            name=name,
            url=expand_vars(spec.url).rstrip("/"),
            role=spec.role or _default_role(name),
            headers=resolve_env({**defaults.headers, **spec.headers}),
            proxy=spec.postgres_proxy,
            health=spec.health or defaults.health,
            **self._auth(name, spec),
        )

    def _auth(self, name: str, spec: TargetSpec) -> dict[str, Any]:
        """The target's staging identities and where the stack file writes them."""
        if spec.auth is not None:
            return {"auth": spec.auth, "auth_where": self.stack.where(("targets", name, "auth"))}
        auth = self.stack.file.defaults.auth
        where = self.stack.where(("defaults", "auth")) if auth is not None else ""
        return {"auth": auth, "auth_where": where}

    def client(self) -> ToxiproxyClient:
        """The toxiproxy client of this stack (one, closed by :meth:`down`)."""
        if self.toxiproxy is None:
            raise HarnessError("the stack is not up")
        if self._client is None:
            self._client = self.toxiproxy.client()
        return self._client

    def down(self) -> None:
        """Stop targets, delete the proxies, stop the database and toxiproxy (all attempted)."""
        errors: list[BaseException] = []
        ledger = self.ledger
        for target in reversed(list(self.targets.values())):
            if target.process is not None:
                with _collect(errors):
                    target.process.stop()
                    if ledger is not None:
                        ledger.process_stopped(f"target {target.name}")
        if self.toxiproxy is not None:
            with _collect(errors):
                client = self.client()
                for proxy in self._proxies:
                    client.delete_proxy(proxy)
                    if ledger is not None:
                        ledger.proxy_released(proxy)
                for name in self.owned_proxies():
                    if name not in self._proxies and name in client.list_proxies():
                        client.reset_proxy(name)
            self._proxies.clear()
        if self.postgres is not None:
            with _collect(errors):
                self.postgres.stop()
                if ledger is not None:
                    ledger.postgres_stopped()
            self.postgres = None
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.toxiproxy is not None:
            with _collect(errors):
                self.toxiproxy.stop()
            self.toxiproxy = None
        with contextlib.suppress(OSError):
            (self.work_dir / STATE_FILE).unlink()
        if errors:
            # the ledger stays: once this process is gone, the next stack cleans what is left
            raise errors[0]
        if ledger is not None:
            ledger.close()
            self.ledger = None

    # -- state --------------------------------------------------------------------------------
    def state(self) -> dict[str, object]:
        """What ``harness stack status`` reads: targets, proxies, toxiproxy, database."""
        proxies: dict[str, object] = {}
        for target in self.targets.values():
            if target.proxy is not None:
                proxies[target.proxy] = {"target": target.name, "dependency": POSTGRES}
        return {
            "stack": self.stack.file.name,
            "stack_file": str(self.stack.path),
            "toxiproxy": self.toxiproxy.url if self.toxiproxy else None,
            "postgres": (
                {"host": self.postgres.host, "port": self.postgres.port} if self.postgres else None
            ),
            "targets": {name: t.as_json() for name, t in self.targets.items()},
            "proxies": proxies,
            "pid": _own_pid(),
            "owner": ProcessIdentity.of(_own_pid()).to_json(),
            "ledger": str(self.ledger.path) if self.ledger is not None else None,
            "started_at": time.time(),
        }

    def write_state(self) -> Path:
        """Write the state file atomically (aside, then renamed): ``stack status``, ``stack
        down`` and a second run may read it at any moment, and must never see half of it."""
        path = self.work_dir / STATE_FILE
        aside = path.with_name(path.name + ".tmp")
        aside.write_text(json.dumps(self.state(), indent=2), encoding="utf-8")
        aside.replace(path)
        return path

    def __enter__(self) -> StackRuntime:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()


def _default_role(name: str) -> str:
    return "baseline" if name == "baseline" else "candidate"


def _own_pid() -> int:
    return os.getpid()


@contextlib.contextmanager
def _collect(errors: list[BaseException]) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        errors.append(exc)
