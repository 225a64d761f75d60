"""Gates on proportions: error rate and cascade (response differences: :mod:`.responsediff`).

Each gate makes one check per phase and route scope. Decision rule (stated in every report): a
check **fails** when its estimate is beyond the limit *and* its confidence interval excludes "no
worse than the baseline" (so noise alone rarely fails a good hotfix). A check needs
``min_samples`` requests on each side to **pass**; with fewer, an all-routes or
independent-routes check is still tested, and **fails** when an exact test (Fisher's for two
error rates, the binomial for one against a limit) agrees with the interval at the check's
confidence: too few to pass is not too few to fail. Otherwise it is **inconclusive**, and
per-route checks with too few requests are **skipped**. A build whose slow answers hold its
sessions back sends fewer requests during a fault than the baseline from the same schedule (29
against 133); its regression is in those few. Intervals are Bonferroni-adjusted over the checks
of the gate that are tested.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from harness.analysis.context import Context
from harness.analysis.gates import CascadeGate, ErrorRateGate, PhaseKind
from harness.analysis.model import ALL_ROUTES, INDEPENDENT_ROUTES, Check, GateResult
from harness.analysis.phases import DURING, Phase
from harness.analysis.stats import (
    adjusted_confidence,
    binomial_greater,
    enough,
    fisher_greater,
    newcombe_difference,
    split_p,
    wilson,
)

#: An uneven split of a phase's requests between the two targets is called out (one side's
#: sessions held back) when one sent under half of the other's and the split's p is below this.
HELD_BACK_P = 0.001


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def phase_words(phase: str) -> str:
    """A phase name as it reads in a sentence."""
    if phase == "before":
        return "before the first fault"
    if phase == "steady":
        return "over the run"
    if phase.startswith("recovery "):
        return "in the recovery after " + phase.removeprefix("recovery ")
    return phase


def scope_words(route: str) -> str:
    return f"on {route}" if route in (ALL_ROUTES, INDEPENDENT_ROUTES) else f"on `{route}`"


def conf_words(confidence: float) -> str:
    return f"{confidence * 100:.{0 if confidence * 100 == round(confidence * 100) else 2}f}% CI"


def summarise(name: str, limit: str, checks: list[Check]) -> GateResult:
    """The gate's status and reason from its checks (worst first; skipped decide nothing)."""
    deciding = [c for c in checks if c.status != "skipped"]
    for status in ("fail", "inconclusive"):
        hits = [c for c in deciding if c.status == status]
        if hits:
            more = f" (+{len(hits) - 1} more {status} checks)" if len(hits) > 1 else ""
            return GateResult(
                name=name,
                status=status,
                limit=limit,
                reason=hits[0].reason + more,
                checks=checks,
            )
    if not deciding:
        return GateResult(
            name=name,
            status="inconclusive",
            limit=limit,
            checks=checks,
            reason="nothing to check: no phase had enough requests",
        )
    closest = max(deciding, key=_closeness)
    return GateResult(
        name=name,
        status="pass",
        limit=limit,
        checks=checks,
        reason=f"{len(deciding)} checks passed; closest to the limit: {closest.reason}",
    )


def _closeness(check: Check) -> float:
    if check.value is None or check.limit is None:
        return float("-inf")
    return (check.value - check.limit) / max(abs(check.limit), 1e-9)


def worst_first(checks: list[Check]) -> None:
    """Failures first, all-route scopes before single routes, then by how far beyond."""
    checks.sort(
        key=lambda c: (
            c.status != "fail",
            c.route not in (ALL_ROUTES, INDEPENDENT_ROUTES),
            -_closeness(c),
        )
    )


def scopes(ctx: Context, per_route: bool) -> list[tuple[str, list[str] | None]]:
    routes: list[tuple[str, list[str] | None]] = [(ALL_ROUTES, None)]
    if per_route:
        routes += [(route, [route]) for route in ctx.routes]
    return routes


def judged_scopes(
    ctx: Context, phases: list[PhaseKind] | None, per_route: bool
) -> Iterator[tuple[Phase, str, list[str] | None]]:
    """(phase, route label, routes) for every judged phase and route scope of a gate."""
    kinds = ctx.gates.judged(phases)
    for phase in ctx.phases:
        if phase.kind in kinds:
            for route, routes in scopes(ctx, per_route):
                yield phase, route, routes


def decided(route: str) -> bool:
    """A scope whose checks decide the gate: all routes, the independent routes."""
    return route in (ALL_ROUTES, INDEPENDENT_ROUTES)


