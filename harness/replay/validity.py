"""Was the replay valid, and what did each target get? (pure: pyarrow and numpy over the rows)

A run is **invalid** (not judged) when the schedule was not held in a way that biases the
comparison or misrepresents the load (docs/metrics-and-gates.md, "Validity"):

1. **late beyond the bound**: send lag p99 above a bound that scales with the shortest time the
   comparison looks at: 5 % of the shortest fault window, or of the replay's span when there
   is no fault, within 10 ms (:data:`LAG_FLOOR_MS`) and 250 ms (:data:`LAG_CAP_MS`); or exactly
   ``lag_bound_ms`` when the user set one;
2. **across a fault boundary**: the requests due before a fault but sent after it began, plus
   those due during it but sent after it ended, are more than 5 % of those due during it;
3. **unfair**: two targets' lag distributions differ (p99 apart by more than half the bound,
   at least the floor): one build got its traffic later than the other;
4. **saturated**: a worker used more than ``cpu_bound`` of a core over its sending period;
5. nothing was sent.

Sends that waited for a pooled connection are late by that wait (it is in their lag) and are
counted per target; the reason names the connection maximum. A run that is late within the
bound and fair is **valid with a warning** (a loaded CI runner is uniformly a few ms late).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harness.replay.model import TargetCounts

#: the lowest scaled bound, and the lag above which a valid run gets a warning (ms)
LAG_FLOOR_MS = 10.0
#: the highest scaled bound (ms): beyond it, recovery times and phases would shift visibly
LAG_CAP_MS = 250.0
#: a send that waited longer than this for a connection counts as held back by the pool
POOL_WAIT_MS = 1.0
#: the largest share of the requests near a fault boundary that may cross it
BOUNDARY_SHARE = 0.05


@dataclass(frozen=True)
class Schedule:
    """What the validity bound scales with: the replay's span and the fault windows."""

    span_s: float = 0.0
    """from t0 to the last request's due time"""
    fault_windows_s: Sequence[tuple[float, float]] = ()
    """(start, end) of each fault, seconds from t0"""


@dataclass(frozen=True)
class Validity:
    """The outcome: valid or not, why, what to warn about, and the bound that was applied."""

    valid: bool
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lag_bound_ms: float = 0.0


def lag_bound(fixed_ms: float | None, schedule: Schedule) -> tuple[float, str]:
    """The send-lag bound for ``schedule`` and a few words saying where it comes from."""
    if fixed_ms is not None:
        return fixed_ms, "set for this run"
    if schedule.fault_windows_s:
        shortest = min(end - start for start, end in schedule.fault_windows_s)
        scaled, why = 50.0 * shortest, "5% of the shortest fault window"
    else:
        scaled, why = 50.0 * schedule.span_s, "5% of the replay's span"
    if scaled < LAG_FLOOR_MS:
        return LAG_FLOOR_MS, "the floor"
    if scaled > LAG_CAP_MS:
        return LAG_CAP_MS, "the cap"
    return scaled, why


def judge(
    table: pa.Table,
    names: Sequence[str],
    schedule: Schedule,
    *,
    fixed_bound_ms: float | None,
    cpu_ratios: Mapping[int, float],
    cpu_bound: float,
    connections: Mapping[int, int] | None = None,
) -> Validity:
    """Judge a replay from its rows (``requests.parquet``) and its workers' summaries."""
    bound, why = lag_bound(fixed_bound_ms, schedule)
    if table.num_rows == 0:
        return Validity(False, ["no request was sent"], [], bound)
    floor_ms = min(LAG_FLOOR_MS, bound)
    reasons: list[str] = []
    warnings: list[str] = []
    lag = table.column("lag_ms").to_numpy(zero_copy_only=False)
    p99 = float(np.quantile(lag, 0.99))
    if p99 > bound:
        reasons.append(f"send lag p99 {p99:.2f} ms exceeds the bound of {bound:.4g} ms ({why})")
    elif p99 > floor_ms:
        warnings.append(
            f"sends were late (lag p99 {p99:.2f} ms) but within the bound of {bound:.4g} ms "
            f"({why}) and alike for every target"
        )
    reasons += _boundaries(table, schedule)
    reasons += _fairness(table, names, max(floor_ms, bound / 2))
    pool_reasons, pool_warnings = _pool(table, names, bound, connections or {})
    reasons += pool_reasons
    warnings += pool_warnings
    for worker, ratio in sorted(cpu_ratios.items()):
        if ratio > cpu_bound:
            reasons.append(
                f"worker {worker} was CPU-saturated ({ratio:.0%} of wall time, bound "
                f"{cpu_bound:.0%}): add --processes or lower --speed"
            )
    if reasons:  # an invalid run's warnings would only repeat its reasons
        warnings = []
    return Validity(not reasons, reasons, warnings, bound)


