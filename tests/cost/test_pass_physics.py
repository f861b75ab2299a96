"""Properties a pass cost must have, checked on concrete shapes."""

import json

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model, pass_cost, pass_costs
from specaccel.models.cost.hf_config import load_hf_config
from specaccel.models.cost.operators import gemm_compute_time
from specaccel.schema.errors import InputError

A100 = get_hardware("a100-80gb")
ACC = get_hardware("specaccel-default")


def test_latency_grows_with_context_batch_and_tokens():
    m = get_model("llama-3-8b")
    lat = pass_costs(m, A100, tokens=1, context=np.arange(0, 20000, 1000))["latency_s"]
    assert np.all(np.diff(lat) > 0)
    lat_b = pass_costs(m, A100, tokens=1, context=1000, batch=np.arange(1, 64))["latency_s"]
    assert np.all(np.diff(lat_b) > 0)
    lat_t = pass_costs(m, A100, tokens=np.arange(1, 4096, 64), context=1000,
                       phase="verify")["latency_s"]
    assert np.all(np.diff(lat_t) > 0)
    # one pass over N tokens beats N one-token passes (the weights are read once)
    assert np.all(lat_t < np.arange(1, 4096, 64) * lat_t[0] + 1e-12)


def test_tree_verify_is_nearly_free_on_memory_bound_gpu_but_not_at_large_trees():
    m = get_model("vicuna-7b")
    one = pass_cost(m, A100, tokens=1, context=512).latency_s
    sixty_four = pass_cost(m, A100, tokens=64, context=512, phase="verify").latency_s
    big = pass_cost(m, A100, tokens=2048, context=512, phase="verify").latency_s
    assert sixty_four < 1.25 * one  # weights dominate
    assert big > 3 * one            # compute dominates


def test_tensor_parallel_splits_the_weights():
    m = get_model("llama-2-70b")
    c1 = pass_cost(m, A100, tokens=1, context=256)
    c8 = pass_cost(m, A100, tokens=1, context=256, tp=8)
    assert c8.bytes == pytest.approx(c1.bytes / 8, rel=0.01)
    assert c8.link_bytes > 0 and c1.link_bytes == 0


def test_int8_weights_halve_weight_traffic_and_fp8_kv_halves_kv():
    m16, m8 = get_model("llama-2-7b"), get_model("llama-2-7b", weight_dtype="int8")
    b16 = pass_cost(m16, A100, tokens=1, context=0).bytes
    b8 = pass_cost(m8, A100, tokens=1, context=0).bytes
    assert b8 == pytest.approx(b16 / 2, rel=0.01)
    kv16 = pass_cost(m16, A100, tokens=1, context=10000).bytes - b16
    mkv8 = get_model("llama-2-7b", kv_dtype="fp8")
    kv8 = pass_cost(mkv8, A100, tokens=1, context=10000).bytes - pass_cost(
        mkv8, A100, tokens=1, context=0).bytes
    assert kv8 == pytest.approx(kv16 / 2, rel=1e-9)


def test_early_exit_draft_costs_a_fraction_of_the_target():
    m = get_model("llama-2-13b")
    full = pass_cost(m, A100, tokens=1, context=100)
    e4 = pass_cost(m, A100, tokens=1, context=100, layers=4)
    assert e4.meta["layers"] == 4
    assert 0.08 < e4.latency_s / full.latency_s < 0.2  # 4 of 40 layers + LM head


def test_eagle_head_reads_the_shared_lm_head_and_medusa_has_no_layers():
    eagle = get_model("eagle-head-vicuna-7b")
    c = pass_cost(eagle, A100, tokens=4, context=300)
    names = [e["name"] for e in c.breakdown]
    assert "eagle_fc" in names and "lm_head" in names
    lm = next(e for e in c.breakdown if e["name"] == "lm_head")
    assert lm["bytes"] > 32000 * 4096 * 2  # the target's LM head is read every draft pass
    med = pass_cost(get_model("medusa-vicuna-7b"), A100, tokens=1, context=300)
    assert {e["name"] for e in med.breakdown} == {"medusa_block", "medusa_act",
                                                  "medusa_lm_head"}


def test_moe_loads_only_the_touched_experts():
    m = get_model("mixtral-8x7b")
    one = pass_cost(m, A100, tokens=1, context=0)
    up = next(e for e in one.breakdown if e["name"] == "mlp_up")
    expert_up = m.d_model * 2 * m.d_ff * 2  # bytes of one expert's gate+up
    assert up["bytes"] == pytest.approx(2 * expert_up * m.n_layers, rel=0.01)  # top-2
    many = pass_cost(m, A100, tokens=1, context=0, batch=256)
    up_many = next(e for e in many.breakdown if e["name"] == "mlp_up")
    acts = 256 * 2 * (m.d_model + 2 * m.d_ff) * 2  # rows x top-2 x (in + out) x bf16
    assert up_many["dram_bytes"] == pytest.approx((8 * expert_up + acts) * m.n_layers,
                                                  rel=1e-6)  # all 8 experts touched


