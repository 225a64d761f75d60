"""Validity of a run: send lag bound and CPU saturation (pure)."""

from harness.replay.validity import judge


def test_a_run_within_bounds_is_valid() -> None:
    assert judge(1.2, 10.0, {0: 0.5, 1: 0.9}, 0.95, rows=100) == (True, [])


def test_lag_over_the_bound_makes_it_invalid() -> None:
    valid, reasons = judge(12.5, 10.0, {0: 0.5}, 0.95, rows=100)
    assert not valid
    assert reasons == ["send lag p99 12.50 ms exceeds the bound of 10 ms"]


def test_a_saturated_worker_makes_it_invalid_and_says_what_to_do() -> None:
    valid, reasons = judge(1.0, 10.0, {0: 0.5, 3: 0.99}, 0.95, rows=100)
    assert not valid
    assert len(reasons) == 1 and reasons[0].startswith("worker 3 was CPU-saturated (99%")
    assert "--processes" in reasons[0]


def test_nothing_sent_is_invalid() -> None:
    assert judge(0.0, 10.0, {}, 0.95, rows=0) == (False, ["no request was sent"])
