"""Verdicts on synthetic runs with known answers (tests/analysis/runs.py)."""

from pathlib import Path

import pytest

from harness.analysis.frames import load_run
from harness.analysis.verdict import exit_code, judge
from harness.errors import UsageError
from tests.analysis.runs import DEMO_GATES, Behaviour, Fault, SyntheticRun, demo_like

NAIVE = Behaviour(
    fault_error=1.0,
    independent_fault_error=0.4,
    recovery_s=15,
    latency_ms=15,
    fault_latency_ms=900,
    fault_attempts=6,
)
SAFE = Behaviour(fault_error=1.0, latency_ms=15, fault_attempts=0.2)


def test_clear_regression_fails_with_reasons(tmp_path: Path) -> None:
    verdict = judge(load_run(demo_like(NAIVE, DEMO_GATES).write(tmp_path)))
    assert verdict.status == "fail"
    assert exit_code(verdict) == 1
    statuses = {g.name: g.status for g in verdict.gates}
    assert statuses == dict.fromkeys(DEMO_GATES, "fail")
    cascade = verdict.gate("cascade")
    assert "independent routes" in cascade.reason and "40.0%" in cascade.reason
    assert "during `postgres down`" in cascade.reason
    error = verdict.gate("error_rate")
    assert "pp" in error.reason and "CI" in error.reason and "limit +1.0 pp" in error.reason
    amp = verdict.gate("retry_amplification")
    assert (
        "3.00 attempts per request (1800 `postgres_attempts` for 600 sent) vs baseline 0.50 "
        "(300 for 600; x6.00)" in amp.reason
    )
    assert "never" not in verdict.gate("recovery_time").reason
    assert "15.0s" in verdict.gate("recovery_time").reason


def test_safe_hotfix_passes_even_though_the_baseline_fails_db_routes(tmp_path: Path) -> None:
    verdict = judge(load_run(demo_like(SAFE, DEMO_GATES).write(tmp_path)))
    assert verdict.status == "pass", verdict.reason
    assert exit_code(verdict) == 0
    during = [
        m
        for m in verdict.metrics
        if m.target == "baseline" and m.route == "/payments" and m.phase.startswith("dur")
    ]
    assert during[0].error_rate > 0.99  # the measured revert lags the scheduled one by 3 ms


def test_identical_pair_passes(tmp_path: Path) -> None:
    run = SyntheticRun(duration_s=30, rate=20, faults=[Fault(10, 5)], gates=DEMO_GATES)
    same = Behaviour(error=0.02, fault_error=0.5)
    run.target("b", "baseline", same).target("c", "candidate", same)
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.status == "pass", verdict.reason
    assert verdict.responses.paired == 600 and verdict.responses.differing == 0


def test_tiny_sample_is_inconclusive(tmp_path: Path) -> None:
    run = SyntheticRun(duration_s=2, rate=5, gates={"error_rate": {"max_increase_pp": 1}})
    run.target("b", "baseline").target("c", "candidate", Behaviour(error=0.2))
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.status == "inconclusive"
    assert verdict.gate("error_rate").reason == (
        "too few requests over the run on all routes: candidate 10 sent, baseline 10 sent, need "
        "30 each; not enough to fail either: candidate error rate over the run on all routes "
        "20.0% (2 failed of 10 sent) vs baseline 0.0% (0 of 10; +20.0 pp, 95% CI -11.2..51.0), "
        "limit +1.0 pp"
    )
    assert exit_code(verdict) == 1
    assert exit_code(verdict, allow_inconclusive=True) == 0


def test_too_few_to_pass_is_not_too_few_to_fail(tmp_path: Path) -> None:
    # 5 of 10 failed against none of 10: Fisher's exact p=0.016, below the 5 % of one check
    run = SyntheticRun(duration_s=2, rate=5, gates={"error_rate": {"max_increase_pp": 1}})
    run.target("b", "baseline").target("c", "candidate", Behaviour(error=0.5))
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.status == "fail"
    (check,) = [c for c in verdict.gate("error_rate").checks if c.status != "skipped"]
    assert (check.status, check.n_candidate, check.n_baseline) == ("fail", 10, 10)
    assert check.reason.endswith(
        "limit +1.0 pp; fewer than 30 requests a side: enough to fail (the exact test agrees), "
        "not to pass"
    )
    assert exit_code(verdict) == 1


