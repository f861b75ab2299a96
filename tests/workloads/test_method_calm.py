"""CALM: early exit without verification is lossy, and earlier exit diverges more."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, pass_cost
from specaccel.models.cost.early_exit_pass import early_exit_token_costs
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads import read_trace, validate_trace, write_trace
from specaccel.workloads.method_calm import (
    COMMIT_RULE,
    calm_trace,
    sample_calm,
)
from specaccel.workloads.method_self_speculation import LAYERSKIP_LLAMA_1_5B

THRESHOLDS = (1.0, 0.99, 0.95, 0.9, 0.8, 0.6)
A100 = get_hardware("a100-80gb")


def calm_token_seconds(exit_layer: np.ndarray) -> np.ndarray:
    """Seconds per token of LayerSkip's 1.5B model on an A100 at context 256."""
    return early_exit_token_costs(LAYERSKIP_LLAMA_1_5B, A100, exit_layer)["latency_s"]


def test_lower_threshold_exits_earlier_and_diverges_more():
    rows = []
    for lam in THRESHOLDS:
        toks = sample_calm(4000, lam, np.random.default_rng(5))
        trace = calm_trace(toks, n_requests=4, seed=1, threshold=lam)
        out = verify_trace(trace)
        # the golden verdict on node 1 is exactly the recorded agreement
        assert np.array_equal(out.accepted == 1, toks.agrees)
        divergence = float((out.accepted == 0).mean())
        assert divergence <= (1.0 - lam) + 0.02  # every token agrees with prob >= threshold
        rows.append((toks.exit_layer.mean(), divergence,
                     calm_token_seconds(toks.exit_layer).mean()))
    exits, div, secs = map(np.array, zip(*rows, strict=True))
    assert exits[0] == 24 and div[0] == 0.0  # threshold 1: the full model, lossless
    assert np.all(np.diff(exits) < 0) and np.all(np.diff(secs) < 0)
    assert np.all(np.diff(div) > 0) and div[-1] > 0.1


def test_trace_convention_round_trips(tmp_path):
    toks = sample_calm(200, 0.9, np.random.default_rng(0))
    trace = calm_trace(toks, n_requests=2, threshold=0.9)
    validate_trace(trace)
    assert np.all(trace.nodes_per_step() == 2)
    path = tmp_path / "calm.parquet"
    write_trace(trace, path)
    back = read_trace(path)
    assert back.equals(trace)
    assert back.metadata["exit_layer"] == toks.exit_layer.tolist()
    assert back.metadata["commit_rule"] == COMMIT_RULE and back.metadata["lossy"] is True


def test_token_cost_is_the_exit_pass_plus_kv_propagation():
    hw = A100
    full = pass_cost(LAYERSKIP_LLAMA_1_5B, hw, tokens=1, context=256.0).latency_s
    at = calm_token_seconds(np.array([6, 24]))
    assert at[1] == pytest.approx(full, rel=1e-9)
    early = pass_cost(LAYERSKIP_LLAMA_1_5B, hw, tokens=1, context=256.0, layers=6).latency_s
    assert early < at[0] < full


def test_bad_threshold():
    with pytest.raises(InputError, match="threshold|must be"):
        sample_calm(10, 0.0, np.random.default_rng(0))