def test_gemm_tile_model_fill_drain_and_waves():
    # One 64x128 output-stationary fold with K=1000 on one core: K streamed, rows - 1 of
    # skew, cols - 1 of drain (systolic_array; tests/cost/test_systolic_array.py).
    from specaccel.models.cost import AcceleratorConfig

    hw = AcceleratorConfig(array_cores=1, compute_efficiency=1.0, vector_lanes=1).build()
    t = gemm_compute_time(hw, 64, 128, 1000, 1)
    assert t == pytest.approx((1000 + 63 + 127) / hw.clock_hz)
    # A short M still occupies the whole array (no smaller tile on a systolic array).
    assert gemm_compute_time(hw, 1, 128, 1000, 1) == pytest.approx(t)
    # GPU: 108 SMs; 109 tiles take two waves.
    two = gemm_compute_time(A100, 128, 128 * 109, 4096, 1)
    one = gemm_compute_time(A100, 128, 128 * 108, 4096, 1)
    assert two == pytest.approx(2 * one)


def test_small_draft_weights_are_sram_resident_on_the_accelerator():
    draft = get_model("llama-68m", weight_dtype="int8")
    c = pass_cost(draft, ACC, tokens=1, context=100)
    assert c.meta["weights_resident"]
    assert c.dram_bytes < 0.2 * c.bytes  # only the context's KV comes from HBM
    assert not pass_cost(get_model("llama-68m"), ACC, tokens=1, context=100).meta[
        "weights_resident"]  # bf16: 136 MB > 72 MiB budget


def test_hf_config_loads_llama_and_opt_shapes(tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"model_type": "opt", "num_hidden_layers": 12, "hidden_size": 768,
                             "num_attention_heads": 12, "ffn_dim": 3072, "vocab_size": 50272,
                             "activation_function": "relu", "torch_dtype": "float16"}))
    m = load_hf_config(p)
    assert (m.n_layers, m.d_ff, m.mlp_gated, m.norm, m.activation, m.weight_dtype) == (
        12, 3072, False, "layer", "relu", "fp16")
    assert m.param_count == pytest.approx(get_model("opt-125m").param_count)
    p.write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    with pytest.raises(InputError, match="num_hidden_layers"):
        load_hf_config(p)
    p.write_text("{not json")
    with pytest.raises(InputError, match="JSON"):
        load_hf_config(p)


@pytest.mark.parametrize(("model_type", "width_key", "derived"), [
    ("gpt2", "n_inner", True), ("gptj", "n_inner", True),      # HF: None means 4 x n_embd
    ("llama", "intermediate_size", False), ("mistral", "intermediate_size", False),
    ("qwen2", "intermediate_size", False), ("mixtral", "intermediate_size", False),
    ("gpt_neox", "intermediate_size", False), ("opt", "ffn_dim", False),
])
def test_hf_config_without_a_ffn_width_follows_hugging_face(tmp_path, model_type,
                                                             width_key, derived):
    """A missing feed-forward width is 4 x hidden only where Hugging Face derives it so;
    elsewhere HF would silently use its config class's default: an error here."""
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"model_type": model_type, "num_hidden_layers": 2,
                             "hidden_size": 256, "num_attention_heads": 4,
                             "vocab_size": 1000, width_key: None, "unused_hf_key": 1}))
    if derived:
        assert load_hf_config(p).d_ff == 4 * 256
    else:
        with pytest.raises(InputError, match=f"field '{width_key}': missing") as exc:
            load_hf_config(p)
        assert exc.value.file == str(p)


def test_accelerator_keeps_tree_kv_on_chip_only_while_it_fits():
    m = get_model("llama-2-7b")
    small = pass_cost(m, ACC, tokens=64, context=1000, phase="verify")
    big = pass_cost(m, ACC, tokens=64, context=1000, batch=16, phase="verify")
    assert small.meta["activations_on_chip"] and not big.meta["activations_on_chip"]
    # on chip: HBM sees only weights, the context's KV and embedding rows
    kv_ctx = 1000 * m.kv_bytes_per_token
    weights = m.weight_bytes - (m.vocab_size - 64) * m.d_model * 2
    assert small.dram_bytes == pytest.approx(weights + kv_ctx, rel=1e-12)
    # spilled: the 16 x 64 tree tokens' KV (0.5 GiB) goes to HBM
    assert big.dram_bytes > weights + 16 * kv_ctx + 16 * 64 * m.kv_bytes_per_token