def test_invalid_run_is_never_a_pass(tmp_path: Path) -> None:
    run = demo_like(SAFE, DEMO_GATES)
    run.valid = False
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.status == "invalid"
    assert "send lag" in verdict.reason
    assert exit_code(verdict) == 5
    assert all(g.status == "pass" for g in verdict.gates)  # computed, shown, not judged


def test_failed_replay_is_invalid(tmp_path: Path) -> None:
    run = demo_like(SAFE, DEMO_GATES)
    run.status = "failed"
    verdict = judge(load_run(run.write(tmp_path)))
    assert (verdict.status, exit_code(verdict)) == ("invalid", 5)
    assert "the replay failed" in verdict.reason


@pytest.mark.parametrize(("signal", "code"), [("SIGINT", 130), ("SIGTERM", 143), (15, 143)])
def test_interrupted(tmp_path: Path, signal: str | int, code: int) -> None:
    run = demo_like(SAFE, DEMO_GATES)
    run.interrupted_signal = signal  # type: ignore[assignment]
    run.status = "interrupted"
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.status == "interrupted"
    assert exit_code(verdict) == code


def test_small_noise_does_not_fail_and_aa_noise_widens_limits(tmp_path: Path) -> None:
    gates = {"error_rate": {"max_increase_pp": 1.0, "relative_to": "noise", "per_route": False}}
    run = SyntheticRun(duration_s=60, rate=50, gates=gates)
    run.target("b", "baseline", Behaviour(error=0.02))
    run.target("b2", "aa", Behaviour(error=0.05))
    run.target("c", "candidate", Behaviour(error=0.05))
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.aa == "b2"
    (check,) = [c for c in verdict.gate("error_rate").checks if c.status != "skipped"]
    assert check.noise == pytest.approx(3.0)
    assert verdict.status == "pass"
    run.gates = {"error_rate": {"max_increase_pp": 1.0, "per_route": False}}
    absolute = judge(load_run(run.write(tmp_path / "abs")))
    assert absolute.status == "fail"


def test_missing_probe_makes_amplification_inconclusive(tmp_path: Path) -> None:
    run = demo_like(SAFE, {"retry_amplification": {"max_ratio": 1.5, "probe": "nope"}})
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.status == "inconclusive"
    assert "no `nope` probe samples" in verdict.reason


def test_several_candidates_need_a_name(tmp_path: Path) -> None:
    run = demo_like(SAFE, DEMO_GATES).target("other", "candidate", NAIVE)
    loaded = load_run(run.write(tmp_path))
    with pytest.raises(UsageError, match="--candidate"):
        judge(loaded)
    assert judge(loaded, candidate="other").status == "fail"
    assert judge(loaded, candidate="candidate").status == "pass"
    with pytest.raises(UsageError, match="no target 'ghost'"):
        judge(loaded, candidate="ghost")


def test_errors_after_the_fault_are_judged_by_default(tmp_path: Path) -> None:
    # A circuit breaker that keeps failing for 1 s after the database is back: its users see
    # those errors, so the error gate judges the recovery phase too (recovery_time says how long).
    cool_down = Behaviour(fault_error=1.0, recovery_s=1.0, latency_ms=15, fault_attempts=0.2)
    verdict = judge(load_run(demo_like(cool_down, DEMO_GATES).write(tmp_path)))
    assert verdict.status == "fail"
    error = verdict.gate("error_rate")
    assert error.status == "fail"
    assert error.reason.startswith(
        "candidate error rate in the recovery after `postgres down` on all routes 4.8% "
        "(19 failed of 400 sent) vs baseline 0.0% (0 of 400;"
    )
    recovery = verdict.gate("recovery_time")
    assert recovery.status == "pass"
    assert recovery.checks[0].value == pytest.approx(1.0, abs=0.15)
    lenient = dict(DEMO_GATES, error_rate={"max_increase_pp": 1.0, "phases": ["during", "after"]})
    judged = judge(load_run(demo_like(cool_down, lenient).write(tmp_path / "lenient")))
    assert judged.status == "pass", judged.reason
    assert not any(c.phase.startswith("recovery") for c in judged.gate("error_rate").checks)


FLAPPING_GATES = {"recovery_time": {"max": "5s"}, "error_rate": {"max_increase_pp": 1.0}}


def _flapping(candidate: Behaviour) -> SyntheticRun:
    faults = [Fault(15 + 7 * k, 3) for k in range(4)]  # down 3 s, up 4 s, four times
    run = SyntheticRun(duration_s=55, rate=50, faults=faults, gates=FLAPPING_GATES)
    run.target("b", "baseline", Behaviour(fault_error=1.0))
    return run.target("c", "candidate", candidate)


