"""The Numba-compiled pass evaluator, vectorised over arrays of passes.

The model and the device are packed into flat float64 vectors (`pack_model`,
`pack_hardware`); `_pass_eval` is the whole-pass arithmetic as one compiled scalar
function (the formulas of `operators`, written out again independently), and
`_pass_eval_many` loops it over arrays.  Compiled functions are cached on disk
(``cache=True``), so only the first process pays the compile.  A GPU with a kernel model
is priced by the compiled twins of `gpu_kernels` and `collectives` below (in this file:
Numba's on-disk cache of a function is invalidated only by changes to its own file).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from specaccel.schema.errors import InputError

from .gpu_kernels import (
    DECODE_Q_BLOCK,
    FLASH_Q_BLOCK,
    GEMM_TILE_M,
    GEMM_TILE_N,
    INTEGER_WEIGHT_DTYPES,
    MMA_ROWS,
    PARTIAL_BYTES,
    SPLIT_K_MIN,
    SPLIT_KV_MIN,
)
from .hardware_spec import HardwareSpec
from .model_spec import ACTIVATION_BYTES, ACTIVATION_FLOPS, NORM_FLOPS, ModelSpec
from .pass_args import MAX_BATCH, MAX_ROW_TOKENS, MAX_TP, PHASES
from .systolic_array import DATAFLOW_CODES, array_gemm_cycles_nb

# -- packed model vector --------------------------------------------------------------------
M_D, M_HEADS, M_KV, M_HD, M_FF, M_VOCAB, M_GATED, M_NEXP, M_TOPK = range(9)
M_WB, M_KB, M_KIND, M_MHEADS, M_NORMF, M_ACTF, M_WTOTAL = range(9, 16)
M_NLAYERS, M_NATTN, M_NSSM, M_SSMMLP, M_SSMN, M_SSMCONV, M_SSMDI = range(16, 23)
M_SSMHEADS, M_SSMGROUPS, M_MAMBA2, M_DTRANK, M_SB = range(23, 28)
M_WINT = 28  # 1: integer weights that a GPU GEMM dequantises on the CUDA cores
MODEL_VECTOR_LEN = 29
KIND_CODES = {"decoder": 0.0, "eagle": 1.0, "medusa": 2.0}

# -- packed hardware vector -----------------------------------------------------------------
H_PEAK, H_VEC, H_BW, H_BE, H_CE, H_CORES, H_TM, H_TN, H_TMMIN, H_FILL, H_CLOCK = range(11)
H_WS, H_SRAMBW, H_WSRAM, H_ACTSRAM, H_EFLOP, H_EDRAM, H_ESRAM, H_ELINK = range(11, 19)
H_STATIC, H_LINKBW, H_LINKLAT = range(19, 22)
# derived (precomputed once per call): seconds per DRAM byte, per SRAM byte, per vector
# FLOP; matrix FLOP/s of one core; fill/drain seconds per tile
H_S_PER_DRAM, H_S_PER_SRAM, H_S_PER_VFLOP, H_CORE_PEAK, H_FILL_S = range(22, 27)
H_SRAMBYTES = 27
# the accelerator's systolic arrays (`systolic_array`): 1 on an accelerator; dataflow code
H_ACCEL, H_DATAFLOW = 28, 29
# the GPU kernel model (H_GPU = 0: priced by the tile roofline): SMs, one SM's sustained
# tensor FLOP/s for GEMMs and for attention, achieved DRAM bandwidth, one SM's DRAM
# bandwidth, kernel latency; the link's one-shot all-reduce latency; seconds for one SM to
# dequantise one integer weight
H_GPU, H_NSM, H_SMRATE, H_ATTNRATE, H_DRAMBW, H_SMBW, H_KLAT, H_ONESHOT = range(30, 38)
H_DQ = 38
HW_VECTOR_LEN = 39

#: Output columns of the evaluator.
OUT_FIELDS = ("latency_s", "energy_j", "flops", "bytes", "dram_bytes", "link_bytes",
              "kernels")
N_OUT = len(OUT_FIELDS)


def pack_model(model: ModelSpec) -> np.ndarray:
    """`model` as the flat float64 vector the compiled evaluator reads."""
    v = np.zeros(MODEL_VECTOR_LEN)
    v[M_D], v[M_HEADS], v[M_KV] = model.d_model, model.n_heads, model.n_kv_heads
    v[M_HD], v[M_FF], v[M_VOCAB] = model.head_dim, model.d_ff, model.vocab_size
    v[M_GATED] = 1.0 if model.mlp_gated else 0.0
    v[M_NEXP], v[M_TOPK] = model.n_experts, model.experts_per_token
    v[M_WB], v[M_KB] = model.weight_bytes_per_param, model.kv_bytes_per_elem
    v[M_KIND], v[M_MHEADS] = KIND_CODES[model.kind], model.medusa_heads
    v[M_NORMF], v[M_ACTF] = NORM_FLOPS[model.norm], ACTIVATION_FLOPS[model.activation]
    v[M_WTOTAL] = model.weight_bytes
    v[M_NLAYERS], v[M_NATTN], v[M_NSSM] = model.n_layers, model.n_attn_layers, model.n_ssm_layers
    v[M_SSMMLP] = 1.0 if model.ssm_has_mlp else 0.0
    v[M_SSMN], v[M_SSMCONV], v[M_SSMDI] = model.ssm_state, model.ssm_conv, model.ssm_d_inner
    v[M_SSMHEADS], v[M_SSMGROUPS] = model.ssm_heads, model.ssm_groups
    v[M_MAMBA2] = 1.0 if model.ssm_head_dim > 0 else 0.0
    v[M_DTRANK], v[M_SB] = model.ssm_dt_rank, model.ssm_state_bytes_per_elem
    v[M_WINT] = 1.0 if model.weight_dtype in INTEGER_WEIGHT_DTYPES else 0.0
    return v


def pack_hardware(hw: HardwareSpec) -> np.ndarray:
    """`hw` as the flat float64 vector the compiled evaluator reads."""
    v = np.zeros(HW_VECTOR_LEN)
    v[H_PEAK], v[H_VEC], v[H_BW] = hw.peak_flops, hw.vec_flops, hw.mem_bw_bytes_s
    v[H_BE], v[H_CE], v[H_CORES] = hw.bw_efficiency, hw.compute_efficiency, hw.n_cores
    v[H_TM], v[H_TN], v[H_TMMIN] = hw.tile_m, hw.tile_n, hw.tile_m_min
    v[H_FILL], v[H_CLOCK] = hw.fill_cycles, hw.clock_hz
    v[H_WS] = 1.0 if hw.dataflow == "ws" else 0.0
    v[H_SRAMBW], v[H_WSRAM] = hw.sram_bw_bytes_s, hw.weight_sram_bytes
    v[H_ACTSRAM] = 1.0 if hw.act_in_sram else 0.0
    v[H_EFLOP], v[H_EDRAM], v[H_ESRAM] = hw.e_flop_j, hw.e_dram_byte_j, hw.e_sram_byte_j
    v[H_ELINK], v[H_STATIC] = hw.e_link_byte_j, hw.static_power_w
    v[H_LINKBW], v[H_LINKLAT] = hw.link_bw_bytes_s, hw.link_step_latency_s
    v[H_S_PER_DRAM] = 1.0 / (hw.mem_bw_bytes_s * hw.bw_efficiency)
    v[H_S_PER_SRAM] = 1.0 / hw.sram_bw_bytes_s
    v[H_S_PER_VFLOP] = 1.0 / (hw.vec_flops * hw.compute_efficiency)
    v[H_CORE_PEAK] = hw.peak_flops / hw.n_cores
    v[H_FILL_S] = hw.fill_cycles / hw.clock_hz
    v[H_SRAMBYTES] = hw.sram_bytes
    v[H_ACCEL] = 1.0 if hw.kind == "accelerator" else 0.0
    v[H_DATAFLOW] = DATAFLOW_CODES[hw.dataflow]
    v[H_ONESHOT] = hw.link_oneshot_latency_s
    g = hw.gpu
    if g is not None:
        v[H_GPU], v[H_NSM] = 1.0, g.n_sm
        v[H_SMRATE] = hw.peak_flops * g.mma_efficiency / g.n_sm
        v[H_ATTNRATE] = hw.peak_flops * g.attn_efficiency / g.n_sm
        v[H_DRAMBW] = hw.mem_bw_bytes_s * g.dram_efficiency
        v[H_SMBW], v[H_KLAT] = g.sm_bw_bytes_s, g.fixed_s
        v[H_DQ] = g.dequant_fma_slots * g.n_sm / (0.5 * hw.vec_flops)
    return v


# -- the GPU kernel model and the collectives (see gpu_kernels, collectives) -----------
_TM0, _TM1, _TM2, _TM3 = (float(x) for x in GEMM_TILE_M)
_TN0, _TN1, _TN2 = (float(x) for x in GEMM_TILE_N)
_SPLIT_K_MIN = float(SPLIT_K_MIN)
_SPLIT_KV_MIN = float(SPLIT_KV_MIN)
_FLASH_Q = float(FLASH_Q_BLOCK)
_DECODE_Q = float(DECODE_Q_BLOCK)
_MMA = float(MMA_ROWS)
_PB = PARTIAL_BYTES


@njit(cache=True)
def _fill_split(n_sm, ctas, length, minimum):  # pragma: no cover - compiled
    if ctas >= n_sm:
        return 1.0
    return max(1.0, min(math.floor(n_sm / ctas), math.ceil(length / minimum)))


@njit(cache=True)
def _gpu_gemm_config(n_sm, sm_rate, dram_bw, sm_bw, m, n, k, count, nbytes, bm, bn,
                     split, dq):  # pragma: no cover - compiled
    ctas = count * math.ceil(m / bm) * math.ceil(n / bn) * split
    compute = math.ceil(ctas / n_sm) * 2.0 * bm * bn * (k / split) / sm_rate
    if dq > 0.0:
        compute = max(compute, math.ceil(ctas / n_sm) * bn * (k / split) * dq)
    extra = 2.0 * _PB * count * m * n * split if split > 1.0 else 0.0
    memory = (nbytes + extra) / min(dram_bw, min(ctas, n_sm) * sm_bw)
    return max(compute, memory)


@njit(cache=True)
def _gpu_gemm_s(n_sm, sm_rate, dram_bw, sm_bw, lat, m, n, k, count, nbytes,
                dq):  # pragma: no cover - compiled
    """`gpu_kernels.gemm_time`: seconds of the best tile/split, plus the kernel latency.
    `sm_rate` is one SM's sustained tensor FLOP/s, `dram_bw` the achieved bandwidth."""
    if m <= 0.0 or n <= 0.0 or k <= 0.0 or count <= 0.0:
        return 0.0
    if m <= _TM0:
        bm = _TM0
    elif m <= _TM1:
        bm = _TM1
    elif m <= _TM2:
        bm = _TM2
    else:
        bm = _TM3
    best = math.inf
    for j in range(2):
        tm = bm if j == 0 else _TM3
        if j == 1 and bm == _TM3:
            break
        for bn in (_TN0, _TN1, _TN2):
            tiles = count * math.ceil(m / tm) * math.ceil(n / bn)
            fill = _fill_split(n_sm, tiles, k, _SPLIT_K_MIN)
            for split in (1.0, fill):
                t = _gpu_gemm_config(n_sm, sm_rate, dram_bw, sm_bw, m, n, k, count, nbytes,
                                     tm, bn, split, dq)
                if t < best:
                    best = t
    return best + lat


