"""State-space (Mamba) and hybrid models: fixed-size state, per-node states in a tree."""

import json

import pytest

from specaccel.models.cost import get_hardware, get_model, pass_cost
from specaccel.models.cost.hf_config import load_hf_config

A100 = get_hardware("a100-80gb")


def test_published_mamba_sizes():
    assert get_model("mamba-2.8b").param_count == pytest.approx(2.77e9, rel=0.01)
    assert get_model("mamba-130m").param_count == pytest.approx(129e6, rel=0.02)
    assert get_model("mamba2-2.7b").param_count == pytest.approx(2.7e9, rel=0.01)


def test_pure_ssm_cost_does_not_grow_with_context():
    m = get_model("mamba-2.8b")
    short = pass_cost(m, A100, tokens=1, context=10)
    long = pass_cost(m, A100, tokens=1, context=100_000)
    assert m.kv_bytes_per_token == 0
    assert long.bytes == short.bytes and long.latency_s == short.latency_s


def test_state_read_once_and_written_per_tree_node():
    m = get_model("mamba-2.8b")
    state = m.ssm_d_inner * m.ssm_state + m.ssm_d_inner * (m.ssm_conv - 1)  # elements
    sb = 4  # fp32 states

    def scan_bytes(tokens, phase):
        c = pass_cost(m, A100, tokens=tokens, context=0, phase=phase)
        return next(e for e in c.breakdown if e["name"] == "ssm_scan")["bytes"]

    acts = lambda t: 2 * t * m.ssm_d_inner * 2  # noqa: E731  x in, y out (bf16)
    assert scan_bytes(1, "decode") == m.n_layers * (2 * state * sb + acts(1))
    assert scan_bytes(8, "verify") == m.n_layers * ((1 + 8) * state * sb + acts(8))
    assert scan_bytes(8, "prefill") == m.n_layers * (2 * state * sb + acts(8))


def test_hybrid_kv_counts_only_attention_layers_and_grows_with_context():
    m = get_model("mamba2-hybrid-8b")
    assert m.n_attn_layers == 4
    assert m.kv_bytes_per_token == 2 * 4 * 8 * 128 * 2
    a = pass_cost(m, A100, tokens=1, context=1000).bytes
    b = pass_cost(m, A100, tokens=1, context=2000).bytes
    assert b - a == pytest.approx(1000 * m.kv_bytes_per_token)
    names = {e["name"]: e["count"] for e in pass_cost(m, A100, tokens=1, context=0).breakdown}
    assert names["attention"] == 4 and names["ssm_scan"] == 24 and names["mlp_up"] == 28


def test_hf_mamba_config(tmp_path):
    p = tmp_path / "mamba" / "config.json"
    p.parent.mkdir()
    p.write_text(json.dumps({"model_type": "mamba", "hidden_size": 2560, "num_hidden_layers": 64,
                             "state_size": 16, "expand": 2, "conv_kernel": 4,
                             "vocab_size": 50280, "torch_dtype": "float16"}))
    m = load_hf_config(p)
    assert m.param_count == get_model("mamba-2.8b").param_count
    assert m.weight_dtype == "fp16"
