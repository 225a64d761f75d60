"""Statistics against values computed by hand or published."""

import itertools
import math
from statistics import NormalDist

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from harness.analysis.stats import (
    adjusted_confidence,
    binomial_greater,
    block_excess,
    block_length_s,
    bootstrap_quantile,
    cliffs_delta,
    enough,
    fisher_greater,
    latency_shift,
    newcombe_difference,
    order_quantile,
    p99_ratio,
    sign_flip_p,
    split_p,
    wilson,
    z_value,
)


def test_wilson_zero_errors_by_hand() -> None:
    # k = 0: the interval is [0, z^2 / (n + z^2)] = [0, 3.8415 / 13.8415] for n = 10.
    z2 = z_value(0.95) ** 2
    low, high = wilson(0, 10)
    assert low == 0.0
    assert high == pytest.approx(z2 / (10 + z2), abs=1e-12)
    assert high == pytest.approx(0.2775, abs=1e-4)


def test_wilson_all_errors_is_the_mirror() -> None:
    low, high = wilson(10, 10)
    assert high == pytest.approx(1.0)
    assert low == pytest.approx(1 - wilson(0, 10)[1], abs=1e-12)


def test_wilson_without_data_is_everything() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


def test_newcombe_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80, method 10.
    d = newcombe_difference(56, 70, 48, 80)
    assert d.diff == pytest.approx(0.2)
    assert d.low == pytest.approx(0.0524, abs=1e-4)
    assert d.high == pytest.approx(0.3339, abs=1e-4)


def test_newcombe_of_two_clean_samples_is_symmetric() -> None:
    d = newcombe_difference(0, 10, 0, 10)
    assert d.diff == 0.0
    assert d.high == pytest.approx(wilson(0, 10)[1])
    assert d.low == pytest.approx(-d.high)


def test_cliffs_delta_by_hand() -> None:
    # pairs (c, b): c=2 and c=3 beat each of three 1s (6 wins), c=1 ties three times -> 6/9.
    assert cliffs_delta(np.array([1.0, 2, 3]), np.array([1.0, 1, 1])) == pytest.approx(2 / 3)
    assert cliffs_delta(np.array([1.0]), np.array([2.0])) == -1.0


def test_latency_shift_agrees_with_scipy_and_cliff() -> None:
    rng = np.random.default_rng(3)
    cand, base = rng.normal(12, 2, 200), rng.normal(10, 2, 300)
    shift = latency_shift(cand, base)
    expected = mannwhitneyu(cand, base, alternative="two-sided")
    assert shift.u == pytest.approx(expected.statistic)
    assert shift.p_value == pytest.approx(expected.pvalue)
    assert shift.cliffs_delta == pytest.approx(cliffs_delta(cand, base))
    assert shift.cliffs_delta > 0.4


def test_order_quantile_is_the_ceiling_rank() -> None:
    values = np.arange(1.0, 101.0)
    assert order_quantile(values, 0.99) == 99.0
    assert order_quantile(values, 0.5) == 50.0


def test_bootstrap_quantile_matches_plain_resampling() -> None:
    rng = np.random.default_rng(1)
    values = rng.lognormal(size=2000)
    fast = bootstrap_quantile(values, 0.99, 4000, np.random.default_rng(2))
    picks = rng.integers(0, len(values), size=(1500, len(values)))
    slow = np.sort(values[picks], axis=1)[:, int(np.ceil(0.99 * len(values))) - 1]
    assert np.median(fast) == pytest.approx(np.median(slow), rel=0.05)
    assert np.percentile(fast, 97.5) == pytest.approx(np.percentile(slow, 97.5), rel=0.1)


def test_p99_ratio_of_constants_is_exact() -> None:
    ratio = p99_ratio(np.full(500, 30.0), np.full(400, 15.0))
    assert (ratio.ratio, ratio.low, ratio.high) == (2.0, 2.0, 2.0)


def test_p99_ratio_is_seeded() -> None:
    rng = np.random.default_rng(5)
    cand, base = rng.exponential(10, 1000), rng.exponential(10, 1000)
    first, second = p99_ratio(cand, base, seed=7), p99_ratio(cand, base, seed=7)
    assert first == second
    assert first.low < first.ratio < first.high