@njit(cache=True)
def _gpu_attention_s(n_sm, sm_rate, dram_bw, sm_bw, lat, batch, q_heads, kv_heads, tokens,
                     keys, head_dim, nbytes, prefill, cached):  # pragma: no cover - compiled
    """`gpu_kernels.attention_time`: ``(seconds, kernels)``; `sm_rate` at the attention
    efficiency."""
    if batch <= 0.0 or tokens <= 0.0 or q_heads <= 0.0:
        return 0.0, 0.0
    if prefill:
        q_block = _DECODE_Q if cached else _FLASH_Q
        rows_all, heads = tokens, q_heads
    else:
        rows_all, q_block, heads = tokens * q_heads / kv_heads, _DECODE_Q, kv_heads
    rows = min(q_block, math.ceil(rows_all / _MMA) * _MMA)
    base = batch * heads * math.ceil(rows_all / q_block)
    fill = _fill_split(n_sm, base, keys, _SPLIT_KV_MIN)
    best, best_k = math.inf, 0.0
    for split in (1.0, fill):
        ctas = base * split
        compute = math.ceil(ctas / n_sm) * 4.0 * rows * (keys / split) * head_dim / sm_rate
        extra = 0.0
        kernels = 1.0
        if split > 1.0:
            extra = 2.0 * _PB * batch * tokens * q_heads * (head_dim + 1.0) * split
            kernels = 2.0
        memory = (nbytes + extra) / min(dram_bw, min(ctas, n_sm) * sm_bw)
        t = max(compute, memory) + kernels * lat
        if t < best:
            best, best_k = t, kernels
    return best, best_k


