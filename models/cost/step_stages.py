"""The stages of decode steps on a deployment: draft, tree, target pass, verification.

One call prices every step of a run (arrays over steps, and over the draft passes of
those steps) on a :class:`~.deployment.Deployment`:

``draft``
    The draft passes, each with its token selection over the draft's logits and the
    draft loop's operations (``draft_pass_ops``), plus ``draft_call_ops`` once per step.
    A stack that synchronises after every draft pass (``draft_pass_syncs``) runs each
    pass as its own stage; otherwise the host and the GPU overlap across all of them.
``tree``
    Building the candidate tree's input, mask and positions: ``tree_ops`` on a GPU
    stack with its host work on CPU tensors (``tree_cpu_ops``, ``tree_node_cpu_ops``
    per drafted node); the tree-mask unit on an accelerator, or on the ``ideal`` stack
    the GPU's launch-bound tree kernels (``HardwareSpec.tree_unit_latency_s``).
``target``
    The target's pass over the tree (plus tokens that ride along), on the placement.
``verify``
    Token selection over the logits of the target pass's query positions (the verified
    nodes and what rides along; :func:`~.sampling_tail.selected_tokens` counts them,
    :mod:`.sampling_tail` prices them), the
    acceptance test and the KV commit (``verify_ops``, ``commit_layer_ops`` and
    ``commit_token_ops`` per layer, and the accepted tokens' KV moved in place), then
    ``spec_step_syncs`` synchronisations; on an accelerator the verify
    unit's cycles plus the sampling unit, on the ``ideal`` stack the GPU's verify
    kernels (``HardwareSpec.verify_unit_latency_s``).

Plain decoding (``speculative=False``) has a target pass over one token, the selection
over its logits and the plain loop's ``ar_step_ops`` and ``ar_step_syncs``.

The stages run one after the other, each as ``max(host, gpu)`` plus its
synchronisations (:func:`~.stack_cost.stage_time`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .deployment import Deployment
from .model_spec import ModelSpec
from .placement import draft_on_target_device
from .sampling_tail import selected_tokens
from .stack_cost import stage_time

#: Fields of `step_stages`' result, each an array over steps.
STAGE_FIELDS = ("draft_s", "draft_j", "draft_flops", "draft_hbm_bytes", "draft_passes",
                "tree_s", "target_s", "target_j", "target_flops", "target_hbm_bytes",
                "verify_s")


def _unit_latencies(fn: Callable[[int], float], n_nodes: np.ndarray) -> np.ndarray:
    if n_nodes.shape[0] == 0:
        return np.zeros(0)
    sizes, inverse = np.unique(n_nodes, return_inverse=True)
    return np.array([float(fn(int(k))) for k in sizes], dtype=np.float64)[inverse]


def _dynamic(raw: dict[str, np.ndarray], static_w: float) -> dict[str, np.ndarray]:
    """Energy without static power (counted once over the run by the metrics); bytes as
    HBM bytes."""
    out = dict(raw)
    out["energy_j"] = raw["energy_j"] - static_w * raw["latency_s"]
    if "dram_bytes" in raw:
        out["bytes"] = raw["dram_bytes"]
    return out


def kv_shard_bytes_per_token(model: ModelSpec, tp: int) -> float:
    """KV bytes per token that one tensor-parallel shard holds."""
    return (2.0 * model.n_attn_layers * math.ceil(model.n_kv_heads / tp) * model.head_dim
            * model.kv_bytes_per_elem)


def step_stages(dep: Deployment, *, target: ModelSpec, draft: ModelSpec | None,
                speculative: bool, n_nodes: np.ndarray, target_tokens: np.ndarray,
                context: np.ndarray, accepted: np.ndarray,
                draft_step_of: np.ndarray | None = None,
                draft_tokens: np.ndarray | None = None,
                draft_context: np.ndarray | None = None,
                cost_fn: Any = None) -> dict[str, np.ndarray]:
    """Price every step's stages on `dep` (module docstring); arrays of `STAGE_FIELDS`.

    Parameters
    ----------
    target, draft:
        Model specs; `draft` ``None`` when no draft model runs (its passes are empty).
    speculative:
        ``False`` for plain decoding (one token, no tree, no draft).
    n_nodes, target_tokens, context, accepted:
        Per step: tree nodes (root included), query tokens of the target pass, context
        before the step, accepted drafts.
    draft_step_of, draft_tokens, draft_context:
        Per draft pass: its step, query tokens and context.
    cost_fn:
        The kernel model (default :func:`~.pass_evaluator.pass_costs`).
    """
    hw = dep.hw
    n_nodes = np.asarray(n_nodes, dtype=np.int64)
    n_steps = int(n_nodes.shape[0])
    static_w = float(getattr(hw, "static_power_w", 0.0))
    t_stack = dep.stack_of("target")
    on_gpu = hw.kind == "gpu"
    stack_units = on_gpu and not t_stack.is_ideal

    # a draft beside the target on its device 0 (weights and KV cache) leaves an
    # offloaded target less room
    beside, beside_per_token = draft_on_target_device(draft, dep.draft_placement)
    t_raw = dep.pass_costs(target, role="target", tokens=target_tokens, context=context,
                           cost_fn=cost_fn, shared_bytes=beside,
                           shared_bytes_per_token=beside_per_token)
    target_sel, draft_sel = selected_tokens(
        speculative=speculative, target_tokens=target_tokens,
        draft=draft if speculative else None, draft_tokens=draft_tokens)
    t_dyn = _dynamic(t_raw, static_w)
    out: dict[str, np.ndarray] = {
        "target_s": t_dyn["latency_s"], "target_j": t_dyn["energy_j"],
        "target_flops": t_dyn["flops"], "target_hbm_bytes": t_dyn["bytes"],
    }

    # -- draft ----------------------------------------------------------------------------
    out.update(draft_s=np.zeros(n_steps), draft_j=np.zeros(n_steps),
               draft_flops=np.zeros(n_steps), draft_hbm_bytes=np.zeros(n_steps),
               draft_passes=np.zeros(n_steps, dtype=np.int64))
    if speculative and draft is not None and draft_step_of is not None \
            and draft_step_of.shape[0]:
        d_stack = dep.stack_of("draft")
        d_raw = dep.pass_costs(draft, role="draft", tokens=draft_tokens,
                               context=draft_context, cost_fn=cost_fn)
        d_dyn = _dynamic(d_raw, static_w)
        sel = dep.selection(draft_sel, draft.vocab_size, role="draft")
        loop_h, loop_g = dep.loop_ops(d_stack.draft_pass_ops, role="draft")
        host = d_raw["host_s"] + sel["host_s"] + loop_h
        gpu = d_raw["gpu_s"] + sel["gpu_s"] + loop_g
        if d_stack.draft_pass_syncs or not stack_units:
            per_pass = stage_time(host, gpu, d_stack.draft_pass_syncs, d_stack)
            draft_s = np.bincount(draft_step_of, weights=per_pass, minlength=n_steps)
        else:
            draft_s = stage_time(np.bincount(draft_step_of, weights=host, minlength=n_steps),
                                 np.bincount(draft_step_of, weights=gpu, minlength=n_steps),
                                 0.0, d_stack)
        steps_with_draft = np.bincount(draft_step_of, minlength=n_steps) > 0
        if on_gpu and d_stack.draft_call_ops:
            call_h, call_g = dep.loop_ops(d_stack.draft_call_ops, role="draft")
            draft_s = draft_s + np.where(steps_with_draft, np.maximum(call_h, call_g), 0.0)
        out["draft_s"] = draft_s
        out["draft_j"] = np.bincount(draft_step_of, weights=d_dyn["energy_j"],
                                     minlength=n_steps)
        out["draft_flops"] = np.bincount(draft_step_of, weights=d_dyn["flops"],
                                         minlength=n_steps)
        out["draft_hbm_bytes"] = np.bincount(draft_step_of,
                                             weights=d_dyn["bytes"] + sel["dram_bytes"],
                                             minlength=n_steps)
        out["draft_passes"] = np.bincount(draft_step_of, minlength=n_steps).astype(np.int64)

    # -- tree and verification ------------------------------------------------------------
    sel = dep.selection(target_sel, target.vocab_size, role="target")
    out["target_hbm_bytes"] = out["target_hbm_bytes"] + sel["dram_bytes"]
    if not speculative:
        out["tree_s"] = np.zeros(n_steps)
        ops_h, ops_g = dep.loop_ops(t_stack.ar_step_ops)
        out["verify_s"] = (stage_time(sel["host_s"] + ops_h, sel["gpu_s"] + ops_g,
                                      t_stack.ar_step_syncs, t_stack)
                           if stack_units else sel["gpu_s"])
        return out
    if stack_units:
        tree_h, tree_g = dep.loop_ops(t_stack.tree_ops)
        drafted = np.maximum(n_nodes - 1, 0).astype(np.float64)
        tree_cpu_s = t_stack.cpu_op_s * (t_stack.tree_cpu_ops
                                         + t_stack.tree_node_cpu_ops * drafted)
        out["tree_s"] = np.maximum(tree_h + tree_cpu_s, tree_g)
        ver_ops = t_stack.verify_ops + target.n_layers * (
            t_stack.commit_layer_ops
            + t_stack.commit_token_ops * np.asarray(accepted, dtype=np.float64))
        ver_h, ver_g = dep.loop_ops(ver_ops)
        commit = np.zeros(n_steps)
        if t_stack.kv_cache == "static":  # the accepted tokens' KV gathered into place
            tp = dep.placement_of("target").tp
            commit = (2.0 * np.asarray(accepted, dtype=np.float64)
                      * kv_shard_bytes_per_token(target, tp)
                      / (hw.mem_bw_bytes_s * hw.bw_efficiency))
        out["verify_s"] = stage_time(sel["host_s"] + ver_h, sel["gpu_s"] + ver_g + commit,
                                     t_stack.spec_step_syncs, t_stack)
    else:
        out["tree_s"] = _unit_latencies(hw.tree_unit_latency_s, n_nodes)
        out["verify_s"] = _unit_latencies(hw.verify_unit_latency_s, n_nodes) + sel["gpu_s"]
    return out
