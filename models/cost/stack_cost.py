"""How a software stack turns kernel time into wall time (one pass, one stage of a step).

The kernel model (`pass_costs`) gives the time of a pass's kernels -- the ``K_model``
kernels it prices, each with its own fixed latency when the model has one.  On a
software stack (:class:`~.software_stack.SoftwareStack`) the pass launches ``K``
kernels (`pass_kernel_count`); the ``K - K_model`` the kernel model does not price are
the small element-wise kernels of an unfused stack (norms in several steps, rotary
embedding, casts), each costing the device's fixed GPU time per kernel
(`gpu_kernel_s`).  The pass also moves
the bytes its unfused kernels add (`stack_extra_bytes`: an eager attention's score
matrix, a concatenated KV cache, the element-wise kernels' own traffic per token), and
costs the host ``K`` operations (or one graph
replay).  The
host issues kernels asynchronously, so the host and the GPU overlap: a stage that ends
in no synchronisation takes ``max(host, gpu)`` -- the GPU waits for the host when the
host is slower (a host-bound step), the host runs ahead when it is faster.  A host
synchronisation drains the queue and costs ``sync_s``.  `stage_time` is that rule.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .hardware_spec import HardwareSpec
from .model_spec import ModelSpec
from .software_stack import (
    EAGER_SCORE_BYTES,
    UNFUSED_GATE_BYTES,
    UNFUSED_LAYOUT_BYTES,
    UNFUSED_RESIDUAL_BYTES,
    UNFUSED_RMSNORM_BYTES,
    UNFUSED_ROTARY_BYTES,
    SoftwareStack,
)

#: Kernels an additional active expert adds to an MoE layer (its gate, up, activation,
#: multiply and down), and the router's kernels (logits, top-k, softmax).
MOE_EXPERT_KERNELS = 5
MOE_ROUTER_KERNELS = 3


def gpu_kernel_s(hw: HardwareSpec) -> float:
    """Fixed GPU time of one kernel on `hw`: the kernel model's `GpuKernelSpec.fixed_s`
    (first DRAM round trip, drain of the last wave, the gap before the next kernel; 0 on
    a device the kernel model prices without one)."""
    return float(hw.gpu.fixed_s) if getattr(hw, "gpu", None) is not None else 0.0


def pass_kernel_count(stack: SoftwareStack, model: ModelSpec, *, layers: int | None = None,
                      tp: int = 1) -> float:
    """Kernels one pass of `model` launches on `stack` (`layers` evaluated, default all).

    Decoder layers launch ``layer_kernels`` each (MoE layers more: `MOE_ROUTER_KERNELS`
    and `MOE_EXPERT_KERNELS` per extra active expert) plus ``allreduce_kernels`` for each
    of a tensor-parallel layer's two all-reduces; a decoder or EAGLE head adds the
    ``pass_kernels`` outside the layers (an EAGLE head one more, its fusion GEMM); Medusa
    heads launch ``head_kernels`` each and nothing else.
    """
    n_layers = model.n_layers if layers is None else int(layers)
    per_layer = float(stack.layer_kernels)
    if model.n_experts > 1:
        per_layer += MOE_ROUTER_KERNELS + (model.experts_per_token - 1) * MOE_EXPERT_KERNELS
    if tp > 1:
        per_layer += 2.0 * stack.allreduce_kernels
    if model.kind == "medusa":
        return float(model.medusa_heads * stack.head_kernels)
    extra = 1.0 if model.kind == "eagle" else 0.0
    return n_layers * per_layer + stack.pass_kernels + extra


def unfused_token_bytes(stack: SoftwareStack, model: ModelSpec, *,
                        layers: int | None = None, tp: int = 1) -> float:
    """Bytes per query token (per row) that the unfused element-wise kernels of a pass of
    `model` on `stack` move beyond the kernel model's fused ones (0 unless
    ``stack.elementwise == "unfused"``).  Per attention block: two RMSNorms over the
    hidden state (`UNFUSED_RMSNORM_BYTES` each, RMS-normed models), two residual adds
    (`UNFUSED_RESIDUAL_BYTES` each) and the attention output's layout copy
    (`UNFUSED_LAYOUT_BYTES`) on the hidden state, which every tensor-parallel rank holds
    whole; the rotary embedding over its query and key heads (`UNFUSED_ROTARY_BYTES`);
    a gated SiLU MLP's separate activation over its intermediate elements
    (`UNFUSED_GATE_BYTES`, per active expert).  Layers without attention (state-space
    mixers) are not counted."""
    if stack.elementwise != "unfused" or model.kind == "medusa" or model.n_layers == 0:
        return 0.0
    n_layers = model.n_layers if layers is None else int(layers)
    n_attn = model.n_attn_layers * n_layers / model.n_layers
    norm = 2.0 * UNFUSED_RMSNORM_BYTES if model.norm == "rms" else 0.0
    hidden = (norm + 2.0 * UNFUSED_RESIDUAL_BYTES + UNFUSED_LAYOUT_BYTES) * model.d_model
    rotary = UNFUSED_ROTARY_BYTES * model.head_dim * (
        math.ceil(model.n_heads / tp) + math.ceil(model.n_kv_heads / tp))
    gate = 0.0
    if model.mlp_gated and model.activation == "silu":
        gate = UNFUSED_GATE_BYTES * math.ceil(model.d_ff / tp) * model.experts_per_token
    return n_attn * (hidden + rotary + gate)


def _extra_byte_rates(stack: SoftwareStack, model: ModelSpec, *, layers: int | None = None,
                      tp: int = 1) -> tuple[float, float, float]:
    """``(bytes per score element, bytes per cached token, bytes per query token)`` a
    pass of `model` moves on `stack` beyond the kernel model, per row
    (`stack_extra_bytes`)."""
    n_layers = model.n_layers if layers is None else int(layers)
    if model.kind == "medusa" or model.n_layers == 0:
        return 0.0, 0.0, 0.0
    n_attn = model.n_attn_layers * n_layers / model.n_layers
    score = kv_copy = 0.0
    if stack.attention == "eager":
        score = n_attn * math.ceil(model.n_heads / tp) * EAGER_SCORE_BYTES
    if stack.kv_cache == "concat":
        kv_token = 2.0 * math.ceil(model.n_kv_heads / tp) * model.head_dim \
            * model.kv_bytes_per_elem
        kv_copy = n_attn * 2.0 * kv_token
    return score, kv_copy, unfused_token_bytes(stack, model, layers=layers, tp=tp)


def stack_extra_bytes(stack: SoftwareStack, model: ModelSpec, *, tokens: np.ndarray,
                      context: np.ndarray, batch: np.ndarray | float = 1.0,
                      layers: int | None = None, tp: int = 1) -> np.ndarray:
    """DRAM bytes a pass moves on `stack` beyond what the kernel model counts.

    * eager attention: `EAGER_SCORE_BYTES` per score element (``heads x tokens x keys``
      per row and attention layer, keys = context + tokens);
    * a concatenated KV cache: the layer's whole cache read and written again
      (``2 x (context + tokens)`` tokens of KV per row and attention layer);
    * unfused element-wise kernels: `unfused_token_bytes` per query token of every row.
    """
    t = np.asarray(tokens, dtype=np.float64)
    keys = np.asarray(context, dtype=np.float64) + t
    score, kv_copy, per_token = _extra_byte_rates(stack, model, layers=layers, tp=tp)
    return np.asarray(batch, dtype=np.float64) * (score * t * keys + kv_copy * keys
                                                   + per_token * t)


@njit(cache=True)
def _stack_pass_many(kernel, tokens, context, batch, model_kernels, n_k, gpu_per_kernel,
                     host_one, score_bytes, kv_copy_bytes, token_bytes, s_per_byte,
                     gpu_const, gpu_per_row_token, host, gpu, wall,
                     extra):  # pragma: no cover - compiled
    """`pass_on_stack` per pass: `score_bytes` per score element (attention layers x
    heads folded in), `kv_copy_bytes` per cached token (layers x KV per token x 2),
    `token_bytes` per query token; `gpu_const` + `gpu_per_row_token` x rows x tokens of
    placement time."""
    for i in range(kernel.shape[0]):
        keys = context[i] + tokens[i]
        e = batch[i] * (score_bytes * tokens[i] * keys + kv_copy_bytes * keys
                        + token_bytes * tokens[i])
        more = n_k - model_kernels[i]
        if more < 0.0:
            more = 0.0
        g = (kernel[i] + more * gpu_per_kernel + e * s_per_byte + gpu_const
             + gpu_per_row_token * batch[i] * tokens[i])
        host[i] = host_one
        gpu[i] = g
        wall[i] = g if g > host_one else host_one
        extra[i] = e


def pass_on_stack(stack: SoftwareStack, model: ModelSpec, hw: HardwareSpec, *,
                  kernel_s: np.ndarray, tokens: np.ndarray, context: np.ndarray,
                  model_kernels: np.ndarray | float,
                  batch: np.ndarray | float = 1.0, layers: int | None = None, tp: int = 1,
                  gpu_const_s: float = 0.0, gpu_per_row_token_s: float = 0.0,
                  host_extra_s: float = 0.0) -> dict[str, np.ndarray]:
    """Host time, GPU time and wall time of passes whose kernels take `kernel_s`.

    `model_kernels` is how many kernels the kernel model priced in `kernel_s` (their
    fixed costs are in it already); the stack's further kernels add the device's
    (`gpu_kernel_s`).  It has no default: a kernel's fixed GPU time is charged once, by
    whichever model priced it.  The launch is not a GPU term: the host's issue time
    (``host_op_s`` per kernel, or one graph replay) overlaps the GPU's work, and the
    pass takes the longer of the two -- the host runs ahead of the GPU through the
    launch queue, so neither side waits for the other's every kernel.

    A placement adds `gpu_const_s` plus `gpu_per_row_token_s` per query token of every
    row to the GPU time (pipeline hops, offloaded weights) and `host_extra_s` to the
    host's.  Returns arrays ``host_s``, ``gpu_s``, ``wall_s`` (= ``max(host_s,
    gpu_s)``), ``extra_dram_bytes`` and ``kernels``.  On an accelerator (or the ``ideal`` stack)
    the wall time is the kernel time.
    """
    k = np.ascontiguousarray(kernel_s, dtype=np.float64).reshape(-1)
    if hw.kind != "gpu":
        zero = np.zeros_like(k)
        return {"host_s": zero, "gpu_s": k, "wall_s": k, "extra_dram_bytes": zero,
                "kernels": zero}
    n = k.shape[0]

    def arr(x: object) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)))

    n_k = pass_kernel_count(stack, model, layers=layers, tp=tp)
    score, kv_copy, per_token = _extra_byte_rates(stack, model, layers=layers, tp=tp)
    host_one = (stack.graph_launch_s if stack.cuda_graphs else n_k * stack.host_op_s) \
        + host_extra_s
    out = {f: np.empty(n) for f in ("host_s", "gpu_s", "wall_s", "extra_dram_bytes")}
    _stack_pass_many(k, arr(tokens), arr(context), arr(batch), arr(model_kernels), n_k,
                     gpu_kernel_s(hw), host_one, score, kv_copy, per_token,
                     1.0 / (hw.mem_bw_bytes_s * hw.bw_efficiency), gpu_const_s,
                     gpu_per_row_token_s, out["host_s"],
                     out["gpu_s"], out["wall_s"], out["extra_dram_bytes"])
    out["kernels"] = np.full(n, n_k)
    return out


def ops_on_stack(stack: SoftwareStack, hw: HardwareSpec, ops: np.ndarray | float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``(host_s, gpu_s)`` of `ops` small eager operations of the decode loop (one kernel
    each, launch-bound)."""
    n = np.asarray(ops, dtype=np.float64)
    if hw.kind != "gpu":
        return np.zeros_like(n), np.zeros_like(n)
    return n * stack.host_op_s, n * gpu_kernel_s(hw)


def stage_time(host_s: np.ndarray, gpu_s: np.ndarray, syncs: np.ndarray | float,
               stack: SoftwareStack) -> np.ndarray:
    """Wall time of a stage: host and GPU overlap, then `syncs` synchronisations."""
    return (np.maximum(np.asarray(host_s, dtype=np.float64), np.asarray(gpu_s, dtype=np.float64))
            + np.asarray(syncs, dtype=np.float64) * stack.sync_s)