@njit(cache=True)
def _gpu_elementwise_s(dram_bw, vec_flops, lat, flops, nbytes):  # pragma: no cover - compiled
    """`gpu_kernels.elementwise_time` (no work, no kernel: 0)."""
    if flops <= 0.0 and nbytes <= 0.0:
        return 0.0
    return max(flops / vec_flops, nbytes / dram_bw) + lat


@njit(cache=True)
def _allreduce_s(bw, step_lat, oneshot_lat, nbytes, n):  # pragma: no cover - compiled
    """`collectives.allreduce_s`."""
    if n <= 1.0:
        return 0.0
    t = 2.0 * (n - 1.0) * (step_lat + nbytes / (n * bw))
    if oneshot_lat > 0.0:
        t = min(t, oneshot_lat + (n - 1.0) * nbytes / bw)
        t = min(t, 2.0 * oneshot_lat + 2.0 * (n - 1.0) / n * nbytes / bw)
    return t


@njit(cache=True)
def _allgather_s(bw, step_lat, oneshot_lat, shard, n):  # pragma: no cover - compiled
    """`collectives.allgather_s`."""
    if n <= 1.0:
        return 0.0
    t = (n - 1.0) * (step_lat + shard / bw)
    if oneshot_lat > 0.0:
        t = min(t, oneshot_lat + (n - 1.0) * shard / bw)
    return t


