"""Tokens that ride in the target's pass without being drafts (lookahead's Jacobi window)."""

import numpy as np
import pytest

from specaccel.models.cost import pass_costs
from specaccel.models.cost.hardware_presets import get_hardware
from specaccel.models.cost.model_presets import get_model
from specaccel.schema.errors import InputError
from specaccel.sim import compute_step_costs, simulate
from specaccel.workloads.presets import generate_trace


@pytest.fixture(scope="module")
def lookahead_trace():
    return generate_trace("lookahead-vicuna-7b-specbench", n_requests=3, steps_per_request=20)


def _costs(trace, hw="a100-80gb"):
    return compute_step_costs(trace, target_model=get_model("vicuna-7b"),
                              draft_model=get_model("vicuna-68m"), hw=get_hardware(hw))


def test_lookahead_preset_records_its_window_and_the_target_pass_pays_for_it(lookahead_trace):
    assert lookahead_trace.metadata["extra_query_tokens_per_step"] == 7 * 4 - 1
    costs = _costs(lookahead_trace)
    assert np.array_equal(costs.target_tokens, costs.n_nodes + 27)
    hw, model = get_hardware("a100-80gb"), get_model("vicuna-7b")
    with_window = pass_costs(model, hw, tokens=costs.n_nodes + 27, context=costs.context,
                             batch=1)["latency_s"]
    tree_only = pass_costs(model, hw, tokens=costs.n_nodes, context=costs.context,
                           batch=1)["latency_s"]
    assert np.allclose(costs.target_s, with_window, rtol=0, atol=0)
    assert np.all(with_window > tree_only)


def test_without_the_window_the_same_trace_runs_faster(lookahead_trace):
    plain = lookahead_trace.select_requests(np.arange(lookahead_trace.n_requests))
    plain.metadata.pop("extra_query_tokens_per_step")
    hw, t, d = get_hardware("specaccel-default"), get_model("vicuna-7b"), get_model("vicuna-68m")
    slow = simulate(lookahead_trace, hw=hw, target=t, draft=d)
    fast = simulate(plain, hw=hw, target=t, draft=d)
    assert slow.tokens == fast.tokens
    assert slow.tokens_per_s < fast.tokens_per_s


@pytest.mark.parametrize("bad", [-1, 2.5, "27", True])
def test_a_bad_window_size_in_the_metadata_names_the_field(lookahead_trace, bad):
    trace = lookahead_trace.select_requests(np.arange(lookahead_trace.n_requests))
    trace.metadata["extra_query_tokens_per_step"] = bad
    with pytest.raises(InputError, match="extra_query_tokens_per_step"):
        _costs(trace)


def test_the_autoregressive_baseline_runs_one_token_per_pass(lookahead_trace):
    from specaccel.sim.autoregressive import autoregressive_trace

    ar = autoregressive_trace(lookahead_trace)
    assert "extra_query_tokens_per_step" not in ar.metadata
    assert "extra_query_tokens_per_step" in lookahead_trace.metadata  # the input is kept
    costs = compute_step_costs(ar, target_model=get_model("vicuna-7b"), draft_model=None,
                               hw=get_hardware("a100-80gb"))
    assert np.all(costs.target_tokens == 1)
    hw, t = get_hardware("a100-80gb"), get_model("vicuna-7b")
    result = simulate(lookahead_trace, hw=hw, target=t, draft=None, engine="fast")
    one_token = pass_costs(t, hw, tokens=1, context=costs.context, batch=1)["latency_s"]
    assert result.baseline.makespan_s == pytest.approx(one_token.sum(), rel=1e-9)
