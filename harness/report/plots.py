"""The report's charts from a run and its verdict: errors, latency, amplification over time.

Fault windows come from the verdict's phases (measured times), recovery marks from its recovery
rows. Time bins aim for about 120 points across the run, never below 100 ms.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.analysis.frames import Run
from harness.analysis.metrics import counter_increases, error_mask, timeline
from harness.analysis.model import Verdict
from harness.report.svg import PALETTE, Chart, Mark, Series, Shade, line_chart


def _targets(verdict: Verdict) -> list[str]:
    return [verdict.baseline, verdict.candidate] + ([verdict.aa] if verdict.aa else [])


def _colors(verdict: Verdict) -> dict[str, str]:
    return {name: PALETTE[i] for i, name in enumerate(_targets(verdict))}


def bin_seconds(frame: pd.DataFrame) -> float:
    if frame.empty:
        return 1.0
    span = (int(frame["due_ns"].max()) - int(frame["due_ns"].min())) / 1e9
    raw = max(span / 120, 0.1)
    return float(min((0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60), key=lambda b: abs(b - raw)))


def shades(verdict: Verdict) -> list[Shade]:
    return [
        Shade(p.start_s or 0.0, p.end_s or 0.0, p.fault_label or p.name)
        for p in verdict.phases
        if p.kind == "during" and p.start_s is not None and p.end_s is not None
    ]


def recovery_marks(verdict: Verdict) -> list[Mark]:
    colors = _colors(verdict)
    return [
        Mark(
            r.end_s + r.seconds,
            f"{r.target} settled +{r.seconds:.1f}s",
            colors.get(r.target, "#2ca02c"),
        )
        for r in verdict.recovery
        if r.seconds is not None and r.target in colors
    ]


def charts(run: Run, verdict: Verdict) -> list[str]:
    """SVG strings: error rate, latency p50/p99, retry amplification (when probed)."""
    targets = _targets(verdict)
    frame = run.requests[run.requests["target"].isin(targets)]
    frame = frame[["target", "due_ns", "status", "latency_corrected_ms"]].copy()
    frame["failed"] = error_mask(frame)
    bin_s = bin_seconds(frame)
    table = timeline(frame, bin_s)
    colors = _colors(verdict)
    errors, latency = [], []
    for name in targets:
        rows = table[table["target"] == name]
        xs = [float(x) for x in rows["t_s"]]
        errors.append(Series(name, xs, [float(v) for v in rows["error_rate"]], colors[name]))
        latency.append(Series(f"{name} p99", xs, [float(v) for v in rows["p99_ms"]], colors[name]))
        latency.append(
            Series(f"{name} p50", xs, [float(v) for v in rows["p50_ms"]], colors[name], dashed=True)
        )
    fault_shades, marks = shades(verdict), recovery_marks(verdict)
    out = [
        line_chart(
            Chart(
                f"error rate per {bin_s:g}s (status 0 or >= 500)",
                errors,
                fault_shades,
                marks,
                y_unit="%",
                y_scale=100,
            )
        ),
        line_chart(
            Chart(
                f"latency p50 (dashed) and p99 per {bin_s:g}s, corrected",
                latency,
                fault_shades,
                marks,
                y_unit="ms",
            )
        ),
    ]
    probe = verdict.amplification_probe or "db_attempts"  # older verdicts: the old default
    amp = _amplification_series(
        run, frame=frame, targets=targets, probe=probe, bin_s=bin_s, colors=colors
    )
    if amp:
        out.append(
            line_chart(
                Chart(
                    f"retry amplification ({probe} per request, per {max(bin_s, 1.0):g}s)",
                    amp,
                    fault_shades,
                    marks,
                )
            )
        )
    return out


def _amplification_series(
    run: Run,
    *,
    frame: pd.DataFrame,
    targets: list[str],
    probe: str,
    bin_s: float,
    colors: dict[str, str],
) -> list[Series]:
    # Probes are sampled about once a second; finer bins would show sampling, not behaviour.
    bin_ns = int(max(bin_s, 1.0) * 1e9)
    out = []
    for name in targets:
        increases = counter_increases(run.probes, name, probe)
        if increases.empty:
            continue
        due = frame.loc[frame["target"] == name, "due_ns"].to_numpy()
        last = int(max(due.max() if len(due) else 0, increases["t_ns"].max()))
        nbins = last // bin_ns + 1
        requests = np.bincount(due // bin_ns, minlength=nbins)[:nbins]
        # An increase is dated at the sample that saw it: it happened in the bin before.
        slots = np.maximum((increases["t_ns"].to_numpy() - 1) // bin_ns, 0)
        attempts = np.bincount(
            np.minimum(slots, nbins - 1), weights=increases["increase"].to_numpy(), minlength=nbins
        )[:nbins]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(requests > 0, attempts / np.maximum(requests, 1), math.nan)
        xs = [i * bin_ns / 1e9 for i in range(nbins)]
        out.append(Series(name, xs, [float(v) for v in ratio], colors[name]))
    return out