@njit(cache=True)
def _gemm_time(hv, m, n, k, count):  # pragma: no cover - compiled
    if m <= 0.0 or n <= 0.0 or k <= 0.0 or count <= 0.0:
        return 0.0
    if hv[H_ACCEL] != 0.0:  # systolic arrays (systolic_array.gemm_time_s)
        cycles = array_gemm_cycles_nb(hv[H_TM], hv[H_TN], hv[H_DATAFLOW], hv[H_CORES], m, n,
                                      k, count)
        return min(cycles / hv[H_CLOCK], 2.0 * count * m * n * k / hv[H_VEC]) / hv[H_CE]
    core_peak = hv[H_CORE_PEAK]
    fill_s = hv[H_FILL_S]
    if hv[H_WS] == 0.0:
        tm = min(hv[H_TM], math.ceil(m / hv[H_TMMIN]) * hv[H_TMMIN])
        tiles = count * math.ceil(m / tm) * math.ceil(n / hv[H_TN])
        per_tile = 2.0 * tm * hv[H_TN] * k / core_peak + fill_s
    else:
        tiles = count * math.ceil(k / hv[H_TM]) * math.ceil(n / hv[H_TN])
        per_tile = 2.0 * hv[H_TM] * hv[H_TN] * m / core_peak + fill_s
    t_array = math.ceil(tiles / hv[H_CORES]) * per_tile
    t_vector = 2.0 * count * m * n * k / hv[H_VEC]
    return min(t_array, t_vector) / hv[H_CE]


@njit(cache=True)
def _account(hv, place, reps, flops, compute_s, w_bytes, a_bytes, kv_bytes, link_bytes,
             link_s, out, kernel_s=-1.0, kernels=0.0):  # pragma: no cover - compiled
    """Roofline of one operator, `reps` times, added into out (OUT_FIELDS order).

    `place`: 1 = weights in SRAM, 2 = activations in SRAM, 3 = both, 0 = neither.
    `kernel_s` >= 0 is the GPU kernel model's time, which replaces the roofline; `kernels`
    its launches (0 on a device without a kernel model)."""
    dram = kv_bytes
    sram = 0.0
    if place == 1.0 or place == 3.0:
        sram += w_bytes
    else:
        dram += w_bytes
    if place >= 2.0:
        sram += a_bytes
    else:
        dram += a_bytes
    if kernel_s >= 0.0:
        lat = kernel_s
    else:
        mem_s = max(dram * hv[H_S_PER_DRAM], sram * hv[H_S_PER_SRAM])
        lat = max(compute_s, max(mem_s, link_s))
    energy = (flops * hv[H_EFLOP] + dram * hv[H_EDRAM] + sram * hv[H_ESRAM]
              + link_bytes * hv[H_ELINK])
    out[0] += lat * reps
    out[1] += energy * reps
    out[2] += flops * reps
    out[3] += (dram + sram) * reps
    out[4] += dram * reps
    out[5] += link_bytes * reps
    out[6] += kernels * reps


@njit(cache=True)
def _gemm_op(hv, place, reps, m, n, k, count, wb, out,
             dq=0.0):  # pragma: no cover - compiled
    ab = 2.0
    w_bytes = count * k * n * wb
    a_bytes = count * (m * k + m * n) * ab
    kernel_s, kernels = -1.0, 0.0
    if hv[H_GPU] != 0.0:
        kernel_s = _gpu_gemm_s(hv[H_NSM], hv[H_SMRATE], hv[H_DRAMBW], hv[H_SMBW], hv[H_KLAT],
                              m, n, k, count, w_bytes + a_bytes, dq)
        kernels = 1.0 if (m > 0.0 and n > 0.0 and k > 0.0 and count > 0.0) else 0.0
    _account(hv, place, reps, 2.0 * m * n * k * count, _gemm_time(hv, m, n, k, count),
             w_bytes, a_bytes, 0.0, 0.0, 0.0, out, kernel_s, kernels)


@njit(cache=True)
def _vector_op(hv, place, reps, flops, w_bytes, a_bytes, out,
               kv_bytes=0.0):  # pragma: no cover - compiled
    kernel_s, kernels = -1.0, 0.0
    if hv[H_GPU] != 0.0:
        nbytes = w_bytes + a_bytes + kv_bytes
        kernel_s = _gpu_elementwise_s(hv[H_DRAMBW], hv[H_VEC], hv[H_KLAT], flops, nbytes)
        kernels = 1.0 if (flops > 0.0 or nbytes > 0.0) else 0.0
    _account(hv, place, reps, flops, flops * hv[H_S_PER_VFLOP], w_bytes, a_bytes,
             kv_bytes, 0.0, 0.0, out, kernel_s, kernels)


@njit(cache=True)
def _link_op(hv, place, reps, flops, link_bytes, link_s, out):  # pragma: no cover
    kernel_s = link_s if hv[H_GPU] != 0.0 else -1.0
    _account(hv, place, reps, flops, 0.0, 0.0, 0.0, 0.0, link_bytes, link_s, out, kernel_s,
             1.0 if hv[H_GPU] != 0.0 else 0.0)


@njit(cache=True)
def _allreduce_op(hv, place, reps, rows, d, tp, out):  # pragma: no cover - compiled
    msg = rows * d * 2.0
    link_s = _allreduce_s(hv[H_LINKBW], hv[H_LINKLAT], hv[H_ONESHOT], msg, tp)
    _link_op(hv, place, reps, (tp - 1.0) / tp * rows * d, 2.0 * (tp - 1.0) / tp * msg,
             link_s, out)


