"""Thompson-sampling γ control (EESD-style): the posterior learns α, γ follows α, and on the
real-text pair it is near the best fixed γ in tokens per unit cost, losslessly."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.models.golden.tree_verify import committed_tokens, verify_tree
from specaccel.models.theory import optimal_gamma
from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree
from specaccel.workloads.method_chain import FixedChain
from specaccel.workloads.method_thompson_gamma import ThompsonChain, draft_cost_ratio
from specaccel.workloads.real_text import heldout_prompts
from specaccel.workloads.recorder_ngram import (
    RecordConfig,
    greedy_decode,
    record_request,
    record_trace,
)

COST_RATIO = 0.1


class _FlatDraft:
    """A draft with a fixed next-token distribution (its argmax is token 0)."""

    vocab_size = 4

    def distribution(self, context):
        return np.array([0.4, 0.3, 0.2, 0.1])

    def top_k(self, context, k):
        p = self.distribution(context)
        return np.arange(k), p[:k]


def _run_bernoulli(alpha: float, n_steps: int, seed: int) -> ThompsonChain:
    """Drive the policy with drafts that the target accepts i.i.d. with probability alpha.

    The target's token after each node is the next draft token on success and another
    token on failure; the golden model decides what is accepted.
    """
    rng = np.random.default_rng(seed)
    policy = ThompsonChain(_FlatDraft(), gamma_max=32, cost_ratio=COST_RATIO, seed=seed)
    context = [1, 2, 3]
    for _ in range(n_steps):
        prop = policy.propose(context)
        n = len(prop.token)
        success = rng.random(n) < alpha
        target_token = [prop.token[i + 1] if i + 1 < n and success[i + 1]
                        else (prop.token[i + 1] + 1) % 4 if i + 1 < n else 2
                        for i in range(n)]
        tree = DraftTree.build(prop.parent, prop.token, target_token,
                               draft_prob=prop.draft_prob)
        committed = committed_tokens(tree, verify_tree(tree))
        policy.observe(context, tree, [], committed)
        context = context + [int(t) for t in committed]
    return policy


@pytest.mark.parametrize("alpha", [0.3, 0.6, 0.9])
def test_posterior_concentrates_on_the_true_acceptance(alpha):
    policy = _run_bernoulli(alpha, 1500, seed=int(alpha * 10))
    sd = np.sqrt(policy.a * policy.b / ((policy.a + policy.b) ** 2 * (policy.a + policy.b + 1)))
    assert abs(policy.posterior_mean - alpha) < 0.03
    assert sd < 0.015
    # late samples of the acceptance are close to alpha: the exploration has narrowed
    late = np.array([a for a, _ in policy.history[-300:]])
    assert abs(np.median(late) - alpha) < 0.04


def test_gamma_rises_with_acceptance():
    gam = {}
    for alpha in (0.5, 0.9):
        policy = _run_bernoulli(alpha, 800, seed=7)
        chosen = np.array([g for _, g in policy.history[-300:]])
        gam[alpha] = chosen
        # the controller settles on the rate-optimal γ of the true α
        assert np.bincount(chosen).argmax() == optimal_gamma(alpha, COST_RATIO, 32)
    assert gam[0.9].mean() > 2.5 * gam[0.5].mean()
    assert gam[0.5].max() < gam[0.9].min() + 3  # overlap only through exploration


def test_real_text_rate_near_best_fixed_gamma(models):
    """Tokens per unit cost Σ committed / Σ (γ c + 1) against fixed γ = 1..8."""
    c = draft_cost_ratio("llama-2-70b", "llama-2-7b")
    cfg = RecordConfig(n_requests=6, prompt_len=48, max_new_tokens=150, seed=3)

    def rate(trace):
        gammas = trace.nodes_per_step() - 1
        return float(verify_trace(trace).committed.sum() / (gammas * c + 1.0).sum())

    fixed = {g: rate(record_trace(models, lambda m, g=g: FixedChain(m.draft_lm, g), cfg))
             for g in range(1, 9)}
    ts = rate(record_trace(models, lambda m: ThompsonChain(m.draft_lm, 16, c, seed=0), cfg))
    print(f"c={c:.4f} fixed={ {g: round(r, 4) for g, r in fixed.items()} } thompson={ts:.4f}")
    assert ts > min(fixed.values()) * 1.1
    assert ts >= 0.96 * max(fixed.values())


def test_real_text_posterior_counts_golden_outcomes(models):
    cfg = RecordConfig(n_requests=3, prompt_len=48, max_new_tokens=80, seed=5)
    holder = {}

    def factory(m):
        holder["p"] = ThompsonChain(m.draft_lm, 12, COST_RATIO, seed=2)
        return holder["p"]

    trace = record_trace(models, factory, cfg)
    policy = holder["p"]
    acc = verify_trace(trace).accepted
    drafted = trace.nodes_per_step() - 1
    assert policy.a == pytest.approx(1.0 + acc.sum())
    assert policy.b == pytest.approx(1.0 + (acc < drafted).sum())
    assert [g for _, g in policy.history] == drafted.tolist()
    assert trace.metadata["method"] == "chain-thompson"


def test_reset_per_request_learns_each_request_from_the_prior(models):
    cfg = RecordConfig(n_requests=3, prompt_len=48, max_new_tokens=60, seed=6)
    holder = {}

    def factory(m):
        holder["p"] = ThompsonChain(m.draft_lm, 12, COST_RATIO, prior=(2.0, 3.0),
                                    reset_per_request=True, seed=4)
        return holder["p"]

    trace = record_trace(models, factory, cfg)
    last = trace.request_steps(trace.n_requests - 1)
    acc = verify_trace(trace).accepted[last.start:last.stop]
    drafted = (trace.nodes_per_step() - 1)[last.start:last.stop]
    assert holder["p"].a == pytest.approx(2.0 + acc.sum())
    assert holder["p"].b == pytest.approx(3.0 + (acc < drafted).sum())


def test_lossless_on_real_text(models):
    for _, prompt in heldout_prompts(models.corpus, 3, 40, seed=9):
        policy = ThompsonChain(models.draft_lm, 12, COST_RATIO, discount=0.9, seed=1)
        trees, generated = record_request(models.target, policy, prompt, 100)
        assert np.array_equal(generated, greedy_decode(models.target, prompt,
                                                       generated.shape[0]))
        assert len({t.n_nodes for t in trees}) > 1  # γ really varies step to step


def test_cost_ratio_from_the_cost_model():
    small = draft_cost_ratio("vicuna-7b", "vicuna-68m")
    big = draft_cost_ratio("llama-2-70b", "llama-2-7b")
    assert 0.0 < small < big < 0.5
    exits = [draft_cost_ratio("llama-2-70b", exit_layers=e) for e in (5, 20, 40)]
    assert 0.0 < exits[0] < exits[1] < exits[2] < 1.0
    with pytest.raises(InputError, match="exit_layers"):
        draft_cost_ratio("llama-2-70b", exit_layers=80)
    with pytest.raises(InputError, match="exactly one"):
        draft_cost_ratio("llama-2-70b")


@pytest.mark.parametrize("kwargs, field", [
    ({"gamma_max": 0}, "gamma"),
    ({"cost_ratio": -1.0}, "cost_ratio"),
    ({"discount": 0.0}, "discount"),
    ({"prior": (0.0, 1.0)}, "prior"),
])
def test_bad_parameters(kwargs, field):
    args = {"gamma_max": 8, "cost_ratio": 0.1, **kwargs}
    with pytest.raises(InputError) as err:
        ThompsonChain(_FlatDraft(), args.pop("gamma_max"), args.pop("cost_ratio"), **args)
    assert err.value.field == field
