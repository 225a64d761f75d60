"""`harness init` end to end: what it writes runs on the real stack and judges a real build.

- the notes example (the realistic, stateful service): `harness init` on its mitmproxy
  recording, then its stack brought up from the written stack file (toxiproxy, embedded
  PostgreSQL loaded through psql from schema.sql, both builds healthy on the detected /health,
  each build reading its database from $DATABASE_URL);
- the payments demo: `harness init` with the production build and the naive hotfix, then
  `harness run` of the written scenario must fail the hotfix (exit 1), as the bundled one does,
  and pass the production build against itself (exit 0): its phases hold enough requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.cli.main import main
from harness.scenario.stackfile import load_stack
from harness.stack.runtime import StackRuntime
from tests.workdirs import reachable_tmpdir

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def work() -> Iterator[Path]:
    """Outside pytest's 0700 tmp root, so the `pgserver` user can reach the data dir."""
    with reachable_tmpdir("init") as path:
        yield path


def test_notes_stack_from_init_comes_up(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the app gets its database only from $DATABASE_URL here (init puts it there)
    build = "sh -c 'NOTES_DSN=$DATABASE_URL exec {python} app.py --port {port} --variant v1.8.0'"
    notes = REPO / "examples" / "notes"
    monkeypatch.chdir(notes)
    args = ["init", str(REPO / "captures" / "notes-demo.mitm"), "--build", build]
    code = main([*args, "--init-sql", "schema.sql", "-o", str(work / "replay"), "--yes"])
    assert code == 0, capsys.readouterr()
    stack = load_stack(work / "replay" / "stack.yaml")
    with StackRuntime(stack, work / "stack") as runtime:
        for target in runtime.targets.values():
            assert httpx.get(target.url + "/health").status_code == 200
            notes_page = httpx.get(target.url + "/api/notes?author=staging-01&limit=100")
            assert notes_page.status_code == 200
            assert notes_page.json()["count"] > 0  # the seed data, loaded by psql
        assert (work / "stack" / "logs" / "template.log").is_file()
        state = json.loads((work / "stack" / "stack.json").read_text())
        assert {t["health"] for t in state["targets"].values()} == {"/health"}


def _init_and_run(
    work: Path, capsys: pytest.CaptureFixture[str], candidate: str
) -> tuple[int, str, dict[str, Any]]:
    """`harness init` of the payments capture with the production build and ``candidate``,
    then `harness run` of the written scenario: its exit code, output and verdict."""
    build = "{python} app.py --port {port} --dsn {postgres.url} --variant "
    code = main(
        [
            "init", str(REPO / "captures" / "payments-demo.mitm"),
            "--build", build + "v2.3.1", "--candidate-build", build + candidate,
            "--init-sql", "schema.sql", "-o", str(work / "replay"), "--yes",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr()
    capsys.readouterr()
    # a loaded machine may not hold the send schedule (exit 5, "send lag"): one more try then
    for attempt in range(2):
        run_dir = work / f"run-{attempt}"
        code = main(["run", str(work / "replay" / "db-kill.yaml"), "-o", str(run_dir), "--quiet"])
        out = capsys.readouterr().out
        if code != 5 or "send lag" not in out:
            break
    verdict: dict[str, Any] = json.loads((run_dir / "verdict.json").read_text())
    return code, out, verdict


def test_payments_scenario_from_init_fails_the_naive_hotfix(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO / "examples" / "payments")
    code, out, verdict = _init_and_run(work, capsys, "hotfix-naive")
    assert code == 1, out
    assert verdict["status"] == "fail", out
    failed = {g["name"] for g in verdict["gates"] if g["status"] == "fail"}
    assert failed & {"latency_p99", "retry_amplification", "error_rate"}, failed


def test_payments_scenario_from_init_passes_the_production_build_against_itself(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The capture sends /health ~2.4 times a second: in the 8 s fault init proposed before,
    # 19-24 requests, too few for the cascade check to pass, so an unchanged build was judged
    # inconclusive (exit 1) in 4 of 4 runs. init now makes the fault long enough for 45, and
    # leaves 22 s after it (with a 3 s `after` phase, late-dated database counters once made
    # its attempts per request look doubled: retry amplification failed in 1 of 5 runs).
    monkeypatch.chdir(REPO / "examples" / "payments")
    code, out, verdict = _init_and_run(work, capsys, "v2.3.1")
    scenario = (work / "replay" / "db-kill.yaml").read_text()
    assert "- {at: 9s, for: 19s, dependency: postgres, kind: down}" in scenario
    assert code == 0, out
    assert verdict["status"] == "pass", out
    cascade = next(g for g in verdict["gates"] if g["name"] == "cascade")
    assert cascade["status"] == "pass", cascade["reason"]