@njit(cache=True)
def _ssm_mixer(mv, hv, place, reps, t, b, tp, phase, out):  # pragma: no cover
    """One Mamba mixer (see operators._ssm_mixer), `reps` times."""
    d = mv[M_D]
    dq = hv[H_DQ] if mv[M_WINT] != 0.0 else 0.0
    wb = mv[M_WB]
    ab = 2.0
    sb = mv[M_SB]
    rows = b * t
    n = mv[M_SSMN]
    di = math.ceil(mv[M_SSMDI] / tp)
    conv_w = mv[M_SSMCONV]
    mamba2 = mv[M_MAMBA2] != 0.0
    if mamba2:
        groups = math.ceil(mv[M_SSMGROUPS] / tp)
        heads = math.ceil(mv[M_SSMHEADS] / tp)
        n_in = 2.0 * di + 2.0 * groups * n + heads
        conv_ch = di + 2.0 * groups * n
        scan_per = 6.0
    else:
        n_in = 2.0 * di
        conv_ch = di
        scan_per = 9.0
    state = di * n + conv_ch * (conv_w - 1.0)
    states_written = 1.0 if phase == 0.0 else t
    _vector_op(hv, place, reps, mv[M_NORMF] * rows * d, d * wb, 2.0 * rows * d * ab, out)
    _gemm_op(hv, place, reps, rows, n_in, d, 1.0, wb, out, dq)
    _vector_op(hv, place, reps, 2.0 * rows * conv_ch * conv_w, conv_ch * conv_w * wb,
               2.0 * rows * conv_ch * ab, out)
    if not mamba2:
        r = mv[M_DTRANK]
        _gemm_op(hv, place, reps, rows, r + 2.0 * n, di, 1.0, wb, out, dq)
        _gemm_op(hv, place, reps, rows, di, r, 1.0, wb, out, dq)
    scan_flops = scan_per * rows * di * n
    _vector_op(hv, place, reps, scan_flops, 0.0,
               2.0 * rows * di * ab + states_written * b * state * sb, out, b * state * sb)
    _gemm_op(hv, place, reps, rows, d, di, 1.0, wb, out, dq)
    if tp > 1.0:
        _allreduce_op(hv, place, reps, rows, d, tp, out)


