"""Diffusion-LLM parallel decoding: more tokens per refinement step at lower confidence."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads import validate_trace
from specaccel.workloads.method_diffusion import (
    DiffusionDecoder,
    diffusion_trace,
    trace_seconds,
)

THRESHOLDS = (0.99, 0.95, 0.9, 0.8, 0.7, 0.5)


@pytest.mark.parametrize("rule", ["fast-dllm", "dparallel", "apd"])
def test_tokens_per_step_rise_as_the_threshold_falls(rule):
    per_step, steps_per_block, ms_per_token = [], [], []
    for lam in THRESHOLDS:
        trace = diffusion_trace(DiffusionDecoder(rule, lam), n_requests=4, seed=3)
        validate_trace(trace)
        out = verify_trace(trace)
        k = np.array(trace.metadata["tokens_per_step"])
        assert np.array_equal(out.committed, k)  # the golden model commits what unmasked
        for r in range(4):  # every request generates exactly gen_len tokens
            assert out.committed[list(trace.request_steps(r))].sum() == 256
        per_step.append(k.mean())
        steps_per_block.append(np.mean(trace.metadata["steps_per_block"]))
        ms_per_token.append(trace_seconds(trace) / (4 * 256))
    assert np.all(np.diff(per_step) > 0) and np.all(np.diff(steps_per_block) < 0)
    assert np.all(np.diff(ms_per_token) < 0)
    assert per_step[0] < 1.2 and per_step[-1] > 2.5


def test_dparallel_commits_more_per_step_than_fast_dllm():
    k = {rule: np.mean(diffusion_trace(DiffusionDecoder(rule, 0.9), seed=1)
                       .metadata["tokens_per_step"]) for rule in ("fast-dllm", "dparallel")}
    assert k["dparallel"] > 2 * k["fast-dllm"] > 2.0


def test_block_cache_schemes_order_and_metadata():
    decoder = DiffusionDecoder("fast-dllm", 0.9)
    dual, prefix, none = (trace_seconds(diffusion_trace(decoder, n_requests=2, seed=4, cache=c))
                          for c in ("dual", "prefix", "none"))
    assert dual < prefix < none  # the same schedule (same seed), less recomputed per step
    trace = diffusion_trace(DiffusionDecoder("fast-dllm", 0.9, block_size=64), n_requests=2)
    meta = trace.metadata
    assert meta["block_size"] == 64 and len(meta["steps_per_block"]) == 2 * 256 // 64
    assert sum(meta["steps_per_block"]) == trace.n_steps


def test_bad_inputs():
    with pytest.raises(InputError, match="multiple"):
        DiffusionDecoder(block_size=30)
    with pytest.raises(InputError, match="rule"):
        DiffusionDecoder(rule="magic")
    with pytest.raises(InputError, match="cache"):
        diffusion_trace(DiffusionDecoder(), cache="magic")
