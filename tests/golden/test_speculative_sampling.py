"""Speculative sampling on explicit distributions: acceptance length, target preservation.

Acceptance is always decided by the golden rule (verify_trace / verify_tree); these tests
check the distributions around it: the Leviathan closed form for the mean accepted length,
chi-square goodness of fit of the committed tokens to the target (chain and tree, with a
negative control that skips the residual), and edge cases.
"""

import numpy as np
import pytest
from scipy.stats import chisquare

from specaccel.models.golden import verify_tree
from specaccel.models.golden.speculative_sampling import (
    acceptance_rate,
    residual_distribution,
    sample_tokens,
    speculative_chain,
    speculative_chains,
    speculative_tree,
    speculative_trees,
    tree_to_trace_columns,
)

P_VALUE_FLOOR = 1e-3  # a correct sampler fails this with probability 0.1 % per test
NEGATIVE_CONTROL_P = 1e-12


# ----------------------------------------------------------------------------- (a) E(α, γ)
def _pair_with_acceptance(alpha: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """p, q over 6 tokens with Σ min(p, q) = alpha: p = α q + (1 − α) r, r disjoint from q."""
    q = np.zeros(6)
    q[:4] = rng.dirichlet(np.ones(4))
    r = np.zeros(6)
    r[4:] = rng.dirichlet(np.ones(2))
    return alpha * q + (1 - alpha) * r, q


@pytest.mark.parametrize(("alpha", "gamma"), [(0.5, 2), (0.7, 4), (0.8, 5), (0.9, 8)])
def test_mean_tokens_per_step_matches_closed_form(alpha, gamma):
    rng = np.random.default_rng(int(alpha * 100) * 31 + gamma)
    p, q = _pair_with_acceptance(alpha, rng)
    assert acceptance_rate(p, q) == pytest.approx(alpha)
    n = 120_000
    pp = np.broadcast_to(p, (n, gamma + 1, p.size))
    qq = np.broadcast_to(q, (n, gamma, q.size))
    drafts = sample_tokens(qq, rng.random((n, gamma)))
    out = speculative_chains(pp, qq, drafts, rng.random((n, gamma)), rng.random(n))
    mean = float((out.accepted + 1).mean())
    expect = (1 - alpha ** (gamma + 1)) / (1 - alpha)
    assert abs(mean / expect - 1) < 0.01, (mean, expect)
    # the accepted-count law itself: P(accepted >= k) = α^k
    for k in range(1, gamma + 1):
        assert np.mean(out.accepted >= k) == pytest.approx(alpha**k, abs=0.006)


def test_mean_tokens_per_step_for_random_pair():
    rng = np.random.default_rng(77)
    p, q = rng.dirichlet(np.ones(7)), rng.dirichlet(np.ones(7))
    alpha, gamma, n = float(acceptance_rate(p, q)), 3, 100_000
    pp = np.broadcast_to(p, (n, gamma + 1, 7))
    qq = np.broadcast_to(q, (n, gamma, 7))
    out = speculative_chains(pp, qq, sample_tokens(qq, rng.random((n, gamma))),
                             rng.random((n, gamma)), rng.random(n))
    expect = (1 - alpha ** (gamma + 1)) / (1 - alpha)
    assert abs((out.accepted + 1).mean() / expect - 1) < 0.01


# ----------------------------------------------------------------------------- (b) chi-square
V = 5
_model_rng = np.random.default_rng(2024)
TARGET = _model_rng.dirichlet(np.full(V, 2.0), size=V)  # TARGET[a] = p(. | previous token a)
DRAFT = _model_rng.dirichlet(np.full(V, 2.0), size=V)  # a different, worse "draft model"
START = 0


def _joint_expected(n: int) -> np.ndarray:
    return n * (TARGET[START][:, None] * TARGET).ravel()


def _chain_step(ctx, gamma, rng, *, skip_residual=False):
    """One chain step from context tokens ``ctx``; returns (accepted, drafts, token)."""
    n = ctx.shape[0]
    drafts = np.empty((n, gamma), dtype=np.int64)
    prev = ctx
    for i in range(gamma):
        prev = sample_tokens(DRAFT[prev], rng.random(n))
        drafts[:, i] = prev
    hist = np.concatenate([ctx[:, None], drafts], axis=1)
    p, q = TARGET[hist], DRAFT[hist[:, :gamma]]
    v = rng.random(n)
    out = speculative_chains(p, q, drafts, rng.random((n, gamma)), v)
    token = out.token
    if skip_residual:  # negative control: correction drawn from p instead of the residual
        rej = out.accepted < gamma
        token = token.copy()
        token[rej] = sample_tokens(p[rej, out.accepted[rej]], v[rej])
    return out.accepted, drafts, token


def _first_two_chain(n, gamma, rng, **kw):
    ctx = np.full(n, START, dtype=np.int64)
    acc, drafts, tok = _chain_step(ctx, gamma, rng, **kw)
    first = np.where(acc >= 1, drafts[:, 0], tok)
    second = np.where(acc >= 2, drafts[:, np.minimum(1, gamma - 1)], tok)
    redo = acc == 0  # only the correction was committed: the next step gives token 2
    acc2, drafts2, tok2 = _chain_step(first[redo], gamma, rng, **kw)
    second[redo] = np.where(acc2 >= 1, drafts2[:, 0], tok2)
    return first, second


def _chisq(first, second):
    n = first.shape[0]
    joint = np.bincount(first * V + second, minlength=V * V)
    marg = chisquare(np.bincount(first, minlength=V), n * TARGET[START])
    return marg, chisquare(joint, _joint_expected(n))


def test_chain_commits_target_distribution_first_and_second_token():
    rng = np.random.default_rng(5)
    first, second = _first_two_chain(60_000, 3, rng)
    marg, joint = _chisq(first, second)
    assert marg.pvalue > P_VALUE_FLOOR, marg
    assert joint.pvalue > P_VALUE_FLOOR, joint


def test_chain_negative_control_without_residual_fails():
    rng = np.random.default_rng(5)
    first, second = _first_two_chain(60_000, 3, rng, skip_residual=True)
    marg, joint = _chisq(first, second)
    assert marg.pvalue < NEGATIVE_CONTROL_P and marg.statistic > 100, marg
    assert joint.pvalue < NEGATIVE_CONTROL_P


# trees: root -> 3 children -> 2 children each (10 nodes), siblings in index order
TREE_PARENT = np.array([-1, 0, 0, 0, 1, 1, 2, 2, 3, 3], dtype=np.int32)
TREE_WIDTHS = ((0, (1, 2, 3)), (1, (4, 5)), (2, (6, 7)), (3, (8, 9)))


def _draw_children(ctx, k, draft_sampling, rng):
    dist = DRAFT[ctx]
    if draft_sampling == "with_replacement":
        return np.stack([sample_tokens(dist, rng.random(ctx.shape[0])) for _ in range(k)], 1)
    if draft_sampling == "without_replacement":  # Gumbel-top-k = sequential sampling w/o repl.
        keys = np.log(dist) + rng.gumbel(size=dist.shape)
        return np.argsort(-keys, axis=1, kind="stable")[:, :k]
    return np.argsort(-dist, axis=1, kind="stable")[:, :k]  # deterministic top-k


def _tree_step(ctx, draft_sampling, rng, *, skip_residual=False, drawn=None):
    """One tree step; `drawn` (negative control) draws siblings differently from the rule."""
    n, m = ctx.shape[0], TREE_PARENT.shape[0]
    tok = np.zeros((n, m), dtype=np.int64)
    tok[:, 0] = ctx
    for node, kids in TREE_WIDTHS:
        tok[:, list(kids)] = _draw_children(tok[:, node], len(kids), drawn or draft_sampling,
                                            rng)
    out = speculative_trees(
        np.tile(TREE_PARENT, n), tok.ravel(), TARGET[tok.ravel()], DRAFT[tok.ravel()],
        rng.random(n * m), rng.random(n * m),
        step_node_offsets=np.arange(0, n * m + 1, m), draft_sampling=draft_sampling,
    )
    bonus = out.bonus_token
    if skip_residual:  # negative control: the extra token from the node's target dist
        last_tok = tok[np.arange(n), out.last_node]
        bonus = sample_tokens(TARGET[last_tok], rng.random(n))
    k = np.arange(3)
    slots = np.minimum(out.columns.step_node_offsets[:-1, None] + k, n * m - 1)
    paths = np.where(k <= out.accepted[:, None], out.path_flat[slots], -1)
    return out.accepted, tok, paths, bonus


def _first_two_tree(n, draft_sampling, rng, **kw):
    ctx = np.full(n, START, dtype=np.int64)
    acc, tok, paths, bonus = _tree_step(ctx, draft_sampling, rng, **kw)
    rows = np.arange(n)
    first = np.where(acc >= 1, tok[rows, np.maximum(paths[:, 1], 0)], bonus)
    second = np.where(acc >= 2, tok[rows, np.maximum(paths[:, 2], 0)], bonus)
    redo = acc == 0
    acc2, tok2, paths2, bonus2 = _tree_step(first[redo], draft_sampling, rng, **kw)
    rows2 = np.arange(int(redo.sum()))
    second[redo] = np.where(acc2 >= 1, tok2[rows2, np.maximum(paths2[:, 1], 0)], bonus2)
    return first, second


@pytest.mark.parametrize("draft_sampling",
                         ["with_replacement", "without_replacement", "deterministic"])
def test_tree_commits_target_distribution(draft_sampling):
    rng = np.random.default_rng(11)
    first, second = _first_two_tree(50_000, draft_sampling, rng)
    marg, joint = _chisq(first, second)
    assert marg.pvalue > P_VALUE_FLOOR, marg
    assert joint.pvalue > P_VALUE_FLOOR, joint


def test_tree_negative_control_without_residual_fails():
    rng = np.random.default_rng(11)
    first, _ = _first_two_tree(50_000, "with_replacement", rng, skip_residual=True)
    marg = chisquare(np.bincount(first, minlength=V), first.shape[0] * TARGET[START])
    assert marg.pvalue < NEGATIVE_CONTROL_P and marg.statistic > 100, marg


# ----------------------------------------------------------------------------- residual columns
def test_tree_columns_follow_the_residual_schedule():
    p = np.array([0.5, 0.3, 0.2])
    q = np.array([0.2, 0.5, 0.3])
    parent, token = [-1, 0, 0], [0, 1, 2]
    dists = np.stack([p, p, p])
    qs = np.stack([q, q, q])
    u = np.array([np.nan, 0.5, 0.5])
    expect = {
        # (target_prob, draft_prob) of nodes 1 and 2, the root's final residual, the path
        "with_replacement": ([0.3, 0.0], [0.5, 0.3], [1.0, 0.0, 0.0], [0, 1]),
        "without_replacement": ([0.3, 0.0], [0.5, 0.6], [1.0, 0.0, 0.0], [0, 1]),
        "deterministic": ([0.3, 0.2 / 0.7], [1.0, 1.0], [1.0, 0.0, 0.0], [0]),
    }
    for mode, (tp, dp, res, path) in expect.items():
        cols = tree_to_trace_columns(parent, token, dists, qs, u, np.full(3, 0.3),
                                     draft_sampling=mode)
        np.testing.assert_allclose(cols.nodes["target_prob"], [1.0, *tp])
        np.testing.assert_allclose(cols.nodes["draft_prob"], [1.0, *dp])
        np.testing.assert_allclose(cols.residual[0], res)
        assert cols.nodes["target_token"][0] == 0
        assert np.isnan(cols.nodes["uniform"][0])
        # the decision is the golden rule's: 0.5 * 0.5 < 0.3 accepts node 1 when q = 0.5;
        # a deterministic draft (q = 1) needs u < p: 0.5 < 0.3 and 0.5 < 0.2/0.7 both fail
        assert verify_tree(cols.tree(), "stochastic").path.tolist() == path


def test_residual_distribution_values():
    np.testing.assert_allclose(residual_distribution([0.5, 0.3, 0.2], [0.2, 0.5, 0.3]),
                               [1.0, 0.0, 0.0])
    np.testing.assert_allclose(residual_distribution([0.6, 0.4, 0.0], [0.2, 0.2, 0.6]),
                               [2 / 3, 1 / 3, 0.0])
    # zero-mass residual (p == q) falls back to p
    np.testing.assert_allclose(residual_distribution([0.5, 0.5], [0.5, 0.5]), [0.5, 0.5])


# ----------------------------------------------------------------------------- (c) edge cases
def test_identical_distributions_always_accept():
    rng = np.random.default_rng(3)
    n, gamma = 20_000, 4
    p = rng.dirichlet(np.ones(V), size=(n, gamma + 1))
    drafts = sample_tokens(p[:, :gamma], rng.random((n, gamma)))
    u = rng.random((n, gamma))
    u[:10] = np.nextafter(1.0, 0.0)  # the largest uniform still accepts
    out = speculative_chains(p, p[:, :gamma], drafts, u, rng.random(n))
    assert np.all(out.accepted == gamma)
    np.testing.assert_allclose(out.residual, p[:, gamma])  # bonus from p_γ
    one = speculative_tree([-1, 0, 0], [0, 2, 1], np.tile(p[0, 0], (3, 1)),
                           np.tile(p[0, 0], (3, 1)), [np.nan, 0.999, 0.0], [0.5] * 3)
    assert one.path.tolist() == [0, 1]  # first child accepted, its lower-index tie wins


def test_disjoint_supports_always_reject():
    rng = np.random.default_rng(4)
    n, gamma = 20_000, 3
    p = np.zeros((n, gamma + 1, 6))
    p[..., :3] = rng.dirichlet(np.ones(3), size=(n, gamma + 1))
    q = np.zeros((n, gamma, 6))
    q[..., 3:] = rng.dirichlet(np.ones(3), size=(n, gamma))
    drafts = sample_tokens(q, rng.random((n, gamma)))
    u = rng.random((n, gamma))
    u[:10] = 0.0  # even u = 0 rejects (0 < 0 is false)
    out = speculative_chains(p, q, drafts, u, rng.random(n))
    assert np.all(out.accepted == 0)
    np.testing.assert_allclose(out.residual, p[:, 0])  # residual of disjoint p, q is p
    assert np.all(out.token < 3)


def test_single_chain_matches_hand_computation():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    q = np.array([[0.2, 0.6, 0.2], [0.6, 0.2, 0.2]])
    # draft 1 (token 1): 0.9 * 0.6 < 0.3 is false -> rejected; residual [1, 0, 0]
    out = speculative_chain(p, q, [1, 0], [0.9, 0.1], 0.5)
    assert (out.accepted, out.token) == (0, 0)
    # accepted (0.1*0.6 < 0.3), then token 0: 0.9*0.6 < 0.1 false; residual [0, 0, 1]
    out = speculative_chain(p, q, [1, 0], [0.1, 0.9], 0.5)
    assert (out.accepted, out.token) == (1, 2)
    np.testing.assert_allclose(out.residual, [0, 0, 1])
    # both accepted: bonus sampled from p_2 = [.3, .3, .4] with v = 0.65 -> token 2
    out = speculative_chain(p, q, [1, 2], [0.1, 0.1], 0.65)
    assert (out.accepted, out.token) == (2, 2)


def test_bad_inputs_raise():
    p = np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match="draft_sampling"):
        tree_to_trace_columns([-1, 0, 0], [0, 1, 0], p, p, [0] * 3, [0] * 3,
                              draft_sampling="beam")
    with pytest.raises(ValueError, match="sums to"):
        tree_to_trace_columns([-1, 0, 0], [0, 1, 0], p * 2, p, [0] * 3, [0] * 3)
    with pytest.raises(ValueError, match="parents"):
        tree_to_trace_columns([-1, 2, 0], [0, 1, 0], p, p, [0] * 3, [0] * 3)


def test_tree_negative_control_mismatched_sibling_rule_fails():
    # siblings drawn without replacement but verified with the with-replacement schedule
    rng = np.random.default_rng(11)
    first, _ = _first_two_tree(50_000, "with_replacement", rng, drawn="without_replacement")
    marg = chisquare(np.bincount(first, minlength=V), first.shape[0] * TARGET[START])
    assert marg.pvalue < NEGATIVE_CONTROL_P and marg.statistic > 100, marg
