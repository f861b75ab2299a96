"""Staged speculation: a best-first tree at the top level, drafted faster by a second stage."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.workloads import get_preset, validate_trace
from specaccel.workloads.method_staged import (
    expected_inner_passes,
    inner_yield_probs,
    sample_inner_passes,
)
from specaccel.workloads.tree_shapes import chain

PRESET = get_preset("staged-gpt2-large")


def test_top_level_is_the_best_first_tree_of_the_calibrated_model():
    pair = PRESET.pair
    model, shape = PRESET.calibrated()
    assert shape.n_draft_tokens == pair.tree_tokens
    assert shape.max_depth <= pair.tree_depth
    assert shape.n_children().max() >= 2  # a tree, not a chain
    rebuilt = pair.tree(model)  # fixed point: the tree is best-first for the calibrated alpha
    assert np.array_equal(rebuilt.parent, shape.parent)
    # the tree spends its budget on likelier nodes than a chain drafted in as many passes
    assert model.expected_committed(shape) > model.expected_committed(chain(shape.max_depth))
    # and it needs fewer sequential draft levels than a chain of the same node budget
    assert shape.max_depth < pair.tree_tokens
    reach = model.reach_probability(shape)
    assert np.all(reach[1:] <= reach[shape.parent[1:]])


def test_staged_beats_plain_speculation_on_the_same_tree():
    pair = PRESET.pair
    model, shape = PRESET.calibrated()
    staged, plain = pair.speedup(model, shape, True), pair.speedup(model, shape, False)
    assert staged == pytest.approx(PRESET.published_speedup, rel=1e-6)
    assert staged > plain > 1.0
    # a useless second stage (alpha2 -> 0) advances one level per (wider) pass: no gain
    useless = replace(pair, alpha2=1e-12)
    assert useless.expected_passes(shape) == pytest.approx(shape.max_depth)
    assert useless.speedup(model, shape, True) <= useless.speedup(model, shape, False)


def test_second_stage_cuts_draft_time_per_step_by_the_expected_factor():
    pair = PRESET.pair
    _, shape = PRESET.calibrated()
    expected_factor = pair.draft_seconds(shape, True) / pair.draft_seconds(shape, False)
    assert expected_factor == pytest.approx(
        expected_inner_passes(shape.max_depth, pair.alpha2, pair.gamma2)
        * pair.staged_pass_seconds(shape) / pair.plain_draft_seconds(shape))
    assert expected_factor < 0.75
    trace = PRESET.generate(n_requests=16, steps_per_request=128, seed=7)
    passes = np.asarray(trace.metadata["draft_passes"])
    measured = (passes * trace.metadata["staged_pass_seconds"]).mean() \
        / trace.metadata["plain_draft_seconds"]
    assert measured == pytest.approx(expected_factor, rel=0.02)
    assert passes.max() <= shape.max_depth and passes.min() >= 1


def test_inner_passes_sampled_match_the_renewal_recursion():
    rng = np.random.default_rng(4)
    for a2, g2 in ((0.3, 2), (0.6, 4), (0.9, 6)):
        n = sample_inner_passes(40000, 8, a2, g2, rng)
        assert n.mean() == pytest.approx(expected_inner_passes(8, a2, g2), rel=0.02)
        assert n.min() >= 1 and n.max() <= 8
    assert inner_yield_probs(0.6, 4).sum() == pytest.approx(1.0)


def test_trace_reproduces_the_published_speedup():
    pair = PRESET.pair
    model, shape = PRESET.calibrated()
    for seed in (2, 3):
        trace = PRESET.generate(n_requests=16, steps_per_request=96, seed=seed)
        validate_trace(trace)
        assert np.all(trace.nodes_per_step() == shape.n_nodes)
        out = verify_trace(trace)
        assert out.committed.mean() == pytest.approx(model.expected_committed(shape), rel=0.05)
        passes = np.asarray(trace.metadata["draft_passes"])
        seconds = (passes.sum() * pair.staged_pass_seconds(shape)
                   + trace.n_steps * pair.t_verify(shape))
        speedup = out.committed.sum() * pair.t_target / seconds
        assert speedup == pytest.approx(PRESET.published_speedup, rel=0.05)
    assert PRESET.published_speedup == 3.16
    assert PRESET.alpha1() == model.alpha[0]
