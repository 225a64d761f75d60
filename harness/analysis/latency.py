"""The p99 latency gate: bootstrap interval of the p99 ratio, Mann-Whitney U as evidence.

A check fails when the candidate's p99 exceeds ``max_ratio`` x the baseline's, the bootstrap
interval of the ratio lies above 1 (above the A/A ratio in noise mode), the p99 grew by more
than ``min_increase_ms`` (a floor for fast routes, whose ratios are noisy), and the candidate has
significantly more requests beyond that limit than the baseline (one-sided Fisher exact test at
the check's confidence) **block for block** over the phase (the phase cut into ~20 blocks of
0.25-1 s, an exact sign-flip test of the per-block differences at the same confidence). A p99 is
decided by its slowest 1 %: on a few hundred requests a side the bootstrap interval alone called
two or three requests slowed by a busy machine a regression; the count of slow requests must
agree. And slow requests come in bursts (a stall of the machine, the reconnect after a fault):
16 vs 3 of them in the first second after a database came back, Fisher p=0.002, failed two
copies of one build; one burst is one block. An excess in few blocks still counts when the
whole distribution moved (Mann-Whitney significant at the check's confidence, Cliff's delta at
least ``SHIFT_DELTA``). Beyond that, Mann-Whitney U and Cliff's delta (the shift of the whole
distribution) are reported, not decisive: a tail regression can hide in an unchanged median, and
a shift of the body alone is no p99 regression. The test runs on at most
``MWU_CAP`` values per side (a seeded subsample): beyond that the p-value is ~0 anyway and
ranking millions of values would only cost time.
"""

from __future__ import annotations

import functools

import numpy as np

from harness.analysis.checks import (
    conf_words,
    few_words,
    held_back,
    judged_scopes,
    phase_words,
    scope_words,
    summarise,
    testable,
    too_few,
    worst_first,
)
from harness.analysis.context import Context
from harness.analysis.gates import LatencyP99Gate
from harness.analysis.model import ALL_ROUTES, INDEPENDENT_ROUTES, Check, GateResult
from harness.analysis.stats import (
    BlockExcess,
    adjusted_confidence,
    block_excess,
    enough,
    latency_shift,
    p99_ratio,
    tail_excess,
)

MWU_CAP = 100_000
#: Cliff's delta of a shift of the whole distribution that lets a tail excess in few blocks count
#: ("medium" in Romano et al., 2006): a build whose failures take 160-370 ms against the
#: baseline's 10-150 ms (delta +0.62) under ``stress-ng`` had its slowest requests in 4 of 21
#: blocks; the burst that failed two copies of one build in CI moved it by +0.05.
SHIFT_DELTA = 0.33
#: Fewest requests per side for a p99 of one route: five requests beyond its p99. With fewer a
#: p99 is the route's slowest request or so, and two or three requests slowed by a busy machine
#: decided the check (x2.1 on a 153-request route, Mann-Whitney p=0.62, under stress-ng). Such a
#: route is skipped (still counted in the all-routes check, which needs ``min_samples``).
ROUTE_P99_MIN = 500


def _need(route: str, min_samples: int) -> int:
    """Requests per side a p99 check of ``route`` needs."""
    if route in (ALL_ROUTES, INDEPENDENT_ROUTES):
        return min_samples
    return max(min_samples, ROUTE_P99_MIN)


