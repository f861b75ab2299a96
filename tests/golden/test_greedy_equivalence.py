"""Speculative decoding with greedy verification equals plain greedy decoding, token for token."""

import numpy as np
import pytest

from specaccel.models.golden.reference_decoding import (
    LookupTableLM,
    draft_tree_greedy,
    greedy_decode,
    sample_decode,
    speculative_greedy_decode,
)

SHAPES = {
    "chain1": [1],
    "chain4": [1, 1, 1, 1],
    "chain7": [1] * 7,
    "tree321": [3, 2, 1],
    "tree22222": [2, 2, 2, 2, 2],
    "tree41": [4, 1],
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_speculative_greedy_equals_plain_greedy(shape):
    rng = np.random.default_rng(list(SHAPES).index(shape) + 100)
    total_steps = total_tokens = 0
    for trial in range(25):
        vocab = int(rng.integers(3, 12))
        target = LookupTableLM.random(vocab, seed=1000 + trial)
        draft = target.perturbed(noise=float(rng.uniform(0.5, 4.0)), seed=2000 + trial)
        prompt = [int(t) for t in rng.integers(0, vocab, 2)]
        n = int(rng.integers(1, 60))
        run = speculative_greedy_decode(target, draft, prompt, n, SHAPES[shape])
        assert run.tokens == greedy_decode(target, prompt, n)
        total_steps += run.steps
        total_tokens += n
    # speculation actually happened (otherwise the equality would be trivial)
    assert total_steps < total_tokens


def test_perfect_draft_accepts_every_level():
    target = LookupTableLM.random(9, seed=3)
    run = speculative_greedy_decode(target, target, [1, 2], 40, [2, 2, 1, 1])
    assert run.accepted_per_step == [4] * run.steps and run.steps == 8
    assert run.tokens == greedy_decode(target, [1, 2], 40)


def test_wrong_draft_still_exact_one_token_per_step():
    target = LookupTableLM.random(6, seed=8)
    # a draft that never proposes the target's choice: anti-correlated logits
    draft = LookupTableLM(-target.logits)
    run = speculative_greedy_decode(target, draft, [0, 5], 30, [1, 1, 1])
    assert run.tokens == greedy_decode(target, [0, 5], 30)
    assert set(run.accepted_per_step) == {0} and run.steps == 30


def test_tree_layout_is_breadth_first_by_draft_rank():
    target = LookupTableLM.random(7, seed=4)
    draft = target.perturbed(1.0, seed=5)
    tree = draft_tree_greedy(target, draft, [3, 4], [3, 2])
    assert tree.parent.tolist() == [-1, 0, 0, 0, 1, 1, 2, 2, 3, 3]
    assert tree.token[1:4].tolist() == draft.top_k([3, 4], 3)
    assert tree.token[4:6].tolist() == draft.top_k([3, 4, int(tree.token[1])], 2)
    assert tree.target_token[0] == target.greedy_next([3, 4])


def test_sample_decode_follows_the_model_distribution():
    target = LookupTableLM.random(4, seed=6, scale=1.0)
    rng = np.random.default_rng(9)
    firsts = np.array([sample_decode(target, [1, 2], 1, rng)[0] for _ in range(20_000)])
    freq = np.bincount(firsts, minlength=4) / firsts.size
    np.testing.assert_allclose(freq, target.next_dist([1, 2]), atol=0.015)


def test_bad_branching_raises():
    target = LookupTableLM.random(4, seed=1)
    with pytest.raises(ValueError):
        speculative_greedy_decode(target, target, [0, 1], 5, [])
    with pytest.raises(ValueError):
        speculative_greedy_decode(target, target, [0, 1], 5, [2, 0])
