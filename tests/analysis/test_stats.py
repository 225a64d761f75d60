"""Statistics against values computed by hand or published."""

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from harness.analysis.stats import (
    adjusted_confidence,
    bootstrap_quantile,
    cliffs_delta,
    enough,
    latency_shift,
    newcombe_difference,
    order_quantile,
    p99_ratio,
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
