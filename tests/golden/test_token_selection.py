"""The token-selection rule (greedy argmax, inverse-CDF sampling) against its definition."""

from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import chisquare

from specaccel.models.golden.token_selection import (
    NO_TOKEN,
    greedy_token,
    sample_threshold,
    sample_token,
    sample_token_at,
)


def test_greedy_is_the_first_maximum():
    rng = np.random.default_rng(7)
    for _ in range(2000):
        v = rng.integers(-4, 4, int(rng.integers(1, 30)))
        top = v.max()
        assert greedy_token(v) == min(i for i, x in enumerate(v) if x == top)


def test_greedy_ties_lowest_index_wins():
    assert greedy_token([3, 5, 5, 1, 5]) == 1
    assert greedy_token([-2, -2]) == 0
    assert greedy_token([1.0, 2.0, 2.0]) == 1


def test_greedy_rejects_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        greedy_token([])
    with pytest.raises(ValueError, match="NaN"):
        greedy_token([1.0, float("nan")])


def test_sampling_is_exact_inverse_cdf_on_a_uniform_grid():
    """Each index is hit by exactly w[i] of the `total` grid points u = k / total."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        w = rng.integers(0, 6, int(rng.integers(1, 12)))
        if w.sum() == 0:
            w[0] = 1
        total = int(w.sum())
        hits = np.zeros(w.size, dtype=int)
        for k in range(total):
            hits[sample_token(w, Fraction(k, total))] += 1
        assert hits.tolist() == w.tolist()


def test_threshold_is_exact_floor():
    assert sample_threshold(10, 0.3) == 2  # 0.3 as a double is just below 0.3
    assert sample_threshold(10, Fraction(3, 10)) == 3
    assert sample_threshold(7, 0.0) == 0
    assert sample_threshold(2**40 + 1, Fraction(2**40 - 1, 2**40)) == 2**40 - 1


def test_sample_at_threshold_edges():
    w = [0, 2, 0, 3]
    assert sample_token_at(w, 0) == 1
    assert sample_token_at(w, 1) == 1
    assert sample_token_at(w, 2) == 3
    assert sample_token_at(w, 4) == 3
    assert sample_token_at(w, 5) == NO_TOKEN  # threshold >= total: no token
    assert sample_token_at([], 0) == NO_TOKEN


def test_sampling_distribution_chi_square():
    rng = np.random.default_rng(2024)
    w = rng.integers(0, 50, 40)
    w[[3, 17]] = 0
    draws = 40_000
    counts = np.zeros(w.size, dtype=int)
    for u in rng.random(draws):
        counts[sample_token(w, float(u))] += 1
    assert counts[3] == counts[17] == 0
    nz = w > 0
    expected = w[nz] / w.sum() * draws
    stat = chisquare(counts[nz], expected)
    assert stat.pvalue > 1e-3, stat


def test_sampling_rejects_bad_input():
    with pytest.raises(ValueError, match="positive sum"):
        sample_token([0, 0], 0.5)
    with pytest.raises(ValueError, match="non-negative"):
        sample_token([1, -1, 3], 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        sample_token([1, 2], 1.0)
    with pytest.raises(TypeError, match="integers"):
        sample_token_at([0.5, 1.0], 0)
    with pytest.raises(ValueError, match=">= 0"):
        sample_token_at([1], -1)
