"""BASS: ragged accepted lengths within a batch step; the longest row sets the step's cost."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads import get_preset, validate_trace
from specaccel.workloads.method_bass import (
    DRAFT_LIMIT,
    next_draft_length,
    simulate_bass,
)

PRESET = get_preset("bass-7b-batch8-humaneval")


@pytest.fixture(scope="module")
def runs():
    return [PRESET.run(seed=s) for s in (1, 2, 3)]


def test_preset_matches_the_published_speedup(runs):
    committed = sum(float((r.accepted + 1).sum()) for r in runs)
    seconds = sum(float(r.step_seconds.sum()) for r in runs)
    per_token_decode = float(np.mean([r.decode_seconds.mean() for r in runs])) / PRESET.batch
    speedup = committed / seconds * per_token_decode
    assert speedup == pytest.approx(PRESET.published_speedup, rel=0.05)
    assert PRESET.published_speedup == 2.15


def test_rows_accept_ragged_lengths_and_the_golden_model_agrees(runs):
    run = runs[0]
    validate_trace(run.trace)
    out = verify_trace(run.trace)
    steps = run.accepted.shape[1]
    # request r = row r; step k of each request is batch step k
    assert np.array_equal(out.accepted.reshape(PRESET.batch, steps), run.accepted)
    distinct = np.array([np.unique(run.accepted[:, k]).size for k in range(steps)])
    assert (distinct >= 2).mean() > 0.9  # rows almost never accept the same length
    spread = run.accepted.max(axis=0) - run.accepted.min(axis=0)
    assert spread.mean() > 3
    # harder rows (lower alpha) accept less on average
    order = np.argsort(run.row_alpha)
    assert run.accepted[order[0]].mean() < run.accepted[order[-1]].mean()


def test_batch_step_cost_is_set_by_the_longest_row():
    costs = PRESET.costs
    ctx = np.full(8, 400.0)
    ragged = np.array([2, 3, 9, 1, 4, 4, 0, 5])
    t = costs.batch_step_seconds(ragged, ctx)
    assert t == pytest.approx(costs.batch_step_seconds(np.full(8, 9), ctx), rel=1e-12)
    assert t > costs.batch_step_seconds(np.where(ragged == 9, 5, ragged), ctx)
    # padding is pure waste: 8 rows of lengths `ragged` commit at most sum+8 tokens
    assert t > costs.batch_step_seconds(np.full(8, 4), ctx)


def test_draft_length_follows_the_batch_heuristic(runs):
    run = runs[1]
    g = run.draft_length
    for k in range(g.size - 1):
        assert g[k + 1] == next_draft_length(int(g[k]), run.accepted[:, k])
    assert next_draft_length(7, np.array([7, 0])) == 9
    assert next_draft_length(DRAFT_LIMIT, np.array([DRAFT_LIMIT])) == DRAFT_LIMIT
    assert next_draft_length(12, np.array([3, 4])) == 10
    assert next_draft_length(1, np.array([0])) == 1


def test_bad_inputs():
    with pytest.raises(InputError):
        simulate_bass(PRESET.costs, batch=0, n_steps=4, alpha_median=0.8)
    with pytest.raises(InputError):
        PRESET.costs.batch_step_seconds(np.array([1, 2]), np.array([1.0]))
