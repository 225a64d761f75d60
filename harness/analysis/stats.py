"""Statistics behind the gates: intervals that behave with few errors, rank tests, bootstrap.

- :func:`wilson` — Wilson score interval of one proportion (sane at 0 or n errors).
- :func:`newcombe_difference` — Newcombe's hybrid score interval (method 10, 1998) of
  ``p1 - p2`` built from the two Wilson intervals.
- :func:`latency_shift` — Mann-Whitney U (two-sided) with Cliff's delta as effect size.
- :func:`p99_ratio` — ratio of p99s with a seeded bootstrap interval, exact for the order
  statistic and bounded in cost: the p-quantile of a bootstrap resample of ``n`` values is the
  ``r``-th order statistic, whose position is ``F_n^-1(U_(r))`` with ``U_(r) ~ Beta(r, n-r+1)``;
  so ``R`` resamples cost ``R`` beta draws and one quantile lookup, not ``R x n`` copies.
- :func:`tail_excess` — requests beyond a latency threshold on each side, one-sided Fisher
  exact test of "the candidate has more".
- :func:`block_excess` — the same slow requests counted per block of time, a paired
  sign-flip test over the blocks: is the excess spread over the phase, not one burst?
- :func:`fisher_greater`, :func:`binomial_greater` — exact one-sided tests of a proportion
  (two samples, one sample against a limit), for checks on fewer than ``min_samples`` requests.
- :func:`split_p` — exact test of how one schedule's requests split between two targets.
- :func:`enough` — the minimum-sample rule: below it a gate cannot pass (``inconclusive``);
  it can still fail when the exact tests show the regression (see :mod:`.checks`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np


def z_value(confidence: float) -> float:
    """Two-sided normal quantile, e.g. 1.96 for 0.95."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``successes / n``; ``(0, 1)`` when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n successes the bound is exactly 0 or 1; keep rounding from moving it.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Difference:
    """``p1 - p2`` with its interval (proportions, not percent)."""

    p1: float
    p2: float
    diff: float
    low: float
    high: float


