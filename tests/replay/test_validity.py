"""Validity of a run (pure): the scaled lag bound, fault boundaries, fairness, the pool, CPU."""

from __future__ import annotations

from harness.replay.validity import Schedule, judge, lag_bound
from harness.rundir import requests_table


def _rows(lags: dict[str, list[float]], due_s: list[float], queue: float = 0.0) -> object:
    """A requests table: for each target, requests due at ``due_s`` sent ``lag`` ms late."""
    cols: dict[str, list[object]] = {k: [] for k in ("target", "idx", "due_ns", "sent_ns",
                                                     "lag_ms", "queue_ms")}  # fmt: skip
    for name, per_request in lags.items():
        for i, (due, lag) in enumerate(zip(due_s, per_request, strict=True)):
            cols["target"].append(name)
            cols["idx"].append(i)
            cols["due_ns"].append(int(due * 1e9))
            cols["sent_ns"].append(int(due * 1e9 + lag * 1e6))
            cols["lag_ms"].append(lag)
            cols["queue_ms"].append(queue)
    n = len(cols["target"])
    return requests_table(
        {
            **cols,
            "route": ["/r"] * n,
            "method": ["GET"] * n,
            "latency_ms": [1.0] * n,
            "latency_corrected_ms": [1.0] * n,
            "status": [200] * n,
            "error": ["none"] * n,
            "bytes": [1] * n,
            "body_sha256": [None] * n,
        }
    )


DUE = [i * 0.01 for i in range(1000)]  # 100 req/s for 10 s


def _judge(table: object, schedule: Schedule | None = None, **kw: object) -> object:
    options = {"fixed_bound_ms": None, "cpu_ratios": {0: 0.3}, "cpu_bound": 0.95, **kw}
    return judge(table, ["baseline", "candidate"], schedule or Schedule(), **options)  # type: ignore[arg-type]


def test_the_bound_scales_with_the_fault_windows_or_the_span() -> None:
    assert lag_bound(None, Schedule(span_s=0.1)) == (10.0, "the floor")
    assert lag_bound(None, Schedule(span_s=2.0)) == (100.0, "5% of the replay's span")
    assert lag_bound(None, Schedule(span_s=60.0)) == (250.0, "the cap")
    # the shortest fault window decides, not the span
    faults = Schedule(span_s=60.0, fault_windows_s=[(5.0, 8.0), (20.0, 35.0)])
    assert lag_bound(None, faults) == (150.0, "5% of the shortest fault window")
    assert lag_bound(None, Schedule(span_s=60.0, fault_windows_s=[(1.0, 1.1)]))[0] == 10.0
    # a bound the user set is the bound
    assert lag_bound(3.0, faults) == (3.0, "set for this run")


def test_uniformly_a_few_ms_late_but_fair_is_valid_with_a_warning() -> None:
    lags = [12.0 + (i % 7) for i in range(1000)]
    table = _rows({"baseline": lags, "candidate": lags}, DUE)
    validity = _judge(table, Schedule(span_s=0.8))
    assert validity.valid and validity.reasons == []
    assert validity.lag_bound_ms == 40.0
    assert len(validity.warnings) == 1 and "within the bound of 40 ms" in validity.warnings[0]
    # the same lag around a fault of 200 ms is beyond the bound (the floor: 10 ms)
    tight = _judge(table, Schedule(span_s=10.0, fault_windows_s=[(20.0, 20.2)]))
    assert not tight.valid
    assert tight.reasons[0].startswith("send lag p99 18.00 ms exceeds the bound of 10 ms")


def test_targets_sent_differently_make_the_run_invalid() -> None:
    # every send within the bound (100 ms), but the candidate's tail is 79 ms behind
    table = _rows({"baseline": [1.0] * 1000, "candidate": [1.0] * 980 + [80.0] * 20}, DUE)
    validity = _judge(table, Schedule(span_s=2.0))
    assert not validity.valid
    assert validity.reasons == [
        "targets were not sent alike: lag p99 80.00 ms for candidate against 1.00 ms for "
        "baseline (more apart than 50 ms)"
    ]
    # 30 ms apart is within half the bound: fair enough
    close = _rows({"baseline": [1.0] * 1000, "candidate": [1.0] * 980 + [30.0] * 20}, DUE)
    assert _judge(close, Schedule(span_s=2.0)).valid


def test_requests_pushed_across_a_fault_boundary_make_the_run_invalid() -> None:
    # a 0.5 s fault at 5 s; 20 requests due just before it went out 60 ms late, into it
    lags = [60.0 if 4.94 <= d < 5.0 else 1.0 for d in DUE]
    table = _rows({"baseline": lags, "candidate": lags}, DUE)
    validity = _judge(table, Schedule(span_s=10.0, fault_windows_s=[(5.0, 5.5)]))
    assert not validity.valid
    assert any("crossed a boundary of fault 1 (5-5.5 s)" in r for r in validity.reasons)


def test_sends_held_back_by_the_pool_are_named_with_the_connection_maximum() -> None:
    table = _rows({"baseline": [200.0] * 1000, "candidate": [200.0] * 1000}, DUE, queue=199.0)
    validity = _judge(table, connections={0: 4})
    assert not validity.valid
    assert (
        "1000 sends to baseline waited for a connection (max 199.0 ms; connection maximum 4 "
        "per worker, raise --max-connections)"
    ) in validity.reasons


def test_a_saturated_worker_makes_it_invalid_and_says_what_to_do() -> None:
    table = _rows({"baseline": [1.0] * 1000, "candidate": [1.0] * 1000}, DUE)
    validity = _judge(table, cpu_ratios={0: 0.5, 3: 0.99})
    assert not validity.valid
    assert len(validity.reasons) == 1 and validity.reasons[0].startswith(
        "worker 3 was CPU-saturated (99%"
    )
    assert "--processes" in validity.reasons[0]


def test_a_bound_the_user_set_is_applied_as_it_is() -> None:
    lags = [12.0] * 1000
    table = _rows({"baseline": lags, "candidate": lags}, DUE)
    validity = _judge(table, Schedule(span_s=0.8), fixed_bound_ms=11.0)
    assert not validity.valid
    assert validity.reasons == [
        "send lag p99 12.00 ms exceeds the bound of 11 ms (set for this run)"
    ]


def test_nothing_sent_is_invalid() -> None:
    validity = _judge(_rows({}, []))
    assert (validity.valid, validity.reasons) == (False, ["no request was sent"])
