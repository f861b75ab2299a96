"""The public API of specaccel.models.cost: presets, errors, roofline target."""

import math

import pytest

from specaccel.models.cost import (
    ModelSpec,
    get_hardware,
    get_model,
    list_hardware,
    list_models,
    pass_cost,
)
from specaccel.schema.errors import InputError

NEEDED_MODELS = ["llama-2-7b", "llama-2-13b", "llama-2-70b", "vicuna-7b", "vicuna-13b",
                 "vicuna-33b", "llama-3-8b", "llama-3-70b", "vicuna-68m", "llama-68m",
                 "eagle-head-vicuna-7b"]
NEEDED_HW = ["a100-80gb", "a100-80gb-pcie", "a100-40gb", "h100-sxm", "h200", "l4", "l40",
             "a40", "a10", "rtx-2080-ti", "rtx-3090", "rtx-4090", "tpuv4", "specaccel-default"]


def test_needed_presets_exist():
    assert set(NEEDED_MODELS) <= set(list_models())
    assert set(NEEDED_HW) == set(list_hardware())
    for name in NEEDED_HW:
        assert get_hardware(name).name == name


def test_unknown_names_list_the_choices():
    with pytest.raises(InputError, match="llama-2-7b"):
        get_model("gpt-5")
    with pytest.raises(InputError, match="a100-80gb"):
        get_hardware("b200")


def test_published_parameter_counts():
    # Published sizes: Llama-2-7B 6.74e9, 13B 13.0e9, 70B 69.0e9, Llama-3-8B 8.03e9,
    # Mixtral-8x7B 46.7e9, llama-68m 68e6, GPT-3 175e9.
    expect = {"llama-2-7b": 6.74e9, "llama-2-13b": 13.0e9, "llama-2-70b": 69.0e9,
              "llama-3-8b": 8.03e9, "mixtral-8x7b": 46.7e9, "llama-68m": 68e6,
              "gpt-3-175b": 175e9}
    for name, n in expect.items():
        assert get_model(name).param_count == pytest.approx(n, rel=0.02), name


def test_kv_bytes_per_token_formula():
    m = get_model("llama-2-70b")
    assert m.kv_bytes_per_token == 2 * 80 * 8 * 128 * 2
    assert get_model("llama-2-7b", kv_dtype="fp8").kv_bytes_per_token == 2 * 32 * 32 * 128


def test_pure_roofline_llama2_7b_a100_within_3_percent_of_llm_viewer():
    hw = get_hardware("a100-80gb").roofline()
    c = pass_cost(get_model("llama-2-7b"), hw, tokens=1, context=1024)
    assert c.latency_s == pytest.approx(6.752e-3, rel=0.03)


def test_decode_moves_weights_once_plus_kv_of_every_row():
    m, hw = get_model("llama-2-7b"), get_hardware("a100-80gb")
    for batch, ctx in [(1, 100), (8, 2000)]:
        c = pass_cost(m, hw, tokens=1, context=ctx, batch=batch)
        weights = m.weight_bytes - (m.vocab_size - batch) * m.d_model * 2  # embedding rows
        kv = batch * (ctx + 1) * m.kv_bytes_per_token
        acts = c.bytes - weights - kv
        assert 0 < acts < 5e-3 * c.bytes  # activations are a small remainder


def test_breakdown_sums_to_totals_and_is_well_formed():
    c = pass_cost(get_model("llama-2-70b"), get_hardware("h100-sxm"), tokens=16, context=500,
                  batch=4, tp=4)
    assert math.isclose(sum(e["latency_s"] for e in c.breakdown), c.latency_s, rel_tol=1e-12)
    assert math.isclose(sum(e["flops"] for e in c.breakdown), c.flops, rel_tol=1e-12)
    assert math.isclose(sum(e["energy_j"] for e in c.breakdown) + c.static_energy_j,
                        c.energy_j, rel_tol=1e-12)
    names = {e["name"] for e in c.breakdown}
    assert {"qkv_proj", "attention", "attn_allreduce", "mlp_down", "lm_head"} <= names
    assert all(e["bound"] in ("compute", "memory") for e in c.breakdown)


def test_bad_pass_arguments_raise_input_error_naming_the_field():
    m, hw = get_model("llama-68m"), get_hardware("l4")
    for kwargs, field in [({"tokens": 0, "context": 1}, "tokens"),
                          ({"tokens": 1, "context": -1}, "context"),
                          ({"tokens": 1, "context": 1, "batch": 0}, "batch"),
                          ({"tokens": 1, "context": 1, "phase": "train"}, "phase"),
                          ({"tokens": 1, "context": 1, "tp": 0}, "tp")]:
        with pytest.raises(InputError) as err:
            pass_cost(m, hw, **kwargs)
        assert err.value.field == field


def test_model_spec_rejects_inconsistent_shapes():
    with pytest.raises(InputError, match="n_kv_heads"):
        ModelSpec("x", 2, 64, 6, 4, 16, 128, 100)


def test_per_row_contexts_equal_mean_context():
    m, hw = get_model("llama-2-7b"), get_hardware("a100-80gb")
    a = pass_cost(m, hw, tokens=4, context=[100, 300, 500])
    b = pass_cost(m, hw, tokens=4, context=300, batch=3)
    assert a.latency_s == pytest.approx(b.latency_s, rel=1e-12)


def test_memory_footprint_says_whether_the_model_fits():
    m70 = get_model("llama-2-70b")
    one = pass_cost(m70, get_hardware("a100-80gb"), tokens=1, context=4096)
    eight = pass_cost(m70, get_hardware("a100-80gb"), tokens=1, context=4096, tp=8)
    assert not one.meta["fits_memory"] and eight.meta["fits_memory"]
    want = m70.weight_bytes / 8 + 4097 * m70.kv_bytes_per_token / 8
    assert eight.meta["memory_footprint_bytes"] == pytest.approx(want)
