"""The compose workflow of docs/staging.md, end to end, without docker.

The compose stack is rebuilt from the compose file's own parts as local processes: PostgreSQL
initialised as its entrypoint would (``POSTGRES_DB``, ``schema.sql``, the clone script of the
``clone-targets`` config), toxiproxy-server loaded with ``examples/payments/toxiproxy.json``,
and the two builds started with the compose services' environment (their DSNs moved from the
``toxiproxy`` service to loopback). Then ``harness validate`` runs as the docs say, with
``TOXIPROXY_URL`` and ``URL,proxy=NAME`` specs, and must pass hotfix-safe and leave the proxies
as it found them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import yaml

from harness.cli.main import main
from harness.stack.ports import free_port
from harness.stack.postgres import EmbeddedPostgres
from harness.stack.targets import TargetProcess
from harness.stack.toxiproxy import ToxiproxyClient
from harness.stack.toxiproxy_server import find_toxiproxy_server
from tests.compose.test_compose import interpolate
from tests.workflows.traffic import write_short_kill

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_STACK = ROOT / "examples" / "payments" / "stack.compose.yaml"
pytestmark = pytest.mark.slow


@dataclass
class ComposeLike:
    toxiproxy_url: str
    urls: dict[str, str]  # target -> base URL
    proxies: dict[str, str]  # compose listen port -> loopback address


def init_database(pg: EmbeddedPostgres, compose: dict[str, Any]) -> None:
    """What the postgres image's entrypoint does with the compose file's settings."""
    service = compose["services"]["postgres"]
    template = service["environment"]["POSTGRES_DB"]
    with psycopg.connect(pg.dsn("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {template}")
    pg.execute(template, (ROOT / "examples" / "payments" / "schema.sql").read_text())
    (config,) = service["configs"]
    script = compose["configs"][config["source"]]["content"]
    lines = script.splitlines()
    assert lines[0] == "\\connect postgres"
    with psycopg.connect(pg.dsn("postgres"), autocommit=True) as conn:
        for statement in " ".join(lines[1:]).split(";"):
            if statement.strip():
                conn.execute(statement)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeLike]:
    binary = find_toxiproxy_server()
    if binary is None:
        pytest.skip("toxiproxy-server is not installed (make setup)")
    work = tmp_path_factory.mktemp("compose")
    compose = yaml.safe_load((ROOT / "docker-compose.staging.yml").read_text())
    pg = EmbeddedPostgres()
    toxiproxy: subprocess.Popen[bytes] | None = None
    targets: list[TargetProcess] = []
    try:
        pg.start()
        init_database(pg, compose)
        proxies = json.loads((ROOT / "examples" / "payments" / "toxiproxy.json").read_text())
        loopback = {}
        for proxy in proxies:  # the compose network's addresses, moved to loopback
            loopback[proxy["listen"].rsplit(":", 1)[1]] = address = f"127.0.0.1:{free_port()}"
            proxy["listen"], proxy["upstream"] = address, f"{pg.host}:{pg.port}"
        (work / "toxiproxy.json").write_text(json.dumps(proxies))
        api = free_port()
        toxiproxy = subprocess.Popen(
            [str(binary), "-host=127.0.0.1", f"-port={api}", f"-config={work / 'toxiproxy.json'}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        urls = {}
        for name in ("baseline", "candidate"):
            env = {
                k: interpolate(str(v)) for k, v in compose["services"][name]["environment"].items()
            }
            dsn = urlsplit(env["PAYMENTS_DSN"])
            assert dsn.hostname == "toxiproxy"
            netloc = re.sub(r"@toxiproxy:\d+$", "@" + loopback[str(dsn.port)], dsn.netloc)
            env["PAYMENTS_DSN"] = urlunsplit(dsn._replace(netloc=netloc))
            port = free_port()
            target = TargetProcess(
                name=name,
                argv=[
                    sys.executable,
                    str(ROOT / "examples/payments/app.py"),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                url=f"http://127.0.0.1:{port}",
                log_path=work / f"{name}.log",
                env=env,
            )
            targets.append(target)
            target.start()
            urls[name] = target.url
        for target in targets:
            target.wait_healthy()
        yield ComposeLike(f"http://127.0.0.1:{api}", urls, loopback)
    finally:
        for target in targets:
            target.stop()
        if toxiproxy is not None:
            toxiproxy.terminate()
            toxiproxy.wait(timeout=10)
        pg.stop()


def test_validate_against_running_builds(
    stack: ComposeLike,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scenario = write_short_kill(
        tmp_path / "compose-short-kill.yaml", COMPOSE_STACK, name="compose-short-kill"
    )
    monkeypatch.setenv("TOXIPROXY_URL", stack.toxiproxy_url)
    run = tmp_path / "run"
    code = main(
        [
            "validate",
            str(scenario),
            "--baseline",
            f"{stack.urls['baseline']},proxy=payments-baseline-postgres",
            "--candidate",
            f"{stack.urls['candidate']},proxy=payments-candidate-postgres",
            "-o",
            str(run),
            "--quiet",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    verdict = json.loads((run / "verdict.json").read_text())
    assert verdict["status"] == "pass"
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    applied = [e for e in events if e["kind"] == "fault_applied"]
    assert applied and set(applied[0]["proxies"]) == {
        "payments-baseline-postgres",
        "payments-candidate-postgres",
    }
    assert all(
        e["verified"]["ok"] for e in events if e["kind"] in ("fault_applied", "fault_reverted")
    )
    # an external toxiproxy is left as it was found: both proxies enabled, no toxic
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        proxies = client.list_proxies()
        assert {n for n, p in proxies.items() if p.enabled} == set(proxies)
        assert all(not client.list_toxics(name) for name in proxies)
    # and the builds still answer: the harness never stops what it joined by URL
    for url in stack.urls.values():
        assert httpx.get(f"{url}/health", timeout=5).status_code == 200


def test_run_on_the_compose_stack_file(
    stack: ComposeLike,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # `harness run` on a scenario whose stack is examples/payments/stack.compose.yaml, with the
    # targets moved to where this test runs them (as docs/staging.md says for another host)
    scenario = write_short_kill(
        tmp_path / "db-kill-compose.yaml", COMPOSE_STACK, name="compose-short-kill"
    )
    monkeypatch.setenv("TOXIPROXY_URL", stack.toxiproxy_url)
    monkeypatch.setenv("PAYMENTS_BASELINE_URL", stack.urls["baseline"])
    monkeypatch.setenv("PAYMENTS_CANDIDATE_URL", stack.urls["candidate"])
    run = tmp_path / "run"
    code = main(["run", str(scenario), "-o", str(run), "--quiet"])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    manifest = json.loads((run / "manifest.json").read_text())
    assert {n: t["url"] for n, t in manifest["targets"].items()} == stack.urls
    assert json.loads((run / "verdict.json").read_text())["status"] == "pass"
