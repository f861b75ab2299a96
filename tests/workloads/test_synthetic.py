"""The synthetic generator: seeded, consistent with the golden model and the closed forms."""

import dataclasses

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.workloads import (
    AcceptanceModel,
    chain,
    eagle_default_tree,
    from_choices,
    k_ary,
    k_by_depth,
    synthesize_trace,
    validate_trace,
)

MODEL = AcceptanceModel((0.8, 0.7, 0.65, 0.6))


def _trace(shape, mode="greedy", steps=20_000, seed=11, model=MODEL):
    return synthesize_trace(shape, model, n_requests=20, steps_per_request=steps // 20,
                            seed=seed, verification=mode)


def test_same_seed_same_trace_other_seed_other_trace():
    a = _trace(eagle_default_tree(), steps=400, seed=5)
    b = _trace(eagle_default_tree(), steps=400, seed=5)
    c = _trace(eagle_default_tree(), steps=400, seed=6)
    assert a.equals(b) and a.metadata == b.metadata
    assert not a.equals(c)


@pytest.mark.parametrize("mode", ["greedy", "stochastic"])
@pytest.mark.parametrize("shape", [chain(4), eagle_default_tree(), k_by_depth(3, 4), k_ary(2, 5),
                                   from_choices([[0], [1], [3], [0, 0], [0, 2], [3, 1]])],
                         ids=lambda s: getattr(s, "name", None))
def test_generated_tau_matches_closed_form(shape, mode):
    tr = _trace(shape, mode)
    validate_trace(tr)
    committed = verify_trace(tr).committed
    se = committed.std() / np.sqrt(committed.size)
    assert abs(committed.mean() - MODEL.expected_committed(shape)) < 4 * se


def test_rank_frequencies_follow_the_model_with_missing_ranks():
    # the root lists ranks 0, 1 and 3 (rank 2 absent): rank 3 is chosen only if 0..2 are not
    shape = from_choices([[0], [1], [3]])
    tr = _trace(shape, steps=60_000, seed=3)
    out = verify_trace(tr)
    first = np.array([out.path(s)[1] if out.accepted[s] else 0 for s in range(tr.n_steps)])
    for node, rank in ((1, 0), (2, 1), (3, 3)):
        p = MODEL.choice_probability(1, rank)
        freq = np.mean(first == node)
        assert abs(freq - p) < 4 * np.sqrt(p * (1 - p) / first.size)


def test_greedy_columns_are_consistent():
    tr = _trace(eagle_default_tree(), steps=2000)
    n = tr.n_nodes
    start = np.repeat(tr.step_node_offsets[:-1], tr.nodes_per_step())
    parent = tr.nodes["parent"].astype(np.int64)
    nonroot = parent >= 0
    gp = start[nonroot] + parent[nonroot]
    match = tr.nodes["token"][nonroot] == tr.nodes["target_token"][gp]
    # temperature 0: p is the target's one-hot distribution
    np.testing.assert_array_equal(tr.nodes["target_prob"][nonroot], match.astype(float))
    assert np.all(np.isnan(tr.nodes["uniform"]))
    # siblings have distinct tokens, so at most one child of a node matches
    key = gp * 40_000 + tr.nodes["token"][nonroot]
    assert np.unique(key).size == key.size
    assert np.bincount(gp[match], minlength=n).max() <= 1


def test_greedy_draft_prob_is_the_calibrated_choice_probability():
    shape = from_choices([[0], [1], [2]])
    tr = _trace(shape, steps=40_000, seed=9)
    q = tr.nodes["draft_prob"].reshape(-1, 4)
    for node, rank in ((1, 0), (2, 1), (3, 2)):
        assert q[:, node].mean() == pytest.approx(MODEL.choice_probability(1, rank), abs=4e-3)
    assert np.all(q[:, 1] > q[:, 2]) and np.all(q[:, 2] > q[:, 3])  # rank 0 most confident


def test_stochastic_trace_uniforms_decide_the_same_path_as_its_tokens():
    tr = _trace(eagle_default_tree(), "stochastic", steps=5000)
    root = tr.nodes["parent"] < 0
    assert np.all(np.isfinite(tr.nodes["uniform"][~root]))
    assert np.all(tr.nodes["draft_prob"][~root] > 0)
    as_greedy = dataclasses.replace(tr, verification="greedy")
    np.testing.assert_array_equal(verify_trace(tr).path_flat, verify_trace(as_greedy).path_flat)
    np.testing.assert_array_equal(verify_trace(tr).bonus_token,
                                  verify_trace(as_greedy).bonus_token)


def test_constant_confidence_gives_constant_draft_prob():
    m = AcceptanceModel((0.7,), confidence_spread=0.0)
    tr = _trace(chain(3), steps=200, model=m)
    q = tr.nodes["draft_prob"].reshape(-1, 4)
    np.testing.assert_allclose(q[:, 1:], 0.7)
