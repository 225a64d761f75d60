"""Recovery after each fault: when a target came back into its pre-fault band.

The error band is measured on the **baseline** before the first fault: its error rate plus
``tolerance_pp``. The latency band is the baseline's p99 before the first fault (times
``latency_ratio``, at least ``latency_floor_ms`` above it), over every request, failures
included at the time they took, or the target's own band so measured when that is wider: a
target that was slower than the baseline before any fault (a build on a busier host, a machine
slowing one build more than the other; the p99 gate judges whether that slowness is a
regression) has come back when it is as fast as it was, not only when it is as fast as the
baseline was. Errors get no such allowance: a candidate that failed more than the baseline
before the fault is not "recovered" by returning to its own worse level. Latency here is the
target's own, from send to last byte (``latency_ms``): a load generator that falls behind delays
every target alike, and must not keep them all "out of the band" (the p99 gate judges the
latency corrected for that). A target has settled
at the first moment from which, for ``sustain`` seconds, every sliding ``window`` has an error
rate within the band and (when judged on latency) a p90 within it: at most one request in ten
slower than the band's top. Both must hold at once; "never settled" is a result, and the row
says which of the two kept it out.

The windows are counted on 100 ms bins with cumulative sums, so a window's error share and slow
share cost the same whatever the traffic (no per-window sorting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.analysis.checks import summarise
from harness.analysis.context import Context
from harness.analysis.gates import MIN_WINDOW_LATENCY, RecoveryTimeGate
from harness.analysis.model import ALL_ROUTES, Check, CheckStatus, GateResult, RecoveryRow
from harness.analysis.phases import BEFORE, unique_labels
from harness.analysis.stats import order_quantile
from harness.scenario.durations import format_duration

DEFAULT_RECOVERY = RecoveryTimeGate(max=10.0)
#: Share of a window's requests that may be slower than the band (the window's p90).
SLOW_SHARE = 0.1


@dataclass(frozen=True)
class Recovery:
    """How long after a fault's end a target settled (``None``: never, before the horizon).

    ``errors_s`` and ``latency_s`` say when each criterion alone settled, to tell which one
    kept the target out of the band.
    """

    seconds: float | None
    threshold: float
    horizon_reason: str
    requests: int
    errors_s: float | None = None
    latency_s: float | None = None

    @property
    def recovered(self) -> bool:
        return self.seconds is not None


def recovery_time(
    due_ns: np.ndarray,
    errors: np.ndarray,
    *,
    end_ns: int,
    horizon_ns: int,
    threshold: float,
    window_s: float,
    sustain_s: float,
    horizon_reason: str = "end of the run",
    slow: np.ndarray | None = None,
) -> Recovery:
    """First time ``s >= end_ns`` from which every ``window_s`` window starting in
    ``[s, s + sustain_s]`` has an error rate <= ``threshold`` and (given ``slow``, a mask of
    requests slower than the band) at most :data:`SLOW_SHARE` slow requests; ``s - end`` in s.

    Works on 100 ms bins (or window/10 when shorter); windows without requests do not count
    against recovery, nor do windows with fewer than ``MIN_WINDOW_LATENCY`` requests on latency.
    Settling must be confirmed before ``horizon_ns``, else: never recovered.
    """
    bin_ns = int(min(0.1, window_s / 10) * 1e9) or 1
    span = horizon_ns - end_ns
    inside = (due_ns >= end_ns) & (due_ns < horizon_ns)
    count = int(inside.sum())
    nbins = max(span // bin_ns, 0)
    window = max(round(window_s * 1e9 / bin_ns), 1)
    if nbins < window:
        return Recovery(None, threshold, horizon_reason, count)
    # Rounding to bins must not make a sustain that just fits look too long.
    sustain = min(max(round(sustain_s * 1e9 / bin_ns), 0), nbins - window)
    index = ((due_ns[inside] - end_ns) // bin_ns).astype(np.int64)
    keep = index < nbins
    starts = nbins - window + 1  # windows [i, i + window) that fit

    def per_window(weights: np.ndarray | None) -> np.ndarray:
        w = None if weights is None else weights[inside][keep].astype(np.float64)
        per_bin = np.bincount(index[keep], weights=w, minlength=nbins)
        csum = np.concatenate([[0.0], np.cumsum(per_bin)])
        out: np.ndarray = csum[window : window + starts] - csum[:starts]
        return out

    n = per_window(None)
    bad_errors = (n > 0) & (per_window(errors) > threshold * n + 1e-12)
    bad_latency = np.zeros(starts, dtype=bool)
    if slow is not None:
        bad_latency = (n >= MIN_WINDOW_LATENCY) & (per_window(slow) > SLOW_SHARE * n + 1e-12)
    seconds = _settled(bad_errors | bad_latency, sustain, bin_ns)
    return Recovery(
        seconds,
        threshold,
        horizon_reason,
        count,
        errors_s=_settled(bad_errors, sustain, bin_ns),
        latency_s=_settled(bad_latency, sustain, bin_ns) if slow is not None else None,
    )


def _settled(bad: np.ndarray, sustain: int, bin_ns: int) -> float | None:
    """Seconds until the first window from which ``sustain`` more windows are all good."""
    starts = len(bad)
    # next_bad[i]: first bad window at or after i (starts when none); settled at i when the
    # windows i..i+sustain are all good.
    positions = np.where(bad, np.arange(starts), starts)
    next_bad = np.minimum.accumulate(positions[::-1])[::-1]
    candidates = np.arange(max(starts - sustain, 0))
    ok = next_bad[candidates] > candidates + sustain
    if not ok.any():
        return None
    return int(np.argmax(ok)) * bin_ns / 1e9


@dataclass(frozen=True)
class Band:
    """A pre-fault band: most errors and (``None``: not judged) slowest p90.

    ``own``: the latency limit is the target's own pre-fault band, wider than the baseline's.
    """

    error_rate: float
    latency_ms: float | None
    note: str = ""
    own: bool = False


def baseline_band(ctx: Context, gate: RecoveryTimeGate) -> Band:
    """The band from the baseline's requests before the first fault."""
    before = ctx.positions(ctx.targets.baseline, BEFORE)
    error_rate = float(ctx.errors[before].mean()) if len(before) else 0.0
    threshold = error_rate + gate.tolerance_pp / 100
    if not gate.latency:
        return Band(threshold, None)
    latency = _before_latency(ctx, ctx.targets.baseline)
    if len(latency) < ctx.gates.min_samples:
        return Band(
            threshold,
            None,
            f"latency not judged: {len(latency)} baseline requests before the first fault, "
            f"need {ctx.gates.min_samples}",
        )
    return Band(threshold, gate.latency_band_ms(order_quantile(latency, 0.99)))


