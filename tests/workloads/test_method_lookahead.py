"""Lookahead decoding on real text: 2-D Jacobi window, n-gram pool, verification branch."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.golden import verify_trace, verify_tree
from specaccel.schema.errors import InputError
from specaccel.workloads.method_lookahead import Lookahead, NgramPool, verification_proposal
from specaccel.workloads.real_text import heldout_prompts
from specaccel.workloads.recorder_ngram import (
    RecordConfig,
    greedy_decode,
    record_request,
    record_trace,
)


@pytest.fixture(scope="module")
def prompts(models):
    return [p for _, p in heldout_prompts(models.corpus, 3, 48, seed=5)]


class LoggingLookahead(Lookahead):
    """Lookahead that remembers the guesses it verified at every step."""

    def reset(self, prompt):
        super().reset(prompt)
        self.log: list[list[tuple[int, ...]]] = []

    def propose(self, context):
        self.log.append(self.pool.guesses(context[-1]) if self.warmed_up else [])
        return super().propose(context)


@pytest.mark.parametrize("kw", [dict(W=6, N=4, G=5), dict(W=3, N=3, G=2),
                                dict(W=7, N=5, G=7, advance="accepted"),
                                dict(W=5, N=5, G=4, verify_layout="chains")])
def test_output_is_plain_greedy_decoding(models, prompts, kw):
    for prompt in prompts[:2]:
        policy = Lookahead(models.target, **kw)
        _, generated = record_request(models.target, policy, prompt, 120)
        assert np.array_equal(generated,
                              greedy_decode(models.target, prompt, generated.shape[0]))


def test_warm_up_fills_one_level_per_pass_then_the_window_is_steady(models, prompts):
    W, N = 6, 5
    policy = LoggingLookahead(models.target, W=W, N=N, G=4)
    trees, _ = record_request(models.target, policy, prompts[0], 80)
    # N - 2 warm-up passes verify nothing (root-only trees) and leave the pool empty
    assert [t.n_nodes for t in trees[:N - 2]] == [1] * (N - 2)
    assert all(g == [] for g in policy.log[:N - 1])
    assert [len(level) for level in policy.levels] == [W - 1] + [W] * (N - 2)
    assert sum(len(b) for b in policy.pool.buckets.values()) == len(policy.pool) > 0
    assert all(len(b) <= 4 for b in policy.pool.buckets.values())  # cap = G
    assert all(len(g) == N - 1 for b in policy.pool.buckets.values() for g in b)


def test_a_converged_window_yields_the_greedy_continuation_as_a_guess(models, prompts):
    """Jacobi fixed point: if level l column i holds greedy token i + l - 1, the n-gram of
    column 1 is the greedy continuation after the next committed token."""
    W, N = 6, 4
    prompt = prompts[1]
    g = greedy_decode(models.target, prompt, W + N).tolist()

    class Converged(LoggingLookahead):
        def reset(self, p):
            super().reset(p)
            self.levels = [g[:W - 1]] + [[g[i + lv - 1] for i in range(W)]
                                         for lv in range(1, N - 1)]

    policy = Converged(models.target, W=W, N=N, G=3)
    trees, generated = record_request(models.target, policy, prompt, 2)
    assert trees[0].n_nodes == 1  # empty pool: the first pass commits one token
    assert tuple(g[1:N]) in policy.log[1]
    assert verify_tree(trees[1]).accepted == N - 1  # the whole guess is accepted
    assert generated.tolist() == g[:N + 1]


def common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def test_trie_commits_the_references_longest_match_and_chains_never_more(models, prompts):
    for layout in ("trie", "chains"):
        for prompt in prompts:
            policy = LoggingLookahead(models.target, W=7, N=5, G=7, verify_layout=layout)
            trees, generated = record_request(models.target, policy, prompt, 150)
            pos = 0
            for tree, guesses in zip(trees, policy.log, strict=True):
                truth = generated[pos:pos + 4].tolist()
                best = max((common_prefix(gs, truth) for gs in guesses), default=0)
                accepted = verify_tree(tree).accepted
                if layout == "trie":
                    assert accepted == best
                else:
                    assert accepted <= best
                    assert tree.n_nodes == 1 + 4 * len(guesses)
                pos += accepted + 1


def test_tau_rises_with_window_and_guesses(models):
    cfg = RecordConfig(n_requests=4, prompt_len=64, max_new_tokens=120, seed=1)

    def tau(**kw):
        args = dict(W=7, N=5, G=7) | kw
        return float(verify_trace(record_trace(
            models, lambda m: Lookahead(m.target, **args), cfg)).committed.mean())

    by_w = [tau(W=w) for w in (2, 7, 15)]
    by_g = [tau(G=g) for g in (1, 3, 7)]
    assert by_w[0] < by_w[1] < by_w[2]
    assert by_g[0] < by_g[1] < by_g[2]
    assert by_w[2] > 1.2 * by_w[0]


def test_pool_is_lru_capped_per_key():
    pool = NgramPool(2)
    pool.add(1, (2, 3))
    pool.add(1, (4, 5))
    pool.add(1, (2, 3))  # moved to the end
    pool.add(1, (6, 7))  # evicts the oldest, (4, 5)
    pool.add(9, (1, 1))
    assert pool.guesses(1) == [(2, 3), (6, 7)]
    assert pool.guesses(9) == [(1, 1)] and pool.guesses(5) == []
    assert len(pool) == 3


def test_verification_layouts():
    guesses = [(1, 2, 3), (1, 2, 4), (5, 6, 7)]
    trie = verification_proposal(9, guesses, "trie")
    assert trie.parent == [-1, 0, 1, 2, 2, 0, 5, 6]
    assert trie.token == [9, 1, 2, 3, 4, 5, 6, 7]
    chains = verification_proposal(9, guesses, "chains")
    assert chains.parent == [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8]
    assert chains.token == [9, 1, 2, 3, 1, 2, 4, 5, 6, 7]


def test_describe_and_bad_parameters(models):
    d = Lookahead(models.target, W=7, N=5, G=7).describe()
    assert d["extra_query_tokens_per_step"] == 6 + 3 * 7  # level 0: W-1, levels 1..N-2: W
    assert d["verify_branch_max_tokens"] == 28
    for kw, field in ((dict(N=2), "N"), (dict(W=0), "W"), (dict(G=0), "G"),
                      (dict(advance="two"), "advance"), (dict(verify_layout="x"),
                                                         "verify_layout")):
        with pytest.raises(InputError) as e:
            Lookahead(models.target, **kw)
        assert e.value.field == field
