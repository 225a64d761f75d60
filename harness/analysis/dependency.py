"""The retry amplification gate: how many times a build knocks on its dependency per request.

It needs a counter probe for both targets (by default the harness's own ``postgres_attempts``:
connections through the proxy plus transactions, sampled by :mod:`harness.probes.sampler`): the
increase
of the counter in a phase divided by the requests replayed to that target in the phase.
"""

from __future__ import annotations

from harness.analysis.checks import phase_words, summarise, worst_first
from harness.analysis.context import Context
from harness.analysis.gates import RetryAmplificationGate
from harness.analysis.metrics import Amplification, amplification, counter_increases
from harness.analysis.model import ALL_ROUTES, AmplificationRow, Check, GateResult


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


def chosen_probe(ctx: Context, names: list[str]) -> str | None:
    """The first of ``names`` with samples for both the baseline and the candidate."""
    probes = ctx.run.probes
    for name in names:
        rows = probes[probes["probe"] == name]
        if {ctx.targets.baseline, ctx.targets.candidate} <= set(rows["target"]):
            return name
    return None


def amplification_gate(ctx: Context, gate: RetryAmplificationGate) -> GateResult:
    """Candidate attempts per request / baseline's, per phase."""
    cfg, t = ctx.gates, ctx.targets
    limit = f"x{gate.max_ratio:g}"
    probe = chosen_probe(ctx, gate.probes())
    series = {name: counter_increases(ctx.run.probes, name, probe or "") for name in _targets(ctx)}
    for name in (t.candidate, t.baseline):
        if series[name].empty:
            names = " or ".join(f"`{n}`" for n in gate.probes())
            return GateResult(
                name="retry_amplification",
                status="inconclusive",
                limit=limit,
                reason=f"no {names} probe samples for {name}: cannot count dependency attempts",
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
                f"request ({cand.attempts:.0f} `{probe}` for {cand.requests} sent) vs baseline "
                f"{base.ratio or 0:.2f} ({base.attempts:.0f} for {base.requests}; x{ratio:.2f}), "
                f"limit x{gate.max_ratio * noise:.2f}",
            )
        )
    worst_first(checks)
    return summarise("retry_amplification", limit, checks)