def testable(route: str, n_cand: int, n_base: int, need: int) -> bool:
    """Whether a scope is tested: enough requests to pass, or a deciding scope with some
    requests on each side (enough to fail)."""
    return enough(n_cand, n_base, need) or (decided(route) and n_cand > 0 and n_base > 0)


def few_words(n_cand: int, n_base: int, need: int, *, candidate_only: bool = False) -> str:
    """Said of a check below ``need`` (both sides, or the candidate alone): why it may fail and
    not pass."""
    if candidate_only:
        short, whose = n_cand < need, ""
    else:
        short, whose = not enough(n_cand, n_base, need), " a side"
    if not short:
        return ""
    return (
        f"; fewer than {need} requests{whose}: enough to fail (the exact test agrees), not to pass"
    )


def held_back(n_cand: int, n_base: int) -> str:
    """A clause when one target's sessions were held back in a phase (empty when not)."""
    low, high = min(n_cand, n_base), max(n_cand, n_base)
    if 2 * low >= high or split_p(n_cand, n_base) >= HELD_BACK_P:
        return ""
    who = "candidate" if n_cand < n_base else "baseline"
    return (
        f"; the {who}'s sessions were held back: {low} of its requests fell here against "
        f"{high} of the same schedule's, as each waits for its session's previous answer"
    )


def _counts(ctx: Context, target: str, phase: str, routes: list[str] | None) -> tuple[int, int]:
    rows = ctx.positions(target, phase, routes)
    return int(ctx.errors[rows].sum()), len(rows)


def too_few(
    phase: str,
    route: str,
    n_cand: int,
    n_base: int,
    need: int,
    *,
    counted: str = "sent",
    sent: tuple[int, int] | None = None,
    candidate_only: bool = False,
) -> Check:
    """An inconclusive (all routes) or skipped (one route) check: fewer than ``need`` counted.

    ``counted`` says what was counted ("sent", "answered without error"); ``sent`` gives the
    requests sent when that differs, so the sentence reads "27 answered of 195 sent". When
    one side's sessions were held back (far fewer of the same schedule's requests fell in the
    phase: ``sent``, else the counts) the sentence says so. ``candidate_only``:
    only the candidate needs ``need`` (a limit of its own, not a comparison).
    """

    def side(n: int, total: int | None) -> str:
        return f"{n} {counted}" if total is None else f"{n} {counted} of {total} sent"

    sc, sb = sent if sent is not None else (None, None)
    return Check(
        phase=phase,
        route=route,
        status="inconclusive" if decided(route) else "skipped",
        n_candidate=n_cand,
        n_baseline=n_base,
        reason=f"too few requests {phase_words(phase)} {scope_words(route)}: candidate "
        + (
            f"{side(n_cand, sc)} (baseline {n_base}), need {need}"
            if candidate_only
            else f"{side(n_cand, sc)}, baseline {side(n_base, sb)}, need {need} each"
        )
        + held_back(*(sent or (n_cand, n_base))),
    )


def error_rate_gate(ctx: Context, gate: ErrorRateGate) -> GateResult:
    """Candidate error rate minus baseline's, in percentage points, per phase and route."""
    cfg, t = ctx.gates, ctx.targets
    plan = []
    for phase, route, routes in judged_scopes(ctx, gate.phases, gate.per_route):
        kc, nc = _counts(ctx, t.candidate, phase.name, routes)
        kb, nb = _counts(ctx, t.baseline, phase.name, routes)
        plan.append((phase, route, routes, kc, nc, kb, nb))
    comparisons = sum(testable(p[1], p[4], p[6], cfg.min_samples) for p in plan)
    conf = adjusted_confidence(cfg.confidence, comparisons)
    checks = []
    for phase, route, routes, kc, nc, kb, nb in plan:
        if not testable(route, nc, nb, cfg.min_samples):
            if nc or nb:
                checks.append(too_few(phase.name, route, nc, nb, cfg.min_samples))
            continue
        few = not enough(nc, nb, cfg.min_samples)
        d = newcombe_difference(kc, nc, kb, nb, conf)
        noise = 0.0
        if gate.relative_to == "noise" and t.aa is not None:
            ka, na = _counts(ctx, t.aa, phase.name, routes)
            noise = abs(ka / na - kb / nb) * 100 if na else 0.0
        diff_pp, low_pp, high_pp = d.diff * 100, d.low * 100, d.high * 100
        limit = gate.max_increase_pp + noise
        failed = diff_pp > limit and low_pp > noise
        if few:  # the interval is approximate on few requests: the exact test must agree
            failed = failed and fisher_greater(kc, nc, kb, nb) < 1 - conf
        noise_txt = f" (incl. A/A noise {noise:.1f} pp)" if noise else ""
        sentence = (
            f"candidate error rate {phase_words(phase.name)} {scope_words(route)} "
            f"{pct(d.p1)} ({kc} failed of {nc} sent) vs baseline {pct(d.p2)} ({kb} of {nb}; "
            f"{diff_pp:+.1f} pp, {conf_words(conf)} {low_pp:.1f}..{high_pp:.1f}), "
            f"limit +{limit:.1f} pp{noise_txt}"
        )
        if few and not failed:
            reason = too_few(phase.name, route, nc, nb, cfg.min_samples).reason
            reason += f"; not enough to fail either: {sentence}"
        else:
            reason = sentence + few_words(nc, nb, cfg.min_samples)
            reason += held_back(nc, nb) if few else ""
        checks.append(
            Check(
                phase=phase.name,
                route=route,
                status="fail" if failed else "inconclusive" if few else "pass",
                candidate=d.p1,
                baseline=d.p2,
                value=diff_pp,
                low=low_pp,
                high=high_pp,
                limit=limit,
                noise=noise if gate.relative_to == "noise" else None,
                confidence=conf,
                n_candidate=nc,
                n_baseline=nb,
                reason=reason,
            )
        )
    worst_first(checks)
    return summarise("error_rate", f"+{gate.max_increase_pp:g} pp", checks)