def target_band(ctx: Context, gate: RecoveryTimeGate, band: Band, target: str) -> Band:
    """``band`` (the baseline's), with the latency limit widened to ``target``'s own pre-fault
    band when that is wider and rests on ``min_samples`` requests or more."""
    if band.latency_ms is None or target == ctx.targets.baseline:
        return band
    latency = _before_latency(ctx, target)
    if len(latency) < ctx.gates.min_samples:
        return band
    own = gate.latency_band_ms(order_quantile(latency, 0.99))
    if own <= band.latency_ms:
        return band
    return Band(band.error_rate, own, band.note, own=True)


def _before_latency(ctx: Context, target: str) -> np.ndarray:
    latency = ctx.own_latency[ctx.positions(target, BEFORE)]
    out: np.ndarray = latency[~np.isnan(latency)]
    return out


def recovery_rows(ctx: Context, gate: RecoveryTimeGate | None) -> list[RecoveryRow]:
    """Recovery of every compared target after every reverted fault.

    Settling must hold for ``sustain`` seconds, or until the next fault when that comes sooner
    (a flapping dependency leaves less room); with less than one ``window`` before the next
    fault or the end of the run, recovery cannot be measured.
    """
    gate = gate or DEFAULT_RECOVERY
    faults = ctx.run.faults
    labels = unique_labels(faults)
    due_all = ctx.frame["due_ns"].to_numpy()
    band = baseline_band(ctx, gate)
    bands = {target: target_band(ctx, gate, band, target) for target in _targets(ctx)}
    rows = []
    for position, fault in enumerate(faults):
        if fault.end_ns is None:
            continue
        nxt = faults[position + 1].start_ns if position + 1 < len(faults) else None
        horizon = nxt if nxt is not None else ctx.last_ns + 1
        why = f"the next fault `{labels[position + 1]}`" if nxt else "the end of the run"
        room = math.floor(((horizon - fault.end_ns) / 1e9 - gate.window) * 10) / 10
        sustain = min(gate.sustain, room)
        for target in _targets(ctx):
            own = bands[target]
            common = {
                "fault": labels[position],
                "fault_id": fault.id,
                "target": target,
                "end_s": fault.end_ns / 1e9,
                "threshold": own.error_rate,
                "latency_limit_ms": own.latency_ms,
                "latency_own": own.own,
            }
            if room <= 0:
                note = f"less than {format_duration(gate.window)} before {why}"
                rows.append(RecoveryRow(**common, measurable=False, note=note))
                continue
            rows_t = ctx.positions(target)
            slow = None
            if own.latency_ms is not None:
                slow = np.nan_to_num(ctx.own_latency[rows_t], nan=0.0) > own.latency_ms
            rec = recovery_time(
                due_all[rows_t],
                ctx.errors[rows_t],
                end_ns=fault.end_ns,
                horizon_ns=horizon,
                threshold=own.error_rate,
                window_s=gate.window,
                sustain_s=sustain,
                horizon_reason=why,
                slow=slow,
            )
            short = f"held {format_duration(sustain)} until {why}" if sustain < gate.sustain else ""
            note = short if rec.recovered else f"not settled before {why}"
            if band.note:
                note = f"{note}; {band.note}" if note else band.note
            rows.append(
                RecoveryRow(
                    **common,
                    seconds=rec.seconds,
                    errors_s=rec.errors_s,
                    latency_s=rec.latency_s,
                    sustained_s=sustain,
                    note=note,
                )
            )
    return rows


