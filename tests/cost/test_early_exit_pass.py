"""Early exit without verification: the exit pass plus K/V propagation to skipped layers."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model, pass_cost
from specaccel.models.cost.early_exit_pass import early_exit_token_costs
from specaccel.schema.errors import InputError

A100 = get_hardware("a100-80gb")
ACCEL = get_hardware("specaccel-default")


@pytest.mark.parametrize("model_name", ["llama-2-7b", "llama-3-8b", "opt-125m"])
@pytest.mark.parametrize("hw", [A100, ACCEL], ids=["a100", "accel"])
def test_cost_rises_with_the_exit_layer_and_the_full_depth_is_the_full_pass(model_name, hw):
    model = get_model(model_name)
    exits = np.arange(1, model.n_layers + 1)
    c = early_exit_token_costs(model, hw, exits, context=512.0, batch=2)
    assert np.all(np.diff(c["latency_s"]) > 0) and np.all(np.diff(c["energy_j"]) > 0)
    assert np.all(np.diff(c["kv_propagation_s"]) < 0) and c["kv_propagation_s"][-1] == 0.0
    full = pass_cost(model, hw, tokens=1, context=512.0, batch=2)
    assert c["latency_s"][-1] == pytest.approx(full.latency_s, rel=1e-9)
    assert c["energy_j"][-1] == pytest.approx(full.energy_j, rel=1e-9)
    for e in (1, model.n_layers // 2):
        exit_pass = pass_cost(model, hw, tokens=1, context=512.0, batch=2, layers=e)
        got = c["latency_s"][e - 1] - c["kv_propagation_s"][e - 1]
        assert got == pytest.approx(exit_pass.latency_s, rel=1e-9)
        assert c["latency_s"][e - 1] < full.latency_s


def test_propagation_by_hand_llama_2_7b_on_a100():
    """Batch 1 on an A100 is bound by memory: each skipped layer runs two kernels, which
    read its input-norm weight and its K/V projection weights, read the hidden state and
    write K and V at the achieved bandwidth."""
    d, kv, wb, ab, kb = 4096, 2 * 32 * 128, 2, 2, 2
    norm_bytes = d * wb + 2 * d * ab
    proj_bytes = d * kv * wb + (d + kv) * ab + kv * kb
    g = A100.gpu
    per_layer = ((norm_bytes + proj_bytes) / (2039e9 * g.dram_efficiency)
                 + 2 * g.kernel_latency_s)
    c = early_exit_token_costs(get_model("llama-2-7b"), A100, [8, 20], context=1024.0)
    assert c["kv_propagation_s"] == pytest.approx([24 * per_layer, 12 * per_layer], rel=1e-12)
    # the K/V columns are 2/3 of an MHA layer's QKV projection: 2/3 of its streaming
    # time, plus the norm kernel's and its own latency
    qkv = next(e for e in pass_cost(get_model("llama-2-7b"), A100, tokens=1,
                                    context=1024.0).breakdown if e["name"] == "qkv_proj")
    qkv_stream = qkv["latency_s"] / 32 - g.kernel_latency_s
    assert per_layer - 2 * g.kernel_latency_s == pytest.approx(2 / 3 * qkv_stream, rel=0.01)


def test_bad_inputs():
    llama = get_model("llama-2-7b")
    for bad in (0, 33, 2.5, [], [[1, 2]]):
        with pytest.raises(InputError) as err:
            early_exit_token_costs(llama, A100, bad)
        assert err.value.field == "exit_layer"
    with pytest.raises(InputError, match="SSM"):
        early_exit_token_costs(get_model("mamba2-hybrid-8b"), A100, 4)
    with pytest.raises(InputError, match="decoder"):
        early_exit_token_costs(get_model("medusa-vicuna-7b"), A100, 1)
    with pytest.raises(InputError) as err:
        early_exit_token_costs(llama, A100, 4, context=-1.0)
    assert err.value.field == "context"
