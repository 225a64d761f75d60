"""Run directories with reports for the report and CLI tests (built once per module)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.frames import Run, load_run
from harness.analysis.model import Verdict
from harness.analysis.verdict import judge
from tests.analysis.runs import DEMO_GATES, Behaviour, demo_like

NAIVE = Behaviour(
    fault_error=1.0,
    independent_fault_error=0.4,
    recovery_s=15,
    latency_ms=15,
    fault_latency_ms=900,
    fault_attempts=6,
    body_change=0.02,
)
SAFE = Behaviour(fault_error=1.0, latency_ms=15, fault_attempts=0.2)


@pytest.fixture(scope="module")
def naive_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return load_run(demo_like(NAIVE, DEMO_GATES).write(tmp_path_factory.mktemp("naive")))


@pytest.fixture(scope="module")
def naive_verdict(naive_run: Run) -> Verdict:
    return judge(naive_run)


@pytest.fixture(scope="module")
def safe_verdict(tmp_path_factory: pytest.TempPathFactory) -> Verdict:
    return judge(load_run(demo_like(SAFE, DEMO_GATES).write(tmp_path_factory.mktemp("safe"))))


@pytest.fixture
def three_targets(tmp_path: Path) -> Path:
    """The demo's shape: one baseline, two candidates replayed at once."""
    run = demo_like(SAFE, DEMO_GATES)
    run.targets.clear()
    run.target("v2.3.1", "baseline", Behaviour(fault_error=1.0, latency_ms=15))
    run.target("hotfix-naive", "candidate", NAIVE)
    run.target("hotfix-safe", "candidate", SAFE)
    return run.write(tmp_path / "run")