def newcombe_difference(k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95) -> Difference:
    """Newcombe hybrid score interval for ``k1/n1 - k2/n2``."""
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    l1, u1 = wilson(k1, n1, confidence)
    l2, u2 = wilson(k2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Difference(p1, p2, d, low, high)


@dataclass(frozen=True)
class Shift:
    """Mann-Whitney U of candidate vs baseline and Cliff's delta (P(c>b) - P(c<b))."""

    u: float
    p_value: float
    cliffs_delta: float


def latency_shift(candidate: np.ndarray, baseline: np.ndarray) -> Shift:
    """Two-sided Mann-Whitney U test; delta > 0 means the candidate tends to be slower."""
    from scipy.stats import mannwhitneyu

    n1, n2 = len(candidate), len(baseline)
    if n1 == 0 or n2 == 0:
        return Shift(float("nan"), float("nan"), 0.0)
    method = "asymptotic" if n1 * n2 > 10_000 else "auto"
    result = mannwhitneyu(candidate, baseline, alternative="two-sided", method=method)
    u = float(result.statistic)
    return Shift(u, float(result.pvalue), 2 * u / (n1 * n2) - 1)


@dataclass(frozen=True)
class TailExcess:
    """How many requests of each side were slower than a threshold, and whether the candidate
    has more of them than chance allows (one-sided Fisher exact test)."""

    threshold: float
    slower_candidate: int
    slower_baseline: int
    p_value: float


def tail_excess(candidate: np.ndarray, baseline: np.ndarray, threshold: float) -> TailExcess:
    """Requests slower than ``threshold`` on each side; p of "the candidate's share is larger".

    Distribution-free and counted on the requests themselves: a p99 is decided by the slowest
    1 %, and on a few hundred requests a bootstrap of that tail calls two or three requests that
    a busy machine slowed a regression (x1.96, interval 1.07..3.21, on 463 requests a side
    under stress-ng, Mann-Whitney p=0.74). A tail regression shows here as many more slow
    requests than the baseline has.
    """
    from scipy.stats import fisher_exact

    k_c = int(np.count_nonzero(candidate > threshold))
    k_b = int(np.count_nonzero(baseline > threshold))
    n_c, n_b = len(candidate), len(baseline)
    if n_c == 0 or n_b == 0:
        return TailExcess(threshold, k_c, k_b, float("nan"))
    table = [[k_c, n_c - k_c], [k_b, n_b - k_b]]
    p_value = float(fisher_exact(table, alternative="greater").pvalue)
    return TailExcess(threshold, k_c, k_b, p_value)


@dataclass(frozen=True)
class BlockExcess:
    """Slow requests per block of time on each side, and whether the candidate's excess holds
    over the blocks (an exact one-sided sign-flip test of the per-block differences)."""

    block_s: float
    blocks: int
    #: blocks where the candidate had more slow requests than the baseline, and fewer
    worse: int
    better: int
    p_value: float


#: Blocks per phase the sign-flip test aims for, and the bounds of a block's length (s).
BLOCKS_PER_PHASE = 20
BLOCK_MIN_S = 0.25
BLOCK_MAX_S = 1.0
#: Above this many (nonzero blocks x slow requests) the exact sign-flip distribution is
#: replaced by its normal approximation (mean 0, variance the sum of squares).
_EXACT_WORK = 20_000_000


def block_length_s(span_s: float) -> float:
    """A phase's block: 1/20 of its span, at least 0.25 s and at most 1 s."""
    return min(max(span_s / BLOCKS_PER_PHASE, BLOCK_MIN_S), BLOCK_MAX_S)


def block_excess(
    candidate_ns: np.ndarray,
    candidate_slow: np.ndarray,
    baseline_ns: np.ndarray,
    baseline_slow: np.ndarray,
) -> BlockExcess:
    """Slow requests of each side per block of their (scheduled) times; p of "the candidate
    has more slow requests block for block than chance allows".

    Both sides replay the same schedule at the same moment, so block ``i`` of one side pairs
    with block ``i`` of the other. Requests are not independent in time: a stall of the
    machine, a reconnect after a fault, a garbage collection slows a burst of one side's
    requests together (16 vs 3 slow requests, Fisher p=0.002, in the first second after a
    database came back, for two copies of the same build under ``stress-ng``). Counting per
    block makes such a burst one observation: the test flips the sign of each block's
    difference (candidate minus baseline) at random, and the p-value is the share of the
    2^m sign patterns whose sum reaches the observed one (exact, by dynamic programming over the
    sums). A regression over the phase shows in most blocks; one burst is one block or two.
    """
    if len(candidate_ns) == 0 or len(baseline_ns) == 0:
        return BlockExcess(0.0, 0, 0, 0, float("nan"))
    start = min(int(candidate_ns.min()), int(baseline_ns.min()))
    end = max(int(candidate_ns.max()), int(baseline_ns.max()))
    block_s = block_length_s((end - start) / 1e9)
    block_ns = int(block_s * 1e9)
    count = (end - start) // block_ns + 1
    c = np.bincount((candidate_ns[candidate_slow] - start) // block_ns, minlength=count)
    b = np.bincount((baseline_ns[baseline_slow] - start) // block_ns, minlength=count)
    diff = c.astype(np.int64) - b.astype(np.int64)
    worse, better = int((diff > 0).sum()), int((diff < 0).sum())
    return BlockExcess(block_s, int(count), worse, better, sign_flip_p(diff))


def sign_flip_p(differences: np.ndarray) -> float:
    """One-sided p of the sum of integer ``differences`` under random signs: the share of sign
    patterns with a sum at least the observed one (zeros take no part)."""
    sizes = np.abs(differences[differences != 0]).astype(np.int64)
    if len(sizes) == 0:
        return 1.0
    observed = int(differences.sum())
    total = int(sizes.sum())
    # sum = 2 T - total, T the sum of the blocks that keep a positive sign
    needed = math.ceil((observed + total) / 2)
    if len(sizes) * total > _EXACT_WORK:
        sd = math.sqrt(float((sizes.astype(np.float64) ** 2).sum()))
        return 1 - NormalDist().cdf((observed - 1) / sd) if sd else 1.0
    dist = np.zeros(total + 1)
    dist[0] = 1.0
    for size in sizes:
        shifted = np.zeros_like(dist)
        shifted[size:] = dist[:-size]
        dist = 0.5 * dist + 0.5 * shifted
    return float(min(dist[needed:].sum(), 1.0))


def cliffs_delta(candidate: np.ndarray, baseline: np.ndarray) -> float:
    """Cliff's delta by counting pairs (O(n log n) with sorted search); ties count zero."""
    b = np.sort(np.asarray(baseline, dtype=np.float64))
    c = np.asarray(candidate, dtype=np.float64)
    greater = np.searchsorted(b, c, side="left").sum()
    less = (len(b) - np.searchsorted(b, c, side="right")).sum()
    return float((greater - less) / (len(b) * len(c)))


def order_quantile(values: np.ndarray, q: float) -> float:
    """The q-quantile as an order statistic (rank ``ceil(q n)``), as the bootstrap uses."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    rank = max(math.ceil(q * len(ordered)), 1)
    return float(ordered[rank - 1])


def bootstrap_quantile(
    values: np.ndarray, q: float, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """``resamples`` draws of the q-quantile of a bootstrap resample of ``values``."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    n = len(ordered)
    rank = max(math.ceil(q * n), 1)
    u = rng.beta(rank, n - rank + 1, size=resamples)
    positions = np.minimum(np.ceil(u * n).astype(np.int64), n) - 1
    draws: np.ndarray = ordered[np.maximum(positions, 0)]
    return draws


@dataclass(frozen=True)
class Ratio:
    """``candidate / baseline`` of a statistic with a bootstrap interval."""

    candidate: float
    baseline: float
    ratio: float
    low: float
    high: float


def p99_ratio(
    candidate: np.ndarray,
    baseline: np.ndarray,
    *,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    q: float = 0.99,
) -> Ratio:
    """Ratio of the candidate's p99 to the baseline's, percentile bootstrap interval."""
    rng = np.random.default_rng(seed)
    cand = order_quantile(candidate, q)
    base = order_quantile(baseline, q)
    draws_c = bootstrap_quantile(candidate, q, resamples, rng)
    draws_b = bootstrap_quantile(baseline, q, resamples, rng)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = draws_c / np.maximum(draws_b, 1e-9)
    alpha = 1 - confidence
    low, high = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return Ratio(cand, base, cand / max(base, 1e-9), float(low), float(high))


def fisher_greater(k1: int, n1: int, k2: int, n2: int) -> float:
    """One-sided Fisher exact p of "``k1/n1`` is larger than ``k2/n2``" (1.0 when a side is
    empty)."""
    from scipy.stats import fisher_exact

    if n1 <= 0 or n2 <= 0:
        return 1.0
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    return float(fisher_exact(table, alternative="greater").pvalue)


def binomial_greater(k: int, n: int, p0: float) -> float:
    """Exact one-sided binomial p of "the rate behind ``k`` of ``n`` is above ``p0``"."""
    from scipy.stats import binomtest

    if n <= 0:
        return 1.0
    if p0 <= 0.0:
        return 0.0 if k > 0 else 1.0
    if p0 >= 1.0:
        return 1.0
    return float(binomtest(k, n, p0, alternative="greater").pvalue)


def split_p(n_candidate: int, n_baseline: int) -> float:
    """Exact two-sided p of the split ``n_candidate : n_baseline`` under an even split.

    Both targets replay one schedule, and a phase takes a request by its due time moved by its
    session's wait; so an uneven split of a phase's requests means one target's sessions were
    held back (their previous answers came later), not chance.
    """
    from scipy.stats import binomtest

    total = n_candidate + n_baseline
    if total == 0:
        return 1.0
    return float(binomtest(n_candidate, total, 0.5).pvalue)


def enough(n_candidate: int, n_baseline: int, min_samples: int) -> bool:
    """The minimum-sample rule: both sides need ``min_samples`` observations."""
    return n_candidate >= min_samples and n_baseline >= min_samples


def adjusted_confidence(confidence: float, comparisons: int) -> float:
    """Bonferroni: the per-check confidence that keeps the family-wise error at 1-confidence.

    A gate makes one check per phase and route; without this, one of fifty checks would fail a
    perfectly good hotfix by chance in most runs.
    """
    return 1 - (1 - confidence) / max(comparisons, 1)
