"""Metrics of DESIGN section 6 on the request and probe frames (pure pandas/numpy functions).

- error: status 0 (no HTTP response) or >= 500;
- latency: percentiles of ``latency_corrected_ms`` (due time to last byte);
- retry amplification: increase of a monotonic attempts counter / replayed requests, per window;
- recovery time: see :mod:`harness.analysis.recovery`;
- cascade: error rate on the independent routes during a fault (computed by the cascade gate);
- throughput: requests per second of the phase;
- response differences: share of paired requests (same ``idx``) whose status or body differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.analysis.phases import Phase

PERCENTILES: tuple[float, ...] = (0.5, 0.9, 0.99)


def error_mask(frame: pd.DataFrame) -> pd.Series:
    """True where the request failed: no response (status 0) or a 5xx."""
    status = frame["status"]
    return (status == 0) | (status >= 500)


def phase_metrics(frame: pd.DataFrame, phases: list[Phase], by_route: bool) -> pd.DataFrame:
    """Per target (and route) and phase: requests, errors, error rate, p50/p90/p99, rate/s.

    ``frame`` needs the ``phase`` and ``failed`` columns added by the analysis context.
    """
    keys = ["target", "route", "phase"] if by_route else ["target", "phase"]
    grouped = frame.groupby(keys, observed=True, sort=True)
    table = grouped.agg(requests=("failed", "size"), errors=("failed", "sum"))
    quantiles = grouped["latency_corrected_ms"].quantile(np.array(PERCENTILES)).unstack()
    quantiles.columns = [f"p{round(q * 100)}_ms" for q in PERCENTILES]
    table = table.join(quantiles)
    table["error_rate"] = table["errors"] / table["requests"]
    first, last = int(frame["due_ns"].min()), int(frame["due_ns"].max())
    seconds = {p.name: max(p.duration_s(first, last), 1e-9) for p in phases}
    phase_of_row = table.index.get_level_values("phase").astype(str)
    table["rate_per_s"] = table["requests"].to_numpy() / phase_of_row.map(seconds).to_numpy()
    return table.reset_index()


def counter_increases(probes: pd.DataFrame, target: str, probe: str) -> pd.DataFrame:
    """Increase of a monotonic counter between consecutive samples, resets handled.

    A drop means the counter restarted from zero (process restart), so the increase over that
    interval is the new value itself, never a negative number. Each increase is dated at the
    sample that observed it.
    """
    rows = probes[(probes["target"] == target) & (probes["probe"] == probe)]
    rows = rows.sort_values("t_ns")
    values = rows["value"].to_numpy(dtype=np.float64)
    if len(values) < 2:
        return pd.DataFrame({"t_ns": np.array([], dtype=np.int64), "increase": []})
    steps = np.diff(values)
    increases = np.where(steps >= 0, steps, values[1:])
    return pd.DataFrame({"t_ns": rows["t_ns"].to_numpy()[1:], "increase": increases})


@dataclass(frozen=True)
class Amplification:
    """Dependency attempts per replayed request of one target in one window."""

    attempts: float
    requests: int
    samples: int

    @property
    def ratio(self) -> float | None:
        return self.attempts / self.requests if self.requests else None


def amplification(
    increases: pd.DataFrame, due_ns: np.ndarray, start_ns: int | None, end_ns: int | None
) -> Amplification:
    """Attempts per request in ``[start_ns, end_ns)``; ``due_ns`` are the target's requests."""
    lo = np.iinfo(np.int64).min if start_ns is None else start_ns
    hi = np.iinfo(np.int64).max if end_ns is None else end_ns
    times = increases["t_ns"].to_numpy()
    inside = (times >= lo) & (times < hi)
    requests = int(np.count_nonzero((due_ns >= lo) & (due_ns < hi)))
    return Amplification(
        float(increases["increase"].to_numpy()[inside].sum()), requests, int(inside.sum())
    )


@dataclass(frozen=True)
class ResponseDiff:
    """Paired requests (same ``idx`` on both targets) and how many differ."""

    paired: int
    differing: int
    status_differs: int

    @property
    def share(self) -> float | None:
        return self.differing / self.paired if self.paired else None


def pair_responses(frame: pd.DataFrame, baseline: str, candidate: str) -> pd.DataFrame:
    """One row per request replayed to both targets: route, phase, statuses, body codes, differs.

    A request is its capture ``idx`` at its due time: a looped capture sends one idx many
    times, and each time goes to both targets at the same due time.
    """
    cols = ["idx", "due_ns", "route", "phase", "status", "body_code"]
    left = frame.loc[frame["target"] == baseline, cols]
    right = frame.loc[frame["target"] == candidate, ["idx", "due_ns", "status", "body_code"]]
    pairs = left.merge(right, on=["idx", "due_ns"], suffixes=("_base", "_cand"), how="inner")
    status_diff = pairs["status_base"] != pairs["status_cand"]
    pairs["status_differs"] = status_diff
    pairs["differs"] = status_diff | (pairs["body_code_base"] != pairs["body_code_cand"])
    return pairs


def response_diff(pairs: pd.DataFrame) -> ResponseDiff:
    return ResponseDiff(len(pairs), int(pairs["differs"].sum()), int(pairs["status_differs"].sum()))


def timeline(frame: pd.DataFrame, bin_s: float) -> pd.DataFrame:
    """Per target and time bin: requests, error rate, p50 and p99 latency (for the plots)."""
    bin_ns = max(int(bin_s * 1e9), 1)
    work = frame[["target", "due_ns", "failed", "latency_corrected_ms"]].copy()
    work["bin"] = (work["due_ns"] // bin_ns).astype(np.int64)
    grouped = work.groupby(["target", "bin"], observed=True, sort=True)
    table = grouped.agg(requests=("failed", "size"), errors=("failed", "sum"))
    lat = grouped["latency_corrected_ms"].quantile(np.array([0.5, 0.99])).unstack()
    lat.columns = ["p50_ms", "p99_ms"]
    table = table.join(lat).reset_index()
    table["t_s"] = table["bin"] * bin_s
    table["error_rate"] = table["errors"] / table["requests"]
    return table
