"""Gates on how a build treats its dependency: retry amplification and recovery time.

Retry amplification needs a counter probe (``db_attempts`` by default) for both targets: the
increase of the counter in a phase divided by the requests replayed to that target in the phase.
Recovery is measured on each target's own error rate after each fault's measured end.
"""

from __future__ import annotations

import math

import numpy as np

from harness.analysis.checks import phase_words, summarise, worst_first
from harness.analysis.context import Context
from harness.analysis.gates import RecoveryTimeGate, RetryAmplificationGate
from harness.analysis.metrics import Amplification, amplification, counter_increases, recovery_time
from harness.analysis.model import ALL_ROUTES, AmplificationRow, Check, GateResult, RecoveryRow
from harness.analysis.phases import BEFORE, unique_labels
from harness.scenario.durations import format_duration

DEFAULT_RECOVERY = RecoveryTimeGate(max=10.0)


def amplification_rows(ctx: Context, probe: str) -> list[AmplificationRow]:
    """Attempts per request for every compared target and phase (empty without the probe)."""
    rows = []
    for target in _targets(ctx):
        increases = counter_increases(ctx.run.probes, target, probe)
        if increases.empty:
            continue
        due = ctx.due(target)
        for phase in ctx.phases:
            amp = amplification(increases, due, phase.start_ns, phase.end_ns)
            rows.append(
                AmplificationRow(
                    target=target,
                    phase=phase.name,
                    attempts=amp.attempts,
                    requests=amp.requests,
                    ratio=amp.ratio,
                )
            )
    return rows


def _targets(ctx: Context) -> list[str]:
    t = ctx.targets
    return [t.baseline, t.candidate] + ([t.aa] if t.aa else [])


def _ratio(cand: Amplification, base: Amplification) -> float:
    c, b = cand.ratio or 0.0, base.ratio or 0.0
    if b == 0:
        return 1.0 if c == 0 else float("inf")
    return c / b


def amplification_gate(ctx: Context, gate: RetryAmplificationGate) -> GateResult:
    """Candidate attempts per request / baseline's, per phase."""
    cfg, t = ctx.gates, ctx.targets
    limit = f"x{gate.max_ratio:g}"
    series = {name: counter_increases(ctx.run.probes, name, gate.probe) for name in _targets(ctx)}
    for name in (t.candidate, t.baseline):
        if series[name].empty:
            return GateResult(
                name="retry_amplification",
                status="inconclusive",
                limit=limit,
                reason=f"no `{gate.probe}` probe samples for {name}: cannot "
                "count dependency attempts",
            )
    dues = {name: ctx.due(name) for name in series}
    checks = []
    for phase in ctx.phases:
        amps = {
            name: amplification(inc, dues[name], phase.start_ns, phase.end_ns)
            for name, inc in series.items()
        }
        cand, base = amps[t.candidate], amps[t.baseline]
        where = phase_words(phase.name)
        if cand.requests < cfg.min_samples or base.requests < cfg.min_samples:
            if cand.requests or base.requests:
                checks.append(
                    Check(
                        phase=phase.name,
                        route=ALL_ROUTES,
                        status="inconclusive",
                        n_candidate=cand.requests,
                        n_baseline=base.requests,
                        reason=f"too few requests {where} to measure amplification: candidate "
                        f"{cand.requests}, baseline {base.requests}, need {cfg.min_samples} each",
                    )
                )
            continue
        if cand.samples == 0 or base.samples == 0:
            checks.append(
                Check(
                    phase=phase.name,
                    route=ALL_ROUTES,
                    status="skipped",
                    reason=f"no `{gate.probe}` sample {where}",
                )
            )
            continue
        noise = 1.0
        if gate.relative_to == "noise" and t.aa is not None and amps[t.aa].samples:
            aa_ratio = _ratio(amps[t.aa], base)
            noise = max(aa_ratio, 1 / aa_ratio) if 0 < aa_ratio < float("inf") else 1.0
        ratio = _ratio(cand, base)
        increase = (cand.ratio or 0.0) - (base.ratio or 0.0)
        failed = ratio > gate.max_ratio * noise and increase > gate.min_increase
        checks.append(
            Check(
                phase=phase.name,
                route=ALL_ROUTES,
                status="fail" if failed else "pass",
                candidate=cand.ratio,
                baseline=base.ratio,
                value=ratio,
                limit=gate.max_ratio * noise,
                noise=noise if gate.relative_to == "noise" else None,
                n_candidate=cand.requests,
                n_baseline=base.requests,
                reason=f"candidate retry amplification {where} {cand.ratio or 0:.2f} attempts per "
                f"request vs baseline {base.ratio or 0:.2f} (x{ratio:.2f}), limit "
                f"x{gate.max_ratio * noise:.2f}",
            )
        )
    worst_first(checks)
    return summarise("retry_amplification", limit, checks)


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
            before = ctx.positions(target, BEFORE)
            pre = float(ctx.errors[before].mean()) if len(before) else 0.0
            threshold = pre + gate.tolerance_pp / 100
            if room <= 0:
                rows.append(
                    RecoveryRow(
                        fault=labels[position],
                        fault_id=fault.id,
                        target=target,
                        end_s=fault.end_ns / 1e9,
                        threshold=threshold,
                        measurable=False,
                        note=f"less than {format_duration(gate.window)} before {why}",
                    )
                )
                continue
            rows_t = ctx.positions(target)
            rec = recovery_time(
                due_all[rows_t],
                ctx.errors[rows_t],
                end_ns=fault.end_ns,
                horizon_ns=horizon,
                threshold=threshold,
                window_s=gate.window,
                sustain_s=sustain,
                horizon_reason=why,
            )
            short = f"held {format_duration(sustain)} until {why}" if sustain < gate.sustain else ""
            rows.append(
                RecoveryRow(
                    fault=labels[position],
                    fault_id=fault.id,
                    target=target,
                    end_s=fault.end_ns / 1e9,
                    seconds=rec.seconds,
                    threshold=threshold,
                    sustained_s=sustain,
                    note=short if rec.recovered else f"not settled before {why}",
                )
            )
    return rows


def recovery_gate(ctx: Context, gate: RecoveryTimeGate, rows: list[RecoveryRow]) -> GateResult:
    """Each fault: the candidate's error rate must settle within ``gate.max``."""
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
        failed = cand.seconds is None or cand.seconds > gate.max
        held = format_duration(cand.sustained_s or gate.sustain)
        checks.append(
            Check(
                phase=phase,
                route=ALL_ROUTES,
                status="fail" if failed else "pass",
                candidate=cand.seconds,
                baseline=base.seconds,
                value=cand.seconds,
                limit=gate.max,
                n_candidate=count,
                reason=f"candidate error rate {settled_words(cand.seconds)} after `{label}` ended "
                f"(baseline {settled_words(base.seconds)}; settled = at most "
                f"{cand.threshold * 100:.1f}% for {held}), limit {format_duration(gate.max)}",
            )
        )
    return summarise("recovery_time", limit, checks)


def settled_words(seconds: float | None) -> str:
    return "never settled" if seconds is None else f"settled {seconds:.1f}s"