def test_minimum_samples_and_bonferroni() -> None:
    assert enough(30, 30, 30)
    assert not enough(29, 1000, 30)
    assert adjusted_confidence(0.95, 10) == pytest.approx(0.995)
    assert adjusted_confidence(0.95, 0) == pytest.approx(0.95)


def _all_signs(differences: list[int]) -> float:
    """The sign-flip p by listing every sign pattern of the nonzero differences."""
    nonzero = [d for d in differences if d]
    observed = sum(differences)
    patterns = list(itertools.product((1, -1), repeat=len(nonzero)))
    reached = sum(
        sum(s * d for s, d in zip(signs, nonzero, strict=True)) >= observed for signs in patterns
    )
    return reached / len(patterns)


def test_sign_flip_p_is_the_share_of_sign_patterns() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        differences = rng.integers(-3, 7, size=int(rng.integers(1, 13))).tolist()
        assert sign_flip_p(np.array(differences)) == pytest.approx(_all_signs(differences))
    assert sign_flip_p(np.zeros(5, dtype=np.int64)) == 1.0
    assert sign_flip_p(np.ones(10, dtype=np.int64)) == pytest.approx(2**-10)
    # one block, however large, is a coin toss
    assert sign_flip_p(np.array([40, 0, 0, 0])) == 0.5


def test_sign_flip_p_of_many_blocks_uses_the_normal_approximation() -> None:
    # 2,000 blocks of 20,000 slow requests: beyond the exact budget
    differences = np.full(2000, 10, dtype=np.int64)
    differences[::2] = -10
    differences[:40] = 10  # 20 more positive blocks than negative
    exact_sd = np.sqrt((differences.astype(float) ** 2).sum())
    z = (differences.sum() - 1) / exact_sd
    assert sign_flip_p(differences) == pytest.approx(1 - NormalDist().cdf(z))


def test_block_excess_pairs_blocks_of_time() -> None:
    # 10 s of requests on both sides, 100 a second: a span of 9.99 s, blocks of 0.4995 s
    times = np.arange(1000, dtype=np.int64) * 10_000_000
    burst = np.zeros(1000, dtype=bool)
    burst[:16] = True  # 16 slow requests in the first 0.16 s
    spread = np.zeros(1000, dtype=bool)
    spread[::62] = True  # 17 slow requests, one every 0.62 s
    none = np.zeros(1000, dtype=bool)
    one = block_excess(times, burst, times, none)
    assert one.block_s == pytest.approx(0.4995)
    assert (one.blocks, one.worse, one.better) == (21, 1, 0)
    assert one.p_value == 0.5
    many = block_excess(times, spread, times, none)
    assert (many.worse, many.better) == (17, 0)
    assert many.p_value == pytest.approx(2**-17)
    assert block_length_s(2.0) == 0.25 and block_length_s(60.0) == 1.0


def test_fisher_greater_is_the_one_sided_exact_p() -> None:
    # 5 of 10 failed against none of 10: P(5 or more of the 5 failures land on the first side)
    assert fisher_greater(5, 10, 0, 10) == pytest.approx(math.comb(10, 5) / math.comb(20, 5))
    assert fisher_greater(0, 10, 5, 10) == pytest.approx(1.0)
    assert fisher_greater(3, 0, 0, 10) == 1.0  # an empty side proves nothing


def test_binomial_greater_against_a_limit() -> None:
    assert binomial_greater(23, 23, 0.01) == pytest.approx(0.01**23)
    # 1 of 23 against 1 %: P(at least one) = 1 - 0.99^23
    assert binomial_greater(1, 23, 0.01) == pytest.approx(1 - 0.99**23)
    assert (binomial_greater(1, 5, 0.0), binomial_greater(0, 5, 0.0)) == (0.0, 1.0)
    assert binomial_greater(5, 5, 1.0) == 1.0 and binomial_greater(0, 0, 0.5) == 1.0


def test_split_p_of_one_schedule_between_two_targets() -> None:
    assert split_p(10, 10) == 1.0 and split_p(0, 0) == 1.0
    assert split_p(29, 133) < 1e-15  # run 20's fault window: the candidate held back
    assert split_p(29, 133) == pytest.approx(split_p(133, 29))
    assert 0.05 < split_p(12, 20) < 0.5  # a small difference is not called out
