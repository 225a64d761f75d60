"""Was the replay valid, and what did each target get? (pure: pyarrow over the result rows)

A run is invalid, rather than judged, when the load generator could not hold the schedule: its
send lag p99 exceeds the bound, or a worker was CPU-saturated (CPU time / wall time over its
sending period above the bound), or nothing was sent at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from harness.replay.model import TargetCounts


def judge(
    lag_p99_ms: float,
    lag_bound_ms: float,
    cpu_ratios: Mapping[int, float],
    cpu_bound: float,
    rows: int,
) -> tuple[bool, list[str]]:
    """``(valid, reasons)`` for a replay with these measurements."""
    reasons = []
    if rows == 0:
        reasons.append("no request was sent")
    if lag_p99_ms > lag_bound_ms:
        reasons.append(f"send lag p99 {lag_p99_ms:.2f} ms exceeds the bound of {lag_bound_ms:g} ms")
    for worker, ratio in sorted(cpu_ratios.items()):
        if ratio > cpu_bound:
            reasons.append(
                f"worker {worker} was CPU-saturated ({ratio:.0%} of wall time, bound "
                f"{cpu_bound:.0%}): add --processes or lower --speed"
            )
    return not reasons, reasons


def target_counts(table: pa.Table, names: Sequence[str], scheduled: int) -> dict[str, TargetCounts]:
    """Per target: scheduled, sent, answered (an HTTP status came back), errors by kind, rate."""
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
        counts[name] = TargetCounts(
            scheduled=scheduled,
            sent=sent,
            answered=answered,
            errors=errors,
            achieved_rate_per_s=(sent - 1) / span_s if span_s > 0 else 0.0,
        )
    return counts