def _targets(ctx: Context) -> list[str]:
    t = ctx.targets
    return [t.baseline, t.candidate] + ([t.aa] if t.aa else [])


def recovery_gate(ctx: Context, gate: RecoveryTimeGate, rows: list[RecoveryRow]) -> GateResult:
    """Each fault: the candidate must be back in its pre-fault band (:func:`target_band`)
    within ``gate.max``."""
    t, cfg = ctx.targets, ctx.gates
    limit = f"<= {format_duration(gate.max)}"
    checks = []
    labels = dict(zip((f.id for f in ctx.run.faults), unique_labels(ctx.run.faults), strict=True))
    for fault in ctx.run.faults:
        if fault.end_ns is None:
            checks.append(
                Check(
                    phase=f"recovery `{labels[fault.id]}`",
                    route=ALL_ROUTES,
                    status="inconclusive",
                    reason=f"fault `{labels[fault.id]}` was never reverted in this run",
                )
            )
    by_key = {(r.fault_id, r.target): r for r in rows}
    due = ctx.frame["due_ns"].to_numpy()[ctx.positions(t.candidate)]
    for fault in ctx.run.faults:
        if fault.end_ns is None:
            continue
        label = labels[fault.id]
        cand, base = by_key[(fault.id, t.candidate)], by_key[(fault.id, t.baseline)]
        count = int(np.count_nonzero(due >= fault.end_ns))
        phase = f"recovery `{label}`"
        if count < cfg.min_samples or not cand.measurable:
            checks.append(
                Check(
                    phase=phase,
                    route=ALL_ROUTES,
                    status="inconclusive",
                    n_candidate=count,
                    reason=f"cannot measure recovery after `{label}`: "
                    f"{cand.note if not cand.measurable else f'only {count} requests after it'}",
                )
            )
            continue
        status, note = _late_status(cand.seconds, base.seconds, gate)
        checks.append(
            Check(
                phase=phase,
                route=ALL_ROUTES,
                status=status,
                candidate=cand.seconds,
                baseline=base.seconds,
                value=cand.seconds,
                limit=gate.max,
                n_candidate=count,
                reason=f"candidate {recovery_words(cand)} after `{label}` ended (baseline "
                f"{settled_words(base.seconds)}; {band_words(cand, gate)}), limit "
                f"{format_duration(gate.max)}{note}",
            )
        )
    return summarise("recovery_time", limit, checks)


def _late_status(
    cand: float | None, base: float | None, gate: RecoveryTimeGate
) -> tuple[CheckStatus, str]:
    """Pass, fail or inconclusive for a candidate that settled after ``cand`` seconds (None:
    never) beside a baseline that settled after ``base``, and the note the reason ends with.

    Only a baseline that came back in time shows that coming back was possible. When it did
    not either, something outside the candidate (a machine slowed down by the fault or by other
    work, a database still recovering) kept both out of the band: a candidate that settled no
    later than the baseline (within one window), or that never settled beside a baseline that
    never did, is held no worse than it and passes, with a note saying so; one that settled
    later than a late baseline is inconclusive."""
    if cand is not None and cand <= gate.max:
        return "pass", ""
    if base is not None and base <= gate.max:
        return "fail", ""
    no_later = base is None or (cand is not None and cand <= base + gate.window)
    if no_later:
        return "pass", (
            "; the baseline did not settle in time either and the candidate settled no later: "
            "held no worse than the baseline (the error-rate and latency gates judge the "
            "recovery phase)"
        )
    return "inconclusive", (
        "; the baseline did not settle in time either, and the candidate settled later than it"
    )


def recovery_words(row: RecoveryRow) -> str:
    """``settled 1.2s`` or ``never settled (latency never did: ...)``, naming what held it."""
    words = settled_words(row.seconds)
    if row.latency_limit_ms is None or row.errors_s == row.latency_s:
        return words
    return (
        f"{words} (error rate {settled_words(row.errors_s)}, "
        f"latency {settled_words(row.latency_s)})"
    )


def band_words(row: RecoveryRow, gate: RecoveryTimeGate) -> str:
    """What 'settled' meant for this row, in numbers."""
    held = format_duration(row.sustained_s or gate.sustain)
    text = f"settled = error rate at most {row.threshold * 100:.1f}%"
    if row.latency_limit_ms is not None:
        text += f" and p90 latency at most {row.latency_limit_ms:.0f} ms"
    window = format_duration(gate.window)
    whose = "the baseline's pre-fault band"
    if row.latency_own:
        whose = (
            "the baseline's pre-fault error band and the target's own pre-fault latency band, "
            "wider than the baseline's as it was slower before the fault"
        )
    return f"{text} in every {window} window for {held}: {whose}"


def settled_words(seconds: float | None) -> str:
    return "never settled" if seconds is None else f"settled {seconds:.1f}s"