def test_flapping_recovery_is_measured_between_faults(tmp_path: Path) -> None:
    verdict = judge(load_run(_flapping(Behaviour(fault_error=1.0)).write(tmp_path)))
    assert verdict.status == "pass", verdict.reason
    gate = verdict.gate("recovery_time")
    assert len(gate.checks) == 4
    assert [c.phase for c in gate.checks][:2] == [
        "recovery `postgres down`",
        "recovery `postgres down #2`",
    ]
    # 4 s of room (less the 1 ms the measured times lag) minus a 2 s window, in 100 ms steps
    assert "for 1.9s" in gate.checks[0].reason


def test_flapping_without_recovering_fails(tmp_path: Path) -> None:
    slow = Behaviour(fault_error=1.0, recovery_s=6)
    verdict = judge(load_run(_flapping(slow).write(tmp_path)))
    gate = verdict.gate("recovery_time")
    assert gate.status == "fail"
    assert "never settled" in gate.reason
    assert "next fault" in verdict.recovery[1].note


@pytest.mark.parametrize(("floor_ms", "status"), [(10.0, "pass"), (0.0, "fail")])
def test_latency_floor_for_fast_routes(tmp_path: Path, floor_ms: float, status: str) -> None:
    # p99 doubles on a route that answers in a few milliseconds: noise unless the floor is 0
    gates = {"latency_p99": {"max_ratio": 1.25, "min_increase_ms": floor_ms}}
    run = SyntheticRun(duration_s=30, rate=40, faults=[], gates=gates)
    run.target("b", "baseline", Behaviour(latency_ms=3))
    run.target("c", "candidate", Behaviour(latency_ms=6))
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.gate("latency_p99").status == status, verdict.gate("latency_p99").reason


def _hang_run(gates: dict[str, object] | None) -> SyntheticRun:
    """The issue's case: the baseline fails fast while the database is down (11 ms); the
    candidate waits in a retry loop past the client's 5 s timeout, and in the recovery a fifth
    of its requests still time out."""
    run = SyntheticRun(duration_s=45, rate=13, faults=[Fault(15, 15)], gates=gates)
    run.independent = ()  # every route needs the database
    run.target("baseline", "baseline", Behaviour(fault_error=1.0, latency_ms=11))
    hangs = Behaviour(
        fault_error=0.86,
        fault_latency_ms=5000,
        recovery_s=10,
        recovery_error=0.2,
        recovery_latency_ms=2700,
        latency_ms=11,
    )
    return run.target("candidate", "candidate", hangs)


def test_a_candidate_that_hangs_instead_of_failing_fast_fails_by_default(tmp_path: Path) -> None:
    verdict = judge(load_run(_hang_run(None).write(tmp_path)))
    assert verdict.status == "fail", verdict.reason
    latency = verdict.gate("latency_p99")
    assert latency.status == "fail"
    during = next(
        c for c in latency.checks if c.phase == "during `postgres down`" and c.route == "all routes"
    )
    assert during.status == "fail" and during.n_candidate == during.n_baseline == 195
    assert "195 vs 195 requests, failures at the time they took" in during.reason
    errors = verdict.gate("error_rate")
    assert errors.status == "fail"
    assert "in the recovery after `postgres down`" in errors.reason


def test_with_errors_left_out_the_message_says_what_was_counted(tmp_path: Path) -> None:
    gates = {"latency_p99": {"max_ratio": 1.25, "include_errors": False, "per_route": False}}
    verdict = judge(load_run(_hang_run(gates).write(tmp_path)))
    check = next(
        c for c in verdict.gate("latency_p99").checks if c.phase == "during `postgres down`"
    )
    assert check.status == "inconclusive"
    assert check.reason == (
        "too few requests during `postgres down` on all routes: candidate 28 answered without "
        "error of 195 sent, baseline 1 answered without error of 195 sent, need 30 each; not "
        "enough to fail either: candidate latency p99 during `postgres down` on all routes "
        "6000.0 ms vs baseline 11.7 ms (answered without error: 28 of 195 sent vs 1 of 195; "
        "x512.65, 98.75% CI 498.97..512.65; 28 vs 0 requests slower than 21.7 ms, Fisher "
        "p=0.034, more in 21 of 21 blocks of 0.73 s, fewer in 0, sign-flip p=4.8e-07; "
        "Mann-Whitney p=0.069, Cliff's delta +1.00), limit x1.25 and +10 ms"
    )


