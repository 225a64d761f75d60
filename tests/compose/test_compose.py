"""The wiring of docker-compose.staging.yml, checked by parsing it (no docker engine here).

What the harness expects of the compose stack: the services exist, toxiproxy's API is published
on loopback, each build reaches its own database only through its own proxy of
examples/payments/toxiproxy.json, the proxies are the ones examples/payments/stack.compose.yaml
names, and the workers run ``harness worker``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from harness.cli.main import build_parser
from harness.scenario.stackfile import expand_vars, load_stack
from harness.stack.runtime import StackRuntime

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.staging.yml"
TOXIPROXY_CONFIG = ROOT / "examples" / "payments" / "toxiproxy.json"
STACK = ROOT / "examples" / "payments" / "stack.compose.yaml"
TARGETS = ("baseline", "candidate")
_COMPOSE_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(text: str) -> str:
    """Compose's ``${VAR:-default}`` with nothing set: every default."""
    return _COMPOSE_VAR.sub(lambda m: m.group(2) or "", text)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def proxies() -> dict[str, dict[str, str]]:
    return {p["name"]: p for p in json.loads(TOXIPROXY_CONFIG.read_text(encoding="utf-8"))}


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of every published port."""
    out = []
    for spec in service.get("ports", []):
        parts = str(spec).split(":")
        ip = parts[0] if len(parts) == 3 else ""
        out.append((ip, int(parts[-2]), int(parts[-1])))
    return out


def dsn(service: dict[str, Any]) -> str:
    return interpolate(service["environment"]["PAYMENTS_DSN"])


def test_every_expected_service_exists(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) >= {"postgres", "toxiproxy", "baseline", "candidate", "worker"}


def test_images_and_tags(services: dict[str, dict[str, Any]]) -> None:
    assert services["toxiproxy"]["image"] == "ghcr.io/shopify/toxiproxy:2.12.0"
    assert services["postgres"]["image"] == "postgres:16"
    for name in TARGETS:
        assert services[name]["build"] == "./examples/payments"
        assert (ROOT / "examples" / "payments" / "Dockerfile").is_file()
    assert services["worker"]["build"] == "."
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install" in dockerfile and "COPY harness" in dockerfile


def test_toxiproxy_listens_everywhere_with_the_config(services: dict[str, dict[str, Any]]) -> None:
    toxiproxy = services["toxiproxy"]
    assert toxiproxy["command"] == ["-host=0.0.0.0", "-config=/config/toxiproxy.json"]
    assert "./examples/payments/toxiproxy.json:/config/toxiproxy.json:ro" in toxiproxy["volumes"]


def test_published_ports(services: dict[str, dict[str, Any]]) -> None:
    # the URLs that docs/staging.md and stack.compose.yaml give: all on loopback only
    assert published(services["toxiproxy"])[0] == ("127.0.0.1", 8474, 8474)
    assert published(services["baseline"]) == [("127.0.0.1", 8001, 8080)]
    assert published(services["candidate"]) == [("127.0.0.1", 8002, 8080)]
    assert published(services["postgres"]) == []  # reachable only through toxiproxy
    assert published(services["worker"]) == []


def test_proxy_ports_are_published_on_loopback_for_fault_checks(
    services: dict[str, dict[str, Any]], proxies: dict[str, dict[str, str]]
) -> None:
    # the harness verifies a fault at the proxy's listen port, on the toxiproxy API's host
    ports = {int(p["listen"].rsplit(":", 1)[1]) for p in proxies.values()}
    assert {(ip, host) for ip, host, _ in published(services["toxiproxy"])[1:]} == {
        ("127.0.0.1", port) for port in ports
    }
    assert all(host == container for _, host, container in published(services["toxiproxy"]))


def test_builds_and_variants(services: dict[str, dict[str, Any]]) -> None:
    assert services["baseline"]["environment"]["PAYMENTS_VARIANT"] == "v2.3.1"
    candidate = services["candidate"]["environment"]["PAYMENTS_VARIANT"]
    assert candidate == "${PAYMENTS_CANDIDATE:-hotfix-safe}"
    assert interpolate(candidate) == "hotfix-safe"


def test_proxies_match_the_stack_file(proxies: dict[str, dict[str, str]]) -> None:
    stack = load_stack(STACK)
    runtime = StackRuntime(stack, ROOT / ".harness" / "unused")
    named = {t.postgres_proxy for t in stack.file.targets.values()}
    assert named == set(proxies)
    assert set(runtime.owned_proxies()) == set(proxies)
    for proxy in proxies.values():
        assert proxy["upstream"] == "postgres:5432"
        assert proxy["listen"].startswith("0.0.0.0:")
        assert proxy.get("enabled", True) is True


def test_stack_file_urls_are_the_published_ports(services: dict[str, dict[str, Any]]) -> None:
    stack = load_stack(STACK)
    for name in TARGETS:
        target = stack.file.targets[name]
        assert target.url is not None
        url = urlsplit(expand_vars(target.url, {}))
        assert (url.hostname, url.port) == ("127.0.0.1", published(services[name])[0][1])
        assert target.role == name


def test_each_target_reaches_its_own_database_through_its_own_proxy(
    services: dict[str, dict[str, Any]], proxies: dict[str, dict[str, str]]
) -> None:
    stack = load_stack(STACK)
    runtime = StackRuntime(stack, ROOT / ".harness" / "unused")
    seen_ports = set()
    for name in TARGETS:
        url = urlsplit(dsn(services[name]))
        assert url.scheme == "postgresql"
        assert url.hostname == "toxiproxy", f"{name} must not reach postgres directly"
        proxy = proxies[runtime.proxy_name(name)]
        assert url.port == int(proxy["listen"].rsplit(":", 1)[1])
        assert url.path.lstrip("/") == runtime.database_name(name)
        seen_ports.add(url.port)
    assert len(seen_ports) == len(TARGETS)  # a fault on one build never reaches the other


def test_postgres_is_on_a_network_only_toxiproxy_shares(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    pg_networks = set(services["postgres"]["networks"])
    assert compose["networks"]["db"]["internal"] is True
    assert pg_networks == {"db"}
    for name, service in services.items():
        if name in ("postgres", "toxiproxy"):
            continue
        assert not pg_networks & set(service.get("networks", ["default"])), name
        for value in service.get("environment", {}).values():
            if "://" in str(value):  # a DSN or URL: never the postgres service itself
                assert urlsplit(interpolate(str(value))).hostname != "postgres", name
    assert "db" in services["toxiproxy"]["networks"]
    assert "app" in services["toxiproxy"]["networks"]


def test_databases_are_seeded_and_cloned_per_target(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    postgres = services["postgres"]
    assert postgres["environment"]["POSTGRES_DB"] == "payments_template"
    schema = "./examples/payments/schema.sql:/docker-entrypoint-initdb.d/10-schema.sql:ro"
    assert schema in postgres["volumes"]
    (config,) = postgres["configs"]
    assert config["target"].startswith("/docker-entrypoint-initdb.d/2")
    script = compose["configs"][config["source"]]["content"]
    # CREATE DATABASE ... TEMPLATE refuses a template with sessions: leave it first
    assert script.splitlines()[0] == "\\connect postgres"
    for name in TARGETS:
        dbname = urlsplit(dsn(services[name])).path.lstrip("/")
        assert f"CREATE DATABASE {dbname} TEMPLATE payments_template;" in script


def test_workers_run_harness_worker(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    argv = [interpolate(str(part)) for part in worker["command"]]
    assert argv[:2] == ["harness", "worker"]
    args = build_parser().parse_args(argv[1:])
    assert args.master_host == "host.docker.internal"
    assert args.master_port == 5557
    assert str(args.capture) == "/captures/payments-demo-mitm.capture.parquet"
    assert (ROOT / "captures" / "payments-demo-mitm.capture.parquet").is_file()
    assert "./captures:/captures:ro" in worker["volumes"]
    assert "host.docker.internal:host-gateway" in worker["extra_hosts"]
    assert worker["deploy"]["replicas"] >= 1
    assert "app" in worker["networks"]
