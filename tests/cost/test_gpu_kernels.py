"""The GPU kernel model and the collectives: shape effects a flat factor cannot have."""

from dataclasses import replace

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model, pass_cost, pass_costs
from specaccel.models.cost.collectives import (
    LinkSpec,
    allreduce_algorithm,
    allreduce_time,
    ring_allreduce_s,
)
from specaccel.models.cost.gpu_kernels import dequant_sm_seconds, gemm_efficiency, gemm_time
from specaccel.models.cost.hardware_presets import LINKS
from specaccel.schema.errors import InputError

A100 = get_hardware("a100-80gb")


def _gemm(hw, m, n, k):
    nbytes = k * n * 2 + 2 * (m * k + m * n)
    return gemm_time(hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, m, n, k, 1.0, nbytes)


def test_one_tile_column_more_than_the_sms_costs_a_wave():
    # M = 4096 rows in 128-row tiles: 32 x 108 tiles fill 32 waves; one more column of
    # tiles (32 more) needs a 33rd wave that is mostly idle
    full = _gemm(A100, 4096, 256 * 108 // 2, 4096)
    over = _gemm(A100, 4096, 256 * 108 // 2 + 128, 4096)
    assert full.bound == "compute" and over.bound == "compute"
    eff_full = gemm_efficiency(A100.peak_flops, A100.mem_bw_bytes_s, A100.gpu, 4096,
                               256 * 108 // 2, 4096)
    eff_over = gemm_efficiency(A100.peak_flops, A100.mem_bw_bytes_s, A100.gpu, 4096,
                               256 * 108 // 2 + 128, 4096)
    assert eff_over < eff_full
    assert eff_full <= A100.gpu.mma_efficiency + 1e-12


def test_small_m_is_bandwidth_bound_at_a_fraction_that_grows_with_the_matrix():
    peak = A100.mem_bw_bytes_s * A100.gpu.dram_efficiency
    fractions = []
    for n in (1024, 4096, 16384):
        t = _gemm(A100, 1, n, 4096)
        assert t.bound == "memory"
        fractions.append(4096 * n * 2 / t.seconds / peak)
    assert np.all(np.diff(fractions) > 0)          # the fixed latency weighs less
    assert fractions[0] < 0.8 and fractions[-1] > 0.9
    # flat in M while the weights dominate (decode and small verify passes) ...
    assert _gemm(A100, 16, 4096, 4096).seconds / _gemm(A100, 1, 4096, 4096).seconds < 1.01
    # ... then compute-bound, growing with M
    assert _gemm(A100, 1024, 4096, 4096).bound == "compute"
    assert _gemm(A100, 2048, 4096, 4096).seconds > 1.8 * _gemm(A100, 1024, 4096,
                                                                4096).seconds


def test_tensor_parallel_shards_are_slower_than_their_share_of_the_bytes():
    m = get_model("llama-2-7b")
    one = pass_cost(m, A100, tokens=1, context=256)
    eight = pass_cost(m, A100, tokens=1, context=256, tp=8)
    layer1 = one.per_layer["latency_s"]
    layer8 = eight.per_layer["latency_s"]
    assert layer8 > layer1 / 8 * 1.5   # kernel latency and two all-reduces per layer
    ar = [e for e in eight.breakdown if e["name"].endswith("allreduce")]
    assert len(ar) == 2 and all(e["latency_s"] > 0 for e in ar)


def test_per_layer_and_per_pass_add_up():
    for hw in (A100, get_hardware("specaccel-default")):
        c = pass_cost(get_model("llama-2-13b"), hw, tokens=4, context=500, phase="verify")
        assert c.meta["layers"] * c.per_layer["latency_s"] + c.per_pass["latency_s"] == \
            pytest.approx(c.latency_s, rel=1e-12)
        assert set(c.per_pass["operators"]) == {"embedding", "final_norm", "lm_head"}
        assert "attention" in c.per_layer["operators"]


def test_devices_have_their_own_figures():
    m = get_model("llama-2-7b")
    lat = {n: pass_cost(m, get_hardware(n), tokens=1, context=512).latency_s
           for n in ("a100-80gb", "h100-sxm", "h200", "l4", "l40")}
    assert lat["h200"] < lat["h100-sxm"] < lat["a100-80gb"] < lat["l40"] < lat["l4"]
    # batch-1 decode streams the weights: L4 at 300 GB/s is 5-8x an A100 at 2039 (the
    # kernels' fixed latency is the same on both)
    assert 5 < lat["l4"] / lat["a100-80gb"] < 8
    # prefill is compute-bound: H100's tensor cores, not its bandwidth, set the gain
    pre = {n: pass_cost(m, get_hardware(n), tokens=2048, context=0,
                        phase="prefill").latency_s for n in ("a100-80gb", "h100-sxm")}
    assert 2.5 < pre["a100-80gb"] / pre["h100-sxm"] < 3.2


def test_long_context_decode_splits_the_kv_to_fill_the_sms():
    m = get_model("llama-3-8b")  # 8 KV heads: one row leaves most SMs idle
    c = pass_cost(m, A100, tokens=1, context=32000)
    att = next(e for e in c.breakdown if e["name"] == "attention")
    assert att["kernels"] == 2 * m.n_layers   # split-KV + combine
    big = pass_cost(m, A100, tokens=1, context=32000, batch=16)
    att_big = next(e for e in big.breakdown if e["name"] == "attention")
    assert att_big["kernels"] == m.n_layers   # 16 rows x 8 KV heads fill the SMs already
    # reading the KV cache at the achieved bandwidth bounds both
    kv = 32000 * m.kv_bytes_per_token
    assert att["latency_s"] > kv / (A100.mem_bw_bytes_s * A100.gpu.dram_efficiency)


def test_numba_reports_the_same_kernels_and_layer_split():
    m = get_model("llama-3-8b")
    for hw in (A100, get_hardware("l4")):
        fast = pass_costs(m, hw, tokens=np.array([1, 8, 512]), context=[4000.0, 100.0, 0.0],
                          phase=np.array(["decode", "verify", "prefill"]), tp=[1, 2, 4])
        for i, (t, s, ph, tp) in enumerate([(1, 4000.0, "decode", 1), (8, 100.0, "verify", 2),
                                            (512, 0.0, "prefill", 4)]):
            ref = pass_cost(m, hw, tokens=t, context=s, phase=ph, tp=tp)
            assert fast["kernels"][i] == ref.kernels
            assert fast["latency_s"][i] == pytest.approx(ref.latency_s, rel=1e-9)


def test_allreduce_picks_its_algorithm_by_message_size():
    nv = LINKS["nvlink3"]
    assert allreduce_algorithm(nv, 8 * 4096 * 2, 8) == "one-shot"     # a decode step
    assert allreduce_algorithm(nv, 512 * 1024 * 1024, 8) == "two-shot"
    slow_oneshot = LinkSpec("x", nv.bw_bytes_s, nv.step_latency_s, 10 * nv.step_latency_s)
    assert allreduce_algorithm(slow_oneshot, 8 * 4096 * 2, 2) == "ring"
    pcie = LINKS["pcie4"]
    assert allreduce_algorithm(pcie, 8 * 4096 * 2, 4) == "ring"
    # the time grows with size and with devices; latency-bound when small
    small = allreduce_time(nv, 8192, 8)
    assert small == pytest.approx(nv.oneshot_latency_s + 7 * 8192 / nv.bw_bytes_s)
    assert allreduce_time(nv, 64e6, 8) > 2 * allreduce_time(nv, 16e6, 8) * 0.9
    assert allreduce_time(pcie, 8192, 8) > allreduce_time(pcie, 8192, 2)
    assert allreduce_time(nv, 1e6, 1) == 0.0
    ring_only = LinkSpec("x", 100e9, 1e-6, 0.0)
    assert allreduce_time(ring_only, 1e6, 4) == ring_allreduce_s(100e9, 1e-6, 1e6, 4)


def test_bad_collective_and_link_inputs():
    with pytest.raises(InputError, match="devices"):
        allreduce_time(LINKS["nvlink3"], 10.0, 0)
    with pytest.raises(InputError, match="nbytes"):
        allreduce_time(LINKS["nvlink3"], -1.0, 2)
    with pytest.raises(InputError, match="bw_bytes_s"):
        LinkSpec("x", 0.0, 1e-6, 0.0)


def _decode_s(model, hw=A100, tokens=1):
    return pass_cost(model, hw, tokens=tokens, context=105).latency_s


def test_int8_weight_only_decode_is_slower_than_half_bf16_yet_faster_than_bf16():
    bf16 = _decode_s(get_model("llama-2-7b"))
    int8 = _decode_s(get_model("llama-2-7b", weight_dtype="int8"))
    # half the weight bytes, but every weight is converted on the CUDA cores
    assert 0.6 * bf16 < int8 < 0.75 * bf16
    # without the conversion work the GEMMs would stream at the bf16 kernels' rate
    free = replace(A100, gpu=replace(A100.gpu, dequant_fma_slots=1e-3))
    int8_free = _decode_s(get_model("llama-2-7b", weight_dtype="int8"), free)
    assert int8_free < 0.6 * bf16 < int8
    up = {e["name"]: e for e in pass_cost(get_model("llama-2-7b", weight_dtype="int8"), A100,
                                          tokens=1, context=105).breakdown}["mlp_up"]
    assert up["bound"] == "compute"          # conversion-bound on the CUDA cores


def test_dequantisation_runs_in_the_waves_of_the_ctas():
    g = A100.gpu
    dq = dequant_sm_seconds("int8", A100.vec_flops, g)
    assert dequant_sm_seconds("bf16", A100.vec_flops, g) == 0.0
    # one SM converts dequant_fma_slots weights per FMA issue slot of its own
    assert dq == pytest.approx(g.dequant_fma_slots / (A100.vec_flops / 2 / g.n_sm))

    def conv(n):  # an int8 GEMV with the conversion as its only cost
        t = gemm_time(A100.peak_flops, 1e30, replace(g, kernel_latency_s=0.0), 1, n, 4096,
                      1.0, 4096 * n, dq)
        return t.compute_s
    # filling the SMs: the time follows the weights; one CTA column more than fits the
    # SMs costs a partial wave, never less than the weights over all SMs
    full = conv(64 * g.n_sm)
    assert full == pytest.approx(64 * 4096 * dq, rel=1e-9)
    assert conv(64 * g.n_sm + 64) > full
    assert conv(64 * g.n_sm + 64) >= (64 * g.n_sm + 64) * 4096 * dq / g.n_sm


def test_int8_prefill_is_tensor_core_bound_like_bf16():
    # at 2048 rows the conversion of each weight tile is shared by 128 rows of MMA
    bf16 = pass_cost(get_model("llama-2-7b"), A100, tokens=2048, context=0,
                     phase="prefill").latency_s
    int8 = pass_cost(get_model("llama-2-7b", weight_dtype="int8"), A100, tokens=2048,
                     context=0, phase="prefill").latency_s
    assert bf16 * 0.97 < int8 <= bf16 * 1.05


def test_numba_prices_int8_like_the_reference():
    m = get_model("llama-2-70b", weight_dtype="int8")
    for tp, tokens in ((1, 1), (8, 1), (2, 16)):
        ref = pass_cost(m, A100, tokens=tokens, context=105, tp=tp).latency_s
        fast = pass_costs(m, A100, tokens=tokens, context=np.array([105]), tp=tp)
        assert fast["latency_s"][0] == pytest.approx(ref, rel=1e-9)