def test_a_candidate_whose_slow_answers_hold_its_sessions_back_still_fails(
    tmp_path: Path,
) -> None:
    """The naive hotfix on a loaded machine: its answers take 2 s while the database is down,
    so its sessions' next requests wait for them and leave after the fault: 21 of the
    schedule's 195 requests fall in the fault against the baseline's 195. Too few to pass, and
    the latency gate still fails it: all 21 are slower than every baseline request."""
    run = SyntheticRun(duration_s=45, rate=13, faults=[Fault(15, 15)], gates=None)
    run.independent = ()
    run.target("baseline", "baseline", Behaviour(fault_error=1.0, latency_ms=11))
    slow = Behaviour(fault_error=1.0, latency_ms=11, fault_latency_ms=2000, fault_wait_ms=13_500)
    run.target("candidate", "candidate", slow)
    verdict = judge(load_run(run.write(tmp_path)))
    assert verdict.status == "fail", verdict.reason
    checks = {
        (g.name, c.route): c
        for g in verdict.gates
        for c in g.checks
        if c.phase == "during `postgres down`"
    }
    latency = checks["latency_p99", "all routes"]
    assert (latency.status, latency.n_candidate, latency.n_baseline) == ("fail", 21, 195)
    assert "fewer than 30 requests a side: enough to fail" in latency.reason
    assert latency.reason.endswith(
        "the candidate's sessions were held back: 21 of its requests fell here against 195 of "
        "the same schedule's, as each waits for its session's previous answer"
    )
    # both fail every request during the fault: no evidence either way on 21 requests
    errors = checks["error_rate", "all routes"]
    assert errors.status == "inconclusive"
    assert errors.reason.startswith(
        "too few requests during `postgres down` on all routes: candidate 21 sent, baseline 195 "
        "sent, need 30 each; the candidate's sessions were held back"
    )
    assert "; not enough to fail either: candidate error rate" in errors.reason


def test_the_first_probe_with_samples_is_used(tmp_path: Path) -> None:
    gates = dict(DEMO_GATES, retry_amplification={"max_ratio": 1.5, "probe": ["gone", "mine"]})
    run = demo_like(NAIVE, gates)
    run.probe = "mine"  # the run has samples of `mine` only (a service's own counter, say)
    verdict = judge(load_run(run.write(tmp_path)))
    amp = verdict.gate("retry_amplification")
    assert amp.status == "fail" and "`mine`" in amp.reason
    assert {a.target for a in verdict.amplification} == {"baseline", "candidate"}
    run.probe = "other"
    verdict = judge(load_run(run.write(tmp_path / "none")))
    amp = verdict.gate("retry_amplification")
    assert amp.status == "inconclusive"
    assert amp.reason == (
        "no `gone` or `mine` probe samples for candidate: cannot count dependency attempts"
    )


@pytest.mark.parametrize(("share", "status"), [(1.0, "fail"), (0.03, "inconclusive")])
def test_cascade_on_few_independent_requests_fails_only_on_exact_evidence(
    tmp_path: Path, share: float, status: str
) -> None:
    # 23 requests on the independent routes during the fault, under the 30 a pass needs
    run = SyntheticRun(duration_s=45, rate=3, faults=[Fault(15, 15)], gates=None)
    run.gates = {"cascade": {"max_error_rate": 0.01}}
    run.target("baseline", "baseline", Behaviour(fault_error=1.0))
    run.target("candidate", "candidate", Behaviour(independent_fault_error=share))
    gate = judge(load_run(run.write(tmp_path))).gate("cascade")
    (check,) = [c for c in gate.checks if c.route == "independent routes"]
    assert (gate.status, check.status, check.n_candidate) == (status, status, 23)
    if status == "fail":  # 23 of 23: the exact binomial p against 1 % is 1e-46
        assert check.reason.endswith(
            "fewer than 30 requests: enough to fail (the exact test agrees), not to pass"
        )
    else:  # 1 of 23 (4.3 %): binomial p=0.21, above the 5 % of the one check tested
        assert check.reason.startswith(
            "too few requests during `postgres down` on independent routes: candidate 23 sent "
            "(baseline 23), need 30; not enough to fail either: candidate error rate"
        )
        assert "4.3% (1 failed of 23 sent" in check.reason
