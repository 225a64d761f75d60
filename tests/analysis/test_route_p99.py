"""The p99 of one route needs 500 requests a side: a few slow requests do not decide it."""

from pathlib import Path

from harness.analysis.frames import load_run
from harness.analysis.verdict import judge
from tests.analysis.runs import Behaviour, SyntheticRun

GATES = {"latency_p99": {"max_ratio": 1.25}}


def _run(seconds: float, candidate: Behaviour) -> SyntheticRun:
    # 50 requests a second over four routes, no fault: one steady phase
    run = SyntheticRun(duration_s=seconds, rate=50, gates=GATES)
    run.target("b", "baseline", Behaviour(latency_ms=20))
    return run.target("c", "candidate", candidate)


def test_two_slow_requests_of_a_small_route_are_not_a_p99_regression(tmp_path: Path) -> None:
    # 57 requests per route; requests 0 and 4 are on /payments (every fourth is)
    two_slow = Behaviour(latency_ms=20, slow=(0, 4))
    gate = judge(load_run(_run(4.5, two_slow).write(tmp_path))).gate("latency_p99")
    assert gate.status == "pass", gate.reason
    route = [c for c in gate.checks if c.route == "/payments"]
    assert [c.status for c in route] == ["skipped"]
    assert "57 sent" in route[0].reason and "need 500 each" in route[0].reason


def test_a_slow_tail_on_a_route_with_enough_requests_fails(tmp_path: Path) -> None:
    # 600 requests per route; one in twenty on /payments takes 300 ms
    tail = Behaviour(latency_ms=20, slow=tuple(range(0, 2400, 80)))
    gate = judge(load_run(_run(48.0, tail).write(tmp_path))).gate("latency_p99")
    assert gate.status == "fail", gate.reason
    assert "/payments" in gate.reason