@njit(cache=True)
def _pass_eval(mv, hv, t, s, b, tp, phase, n_layers, tree, vp, out):  # pragma: no cover
    """One pass; writes OUT_FIELDS into out."""
    for i in range(N_OUT):
        out[i] = 0.0
    dq = hv[H_DQ] if mv[M_WINT] != 0.0 else 0.0
    d = mv[M_D]
    hd = mv[M_HD]
    wb = mv[M_WB]
    kb = mv[M_KB]
    ab = 2.0
    hq = math.ceil(mv[M_HEADS] / tp)
    hkv = math.ceil(mv[M_KV] / tp)
    ff = math.ceil(mv[M_FF] / tp)
    vocab = math.ceil(mv[M_VOCAB] / tp) if vp != 0.0 else mv[M_VOCAB]
    rows = b * t
    prefill = phase == 0.0
    keys = s + (t + 1.0) / 2.0 if prefill else s + t
    lm_rows = b if prefill else rows
    nf = mv[M_NORMF]
    n_exp = mv[M_NEXP]
    top_k = mv[M_TOPK]
    if n_exp > 1.0:
        touched = n_exp * (1.0 - (1.0 - top_k / n_exp) ** rows)
        per_expert = rows * top_k / touched
    else:  # dense: the formula gives exactly 1 expert with all rows
        touched = 1.0
        per_expert = rows
    up_n = (2.0 if mv[M_GATED] != 0.0 else 1.0) * ff
    kind = mv[M_KIND]
    w_on = hv[H_WSRAM] > 0.0 and mv[M_WTOTAL] / tp <= hv[H_WSRAM]
    n_attn = 0.0
    n_ssm = 0.0
    if mv[M_NLAYERS] > 0.0 and n_layers > 0.0:
        n_attn = mv[M_NATTN] * n_layers / mv[M_NLAYERS]
        n_ssm = mv[M_NSSM] * n_layers / mv[M_NLAYERS]
    n_mlp = n_attn + (n_ssm if mv[M_SSMMLP] != 0.0 else 0.0)
    a_on = False
    if hv[H_ACTSRAM] != 0.0:
        kv_tree = rows * 2.0 * hkv * hd * kb * n_attn
        ssm_tree = 0.0
        if n_ssm > 0.0:
            di = math.ceil(mv[M_SSMDI] / tp)
            conv_ch = di
            if mv[M_MAMBA2] != 0.0:
                conv_ch = di + 2.0 * math.ceil(mv[M_SSMGROUPS] / tp) * mv[M_SSMN]
            st = di * mv[M_SSMN] + conv_ch * (mv[M_SSMCONV] - 1.0)
            written = 1.0 if prefill else t
            ssm_tree = written * b * st * mv[M_SB] * n_ssm
        peak = rows * (2.0 * d + up_n + (hq + 2.0 * hkv) * hd) * ab
        cap = hv[H_SRAMBYTES] - (mv[M_WTOTAL] / tp if w_on else 0.0)
        a_on = kv_tree + ssm_tree + peak <= cap
    place = (1.0 if w_on else 0.0) + (2.0 if a_on else 0.0)

    gpu = hv[H_GPU] != 0.0
    if kind != 2.0:  # token embedding rows
        _vector_op(hv, place, 1.0, 0.0, rows * d * wb, rows * d * ab, out)
    if kind == 1.0:  # EAGLE fusion fc
        _gemm_op(hv, place, 1.0, rows, d, 2.0 * d, 1.0, wb, out, dq)
    if n_attn > 0.0:
        L = n_attn
        _vector_op(hv, place, L, nf * rows * d, d * wb, 2.0 * rows * d * ab, out)
        _gemm_op(hv, place, L, rows, (hq + 2.0 * hkv) * hd, d, 1.0, wb, out, dq)
        att_flops = 4.0 * b * hq * t * keys * hd + 5.0 * b * hq * t * keys
        att_s = (_gemm_time(hv, t, keys, hd, 2.0 * b * hq)
                 + 5.0 * b * hq * t * keys * hv[H_S_PER_VFLOP])
        mask = b * t * t if (tree != 0.0 and t > 1.0) else 0.0
        att_act = rows * 2.0 * hkv * hd * kb + 2.0 * rows * hq * hd * ab + mask
        att_kv = b * s * 2.0 * hkv * hd * kb
        kernel_s, kernels = -1.0, 0.0
        if gpu:
            kernel_s, kernels = _gpu_attention_s(
                hv[H_NSM], hv[H_ATTNRATE], hv[H_DRAMBW], hv[H_SMBW], hv[H_KLAT], b, hq, hkv,
                t, keys, hd, att_act + att_kv, prefill, s > 0.0)
        _account(hv, place, L, att_flops, att_s, 0.0, att_act, att_kv, 0.0, 0.0, out,
                 kernel_s, kernels)
        _gemm_op(hv, place, L, rows, d, hq * hd, 1.0, wb, out, dq)
        if tp > 1.0:
            _allreduce_op(hv, place, L, rows, d, tp, out)
    if n_ssm > 0.0:
        _ssm_mixer(mv, hv, place, n_ssm, t, b, tp, phase, out)
    if n_mlp > 0.0:
        L = n_mlp
        _vector_op(hv, place, L, nf * rows * d, d * wb, 2.0 * rows * d * ab, out)
        if n_exp > 1.0:
            _gemm_op(hv, place, L, rows, n_exp, d, 1.0, wb, out, dq)
        _gemm_op(hv, place, L, per_expert, up_n, d, touched, wb, out, dq)
        act_bytes = rows * top_k * (up_n + ff) * ab if gpu else 0.0
        _vector_op(hv, place, L, mv[M_ACTF] * rows * top_k * ff, 0.0, act_bytes, out)
        _gemm_op(hv, place, L, per_expert, d, ff, touched, wb, out, dq)
        if tp > 1.0:
            _allreduce_op(hv, place, L, rows, d, tp, out)
    if kind == 2.0:  # Medusa heads
        heads = mv[M_MHEADS]
        _gemm_op(hv, place, 1.0, rows, d, d, heads, wb, out, dq)
        _vector_op(hv, place, 1.0, 5.0 * rows * d * heads, 0.0, 0.0, out)
        _gemm_op(hv, place, 1.0, rows, vocab, d, heads, wb, out, dq)
        gathered = rows * heads * vocab
    else:
        _vector_op(hv, place, 1.0, nf * lm_rows * d, d * wb, 2.0 * lm_rows * d * ab, out)
        _gemm_op(hv, place, 1.0, lm_rows, vocab, d, 1.0, wb, out, dq)
        gathered = lm_rows * vocab
    if tp > 1.0 and vp != 0.0:  # all-gather of the vocabulary-sharded logits
        shard = gathered * ab
        _link_op(hv, place, 1.0, 0.0, (tp - 1.0) * shard,
                 _allgather_s(hv[H_LINKBW], hv[H_LINKLAT], hv[H_ONESHOT], shard, tp), out)
    out[1] += hv[H_STATIC] * out[0]


@njit(cache=True)
def _pass_eval_many(mv, hv, tokens, context, batch, tp, phase, layers, tree, vocab_parallel,
                    out):  # pragma: no cover - compiled
    row = np.zeros(N_OUT)
    for i in range(tokens.shape[0]):
        _pass_eval(mv, hv, tokens[i], context[i], batch[i], tp[i], phase[i], layers[i],
                   tree[i], vocab_parallel[i], row)
        for j in range(N_OUT):
            out[j, i] = row[j]


def _as_array(name: str, value: object, minimum: float, integer: bool,
              maximum: float = math.inf) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1:
        raise InputError("must be a scalar or a 1-D array", field=name)
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr < minimum)):
        raise InputError(f"every value must be finite and >= {minimum:g}", field=name)
    if arr.size and np.any(arr > maximum):
        raise InputError(f"every value must be <= {maximum:g}, not {arr.max():g}", field=name)
    if integer and arr.size and np.any(arr != np.floor(arr)):
        raise InputError("every value must be an integer", field=name)
    return np.atleast_1d(arr)


