"""Staged speculation: the second-stage draft raises the first draft's effective speed."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.workloads import validate_trace
from specaccel.workloads.method_self_speculation import expected_tokens
from specaccel.workloads.method_staged import (
    STAGED_PRESETS,
    expected_inner_passes,
    inner_yield_probs,
    sample_inner_passes,
)

PRESET = STAGED_PRESETS["staged-gpt2-large"]


def test_second_stage_raises_the_first_drafts_speed_and_the_speedup():
    pair, a1 = PRESET.pair, PRESET.alpha1()
    staged, plain = pair.draft_tokens_per_second(True), pair.draft_tokens_per_second(False)
    assert staged > 1.5 * plain
    assert pair.speedup(a1, staged=True) > pair.speedup(a1, staged=False) > 1.0
    # with a useless second stage (alpha2 -> 0) every pass yields one token: no gain
    assert expected_inner_passes(pair.gamma1, 1e-12, pair.gamma2) == pytest.approx(pair.gamma1)
    assert expected_inner_passes(pair.gamma1, 0.6, pair.gamma2) < pair.gamma1


def test_inner_passes_sampled_match_the_renewal_recursion():
    rng = np.random.default_rng(4)
    for a2, g2 in ((0.3, 2), (0.6, 4), (0.9, 6)):
        n = sample_inner_passes(40000, 8, a2, g2, rng)
        assert n.mean() == pytest.approx(expected_inner_passes(8, a2, g2), rel=0.02)
        assert n.min() >= 1 and n.max() <= 8
    assert inner_yield_probs(0.6, 4).sum() == pytest.approx(1.0)


def test_preset_matches_the_published_speedup():
    pair = PRESET.pair
    trace = PRESET.generate(n_requests=16, steps_per_request=96, seed=2)
    validate_trace(trace)
    out = verify_trace(trace)
    passes = np.array(trace.metadata["draft_passes"])
    assert passes.shape == (trace.n_steps,)
    assert out.committed.mean() == pytest.approx(
        float(expected_tokens(PRESET.alpha1(), pair.gamma1)), rel=0.05)
    seconds = passes.sum() * pair.t_draft_pass + trace.n_steps * pair.t_verify
    speedup = out.committed.sum() * pair.t_target / seconds
    assert speedup == pytest.approx(PRESET.published_speedup, rel=0.05)
    assert PRESET.published_speedup == 3.16