def _values(
    ctx: Context, target: str, phase: str, routes: list[str] | None, include_errors: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """The latencies judged, their requests' times, and how many requests were sent in
    that scope."""
    rows = ctx.positions(target, phase, routes)
    sent = len(rows)
    if not include_errors:
        rows = rows[~ctx.errors[rows]]
    # A request without any recorded time has none to rank (a failure counts at the time it
    # took: the replay records when it failed).
    rows = rows[~np.isnan(ctx.latency[rows])]
    values: np.ndarray = ctx.latency[rows]
    when: np.ndarray = ctx.when[rows]
    return values, when, sent


def _cap(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(values) <= MWU_CAP:
        return values
    return rng.choice(values, size=MWU_CAP, replace=False)


def latency_gate(ctx: Context, gate: LatencyP99Gate) -> GateResult:
    """Candidate p99 / baseline p99 per phase and route."""
    cfg, t = ctx.gates, ctx.targets
    plan = []
    for phase, route, routes in judged_scopes(ctx, gate.phases, gate.per_route):
        cand, when_c, sent_c = _values(ctx, t.candidate, phase.name, routes, gate.include_errors)
        base, when_b, sent_b = _values(ctx, t.baseline, phase.name, routes, gate.include_errors)
        plan.append((phase.name, route, routes, cand, base, when_c, when_b, sent_c, sent_b))
    comparisons = sum(
        testable(p[1], len(p[3]), len(p[4]), _need(p[1], cfg.min_samples)) for p in plan
    )
    conf = adjusted_confidence(cfg.confidence, comparisons)
    rng = np.random.default_rng(cfg.seed)
    counted = "sent" if gate.include_errors else "answered without error"
    checks = []
    for number, scope in enumerate(plan):
        phase_name, route, routes, cand, base, when_c, when_b, sent_c, sent_b = scope
        need = _need(route, cfg.min_samples)
        # the "too few" check, made only where it is used (its held-back test costs a scipy call)
        short = functools.partial(
            too_few,
            phase_name,
            route,
            len(cand),
            len(base),
            need,
            counted=counted,
            sent=None if gate.include_errors else (sent_c, sent_b),
        )
        if not testable(route, len(cand), len(base), need):
            if sent_c or sent_b:
                checks.append(short())
            continue
        # below ``need`` a deciding scope is still tested: its exact tests (Fisher on the tail,
        # the blocks' sign flips, or Mann-Whitney) hold on few requests, and all must agree
        few = not enough(len(cand), len(base), need)
        ratio = p99_ratio(
            cand, base, confidence=conf, resamples=cfg.bootstrap_resamples, seed=cfg.seed + number
        )
        shift = latency_shift(_cap(cand, rng), _cap(base, rng))
        noise = 1.0
        if gate.relative_to == "noise" and t.aa is not None:
            aa, _, _ = _values(ctx, t.aa, phase_name, routes, gate.include_errors)
            if len(aa) >= cfg.min_samples:
                aa_ratio = p99_ratio(aa, base, confidence=conf, resamples=200).ratio
                noise = max(aa_ratio, 1 / aa_ratio) if aa_ratio > 0 else 1.0
        limit = gate.max_ratio * noise
        grew_ms = ratio.candidate - ratio.baseline
        # the tail itself must have grown: more requests beyond the limit than the baseline has
        threshold = max(limit * ratio.baseline, ratio.baseline + gate.min_increase_ms)
        tail = tail_excess(cand, base, threshold)
        # ... and not in one burst: block for block over the phase, or with the whole
        # distribution moved (then the slow requests are not a burst of a calm phase)
        blocks = block_excess(when_c, cand > threshold, when_b, base > threshold)
        moved = shift.p_value < 1 - conf and shift.cliffs_delta >= SHIFT_DELTA
        failed = (
            ratio.ratio > limit
            and ratio.low > noise
            and grew_ms > gate.min_increase_ms
            and tail.p_value < 1 - conf
            and (blocks.p_value < 1 - conf or moved)
        )
        noise_txt = f" (incl. A/A noise x{noise:.2f})" if noise != 1.0 else ""
        if gate.min_increase_ms:
            noise_txt += f" and +{gate.min_increase_ms:g} ms"
        sentence = (
            f"candidate latency p99 {phase_words(phase_name)} {scope_words(route)} "
            f"{ratio.candidate:.1f} ms vs baseline {ratio.baseline:.1f} ms "
            f"({_counts_words(gate.include_errors, len(cand), sent_c, len(base), sent_b)}; "
            f"x{ratio.ratio:.2f}, {conf_words(conf)} {ratio.low:.2f}..{ratio.high:.2f}; "
            f"{tail.slower_candidate} vs {tail.slower_baseline} requests slower than "
            f"{tail.threshold:.1f} ms, Fisher p={tail.p_value:.2g}, "
            f"{_blocks_words(blocks)}; "
            f"Mann-Whitney p={shift.p_value:.2g}, Cliff's delta {shift.cliffs_delta:+.2f}), "
            f"limit x{limit:.2f}{noise_txt}"
        )
        if few and not failed:
            reason = f"{short().reason}; not enough to fail either: {sentence}"
        elif few:
            reason = sentence + few_words(len(cand), len(base), need) + held_back(sent_c, sent_b)
        else:
            reason = sentence
        checks.append(
            Check(
                phase=phase_name,
                route=route,
                status="fail" if failed else "inconclusive" if few else "pass",
                candidate=ratio.candidate,
                baseline=ratio.baseline,
                value=ratio.ratio,
                low=ratio.low,
                high=ratio.high,
                limit=limit,
                noise=noise if gate.relative_to == "noise" else None,
                confidence=conf,
                n_candidate=len(cand),
                n_baseline=len(base),
                p_value=shift.p_value,
                effect=shift.cliffs_delta,
                reason=reason,
            )
        )
    worst_first(checks)
    return summarise("latency_p99", f"x{gate.max_ratio:g}", checks)


def _blocks_words(blocks: BlockExcess) -> str:
    """The blocks in words: ``more in 9 of 10 blocks of 1 s, fewer in 0, sign-flip p=0.002``."""
    return (
        f"more in {blocks.worse} of {blocks.blocks} blocks of {blocks.block_s:.2g} s, "
        f"fewer in {blocks.better}, sign-flip p={blocks.p_value:.2g}"
    )


def _counts_words(include_errors: bool, nc: int, sc: int, nb: int, sb: int) -> str:
    """What the p99s were computed over: "195 vs 195 sent, failures at the time they took"."""
    if include_errors:
        return f"{nc} vs {nb} requests, failures at the time they took"
    return f"answered without error: {nc} of {sc} sent vs {nb} of {sb}"
