"""Recovery with known answers: error and latency windows, the baseline's band, the gate."""

from pathlib import Path

import numpy as np
import pytest

from harness.analysis.frames import load_run
from harness.analysis.recovery import recovery_time
from harness.analysis.verdict import judge
from tests.analysis.runs import Behaviour, Fault, SyntheticRun

S = 1_000_000_000


def _series(errors_until_s: float, end_s: float = 60) -> tuple[np.ndarray, np.ndarray]:
    due = np.arange(0, int(end_s * 100)) * (S // 100)  # 100 requests a second
    return due, due < errors_until_s * S


def test_recovery_time_known_answer() -> None:
    due, errors = _series(errors_until_s=23.0)
    rec = recovery_time(
        due, errors, end_ns=20 * S, horizon_ns=60 * S, threshold=0.01, window_s=1.0, sustain_s=5.0
    )
    assert rec.seconds == pytest.approx(3.0, abs=0.11)


def test_immediate_recovery_is_zero() -> None:
    due, errors = _series(errors_until_s=20.0)
    rec = recovery_time(
        due, errors, end_ns=20 * S, horizon_ns=60 * S, threshold=0.01, window_s=1.0, sustain_s=5.0
    )
    assert rec.seconds == 0.0


def test_never_recovered_is_a_result() -> None:
    due, errors = _series(errors_until_s=58.0)
    rec = recovery_time(
        due,
        errors,
        end_ns=20 * S,
        horizon_ns=60 * S,
        threshold=0.01,
        window_s=1.0,
        sustain_s=5.0,
        horizon_reason="the end of the run",
    )
    assert not rec.recovered
    assert rec.horizon_reason == "the end of the run"


def test_slow_windows_keep_a_target_out_of_the_band() -> None:
    due, errors = _series(errors_until_s=20.0)  # no errors after the fault
    slow = due < 26 * S  # but every request is slow until 26 s
    rec = recovery_time(
        due,
        errors,
        end_ns=20 * S,
        horizon_ns=60 * S,
        threshold=0.01,
        window_s=1.0,
        sustain_s=5.0,
        slow=slow,
    )
    assert rec.errors_s == 0.0
    assert rec.latency_s == pytest.approx(6.0, abs=0.11)
    assert rec.seconds == rec.latency_s


def test_one_slow_request_in_ten_is_within_the_band() -> None:
    due, errors = _series(errors_until_s=20.0)
    slow = np.arange(len(due)) % 10 == 0  # exactly 10 % slow: the p90 is still in the band
    rec = recovery_time(
        due,
        errors,
        end_ns=20 * S,
        horizon_ns=60 * S,
        threshold=0.01,
        window_s=1.0,
        sustain_s=5.0,
        slow=slow,
    )
    assert rec.seconds == 0.0
    slow = np.arange(len(due)) % 5 == 0  # 20 %: never settled
    rec = recovery_time(
        due,
        errors,
        end_ns=20 * S,
        horizon_ns=60 * S,
        threshold=0.01,
        window_s=1.0,
        sustain_s=5.0,
        slow=slow,
    )
    assert rec.seconds is None and rec.errors_s == 0.0 and rec.latency_s is None


GATES = {"recovery_time": {"max": "3s"}}


def _run(candidate: Behaviour, baseline: Behaviour | None = None) -> SyntheticRun:
    run = SyntheticRun(duration_s=40, rate=50, faults=[Fault(10, 5)], gates=GATES)
    run.target("b", "baseline", baseline or Behaviour(fault_error=1.0, latency_ms=20))
    return run.target("c", "candidate", candidate)


def test_latency_that_stays_high_after_the_fault_fails_recovery(tmp_path: Path) -> None:
    hangs = Behaviour(fault_error=1.0, recovery_s=6.0, recovery_error=0.0, recovery_latency_ms=900)
    verdict = judge(load_run(_run(hangs).write(tmp_path)))
    gate = verdict.gate("recovery_time")
    assert gate.status == "fail"
    row = next(r for r in verdict.recovery if r.target == "c")
    assert row.errors_s == 0.0
    # slow until 6 s after the scheduled end: the window from 5.8 s has 10 % slow (its p90 is
    # in the band)
    assert row.latency_s == pytest.approx(5.8, abs=0.11)
    # the band: the baseline's pre-fault p99 of its own latency (send to last byte: 20-24 ms of
    # the synthetic spread less 0.3 ms of send lag) + 10 ms
    assert row.latency_limit_ms == pytest.approx(33.66, abs=0.01)
    assert "settled 5.8s (error rate settled 0.0s, latency settled 5.8s)" in gate.reason
    assert "p90 latency at most 34 ms" in gate.reason
    assert "the baseline's pre-fault band" in gate.reason


def test_never_settled_names_what_held_it(tmp_path: Path) -> None:
    hangs = Behaviour(fault_error=1.0, recovery_s=60, recovery_error=0.0, recovery_latency_ms=900)
    gate = judge(load_run(_run(hangs).write(tmp_path))).gate("recovery_time")
    assert gate.status == "fail"
    assert "candidate never settled (error rate settled 0.0s, latency never settled)" in gate.reason


def test_the_band_is_the_baselines_not_the_candidates_own(tmp_path: Path) -> None:
    # A candidate that fails 5 % of requests all along is never back in the baseline's band.
    always = Behaviour(error=0.05, fault_error=1.0)
    verdict = judge(load_run(_run(always).write(tmp_path)))
    gate = verdict.gate("recovery_time")
    assert gate.status == "fail"
    assert "candidate never settled (error rate never settled, latency settled 0.0s)" in gate.reason
    baseline = next(r for r in verdict.recovery if r.target == "b")
    assert baseline.seconds == 0.0
    # the baseline's own rate before the fault (1 of 501: the request due as it was applied)
    assert baseline.threshold == pytest.approx(1 / 501 + 0.01)


def test_latency_can_be_left_out(tmp_path: Path) -> None:
    hangs = Behaviour(fault_error=1.0, recovery_s=60, recovery_error=0.0, recovery_latency_ms=900)
    run = _run(hangs)
    run.gates = {"recovery_time": {"max": "3s", "latency": False}}
    gate = judge(load_run(run.write(tmp_path))).gate("recovery_time")
    assert gate.status == "pass", gate.reason
    assert "p90 latency" not in gate.reason


def test_when_the_baseline_does_not_settle_either_it_is_not_held_against_the_candidate(
    tmp_path: Path,
) -> None:
    # After the fault the whole machine stays slow: both builds stay out of the band. The
    # candidate is no worse than the baseline: it passes, and the reason says why.
    slow = Behaviour(fault_error=1.0, recovery_s=60, recovery_error=0.0, recovery_latency_ms=900)
    gate = judge(load_run(_run(slow, baseline=slow).write(tmp_path))).gate("recovery_time")
    assert gate.status == "pass"
    assert "candidate never settled" in gate.reason and "baseline never settled" in gate.reason
    assert gate.reason.endswith(
        "the baseline did not settle in time either and the candidate settled no later: held "
        "no worse than the baseline (the error-rate and latency gates judge the recovery phase)"
    )


def test_late_like_a_late_baseline_passes_and_later_than_it_is_inconclusive(
    tmp_path: Path,
) -> None:
    # the baseline settles ~5.8 s after the fault, past the 3 s limit
    late = Behaviour(fault_error=1.0, recovery_s=6.0, recovery_error=0.0, recovery_latency_ms=900)
    a_bit_later = Behaviour(
        fault_error=1.0, recovery_s=7.0, recovery_error=0.0, recovery_latency_ms=900
    )
    gate = judge(load_run(_run(a_bit_later, baseline=late).write(tmp_path / "a"))).gate(
        "recovery_time"
    )
    assert gate.status == "pass", gate.reason  # within one 2 s window of the baseline
    never = Behaviour(fault_error=1.0, recovery_s=60, recovery_error=0.0, recovery_latency_ms=900)
    gate = judge(load_run(_run(never, baseline=late).write(tmp_path / "b"))).gate("recovery_time")
    assert gate.status == "inconclusive", gate.reason
    assert gate.reason.endswith(
        "the baseline did not settle in time either, and the candidate settled later than it"
    )
    # a baseline that settled in time makes a late candidate fail
    gate = judge(load_run(_run(never).write(tmp_path / "c"))).gate("recovery_time")
    assert gate.status == "fail", gate.reason


def test_a_candidate_slower_all_along_settles_into_its_own_latency_band(tmp_path: Path) -> None:
    # Stress run 26: a busy machine slowed the candidate from the start (p99 109 ms against the
    # baseline's 27 ms before the fault). Back as fast as it was before the fault is settled;
    # whether that slowness is a regression is the p99 gate's question, not this one's.
    slower = Behaviour(fault_error=1.0, latency_ms=80)
    verdict = judge(load_run(_run(slower).write(tmp_path)))
    gate = verdict.gate("recovery_time")
    assert gate.status == "pass", gate.reason
    row = next(r for r in verdict.recovery if r.target == "c")
    assert row.seconds == 0.0 and row.latency_own
    # its own pre-fault p99 (80-96 ms of the synthetic spread less the send lag) x 1.25
    assert row.latency_limit_ms == pytest.approx(119.4, abs=0.2)
    assert "p90 latency at most 119 ms" in gate.reason
    assert "the target's own pre-fault latency band, wider than the baseline's" in gate.reason
    baseline = next(r for r in verdict.recovery if r.target == "b")
    assert not baseline.latency_own
    assert baseline.latency_limit_ms == pytest.approx(33.66, abs=0.01)
    # the error band stays the baseline's
    assert row.threshold == baseline.threshold


def test_slower_only_after_the_fault_is_not_settled(tmp_path: Path) -> None:
    # the same 80 ms, but only after the fault: out of its own band and the baseline's
    after = Behaviour(fault_error=1.0, recovery_s=60, recovery_error=0.0, recovery_latency_ms=80)
    verdict = judge(load_run(_run(after).write(tmp_path / "a")))
    gate = verdict.gate("recovery_time")
    assert gate.status == "fail", gate.reason
    assert "candidate never settled (error rate settled 0.0s, latency never settled)" in gate.reason
    row = next(r for r in verdict.recovery if r.target == "c")
    assert not row.latency_own
    assert "the baseline's pre-fault band" in gate.reason
    # slower before the fault and slower still after it: out of its own band too
    worse = Behaviour(
        fault_error=1.0, latency_ms=80, recovery_s=60, recovery_error=0.0, recovery_latency_ms=300
    )
    gate = judge(load_run(_run(worse).write(tmp_path / "b"))).gate("recovery_time")
    assert gate.status == "fail", gate.reason
    assert "candidate never settled (error rate settled 0.0s, latency never settled)" in gate.reason
