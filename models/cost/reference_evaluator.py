"""The pure-Python evaluator of one pass (per-operator objects, with a breakdown).

This is both the reference the Numba evaluator is tested against and the engine of
`pass_cost`, which reports the per-operator breakdown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .hardware_spec import HardwareSpec
from .model_spec import ModelSpec
from .operators import activations_on_chip, build_operators, weights_resident
from .pass_args import check_pass_args


@dataclass(frozen=True)
class PassCost:
    """Cost of one forward pass on one device (tensor-parallel: per device, in lock-step).

    ``bytes`` is memory traffic (DRAM + on-chip SRAM); ``dram_bytes`` the DRAM part;
    ``link_bytes`` what the all-reduces send; ``kernels`` the kernel launches of the pass on
    a GPU with a kernel model (one per operator instance, two for a split-KV attention;
    0 elsewhere).  ``energy_j`` includes
    ``static_energy_j`` (static power x latency).  ``breakdown`` has one entry per
    operator type, summed over layers: name, scope ("layer": once per decoder layer,
    "pass": once per pass), count, kernels, flops, bytes, latency_s, energy_j, bound
    ("compute"|"memory"; an all-reduce is reported "memory": bound by data movement over
    the link).  ``per_layer`` and ``per_pass`` split the latency: one (mean) decoder
    layer, and the once-per-pass operators (embedding, final norm, LM head, logits
    gather, draft-head operators); ``latency_s = layers x per_layer + per_pass``.
    """

    latency_s: float
    energy_j: float
    flops: float
    bytes: float
    dram_bytes: float = 0.0
    link_bytes: float = 0.0
    static_energy_j: float = 0.0
    kernels: float = 0.0
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def _scope_sum(self, scope: str) -> dict[str, Any]:
        entries = [e for e in self.breakdown if e["scope"] == scope]
        return {"latency_s": sum(e["latency_s"] for e in entries),
                "kernels": sum(e["kernels"] for e in entries),
                "operators": [e["name"] for e in entries]}

    @property
    def per_layer(self) -> dict[str, Any]:
        """One decoder layer (the mean over the evaluated layers): latency_s, kernels and
        the operator names; zeros when no layer is evaluated."""
        out = self._scope_sum("layer")
        layers = self.meta.get("layers", 0) or 0
        out["latency_s"] = out["latency_s"] / layers if layers else 0.0
        out["kernels"] = out["kernels"] / layers if layers else 0.0
        return out

    @property
    def per_pass(self) -> dict[str, Any]:
        """The once-per-pass operators: latency_s, kernels and operator names."""
        return self._scope_sum("pass")

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "flops": self.flops,
            "bytes": self.bytes,
            "dram_bytes": self.dram_bytes,
            "link_bytes": self.link_bytes,
            "static_energy_j": self.static_energy_j,
            "kernels": self.kernels,
            "per_layer": self.per_layer,
            "per_pass": self.per_pass,
            "breakdown": self.breakdown,
            **self.meta,
        }


def reference_pass_cost(
    model: ModelSpec,
    hw: HardwareSpec,
    *,
    tokens: int,
    context: int | float | Sequence[int],
    batch: int = 1,
    tp: int = 1,
    phase: str = "decode",
    layers: int | None = None,
    tree: bool = True,
    vocab_parallel: bool = True,
) -> PassCost:
    """Latency, energy, FLOPs and bytes of one forward pass, with the breakdown.

    A pass over `tokens` query tokens per batch row at context `context` (tokens already
    in the KV cache, one value or one per row); ``tokens > 1`` with `tree` is a
    tree-verify pass with tree-masked attention (KV written for every node).
    `vocab_parallel=False` keeps the whole LM head on every tensor-parallel device.
    """
    args = check_pass_args(model.n_layers, tokens=tokens, context=context, batch=batch, tp=tp,
                           phase=phase, layers=layers, tree=tree,
                           vocab_parallel=vocab_parallel)
    model.check_tensor_parallel(args.tp)
    resident = weights_resident(model, hw, args.tp)
    on_chip = activations_on_chip(model, hw, args, resident)
    totals = dict(latency_s=0.0, energy_j=0.0, flops=0.0, dram=0.0, sram=0.0, link=0.0,
                  kernels=0.0)
    breakdown: list[dict[str, Any]] = []
    for op, count in build_operators(model, hw, args):
        c = op.cost(hw, resident, on_chip)
        entry = {
            "name": op.name,
            "scope": op.scope,
            "count": int(count) if float(count).is_integer() else count,
            "kernels": (op.kernels if hw.gpu is not None else 0.0) * count,
            "flops": c.flops * count,
            "bytes": (c.dram_bytes + c.sram_bytes) * count,
            "dram_bytes": c.dram_bytes * count,
            "link_bytes": c.link_bytes * count,
            "latency_s": c.latency_s * count,
            "energy_j": c.energy_j * count,
            "bound": c.bound,
        }
        breakdown.append(entry)
        totals["latency_s"] += entry["latency_s"]
        totals["energy_j"] += entry["energy_j"]
        totals["flops"] += entry["flops"]
        totals["dram"] += c.dram_bytes * count
        totals["sram"] += c.sram_bytes * count
        totals["link"] += entry["link_bytes"]
        totals["kernels"] += entry["kernels"]
    static = hw.static_power_w * totals["latency_s"]
    kv_shard = model.kv_bytes_per_token * math.ceil(model.n_kv_heads / args.tp) / model.n_kv_heads
    footprint = (model.weight_bytes / args.tp
                 + args.batch * (args.context + args.tokens) * kv_shard)
    return PassCost(
        latency_s=totals["latency_s"],
        energy_j=totals["energy_j"] + static,
        flops=totals["flops"],
        bytes=totals["dram"] + totals["sram"],
        dram_bytes=totals["dram"],
        link_bytes=totals["link"],
        static_energy_j=static,
        kernels=totals["kernels"],
        breakdown=breakdown,
        meta={
            "model": model.name,
            "hw": hw.name,
            "phase": args.phase,
            "tokens": args.tokens,
            "context": args.context,
            "batch": args.batch,
            "tp": args.tp,
            "layers": args.layers,
            "tree": args.tree,
            "vocab_parallel": args.vocab_parallel,
            "kernel_model": hw.kernel_model,
            "weights_resident": resident,
            "activations_on_chip": on_chip,
            "memory_footprint_bytes": footprint,
            "fits_memory": footprint <= hw.mem_bytes,
        },
    )