def _phase_codes(phase: str | np.ndarray) -> np.ndarray:
    if isinstance(phase, str):
        if phase not in PHASES:
            raise InputError(f"unknown phase {phase!r}; choose one of {', '.join(PHASES)}",
                             field="phase")
        return np.array([float(PHASES[phase])])
    names = np.atleast_1d(np.asarray(phase))
    ph = np.full(names.shape, -1.0)
    for label, code in PHASES.items():
        ph[names == label] = float(code)
    if np.any(ph < 0):
        bad = names[ph < 0][0]
        raise InputError(f"unknown phase {str(bad)!r}; choose one of {', '.join(PHASES)}",
                         field="phase")
    return ph


def _pass_arrays(tokens, context, batch, tp, phase, layers, tree, vocab_parallel,
                 *extra: np.ndarray) -> list[np.ndarray]:
    """Validated, broadcast, contiguous float64 arrays of the pass parameters."""
    arrays = [
        _as_array("tokens", tokens, 1, True, MAX_ROW_TOKENS),
        _as_array("context", context, 0, False, MAX_ROW_TOKENS),
        _as_array("batch", batch, 1, True, MAX_BATCH),
        _as_array("tp", tp, 1, True, MAX_TP),
        _phase_codes(phase),
        _as_array("layers", layers, 0, True),
        np.atleast_1d(np.asarray(tree, dtype=float)),
        np.atleast_1d(np.asarray(vocab_parallel, dtype=float)),
        *extra,
    ]
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError as exc:
        raise InputError(f"pass arrays do not broadcast: {exc}", field="tokens") from None
    # Copies: broadcast views are read-only, and Numba warns about passing them.
    return [np.array(a, dtype=np.float64).ravel() for a in arrays]


def pass_costs(
    model: ModelSpec,
    hw: HardwareSpec,
    *,
    tokens: np.ndarray | int,
    context: np.ndarray | float,
    batch: np.ndarray | int = 1,
    tp: np.ndarray | int = 1,
    phase: str | np.ndarray = "decode",
    layers: np.ndarray | int | None = None,
    tree: np.ndarray | bool = True,
    vocab_parallel: np.ndarray | bool = True,
) -> dict[str, np.ndarray]:
    """Costs of many passes at once (Numba): arrays broadcast against each other.

    Returns arrays ``latency_s``, ``energy_j``, ``flops``, ``bytes``, ``dram_bytes``,
    ``link_bytes``, ``kernels``, equal (to 1e-9 relative) to `pass_cost` called pass by pass.
    `context` is each pass's mean context per row.  Every argument is checked
    (:class:`InputError` naming the field); a caller that evaluates many small arrays
    whose ranges it has checked once uses `PackedPassCosts` (the same kernel, unchecked).
    """
    flat = _pass_arrays(tokens, context, batch, tp, phase,
                        model.n_layers if layers is None else layers, tree, vocab_parallel)
    for degree in np.unique(flat[3]):
        model.check_tensor_parallel(int(degree))
    if np.any(flat[5] > model.n_layers):
        raise InputError(f"every value must be <= {model.n_layers} (the model's layers)",
                         field="layers")
    return pass_costs_unchecked(pack_model(model), pack_hardware(hw), *flat)


