"""The acceptance model's closed forms against direct computation and Monte Carlo."""

import numpy as np
import pytest

from specaccel.workloads import AcceptanceModel, calibrate, chain, eagle_default_tree, from_parents
from specaccel.workloads.acceptance_model import RANK_DECAY, fit_rank_decay


def test_chain_tau_is_leviathan_product_sum():
    alpha = (0.8, 0.7, 0.6)
    for spread in (1.0, 0.4, 0.0):
        m = AcceptanceModel(alpha, confidence_spread=spread)
        a = [0.8, 0.7, 0.6, 0.6, 0.6]  # the last value repeats deeper
        expect = 1 + sum(np.prod(a[:k]) for k in range(1, 6))
        assert m.expected_committed(chain(5)) == pytest.approx(expect, rel=1e-12)


def test_constant_alpha_chain_matches_closed_form():
    m = AcceptanceModel((0.65,))
    g = 4
    assert m.expected_committed(chain(g)) == pytest.approx((1 - 0.65 ** (g + 1)) / (1 - 0.65))


@pytest.mark.parametrize("spread", [1.0, 0.5])
def test_choice_probability_matches_monte_carlo_over_confidence(spread):
    alpha = 0.75
    m = AcceptanceModel((alpha,), rank_decay=0.9, confidence_spread=spread)
    rng = np.random.default_rng(7)
    x = rng.beta(alpha / (1 - alpha), 1.0, size=400_000)  # numpy's own Beta sampler
    c = (1 - spread) * alpha + spread * x
    g = (1.0 + np.arange(4)) ** -0.9
    surv = np.ones_like(c)
    for r in range(4):
        mc = np.mean(surv * c * g[r])
        assert m.choice_probability(1, r) == pytest.approx(mc, abs=2e-3)
        surv = surv * (1 - c * g[r])


def test_confidence_sampler_is_the_documented_distribution():
    m = AcceptanceModel((0.8,), confidence_spread=0.5)
    c = m.sample_confidence(np.array([[0.8]]), np.random.default_rng(3).random((1, 200_000)))
    assert c.mean() == pytest.approx(0.8, abs=2e-3)
    # c = 0.4 + 0.5 X, X ~ Beta(4, 1): P(c <= 0.4 + 0.5 t) = t ** 4
    for t in (0.5, 0.8, 0.95):
        assert np.mean(c <= 0.4 + 0.5 * t) == pytest.approx(t ** 4, abs=4e-3)
    assert c.min() >= 0.4


def test_choice_probabilities_sum_below_one_and_decay():
    m = AcceptanceModel((0.8,))
    p = [m.choice_probability(1, r) for r in range(30)]
    assert p[0] == pytest.approx(0.8)
    assert all(a > b for a, b in zip(p, p[1:], strict=False))
    assert sum(p) < 1


def test_fit_rank_decay_recovers_a_known_beta():
    beta, h0 = 1.3, 0.5
    hazards = h0 * (1.0 + np.arange(6)) ** -beta
    acc, surv = [], 1.0
    for h in hazards:
        surv *= 1 - h
        acc.append(1 - surv)
    assert fit_rank_decay([acc, acc]) == pytest.approx(beta, rel=1e-9)
    assert 0.6 < RANK_DECAY < 1.2  # Medusa Vicuna-7B heads


def test_calibrate_hits_target_and_keeps_the_profile_shape():
    start = AcceptanceModel((0.79, 0.74, 0.72, 0.73, 0.67))
    model, scale = calibrate(start, eagle_default_tree(), 3.94)
    assert model.expected_committed(eagle_default_tree()) == pytest.approx(3.94, abs=1e-8)
    np.testing.assert_allclose(np.array(model.alpha) / np.array(start.alpha), scale)


def test_calibrate_rejects_unreachable_tau():
    with pytest.raises(ValueError, match="not reachable"):
        calibrate(AcceptanceModel((0.5,)), chain(2), 3.5)  # at most 3 tokens per step


def test_reach_probability_of_a_star_is_choice_probability():
    m = AcceptanceModel((0.6,))
    star = from_parents([-1, 0, 0, 0])
    np.testing.assert_allclose(m.reach_probability(star)[1:],
                               [m.choice_probability(1, r) for r in range(3)])