def _boundaries(table: pa.Table, schedule: Schedule) -> list[str]:
    due = table.column("due_ns").to_numpy(zero_copy_only=False) / 1e9
    if "wait_ms" in table.column_names:  # a session wait moved the schedule (session order)
        due = due + table.column("wait_ms").fill_null(0).to_numpy(zero_copy_only=False) / 1e3
    sent = table.column("sent_ns").to_numpy(zero_copy_only=False) / 1e9
    reasons = []
    for k, (start, end) in enumerate(schedule.fault_windows_s, start=1):
        inside = (due >= start) & (due < end)
        # due before the fault but sent into it, or due in it but sent after it ended
        crossed = int(np.sum((due < start) & (sent >= start)) + np.sum(inside & (sent >= end)))
        total = int(np.sum(inside))
        if crossed and crossed / max(1, total) > BOUNDARY_SHARE:
            reasons.append(
                f"{crossed} requests crossed a boundary of fault {k} ({start:g}-{end:g} s): "
                f"due on one side, sent on the other ({crossed / max(1, total):.0%} of the "
                f"{total} due during it)"
            )
    return reasons


def _fairness(table: pa.Table, names: Sequence[str], tolerance_ms: float) -> list[str]:
    p99s = {}
    for name in names:
        lag = table.filter(pc.equal(table.column("target"), name)).column("lag_ms")
        if len(lag):
            p99s[name] = float(np.quantile(lag.to_numpy(zero_copy_only=False), 0.99))
    if len(p99s) < 2:
        return []
    low = min(p99s, key=p99s.__getitem__)
    high = max(p99s, key=p99s.__getitem__)
    if p99s[high] - p99s[low] <= tolerance_ms:
        return []
    return [
        f"targets were not sent alike: lag p99 {p99s[high]:.2f} ms for {high} against "
        f"{p99s[low]:.2f} ms for {low} (more apart than {tolerance_ms:.4g} ms)"
    ]


def _pool(
    table: pa.Table, names: Sequence[str], bound_ms: float, connections: Mapping[int, int]
) -> tuple[list[str], list[str]]:
    reasons, warnings = [], []
    most = max(connections.values(), default=None)
    limit = f"; connection maximum {most} per worker, raise --max-connections" if most else ""
    for name in names:
        rows = table.filter(pc.equal(table.column("target"), name))
        queue = rows.column("queue_ms").fill_null(0.0).to_numpy(zero_copy_only=False)
        waited = queue > POOL_WAIT_MS
        if not waited.any():
            continue
        line = (
            f"{int(waited.sum())} sends to {name} waited for a connection (max "
            f"{float(queue.max()):.1f} ms{limit})"
        )
        if float(np.quantile(queue, 0.99)) > bound_ms:
            reasons.append(line)
        else:
            warnings.append(line)
    return reasons, warnings


def target_counts(table: pa.Table, names: Sequence[str], scheduled: int) -> dict[str, TargetCounts]:
    """Per target: scheduled, sent, answered (an HTTP status came back), errors by kind, rate,
    and the sends that waited for a pooled connection."""
    counts: dict[str, TargetCounts] = {}
    for name in names:
        rows = table.filter(pc.equal(table.column("target"), name))
        errors: dict[str, int] = {}
        for item in pc.value_counts(rows.column("error")).to_pylist():
            if item["values"] != "none":
                errors[str(item["values"])] = int(item["counts"])
        sent = rows.num_rows
        answered = int(pc.sum(pc.greater(rows.column("status"), 0)).as_py() or 0)
        first = pc.min(rows.column("sent_ns")).as_py()
        last = pc.max(rows.column("sent_ns")).as_py()
        span_s = (last - first) / 1e9 if sent else 0.0
        queue = rows.column("queue_ms").fill_null(0.0)
        counts[name] = TargetCounts(
            scheduled=scheduled,
            sent=sent,
            answered=answered,
            errors=errors,
            achieved_rate_per_s=(sent - 1) / span_s if span_s > 0 else 0.0,
            pool_waits=int(pc.sum(pc.greater(queue, POOL_WAIT_MS)).as_py() or 0),
            pool_wait_max_ms=float(pc.max(queue).as_py() or 0.0) if sent else 0.0,
        )
    return counts