def pass_costs_unchecked(mv: np.ndarray, hv: np.ndarray, tokens: np.ndarray,
                         context: np.ndarray, batch: np.ndarray, tp: np.ndarray,
                         phase: np.ndarray, layers: np.ndarray, tree: np.ndarray,
                         vocab_parallel: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """`pass_costs` on packed specs and already-validated arrays, without any check.

    Parameters
    ----------
    mv, hv:
        `pack_model` and `pack_hardware` vectors.
    tokens, context, batch, tp, phase, layers, tree:
        C-contiguous 1-D float64 arrays of one length, each value in the range
        `pass_costs` accepts (``phase`` as its `PHASES` code, ``layers`` at most the
        model's, ``tree`` 0 or 1); ``vocab_parallel`` likewise 0 or 1 (``None``: 1).
        Nothing is checked here: a shorter array or a value
        out of range gives wrong numbers, not an error.

    Returns
    -------
    dict
        `OUT_FIELDS` -> arrays, as `pass_costs`.
    """
    out = np.empty((N_OUT, tokens.shape[0]))
    if vocab_parallel is None:
        vocab_parallel = np.ones_like(tokens)
    _pass_eval_many(mv, hv, tokens, context, batch, tp, phase, layers, tree, vocab_parallel,
                    out)
    return {name: out[i] for i, name in enumerate(OUT_FIELDS)}


class PackedPassCosts:
    """`pass_costs` for a fixed device and fixed models, with no per-call checks.

    The specs are packed once; each call converts its arrays to float64 and runs the
    same kernel as `pass_costs` (`pass_costs_unchecked`) at ``tp=1``, every layer of the
    model and tree attention.  The call signature is `pass_costs`'s restricted to
    ``tokens``, ``context``, ``batch`` and ``phase``, so it can stand in for it as a
    simulator cost function.  The caller must have checked the value ranges (as
    `pass_costs` would) once for all calls; only the array lengths are checked here.

    Parameters
    ----------
    hw:
        The device every call evaluates on.
    models:
        The models calls may name (``None`` entries are skipped).
    """

    def __init__(self, hw: HardwareSpec, models: Sequence[ModelSpec | None]) -> None:
        self.hw = hw
        self._hv = pack_hardware(hw)
        self._models = {id(m): (m, pack_model(m)) for m in models if m is not None}
        self._consts: dict[tuple[int, str, int], tuple[np.ndarray, ...]] = {}

    def _constants(self, mv: np.ndarray, key: tuple[int, str, int]
                   ) -> tuple[np.ndarray, ...]:
        """``(tp, phase, layers, tree, vocab_parallel)`` arrays of length ``key[2]`` for
        model ``key[0]`` and phase ``key[1]`` (made once, then reused: the kernel only
        reads them)."""
        got = self._consts.get(key)
        if got is None:
            ones = np.ones(key[2])
            got = self._consts[key] = (ones, ones * float(PHASES[key[1]]),
                                       ones * mv[M_NLAYERS], ones, ones)
        return got

    def __call__(self, model: ModelSpec, hw: HardwareSpec, *, tokens: np.ndarray,
                 context: np.ndarray, batch: np.ndarray,
                 phase: str = "decode") -> dict[str, np.ndarray]:
        entry = self._models.get(id(model))
        if entry is None or entry[0] is not model or hw is not self.hw:
            raise ValueError("PackedPassCosts evaluates only the device and models it was "
                             f"built for, not {getattr(model, 'name', model)!r} on "
                             f"{getattr(hw, 'name', hw)!r}")
        tok = np.ascontiguousarray(tokens, dtype=np.float64)
        ctx = np.ascontiguousarray(context, dtype=np.float64)
        b = np.ascontiguousarray(batch, dtype=np.float64)
        if tok.ndim != 1 or ctx.shape != tok.shape or b.shape != tok.shape:
            raise ValueError(f"tokens, context and batch must be 1-D arrays of one length, "
                             f"not {tok.shape}, {ctx.shape}, {b.shape}")
        mv = entry[1]
        return pass_costs_unchecked(mv, self._hv, tok, ctx, b,
                                    *self._constants(mv, (id(model), phase, tok.shape[0])))


@njit(cache=True)
def _pass_eval_configs(mvs, hvs, model_index, hw_index, tokens, context, batch, tp, phase,
                       layers, tree, vocab_parallel, out):  # pragma: no cover - compiled
    row = np.zeros(N_OUT)
    for i in range(tokens.shape[0]):
        mv = mvs[int(model_index[i])]
        n_layers = layers[i] if layers[i] >= 0.0 else mv[M_NLAYERS]
        _pass_eval(mv, hvs[int(hw_index[i])], tokens[i], context[i], batch[i], tp[i],
                   phase[i], n_layers, tree[i], vocab_parallel[i], row)
        for j in range(N_OUT):
            out[j, i] = row[j]


def pass_costs_configs(
    models: Sequence[ModelSpec],
    hws: Sequence[HardwareSpec],
    *,
    model_index: np.ndarray | int,
    hw_index: np.ndarray | int,
    tokens: np.ndarray | int,
    context: np.ndarray | float,
    batch: np.ndarray | int = 1,
    tp: np.ndarray | int = 1,
    phase: str | np.ndarray = "decode",
    layers: np.ndarray | int | None = None,
    tree: np.ndarray | bool = True,
    vocab_parallel: np.ndarray | bool = True,
) -> dict[str, np.ndarray]:
    """Costs of passes over many (model, device) configurations in one compiled loop.

    Pass ``i`` runs ``models[model_index[i]]`` on ``hws[hw_index[i]]``; everything else as
    `pass_costs` (``layers=None``: each pass's model's full depth).
    """
    if not models or not hws:
        raise InputError("need at least one model and one device", field="models")
    mvs = np.stack([pack_model(m) for m in models])
    hvs = np.stack([pack_hardware(h) for h in hws])
    mi = _as_array("model_index", model_index, 0, True)
    hi = _as_array("hw_index", hw_index, 0, True)
    if mi.size and mi.max() >= len(models):
        raise InputError(f"index >= {len(models)} models", field="model_index")
    if hi.size and hi.max() >= len(hws):
        raise InputError(f"index >= {len(hws)} devices", field="hw_index")
    flat = _pass_arrays(tokens, context, batch, tp, phase, 0 if layers is None else layers,
                        tree, vocab_parallel, mi, hi)
    if layers is None:
        flat[5][:] = -1.0  # each model's own depth
    elif np.any(flat[5] > np.array([m.n_layers for m in models])[flat[8].astype(np.int64)]):
        raise InputError("every value must be <= its model's layers", field="layers")
    out = np.empty((N_OUT, flat[0].shape[0]))
    _pass_eval_configs(mvs, hvs, flat[8], flat[9], *flat[:8], out)
    return {name: out[i] for i, name in enumerate(OUT_FIELDS)}


assert ACTIVATION_BYTES == 2.0  # the compiled code hard-codes bf16 activations
