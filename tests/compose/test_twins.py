"""The compose stack and the local stack are one description: every part of one has its twin.

The demo runs two ways: as local processes from ``examples/payments/stack.yaml`` (``harness
stack up``, ``validate``...) and in docker from ``docker-compose.staging.yml`` with
``examples/payments/toxiproxy.json``, joined by ``examples/payments/stack.compose.yaml``. No
docker engine here, so nothing is run: the files are parsed, and what each build would run with
is worked out both ways through the demo's own argument parser (``service.parse_args``):

- the same targets, roles and health path in all three files;
- the same template database, seeded from the same ``schema.sql``, and the same database per
  target (the names the local stack gives them);
- the same proxy per target (names, one each, and the compose DSN's port is its proxy's);
- each build service's environment variables and container command against the local build's
  command line: the same build (``--variant``) with the same ``PAYMENTS_CANDIDATE`` switch, the
  same database, through its own proxy; every option of one is set by the other, except the
  listen address and port, which a container must choose itself.
"""

from __future__ import annotations

import json
import os
import re
from argparse import Namespace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from examples.payments.service import parse_args
from harness.scenario.stackcommands import command_argv
from harness.scenario.stackfile import Stack, load_stack
from harness.stack.runtime import StackRuntime
from tests.compose.test_compose import interpolate

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "examples" / "payments" / "stack.yaml"
JOINED = ROOT / "examples" / "payments" / "stack.compose.yaml"
COMPOSE = ROOT / "docker-compose.staging.yml"
TOXIPROXY = ROOT / "examples" / "payments" / "toxiproxy.json"
DOCKERFILE = ROOT / "examples" / "payments" / "Dockerfile"
TARGETS = ("baseline", "candidate")
#: options only a container sets: where it listens inside its own network namespace
CONTAINER_ONLY = frozenset({"host", "port"})


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.delenv("PAYMENTS_CANDIDATE", raising=False)
    return load_stack(LOCAL)


@pytest.fixture
def runtime(local: Stack, tmp_path: Path) -> StackRuntime:
    return StackRuntime(local, tmp_path)  # for its names only: nothing is started


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def proxies() -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in json.loads(TOXIPROXY.read_text(encoding="utf-8"))}


def _container_cmd() -> list[str]:
    found = re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(encoding="utf-8"), re.M)
    assert found, "the demo's Dockerfile has no exec-form CMD"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def _parsed(argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Namespace:
    with monkeypatch.context() as m:
        for key in [k for k in os.environ if k.startswith("PAYMENTS_")]:
            m.delenv(key)
        for key, value in env.items():
            m.setenv(key, value)
        return parse_args(argv)


def _local_args(
    local: Stack, runtime: StackRuntime, target: str, monkeypatch: pytest.MonkeyPatch
) -> Namespace:
    build = local.file.targets[target].build
    assert build is not None
    database = runtime.database_name(target)
    values = {
        "port": "18080", "python": "python", "name": target, "stack_dir": str(local.dir),
        "postgres.url": f"postgresql://postgres@127.0.0.1:25432/{database}",
        "postgres.host": "127.0.0.1", "postgres.port": "25432", "postgres.dbname": database,
    }  # fmt: skip
    argv = command_argv(local.file.builds[build], values)
    assert argv[:2] == ["python", "app.py"], argv
    return _parsed(argv[2:], {}, monkeypatch)


def _compose_args(
    service: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[Namespace, dict[str, str]]:
    cmd = _container_cmd()
    assert cmd[0] == "python" and cmd[1].endswith("/payments/app.py"), cmd
    env = {k: interpolate(str(v)) for k, v in service["environment"].items()}
    return _parsed(cmd[2:], env, monkeypatch), env


def test_targets_roles_and_health_are_the_same_everywhere(
    local: Stack, services: dict[str, dict[str, Any]]
) -> None:
    joined = load_stack(JOINED)
    assert local.file.name == joined.file.name
    assert set(local.file.targets) == set(joined.file.targets) == set(TARGETS)
    for name in TARGETS:
        assert local.file.targets[name].role == joined.file.targets[name].role == name
        assert name in services and "build" in services[name]
    health = local.file.defaults.health
    assert joined.file.defaults.health == health
    probe = " ".join(services["baseline"]["healthcheck"]["test"])
    assert f":8080{health}'" in probe
    assert services["candidate"]["healthcheck"] == services["baseline"]["healthcheck"]


def test_the_template_and_its_seed_are_the_same(
    local: Stack, services: dict[str, dict[str, Any]]
) -> None:
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_DB"] == local.file.postgres.template
    assert local.file.postgres.init_sql is not None
    seed = local.resolve_path(local.file.postgres.init_sql)
    mounts = [v.split(":")[0] for v in postgres["volumes"]]
    assert [ROOT / m for m in mounts if m.endswith(".sql")] == [seed]


def test_one_proxy_per_target_with_the_local_stacks_names(
    runtime: StackRuntime, proxies: dict[str, dict[str, Any]]
) -> None:
    assert set(runtime.owned_proxies()) == set(proxies)
    joined = StackRuntime(load_stack(JOINED), runtime.work_dir)
    for name in TARGETS:
        assert joined.proxy_name(name) == runtime.proxy_name(name)


@pytest.mark.parametrize("target", TARGETS)
def test_each_build_runs_the_same_in_both(
    target: str,
    local: Stack,
    runtime: StackRuntime,
    services: dict[str, dict[str, Any]],
    proxies: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = _local_args(local, runtime, target, monkeypatch)
    there, env = _compose_args(services[target], monkeypatch)
    # every option either side sets, the other sets the same way (addresses aside)
    defaults = _parsed(["--port", "1", "--dsn", "x"], {}, monkeypatch)
    set_here = {k for k, v in vars(here).items() if v != getattr(defaults, k)}
    set_there = {k for k, v in vars(there).items() if v != getattr(defaults, k)}
    assert (
        set_here - CONTAINER_ONLY
        == set_there - CONTAINER_ONLY
        == {"dsn"} | ({"variant"} if here.variant != defaults.variant else set())
    )
    assert there.variant == here.variant
    local_db, compose_db = urlsplit(here.dsn), urlsplit(there.dsn)
    assert compose_db.path == local_db.path == f"/{runtime.database_name(target)}"
    # through the target's own proxy: the compose DSN's port is that proxy's listen port
    proxy = proxies[runtime.proxy_name(target)]
    assert compose_db.hostname == "toxiproxy"
    assert compose_db.port == int(proxy["listen"].rsplit(":", 1)[1])
    # every environment variable of the build service is an option of the local command
    for key in env:
        option = "--" + key.removeprefix("PAYMENTS_").lower().replace("_", "-")
        build = local.file.targets[target].build
        assert build is not None and option in local.file.builds[build], (key, option)


def test_the_candidate_switch_is_the_same_variable(
    local: Stack, services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_local = yaml.safe_load(LOCAL.read_text(encoding="utf-8"))["targets"]["candidate"]["build"]
    raw_compose = services["candidate"]["environment"]["PAYMENTS_VARIANT"]
    assert raw_local == raw_compose == "${PAYMENTS_CANDIDATE:-hotfix-safe}"
    monkeypatch.setenv("PAYMENTS_CANDIDATE", "hotfix-naive")
    assert load_stack(LOCAL).file.targets["candidate"].build == "hotfix-naive"
