"""Draft-free methods (prompt lookup, token recycling) on real text; lookahead has
test_method_lookahead.py."""

from __future__ import annotations

import numpy as np

from specaccel.models.golden import verify_trace, verify_tree
from specaccel.workloads.method_prompt_lookup import PromptLookup, lookup_continuation
from specaccel.workloads.method_token_recycling import TokenRecycling, bfs_template
from specaccel.workloads.real_text import heldout_prompts
from specaccel.workloads.recorder_ngram import (
    RecordConfig,
    greedy_decode,
    record_request,
    record_trace,
)


def test_lookup_takes_the_first_match_of_the_longest_tail():
    ctx = np.array([5, 1, 2, 3, 9, 1, 2, 4, 7, 1, 2, 3])
    assert lookup_continuation(ctx, 3, 1, 2).tolist() == [9, 1]  # 3-gram (1,2,3) at 1
    assert lookup_continuation(ctx[:-1], 3, 1, 3).tolist() == [3, 9, 1]  # (1,2) first at 1
    assert lookup_continuation(np.array([1, 2, 3]), 3, 1, 4).size == 0


def test_prompt_lookup_drafts_copies_and_accepts_them(models):
    trace = record_trace(models, lambda m: PromptLookup(3, 10),
                         RecordConfig(n_requests=6, prompt_len=64, max_new_tokens=120))
    out = verify_trace(trace)
    assert np.all(trace.nodes["draft_prob"] == 1.0)
    assert out.committed.mean() > 1.2  # code repeats itself: copying pays
    assert np.any(trace.nodes_per_step() == 1)  # and some steps find nothing to copy


def test_bfs_template_shape():
    t = bfs_template([3, 2, 1])
    assert t == ((0,), (1,), (2,), (0, 0), (0, 1), (1, 0), (2, 0),
                 (0, 0, 0), (0, 1, 0), (1, 0, 0), (2, 0, 0))


def test_token_recycling_learns_the_targets_successors(models):
    policy = TokenRecycling(models.target, k=4, template=bfs_template([4, 2, 1]))
    _, prompt = heldout_prompts(models.corpus, 1, 48, seed=3)[0]
    trees, generated = record_request(models.target, policy, prompt, 150)
    assert np.array_equal(generated, greedy_decode(models.target, prompt, generated.shape[0]))
    assert trees[0].n_nodes == 1  # nothing recycled before the first pass
    # after the last pass, every token of its tree maps to the target's top-4 there
    last = trees[-1]
    ctx = prompt.tolist() + generated[:generated.shape[0] - verify_tree(last).committed].tolist()
    expected, paths = {}, [[]]
    for i in range(last.n_nodes):
        if i:
            paths.append(paths[int(last.parent[i])] + [int(last.token[i])])
        expected[int(last.token[i])] = models.target.top_k(ctx + paths[i], 4)[0].tolist()
    assert last.n_nodes > 1
    for tok, row in expected.items():
        assert policy.matrix[tok].tolist() == row

    # the matrix persists across requests: a warmed-up matrix needs fewer passes
    prompts = [p for _, p in heldout_prompts(models.corpus, 4, 48, seed=9)]
    warm = TokenRecycling(models.target, k=4, template=bfs_template([4, 2, 1]))
    record_request(models.target, warm, prompts[0], 300)
    cold_steps = warm_steps = 0
    for p in prompts[1:]:
        cold = TokenRecycling(models.target, k=4, template=bfs_template([4, 2, 1]))
        cold_steps += len(record_request(models.target, cold, p, 100)[0])
        warm_steps += len(record_request(models.target, warm, p, 100)[0])
    assert warm_steps < cold_steps

