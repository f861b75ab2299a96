"""Closed forms of speculative decoding and the `specaccel theory` command."""

import json

import numpy as np
import pytest

from specaccel.cli import main
from specaccel.models import theory
from specaccel.schema.errors import InputError


def _brute_expected(alpha, gamma):
    """E as the sum of P(accepted >= k) = α^k for k = 0..γ (independent of the closed form)."""
    return sum(alpha**k for k in range(gamma + 1))


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5, 0.8, 0.95, 0.999999, 1.0])
@pytest.mark.parametrize("gamma", [1, 2, 5, 16, 64])
def test_expected_tokens_matches_geometric_sum(alpha, gamma):
    assert theory.expected_tokens_per_step(alpha, gamma) == pytest.approx(
        _brute_expected(alpha, gamma), rel=1e-9)


def test_expected_tokens_known_values():
    assert theory.expected_tokens_per_step(0.0, 4) == 1.0
    assert theory.expected_tokens_per_step(1.0, 4) == 5.0
    assert theory.expected_tokens_per_step(0.5, 2) == pytest.approx(1.75)
    assert theory.speedup(0.5, 2, 0.25) == pytest.approx(1.75 / 1.5)
    assert theory.speedup(0.8, 4, 0.0) == pytest.approx(theory.expected_tokens_per_step(0.8, 4))


@pytest.mark.parametrize(("alpha", "c"), [(0.6, 0.05), (0.8, 0.05), (0.9, 0.1), (0.5, 0.5),
                                          (0.95, 0.01), (0.3, 0.0), (0.0, 0.2)])
def test_optimal_gamma_is_the_argmax(alpha, c):
    g = theory.optimal_gamma(alpha, c)
    values = [theory.speedup(alpha, k, c) for k in range(1, 65)]
    assert values[g - 1] == max(values)
    assert all(v < values[g - 1] for v in values[: g - 1])  # smallest on ties


def test_optimal_gamma_grows_with_alpha_and_falls_with_cost():
    gs = [theory.optimal_gamma(a, 0.05) for a in (0.5, 0.7, 0.8, 0.9, 0.95)]
    assert gs == sorted(gs) and gs[0] < gs[-1]
    assert theory.optimal_gamma(0.8, 0.01) > theory.optimal_gamma(0.8, 0.2)
    assert theory.optimal_gamma(1.0, 0.0) == 64
    assert theory.optimal_gamma(0.0, 0.0) == 1


@pytest.mark.parametrize(("fn", "args"), [
    (theory.expected_tokens_per_step, (1.5, 2)),
    (theory.expected_tokens_per_step, (float("nan"), 2)),
    (theory.expected_tokens_per_step, (0.5, 0)),
    (theory.expected_tokens_per_step, (0.5, 2.5)),
    (theory.speedup, (0.5, 2, -0.1)),
    (theory.optimal_gamma, (0.5, float("inf"))),
])
def test_bad_inputs_are_input_errors(fn, args):
    with pytest.raises(InputError):
        fn(*args)


def test_tree_expected_tokens_chain_and_hand_tree():
    chain = [-1, 0, 1, 2, 3]
    assert theory.tree_expected_tokens(chain, [0.7]) == pytest.approx(
        theory.expected_tokens_per_step(0.7, 4))
    # root with 2 children; first child has one child
    r = [0.5, 0.3]
    tree = [-1, 0, 0, 1]
    assert theory.tree_expected_tokens(tree, r) == pytest.approx(1 + 0.5 + 0.3 + 0.5 * 0.5)
    # ranks past the vector's end contribute nothing
    assert theory.tree_expected_tokens([-1, 0, 0, 0], r) == pytest.approx(1.8)


def test_tree_expected_tokens_matches_monte_carlo():
    # simulate positional acceptance: at an accepted node, child of rank k is the accepted
    # one with probability r_k; compare the mean number of reached nodes
    rng = np.random.default_rng(12)
    parent = [-1, 0, 0, 0, 1, 1, 2, 4]
    r = np.array([0.55, 0.2, 0.1])
    kids = {i: [j for j in range(len(parent)) if parent[j] == i] for i in range(len(parent))}
    n = 40_000
    choice = rng.choice(4, size=(n, len(parent)), p=[*r, 1 - r.sum()])
    total = 0
    for t in range(n):
        node, count = 0, 1
        while True:
            k = choice[t, node]
            if k >= len(kids[node]) or k >= 3:
                break
            node, count = kids[node][k], count + 1
        total += count
    assert total / n == pytest.approx(theory.tree_expected_tokens(parent, r), rel=0.01)


def test_conditional_marginal_round_trip():
    cond = np.array([0.6, 0.5, 0.25, 1.0, 0.3])
    marg = theory.marginal_from_conditional(cond)
    np.testing.assert_allclose(marg, [0.6, 0.2, 0.05, 0.15, 0.0])
    assert marg.sum() <= 1.0
    np.testing.assert_allclose(theory.conditional_from_marginal(marg)[:4], cond[:4])
    with pytest.raises(InputError):
        theory.conditional_from_marginal([0.7, 0.6])


def test_cli_json(capsys):
    assert main(["theory", "--alpha", "0.8", "--gamma", "4", "--cost-ratio", "0.05",
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["expected_tokens_per_step"] == pytest.approx(_brute_expected(0.8, 4))
    assert out["speedup"] == pytest.approx(_brute_expected(0.8, 4) / 1.2)
    assert out["optimal_gamma"] == theory.optimal_gamma(0.8, 0.05)
    assert out["inputs"] == {"alpha": 0.8, "gamma": 4, "cost_ratio": 0.05, "max_gamma": 64}


def test_cli_without_cost_ratio_and_human(capsys):
    assert main(["theory", "--alpha", "1", "--gamma", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["expected_tokens_per_step"] == 4.0 and out["speedup"] is None
    assert main(["theory", "--alpha", "0.5", "--gamma", "2", "--cost-ratio", "0.1"]) == 0
    text = capsys.readouterr().out
    assert "1.75" in text and "optimal gamma" in text


@pytest.mark.parametrize("argv", [
    ["--alpha", "1.2", "--gamma", "3"],
    ["--alpha", "-0.1", "--gamma", "3"],
    ["--alpha", "0.5", "--gamma", "0"],
    ["--alpha", "0.5", "--gamma", "2.5"],
    ["--alpha", "0.5", "--gamma", "3", "--cost-ratio", "-1"],
    ["--alpha", "nan", "--gamma", "3"],
])
def test_cli_bad_values_exit_2_one_line(argv, capsys):
    try:
        code = main(["theory", *argv, "--json"])
    except SystemExit as exc:  # argparse type errors
        code = exc.code
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1


def test_an_optimum_at_the_search_bound_is_said_to_be_one():
    """With alpha = 1 the speedup grows with gamma towards 1 / c: the searched optimum is
    the bound, and the result says so rather than calling it optimal."""
    from specaccel.cli.theory_cmd import _human, compute

    capped = compute(1.0, 10, 0.1)
    assert capped["optimal_gamma"] == theory.MAX_GAMMA and capped["optimal_at_search_bound"]
    assert "the search bound --max-gamma 64" in _human(capped)
    inner = compute(0.8, 4, 0.1)
    assert inner["optimal_gamma"] == 6 and inner["optimal_at_search_bound"] is False
    assert "search bound" not in _human(inner)
    assert compute(0.8, 4, None)["optimal_at_search_bound"] is None
