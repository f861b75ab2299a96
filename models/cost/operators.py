"""The operators of a forward pass, as plain Python objects (the reference formulas).

`build_operators` lists what a pass over ``T`` query tokens per row, at mean context
``S``, batch ``B`` and tensor-parallel degree ``tp`` executes on one device (the busiest
shard: heads, ``d_ff`` and vocabulary are split ``ceil(x / tp)``).  Each operator knows
its FLOPs and its bytes by class:

* ``weight``  -- parameters (from SRAM when the whole model shard is resident on chip,
  else from DRAM);
* ``act``     -- activations, the tree mask, and the KV written for the new tokens (SRAM
  on the accelerator, which keeps the tree's KV on chip until it commits, as long as the
  working set fits: `activations_on_chip`; DRAM on GPUs);
* ``kv_read`` -- the KV cache of the context (always DRAM);
* ``link``    -- bytes sent over the chip-to-chip link (tensor-parallel all-reduce).

On a device priced by the tile roofline (the accelerator, a device without a kernel
model), `OpCost` applies the roofline: ``latency = max(compute, DRAM time, SRAM time,
link time)``, the compute time of a GEMM from the tile/wave model of `hardware_spec`.  On
a GPU with a kernel model (``hw.gpu``) each operator is the kernel that runs it, timed by
`gpu_kernels` (GEMM tiles/waves/split-K, attention kernels, element-wise kernels, each
with its fixed latency) and `collectives` (all-reduce, all-gather by message size); on a
GPU the gated activation is its own element-wise kernel (its bytes counted).  Every
operator reports how many kernels it launches (``kernels``) and whether it runs once per
layer or once per pass (``scope``).  The Numba evaluator (`pass_evaluator`) implements
the same formulas independently; tests hold both to 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from . import gpu_kernels as gk
from . import systolic_array
from .collectives import allgather_s, allreduce_s
from .hardware_spec import HardwareSpec
from .model_spec import ACTIVATION_BYTES, ACTIVATION_FLOPS, NORM_FLOPS, ModelSpec
from .pass_args import PassArgs


def gemm_compute_time(hw: HardwareSpec, m: float, n: float, k: float, count: float) -> float:
    """Seconds for `count` independent ``m x n x k`` GEMMs on `hw` (tile/wave model on a
    GPU, `systolic_array` on the accelerator, or the vector unit when faster), divided by
    the compute-efficiency factor."""
    if m <= 0 or n <= 0 or k <= 0 or count <= 0:
        return 0.0
    if hw.kind == "accelerator":
        return systolic_array.gemm_time_s(hw, m, n, k, count)
    core_peak = hw.peak_flops / hw.n_cores
    if hw.dataflow == "os":
        tm = min(hw.tile_m, math.ceil(m / hw.tile_m_min) * hw.tile_m_min)
        tiles = count * math.ceil(m / tm) * math.ceil(n / hw.tile_n)
        per_tile = 2.0 * tm * hw.tile_n * k / core_peak + hw.fill_cycles / hw.clock_hz
    else:
        tiles = count * math.ceil(k / hw.tile_m) * math.ceil(n / hw.tile_n)
        per_tile = 2.0 * hw.tile_m * hw.tile_n * m / core_peak + hw.fill_cycles / hw.clock_hz
    array_time = math.ceil(tiles / hw.n_cores) * per_tile
    vector_time = 2.0 * count * m * n * k / hw.vec_flops
    return min(array_time, vector_time) / hw.compute_efficiency


@dataclass(frozen=True)
class OpCost:
    """The cost of one operator instance (multiply by its repeat count)."""

    flops: float
    dram_bytes: float
    sram_bytes: float
    link_bytes: float
    latency_s: float
    energy_j: float
    bound: str


@dataclass(frozen=True)
class Operator:
    """One operator: its work and the compute time of that work on the device.

    ``kernel_s`` is the GPU kernel model's time of the operator (``None`` on a device
    priced by the tile roofline), ``kernel_bound`` what bounds it; ``kernels`` the kernel
    launches; ``scope`` ``"layer"`` (repeated per layer) or ``"pass"`` (once per pass).
    """

    name: str
    flops: float = 0.0
    compute_s: float = 0.0
    weight_bytes: float = 0.0
    act_bytes: float = 0.0
    kv_read_bytes: float = 0.0
    link_bytes: float = 0.0
    link_s: float = 0.0
    kernels: float = 1.0
    kernel_s: float | None = None
    kernel_bound: str = "memory"
    scope: str = "pass"

    def cost(self, hw: HardwareSpec, weights_resident: bool, acts_on_chip: bool) -> OpCost:
        sram = 0.0
        dram = self.kv_read_bytes
        if weights_resident:
            sram += self.weight_bytes
        else:
            dram += self.weight_bytes
        if acts_on_chip:
            sram += self.act_bytes
        else:
            dram += self.act_bytes
        if self.kernel_s is not None:
            latency, bound = self.kernel_s, self.kernel_bound
        else:
            mem_s = max(dram / (hw.mem_bw_bytes_s * hw.bw_efficiency),
                        sram / hw.sram_bw_bytes_s)
            latency = max(self.compute_s, mem_s, self.link_s)
            bound = "compute" if self.compute_s > max(mem_s, self.link_s) else "memory"
        energy = (self.flops * hw.e_flop_j + dram * hw.e_dram_byte_j
                  + sram * hw.e_sram_byte_j + self.link_bytes * hw.e_link_byte_j)
        return OpCost(self.flops, dram, sram, self.link_bytes, latency, energy, bound)


def _with_kernel(op: Operator, kt: gk.KernelTime) -> Operator:
    return replace(op, kernel_s=kt.seconds, kernel_bound=kt.bound, kernels=kt.kernels)


def dequant_s(model: ModelSpec, hw: HardwareSpec) -> float:
    """Seconds for one SM of a GPU to dequantise one of `model`'s weights (0 for float
    weights and off a GPU; `gpu_kernels.dequant_sm_seconds`)."""
    if hw.gpu is None:
        return 0.0
    return gk.dequant_sm_seconds(model.weight_dtype, hw.vec_flops, hw.gpu)


def _gemm(name: str, hw: HardwareSpec, m: float, n: float, k: float, count: float,
          wb: float, ab: float, extra_act_bytes: float = 0.0, dequant: float = 0.0
          ) -> Operator:
    """A GEMM ``(m x k) @ (k x n)``, `count` times, each with its own weights
    (`extra_act_bytes`: more output traffic, e.g. K/V written to the cache; `dequant`:
    seconds for one SM to dequantise one integer weight on a GPU, `dequant_s`)."""
    op = Operator(
        name=name,
        flops=2.0 * m * n * k * count,
        compute_s=gemm_compute_time(hw, m, n, k, count),
        weight_bytes=count * k * n * wb,
        act_bytes=count * (m * k + m * n) * ab + extra_act_bytes,
    )
    if hw.gpu is None:
        return op
    return _with_kernel(op, gk.gemm_time(hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, m, n, k,
                                         count, op.weight_bytes + op.act_bytes, dequant))


def _vector(name: str, hw: HardwareSpec, flops: float, weight_bytes: float = 0.0,
            act_bytes: float = 0.0, kv_read_bytes: float = 0.0) -> Operator:
    """Element-wise or reduction work on the vector unit / CUDA cores."""
    compute_s = flops / (hw.vec_flops * hw.compute_efficiency)
    op = Operator(name=name, flops=flops, compute_s=compute_s, weight_bytes=weight_bytes,
                  act_bytes=act_bytes, kv_read_bytes=kv_read_bytes)
    if hw.gpu is None:
        return op
    return _with_kernel(op, gk.elementwise_time(hw.mem_bw_bytes_s, hw.vec_flops, hw.gpu,
                                                flops, weight_bytes + act_bytes
                                                + kv_read_bytes))


def _link_op(name: str, hw: HardwareSpec, flops: float, link_bytes: float,
             link_s: float) -> Operator:
    op = Operator(name=name, flops=flops, link_bytes=link_bytes, link_s=link_s)
    if hw.gpu is None:
        return op
    return replace(op, kernel_s=link_s, kernel_bound="memory")


def _allreduce(name: str, hw: HardwareSpec, rows: float, d: float, tp: int) -> Operator:
    """All-reduce of a ``rows x d`` activation over `tp` devices (`collectives`)."""
    msg = rows * d * ACTIVATION_BYTES
    return _link_op(name, hw, (tp - 1) / tp * rows * d, 2.0 * (tp - 1) / tp * msg,
                    allreduce_s(hw.link_bw_bytes_s, hw.link_step_latency_s,
                                hw.link_oneshot_latency_s, msg, float(tp)))


def _allgather(name: str, hw: HardwareSpec, shard_elems: float, tp: int) -> Operator:
    """All-gather of a vocabulary-sharded logits block (`shard_elems` per device)."""
    shard = shard_elems * ACTIVATION_BYTES
    return _link_op(name, hw, 0.0, (tp - 1.0) * shard,
                    allgather_s(hw.link_bw_bytes_s, hw.link_step_latency_s,
                                hw.link_oneshot_latency_s, shard, float(tp)))


def layer_counts(model: ModelSpec, layers: int) -> tuple[float, float, float]:
    """Attention mixers, SSM mixers and MLP blocks in the first `layers` layers (layer
    kinds evenly interleaved, so a hybrid's counts scale in proportion)."""
    if model.n_layers == 0 or layers == 0:
        return 0.0, 0.0, 0.0
    n_attn = model.n_attn_layers * layers / model.n_layers
    n_ssm = model.n_ssm_layers * layers / model.n_layers
    return n_attn, n_ssm, n_attn + (n_ssm if model.ssm_has_mlp else 0.0)


#: FLOPs per state element per token of the selective-scan update: Mamba-1 discretises a
#: per-channel A (exp ~4, dt*A 1, dt*B*x 2, h = dA*h + dBx 2) = 9; Mamba-2 has a scalar
#: A per head (its exp is per head, negligible), leaving 2 + 2 + the C.h product 2 = 6.
SSM_SCAN_FLOPS = {"mamba1": 9.0, "mamba2": 6.0}


def _ssm_mixer(model: ModelSpec, hw: HardwareSpec, args: PassArgs) -> list[Operator]:
    """One Mamba mixer: norm, in_proj, depthwise conv, (x_proj, dt_proj), scan, out_proj.

    The scan reads each row's recurrent and conv state (the SSM's "KV cache": fixed size,
    independent of the context) and writes the new state.  A multi-token decode/verify
    pass writes one state per query token (for a tree: one per node, each derived from
    its parent's state, as in STree's tree scan) so that the state after the accepted
    path can be kept and the rest rolled back; prefill writes only the final state.
    """
    t, b, tp = float(args.tokens), float(args.batch), args.tp
    d = float(model.d_model)
    wb, ab, sb = model.weight_bytes_per_param, ACTIVATION_BYTES, model.ssm_state_bytes_per_elem
    dq = dequant_s(model, hw)
    rows = b * t
    n = float(model.ssm_state)
    di = float(math.ceil(model.ssm_d_inner / tp))
    conv_w = float(model.ssm_conv)
    mamba2 = model.ssm_head_dim > 0
    if mamba2:
        groups = float(math.ceil(model.ssm_groups / tp))
        heads = float(math.ceil(model.ssm_heads / tp))
        n_in = 2.0 * di + 2.0 * groups * n + heads
        conv_ch = di + 2.0 * groups * n
    else:
        n_in = 2.0 * di
        conv_ch = di
    state = di * n + conv_ch * (conv_w - 1.0)
    states_written = 1.0 if args.phase == "prefill" else t
    scan_flops = SSM_SCAN_FLOPS["mamba2" if mamba2 else "mamba1"] * rows * di * n
    ops = [
        _vector("ssm_norm", hw, NORM_FLOPS[model.norm] * rows * d, d * wb, 2.0 * rows * d * ab),
        _gemm("ssm_in_proj", hw, rows, n_in, d, 1.0, wb, ab, dequant=dq),
        _vector("ssm_conv", hw, 2.0 * rows * conv_ch * conv_w, conv_ch * conv_w * wb,
                2.0 * rows * conv_ch * ab),
    ]
    if not mamba2:
        r = float(model.ssm_dt_rank)
        ops += [_gemm("ssm_x_proj", hw, rows, r + 2.0 * n, di, 1.0, wb, ab, dequant=dq),
                _gemm("ssm_dt_proj", hw, rows, di, r, 1.0, wb, ab, dequant=dq)]
    ops += [
        _vector("ssm_scan", hw, scan_flops,
                act_bytes=2.0 * rows * di * ab + states_written * b * state * sb,
                kv_read_bytes=b * state * sb),
        _gemm("ssm_out_proj", hw, rows, d, di, 1.0, wb, ab, dequant=dq),
    ]
    if tp > 1:
        ops.append(_allreduce("ssm_allreduce", hw, rows, d, tp))
    return ops


def build_operators(model: ModelSpec, hw: HardwareSpec,
                    args: PassArgs) -> list[tuple[Operator, float]]:
    """The operators of one pass with their repeat counts (per-layer operators repeat
    once per attention mixer, SSM mixer or MLP block in the evaluated layers)."""
    t, s, b, tp = float(args.tokens), args.context, float(args.batch), args.tp
    d, hd = float(model.d_model), float(model.head_dim)
    wb, kb, ab = model.weight_bytes_per_param, model.kv_bytes_per_elem, ACTIVATION_BYTES
    dq = dequant_s(model, hw)
    hq = float(math.ceil(model.n_heads / tp))
    hkv = float(math.ceil(model.n_kv_heads / tp))
    ff = float(math.ceil(model.d_ff / tp))
    vocab = float(math.ceil(model.vocab_size / tp) if args.vocab_parallel
                  else model.vocab_size)
    gather = tp > 1 and args.vocab_parallel
    rows = b * t
    prefill = args.phase == "prefill"
    keys = s + (t + 1.0) / 2.0 if prefill else s + t
    lm_rows = b if prefill else rows
    nf = NORM_FLOPS[model.norm]
    n_exp, top_k = float(model.n_experts), float(model.experts_per_token)
    touched = n_exp * (1.0 - (1.0 - top_k / n_exp) ** rows)
    per_expert = rows * top_k / touched
    up_n = (2.0 if model.mlp_gated else 1.0) * ff

    attn: list[Operator] = [
        _vector("attn_norm", hw, nf * rows * d, d * wb, 2.0 * rows * d * ab),
        _gemm("qkv_proj", hw, rows, (hq + 2.0 * hkv) * hd, d, 1.0, wb, ab, dequant=dq),
        _attention(hw, args, hq, hkv, hd, kb, keys),
        _gemm("o_proj", hw, rows, d, hq * hd, 1.0, wb, ab, dequant=dq),
    ]
    if tp > 1:
        attn.append(_allreduce("attn_allreduce", hw, rows, d, tp))
    ssm = _ssm_mixer(model, hw, args) if model.n_ssm_layers else []
    mlp: list[Operator] = [_vector("mlp_norm", hw, nf * rows * d, d * wb, 2.0 * rows * d * ab)]
    if model.n_experts > 1:
        mlp.append(_gemm("moe_router", hw, rows, n_exp, d, 1.0, wb, ab, dequant=dq))
    # the gated activation: fused into the GEMM epilogue on the accelerator (no bytes),
    # its own element-wise kernel on a GPU (reads the up rows, writes the hidden rows)
    act_bytes = rows * top_k * (up_n + ff) * ab if hw.gpu is not None else 0.0
    mlp += [
        _gemm("mlp_up", hw, per_expert, up_n, d, touched, wb, ab, dequant=dq),
        _vector("mlp_act", hw, ACTIVATION_FLOPS[model.activation] * rows * top_k * ff,
                act_bytes=act_bytes),
        _gemm("mlp_down", hw, per_expert, d, ff, touched, wb, ab, dequant=dq),
    ]
    if tp > 1:
        mlp.append(_allreduce("mlp_allreduce", hw, rows, d, tp))
    n_attn, n_ssm, n_mlp = layer_counts(model, args.layers)

    ops: list[tuple[Operator, float]] = []
    if model.has_embedding:
        ops.append((_vector("embedding", hw, 0.0, rows * d * wb, rows * d * ab), 1))
    if model.kind == "eagle":
        ops.append((_gemm("eagle_fc", hw, rows, d, 2.0 * d, 1.0, wb, ab, dequant=dq), 1))
    for group, n in ((attn, n_attn), (ssm, n_ssm), (mlp, n_mlp)):
        ops += [(replace(op, scope="layer"), n) for op in group] if n > 0 else []
    if model.kind == "medusa":
        heads = float(model.medusa_heads)
        ops += [
            (_gemm("medusa_block", hw, rows, d, d, heads, wb, ab, dequant=dq), 1),
            (_vector("medusa_act", hw, 5.0 * rows * d * heads), 1),
            (_gemm("medusa_lm_head", hw, rows, vocab, d, heads, wb, ab, dequant=dq), 1),
        ]
        if gather:
            ops.append((_allgather("logits_allgather", hw, rows * heads * vocab, tp), 1))
    else:
        ops += [
            (_vector("final_norm", hw, nf * lm_rows * d, d * wb, 2.0 * lm_rows * d * ab), 1),
            (_gemm("lm_head", hw, lm_rows, vocab, d, 1.0, wb, ab, dequant=dq), 1),
        ]
        if gather:
            ops.append((_allgather("logits_allgather", hw, lm_rows * vocab, tp), 1))
    return ops


def _attention(hw: HardwareSpec, args: PassArgs, hq: float, hkv: float, hd: float,
               kb: float, keys: float) -> Operator:
    """Fused attention (QK^T, softmax, AV): reads the context's KV, writes the new tokens'
    KV; a tree-verify pass reads its ``T x T`` mask."""
    t, s, b = float(args.tokens), args.context, float(args.batch)
    rows = b * t
    ab = ACTIVATION_BYTES
    scores = b * hq * t * keys
    op = Operator(
        name="attention",
        flops=4.0 * scores * hd + 5.0 * scores,
        compute_s=gemm_compute_time(hw, t, keys, hd, 2.0 * b * hq)
        + 5.0 * scores / (hw.vec_flops * hw.compute_efficiency),
        act_bytes=rows * 2.0 * hkv * hd * kb + 2.0 * rows * hq * hd * ab
        + (b * t * t if args.tree and args.tokens > 1 else 0.0),
        kv_read_bytes=b * s * 2.0 * hkv * hd * kb,
    )
    if hw.gpu is None:
        return op
    return _with_kernel(op, gk.attention_time(
        hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, batch=b, q_heads=hq, kv_heads=hkv,
        tokens=t, keys=keys, head_dim=hd, nbytes=op.act_bytes + op.kv_read_bytes,
        prefill=args.phase == "prefill", cached=s > 0))


def weights_resident(model: ModelSpec, hw: HardwareSpec, tp: int) -> bool:
    """Whether the model's weight shard fits the device's on-chip weight budget."""
    return hw.weight_sram_bytes > 0 and model.weight_bytes / tp <= hw.weight_sram_bytes


def activations_on_chip(model: ModelSpec, hw: HardwareSpec, args: PassArgs,
                        resident: bool) -> bool:
    """Whether the pass keeps its activations and the tree's KV/states in SRAM.

    Only on a device that stages activations on chip (``hw.act_in_sram``), and only when
    the pass's on-chip working set fits the SRAM left by resident weights: the KV written
    for every query token of every evaluated attention layer (held until commit), the SSM
    states written, and one layer's peak activations (residual in/out, QKV, MLP hidden).
    Otherwise everything spills to DRAM.
    """
    if not hw.act_in_sram:
        return False
    tp = args.tp
    rows = float(args.batch) * args.tokens
    hq = math.ceil(model.n_heads / tp)
    hkv = math.ceil(model.n_kv_heads / tp)
    up_n = (2.0 if model.mlp_gated else 1.0) * math.ceil(model.d_ff / tp)
    n_attn, n_ssm, _ = layer_counts(model, args.layers)
    kv_tree = rows * 2.0 * hkv * model.head_dim * model.kv_bytes_per_elem * n_attn
    ssm_tree = 0.0
    if n_ssm > 0:
        di = math.ceil(model.ssm_d_inner / tp)
        conv_ch = di + (2.0 * math.ceil(model.ssm_groups / tp) * model.ssm_state
                        if model.ssm_head_dim else 0.0)
        state = di * model.ssm_state + conv_ch * (model.ssm_conv - 1.0)
        written = 1.0 if args.phase == "prefill" else float(args.tokens)
        ssm_tree = written * args.batch * state * model.ssm_state_bytes_per_elem * n_ssm
    peak = rows * (2.0 * model.d_model + up_n + (hq + 2.0 * hkv) * model.head_dim) \
        * ACTIVATION_BYTES
    capacity = hw.sram_bytes - (model.weight_bytes / tp if resident else 0.0)
    return kv_tree + ssm_tree + peak <= capacity
