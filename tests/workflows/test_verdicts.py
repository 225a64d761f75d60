"""The demo's known-good and known-bad builds under ``scenarios/db-kill.yaml``'s own gates.

Two runs on the embedded stack (real PostgreSQL, toxiproxy-server and payments services), each
with the production build ``v2.3.1`` as baseline and three candidates replayed at the same
moment, so each build sees the same traffic and the same 15 s database kill:

- run 1, the quiet builds: a second copy of ``v2.3.1`` (an A/A pair: PASS), ``hotfix-slower``
  (correct, 5 % slower: PASS) and ``hotfix-leak`` (loses its pool after the outage: FAIL, never
  recovers);
- run 2, the builds that storm: ``hotfix-hang`` (retries past the clients' timeout: FAIL on
  latency), ``hotfix-backoff`` (three attempts with backoff and no budget: FAIL on retry
  amplification) and ``hotfix-naive`` (FAIL, with at least twice the database attempts per
  request of ``v2.3.1`` while the database is down). A retry storm loads a 2-core machine for
  every target of its run, so the builds expected to pass do not share one with them.

The scenario is ``db-kill.yaml`` itself, with the service's Prometheus metric removed (so retry
amplification comes from the harness's own ``postgres_attempts``: connections through the proxy
and transactions) and a send-lag bound of 1 s: every target is replayed by the same load
generator at the same moment, and on a machine shared by many test runs a late send delays all
of them alike; what these tests check is the gates' verdict, not the load generator's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.analysis.model import Verdict
from harness.scenario.stackfile import TargetSpec
from harness.workflows.run import RunRequest, run_scenario
from tests.workdirs import reachable_tmpdir

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

BASELINE = "v2.3.1"


def db_kill_without_the_app_metric(folder: Path) -> Path:
    """``scenarios/db-kill.yaml`` with absolute paths, no Prometheus probe, a 1 s lag bound."""
    text = (REPO / "scenarios" / "db-kill.yaml").read_text()
    text = text.replace("../captures/", f"{REPO}/captures/")
    text = text.replace("../examples/", f"{REPO}/examples/")
    lines = text.splitlines(keepends=True)
    metric = [line for line in lines if "payments_db_attempts_total" in line]
    assert len(metric) == 1
    text = "".join(line for line in lines if line not in metric)
    text = text.replace("probe: [postgres_attempts, db_attempts]", "probe: postgres_attempts")
    text += "lag_bound_ms: 1000\n"
    path = folder / "db-kill.yaml"
    path.write_text(text)
    return path


def run_builds(folder: Path, name: str, candidates: dict[str, str]) -> dict[str, Verdict]:
    """One run: ``v2.3.1`` as baseline and ``candidates`` (target name -> build) at once."""
    targets = {BASELINE: TargetSpec(build=BASELINE, role="baseline")}
    for target, build in candidates.items():
        targets[target] = TargetSpec(build=build, role="candidate")
    request = RunRequest(
        scenario=db_kill_without_the_app_metric(folder),
        run_dir=folder / name,
        targets=targets,
        baseline=BASELINE,
    )
    outcome = run_scenario(request)
    return {c.verdict.candidate: c.verdict for c in outcome.comparisons}


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    with reachable_tmpdir("verdicts") as path:
        yield path


@pytest.fixture(scope="module")
def first(work: Path) -> dict[str, Verdict]:
    builds = {
        "v2.3.1-copy": "v2.3.1",
        "hotfix-slower": "hotfix-slower",
        "hotfix-leak": "hotfix-leak",
    }
    return run_builds(work, "first", builds)


@pytest.fixture(scope="module")
def second(work: Path) -> dict[str, Verdict]:
    builds = {b: b for b in ("hotfix-hang", "hotfix-backoff", "hotfix-naive")}
    return run_builds(work, "second", builds)


def statuses(verdict: Verdict) -> dict[str, str]:
    return {g.name: g.status for g in verdict.gates}


def test_the_runs_are_valid(first: dict[str, Verdict], second: dict[str, Verdict]) -> None:
    for verdict in [*first.values(), *second.values()]:
        assert verdict.valid, verdict.invalid_reasons


def test_two_copies_of_production_pass(first: dict[str, Verdict]) -> None:
    verdict = first["v2.3.1-copy"]
    assert verdict.status == "pass", verdict.reason
    assert set(statuses(verdict).values()) == {"pass"}


def test_a_build_that_hangs_instead_of_failing_fast_fails_on_latency(
    second: dict[str, Verdict],
) -> None:
    verdict = second["hotfix-hang"]
    assert verdict.status == "fail"
    latency = verdict.gate("latency_p99")
    assert latency.status == "fail"
    during = next(
        c for c in latency.checks if c.phase == "during `postgres down`" and c.route == "all routes"
    )
    assert during.status == "fail"
    assert during.candidate is not None and during.candidate >= 1900  # the clients' 2 s timeout
    assert "failures at the time they took" in during.reason


def test_a_build_that_leaks_its_pool_never_recovers(first: dict[str, Verdict]) -> None:
    verdict = first["hotfix-leak"]
    assert verdict.status == "fail"
    recovery = verdict.gate("recovery_time")
    assert recovery.status == "fail"
    assert "candidate never settled" in recovery.reason
    assert verdict.gate("error_rate").status == "fail"
    assert verdict.gate("retry_amplification").status == "pass"  # it stops trying at all


def test_retries_without_a_budget_fail_on_amplification(second: dict[str, Verdict]) -> None:
    verdict = second["hotfix-backoff"]
    assert verdict.status == "fail"
    amplification = verdict.gate("retry_amplification")
    assert amplification.status == "fail"
    assert "during `postgres down`" in amplification.reason


def test_a_correct_build_five_percent_slower_passes(first: dict[str, Verdict]) -> None:
    verdict = first["hotfix-slower"]
    assert verdict.status == "pass", verdict.reason
    assert set(statuses(verdict).values()) == {"pass"}


def test_naive_retries_are_counted_without_the_services_metric(
    second: dict[str, Verdict],
) -> None:
    verdict = second["hotfix-naive"]
    assert verdict.status == "fail"
    amplification = verdict.gate("retry_amplification")
    assert amplification.status == "fail"
    assert "`postgres_attempts`" in amplification.reason
    during = {
        a.target: a.ratio for a in verdict.amplification if a.phase == "during `postgres down`"
    }
    assert during["hotfix-naive"] is not None and during[BASELINE] is not None
    assert during["hotfix-naive"] >= 2 * during[BASELINE], during
