"""Calibration of the gates on A/A pairs with known answers (synthetic run directories)."""

import math
from pathlib import Path

import pytest

from harness.analysis.calibration import calibrate, share_of_limit
from harness.analysis.frames import load_run
from harness.analysis.model import Check
from harness.analysis.verdict import judge
from tests.analysis.runs import DEMO_GATES, Behaviour, Fault, SyntheticRun

SAME = Behaviour(error=0.01, fault_error=1.0, latency_ms=15)


def _aa(root: Path, candidate: Behaviour = SAME) -> Path:
    run = SyntheticRun(duration_s=40, rate=30, faults=[Fault(15, 8)], gates=DEMO_GATES)
    run.target("b", "baseline", SAME).target("c", "candidate", candidate)
    return run.write(root)


def test_identical_copies_never_fail(tmp_path: Path) -> None:
    verdicts = [judge(load_run(_aa(tmp_path / f"r{n}"))) for n in range(3)]
    result = calibrate(verdicts)
    assert (result.runs, result.judged, result.failed_runs) == (3, 3, 0)
    errors = next(g for g in result.gates if g.name == "error_rate")
    assert (errors.failed, errors.judged, errors.rate) == (0, 3, 0.0)
    assert errors.low == 0.0 and errors.high == pytest.approx(0.5615, abs=1e-3)  # Wilson, 0/3
    assert [g.name for g in result.gates] == list(DEMO_GATES)


def test_a_false_fail_is_counted_and_its_headroom_shown(tmp_path: Path) -> None:
    worse = Behaviour(error=0.05, fault_error=1.0, latency_ms=15)
    verdicts = [
        judge(load_run(_aa(tmp_path / "good"))),
        judge(load_run(_aa(tmp_path / "bad", worse))),
    ]
    result = calibrate(verdicts)
    errors = next(g for g in result.gates if g.name == "error_rate")
    assert (errors.failed, errors.judged, errors.rate) == (1, 2, 0.5)
    assert errors.closest is not None and errors.closest > 1.0  # beyond the limit
    assert errors.closest_reason.startswith("candidate error rate")
    assert result.failed_runs == 1


def test_invalid_runs_are_not_counted(tmp_path: Path) -> None:
    run = SyntheticRun(duration_s=40, rate=30, faults=[Fault(15, 8)], gates=DEMO_GATES)
    run.valid = False
    run.target("b", "baseline", SAME).target("c", "candidate", SAME)
    result = calibrate([judge(load_run(run.write(tmp_path)))])
    assert (result.runs, result.judged, result.invalid, result.gates) == (1, 0, 1, [])


def test_share_of_the_limit() -> None:
    check = Check(phase="p", route="r", status="pass", value=0.8, limit=1.0)
    assert share_of_limit(check) == 0.8
    never = Check(phase="p", route="r", status="fail", value=None, limit=10.0)
    assert share_of_limit(never) == math.inf
    assert share_of_limit(Check(phase="p", route="r", status="skipped", value=1, limit=1)) is None
