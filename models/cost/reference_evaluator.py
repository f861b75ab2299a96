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
    ``link_bytes`` what the all-reduces send.  ``energy_j`` includes ``static_energy_j``
    (static power x latency).  ``breakdown`` has one entry per operator type, summed over
    layers: name, count, flops, bytes, latency_s, energy_j, bound ("compute"|"memory";
    an all-reduce is reported "memory": bound by data movement over the link).
    """

    latency_s: float
    energy_j: float
    flops: float
    bytes: float
    dram_bytes: float = 0.0
    link_bytes: float = 0.0
    static_energy_j: float = 0.0
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "flops": self.flops,
            "bytes": self.bytes,
            "dram_bytes": self.dram_bytes,
            "link_bytes": self.link_bytes,
            "static_energy_j": self.static_energy_j,
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
) -> PassCost:
    """Latency, energy, FLOPs and bytes of one forward pass, with the breakdown.

    A pass over `tokens` query tokens per batch row at context `context` (tokens already
    in the KV cache, one value or one per row); ``tokens > 1`` with `tree` is a
    tree-verify pass with tree-masked attention (KV written for every node).
    """
    args = check_pass_args(model.n_layers, tokens=tokens, context=context, batch=batch, tp=tp,
                           phase=phase, layers=layers, tree=tree)
    model.check_tensor_parallel(args.tp)
    resident = weights_resident(model, hw, args.tp)
    on_chip = activations_on_chip(model, hw, args, resident)
    totals = dict(latency_s=0.0, energy_j=0.0, flops=0.0, dram=0.0, sram=0.0, link=0.0)
    breakdown: list[dict[str, Any]] = []
    for op, count in build_operators(model, hw, args):
        c = op.cost(hw, resident, on_chip)
        entry = {
            "name": op.name,
            "count": int(count) if float(count).is_integer() else count,
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
            "weights_resident": resident,
            "activations_on_chip": on_chip,
            "memory_footprint_bytes": footprint,
            "fits_memory": footprint <= hw.mem_bytes,
        },
    )