def cascade_gate(ctx: Context, gate: CascadeGate) -> GateResult:
    """Candidate error rate on the independent routes during each fault (absolute limit)."""
    cfg, t = ctx.gates, ctx.targets
    independent = ctx.run.manifest.independent_routes()
    limit = f"<= {pct(gate.max_error_rate)}"
    if not independent:
        return GateResult(
            name="cascade",
            status="inconclusive",
            limit=limit,
            reason="the scenario names no independent_routes to watch",
        )
    faults: list[Phase] = [p for p in ctx.phases if p.kind == DURING]
    if not faults:
        return GateResult(
            name="cascade",
            status="inconclusive",
            limit=limit,
            reason="no fault was applied in this run",
        )
    plan: list[tuple[Phase, str, list[str]]] = []
    for phase in faults:
        plan.append((phase, INDEPENDENT_ROUTES, independent))
        plan += [(phase, route, [route]) for route in independent if len(independent) > 1]
    counted = [
        (p, r, rs, *_counts(ctx, t.candidate, p.name, rs), *_counts(ctx, t.baseline, p.name, rs))
        for p, r, rs in plan
    ]
    # the candidate's rate against an absolute limit: a deciding scope with some requests is
    # tested (too few to pass is not too few to fail), a single route needs min_samples
    tested = [c[4] >= cfg.min_samples or (decided(c[1]) and c[4] > 0) for c in counted]
    conf = adjusted_confidence(cfg.confidence, sum(tested))
    checks = []
    for (phase, route, _, kc, nc, kb, nb), test in zip(counted, tested, strict=True):
        if not test:
            checks.append(too_few(phase.name, route, nc, nb, cfg.min_samples, candidate_only=True))
            continue
        few = nc < cfg.min_samples
        rate, base = kc / nc, (kb / nb if nb else 0.0)
        low, high = wilson(kc, nc, conf)
        if rate <= gate.max_error_rate:
            status = "pass"
        else:
            status = "fail" if low > gate.max_error_rate else "inconclusive"
        if few and status == "fail" and binomial_greater(kc, nc, gate.max_error_rate) >= 1 - conf:
            status = "inconclusive"  # the interval is approximate on few: the exact test decides
        sentence = (
            f"candidate error rate {phase_words(phase.name)} {scope_words(route)} "
            f"{pct(rate)} ({kc} failed of {nc} sent, {conf_words(conf)} "
            f"{pct(low)}..{pct(high)}) vs baseline {pct(base)}, limit "
            f"{pct(gate.max_error_rate)}"
        )
        if few and status != "fail":
            status = "inconclusive"
            reason = too_few(phase.name, route, nc, nb, cfg.min_samples, candidate_only=True)
            text = f"{reason.reason}; not enough to fail either: {sentence}"
        else:
            text = sentence
            if few:
                text += few_words(nc, nb, cfg.min_samples, candidate_only=True) + held_back(nc, nb)
        checks.append(
            Check(
                phase=phase.name,
                route=route,
                status=status,
                candidate=rate,
                baseline=base,
                value=rate,
                low=low,
                high=high,
                limit=gate.max_error_rate,
                confidence=conf,
                n_candidate=nc,
                n_baseline=nb,
                reason=text,
            )
        )
    worst_first(checks)
    return summarise("cascade", limit, checks)


def failed_names(results: Iterable[GateResult]) -> list[str]:
    return [r.name for r in results if r.status == "fail"]
