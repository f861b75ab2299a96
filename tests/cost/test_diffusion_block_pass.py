"""The bidirectional block pass of a diffusion LM and the block-cache decode schedule."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model, pass_cost
from specaccel.models.cost.diffusion_block_pass import (
    CACHE_SCHEMES,
    block_pass_costs,
    block_pass_shape,
    block_refresh_costs,
    diffusion_decode_costs,
)
from specaccel.schema.errors import InputError

A100 = get_hardware("a100-80gb")
LLADA = get_model("llada-8b")


def _attention_flops(cost) -> float:
    return next(e for e in cost.breakdown if e["name"] == "attention")["flops"]


def test_cache_schemes_choose_query_tokens_and_context():
    tokens, context = block_pass_shape(32, [192, 0], [160, 224], "dual")
    assert tokens.tolist() == [32, 32] and context.tolist() == [352.0, 224.0]
    tokens, context = block_pass_shape(32, 192, 160, "prefix")
    assert tokens.tolist() == [192] and context.tolist() == [192.0]
    tokens, context = block_pass_shape(32, 192, 160, "none")
    assert tokens.tolist() == [384] and context.tolist() == [0.0]
    lat = [block_pass_costs(LLADA, A100, block_size=32, prefix=192, suffix=160,
                            cache=c)["latency_s"][0] for c in CACHE_SCHEMES]
    assert lat[0] < lat[1] < lat[2]  # dual < prefix < none: less recomputed per step


def test_block_pass_is_the_reference_verify_pass_without_a_mask():
    prefix = np.array([0, 100, 1000, 5000])
    got = block_pass_costs(LLADA, A100, block_size=64, prefix=prefix, suffix=128)
    for i, p in enumerate(prefix):
        ref = pass_cost(LLADA, A100, tokens=64, context=float(p + 128), phase="verify",
                        tree=False)
        assert got["latency_s"][i] == pytest.approx(ref.latency_s, rel=1e-9)
        assert got["energy_j"][i] == pytest.approx(ref.energy_j, rel=1e-9)
        assert got["flops"][i] == pytest.approx(ref.flops, rel=1e-9)


@pytest.mark.parametrize("block", [2, 32, 128])
def test_bidirectional_pass_costs_more_than_a_causal_pass_of_the_same_tokens(block):
    s = 256.0
    bidir = pass_cost(LLADA, A100, tokens=block, context=s, phase="verify", tree=False)
    causal = pass_cost(LLADA, A100, tokens=block, context=s, phase="prefill")
    assert bidir.latency_s > causal.latency_s and bidir.flops > causal.flops
    # every query sees all S + T keys instead of S + (T + 1) / 2 on average: QK^T and AV
    # are 4 * head_dim FLOPs per (query, key, head), softmax 5
    hq, hd, layers = LLADA.n_heads, LLADA.head_dim, LLADA.n_layers
    extra_keys = (s + block) - (s + (block + 1) / 2)
    want = layers * hq * block * extra_keys * (4 * hd + 5)
    assert _attention_flops(bidir) - _attention_flops(causal) == pytest.approx(want, rel=1e-12)


def test_block_pass_flops_by_hand():
    """FLOPs of one dual-cache block pass of LLaDA-8B, written out operator by operator."""
    t, s = 32, 192 + 160
    d, ff, v, hq, hd, n = 4096, 12288, 126464, 32, 128, 32
    keys = s + t
    per_layer = (2 * 4 * t * d                       # attn_norm + mlp_norm (RMS: 4 / elem)
                 + 2 * t * d * (3 * hq * hd)         # q, k, v projections (MHA)
                 + 4 * hq * t * keys * hd + 5 * hq * t * keys   # QK^T, AV; softmax
                 + 2 * t * hq * hd * d               # o_proj
                 + 2 * t * d * 2 * ff + 5 * t * ff   # gate+up, SiLU-gate
                 + 2 * t * ff * d)                   # down
    want = n * per_layer + 4 * t * d + 2 * t * d * v  # final norm, LM head on every token
    got = block_pass_costs(LLADA, A100, block_size=t, prefix=192, suffix=160)["flops"][0]
    assert got == pytest.approx(want, rel=1e-12)


def test_block_pass_scales_with_block_size_as_the_roofline_says():
    sizes = np.array([1, 2, 4, 8, 16, 1024, 2048, 4096])
    lat, flops = [], []
    for b in sizes:
        c = block_pass_costs(LLADA, A100, block_size=int(b), prefix=0, cache="none")
        lat.append(c["latency_s"][0])
        flops.append(c["flops"][0])
    lat, flops = np.array(lat), np.array(flops)
    # small blocks: bound by streaming the weights once (the embedding table is not
    # streamed, only its looked-up rows), nearly flat in block size
    streamed = (LLADA.weight_bytes - LLADA.vocab_size * LLADA.d_model * 2.0)
    weight_s = streamed / (A100.mem_bw_bytes_s * A100.gpu.dram_efficiency)
    # ... plus each kernel's fixed latency (about 10 kernels per layer)
    kernels_s = 10 * LLADA.n_layers * A100.gpu.kernel_latency_s
    assert np.all(lat[:5] > weight_s) and np.all(lat[:5] < weight_s + 1.2 * kernels_s)
    assert lat[4] / lat[0] < 1.02
    assert np.all(np.diff(lat) > 0)
    # large blocks: bound by compute, latency grows with the FLOPs (quadratic attention)
    compute_s = flops[5:] / (A100.peak_flops * A100.compute_efficiency)
    assert np.all(lat[5:] >= compute_s) and np.all(lat[5:] / compute_s < 1.2)
    assert lat[7] / lat[6] == pytest.approx(flops[7] / flops[6], rel=0.03)
    assert flops[7] / flops[6] > 2.0  # the T^2 attention term


def test_decode_schedule_by_hand():
    """One request: prompt 16, 64 tokens in blocks of 32 taking 3 and 2 steps."""
    steps = np.array([3, 2])

    def lat(**kw):
        return float(block_pass_costs(LLADA, A100, block_size=32, **kw)["latency_s"][0])

    refresh = float(block_refresh_costs(LLADA, A100, total_len=80)["latency_s"][0])
    for cache in ("dual", "prefix"):
        want = (refresh + 2 * lat(prefix=16, suffix=32, cache=cache)
                + refresh + 1 * lat(prefix=48, suffix=0, cache=cache))
        got = diffusion_decode_costs(LLADA, A100, prompt_len=16, gen_len=64, block_size=32,
                                     cache=cache, steps_per_block=steps)
        assert got["latency_s"][0] == pytest.approx(want, rel=1e-12)
        assert got["passes"].tolist() == [5]
    none = diffusion_decode_costs(LLADA, A100, prompt_len=16, gen_len=64, block_size=32,
                                  cache="none", steps_per_block=steps)
    assert none["latency_s"][0] == pytest.approx(5 * refresh, rel=1e-12)


def test_a_block_finished_by_its_refresh_pass_costs_only_that_pass():
    # the refresh pass gives the first step's logits (Fast-dLLM): one step, no block pass
    got = diffusion_decode_costs(LLADA, A100, prompt_len=[100, 200], gen_len=128,
                                 block_size=32, cache="dual", steps_per_block=np.ones((2, 4)))
    ref = block_refresh_costs(LLADA, A100, total_len=[228, 328])
    assert got["latency_s"] == pytest.approx(4 * ref["latency_s"], rel=1e-12)
    assert got["energy_j"] == pytest.approx(4 * ref["energy_j"], rel=1e-12)


def test_bad_inputs():
    with pytest.raises(InputError, match="cache"):
        block_pass_shape(32, 0, 0, "magic")
    with pytest.raises(InputError) as err:
        block_pass_shape(0, 0, 0, "dual")
    assert err.value.field == "block_size"
    with pytest.raises(InputError) as err:
        block_pass_shape(32, -1, 0, "dual")
    assert err.value.field == "prefix"
    with pytest.raises(InputError) as err:
        block_pass_shape(32, 0, 2.5, "dual")
    assert err.value.field == "suffix"
    with pytest.raises(InputError, match="multiple"):
        diffusion_decode_costs(LLADA, A100, prompt_len=16, gen_len=60, block_size=32,
                               cache="dual", steps_per_block=[1, 1])
    with pytest.raises(InputError) as err:
        diffusion_decode_costs(LLADA, A100, prompt_len=16, gen_len=64, block_size=32,
                               cache="dual", steps_per_block=[1, 0])
    assert err.value.field == "steps_per_block"
    with pytest.raises(InputError, match="blocks"):
        diffusion_decode_costs(LLADA, A100, prompt_len=[16, 16], gen_len=64, block_size=32,
                               cache="dual", steps_per_block=[1, 1, 1])
