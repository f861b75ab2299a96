"""A deployment: a device, a software stack and a placement, for the target and the draft.

`Deployment` is what a speculative-decoding step runs on.  Its methods price the parts
of a step on it, vectorised over arrays of passes or steps:

* `Deployment.pass_costs` -- one forward pass of the target or the draft: the kernel
  model at the role's tensor-parallel degree (:func:`~.pass_evaluator.pass_costs`), the
  stack's kernels, host time and extra traffic (:mod:`.stack_cost`), the pipeline hops
  and the offloaded weights' copies (:mod:`.placement`);
* `Deployment.selection` -- the token-selection tail over a pass's logits
  (:mod:`.sampling_tail`);
* `Deployment.loop_ops` -- the decode loop's small operations and synchronisations.

On an accelerator the stack is ``ideal`` and the placement tensor-parallel only: the
kernels are the whole story and the step's units are its RTL's cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from specaccel.schema.errors import InputError

from .hardware_spec import HardwareSpec
from .model_spec import ACTIVATION_BYTES, ModelSpec
from .placement import SINGLE, Placement, check_fit, device_memory, offload_time_s
from .sampling_tail import sampling_tail
from .software_stack import IDEAL, SoftwareStack, get_stack
from .stack_cost import ops_on_stack, pass_on_stack

ROLES = ("target", "draft")


@dataclass(frozen=True)
class Deployment:
    """Device `hw`; the target on `stack` placed by `target_placement`; the draft on
    `draft_stack` (default `stack`) placed by `draft_placement` (default: beside the
    target on its device 0)."""

    hw: HardwareSpec
    stack: SoftwareStack = IDEAL
    target_placement: Placement = SINGLE
    draft_stack: SoftwareStack | None = None
    draft_placement: Placement | None = None

    def __post_init__(self) -> None:
        if self.hw.kind != "gpu":
            for role in ROLES:
                if not self.stack_of(role).is_ideal:
                    raise InputError(f"a software stack applies to GPU targets; "
                                     f"{self.hw.name} is an accelerator (its stack is "
                                     f"'ideal')", field="stack")
                p = self.placement_of(role)
                if p.pp > 1 or p.offload:
                    raise InputError(f"pipeline placement and offloading are modelled on "
                                     f"GPU targets, not on {self.hw.name}",
                                     field="pp" if p.pp > 1 else "offload")

    @classmethod
    def named(cls, hw: HardwareSpec, *, stack: str = "ideal", tp: int = 1, pp: int = 1,
              offload: bool = False, draft_stack: str | None = None,
              draft_tp: int | None = None) -> Deployment:
        """A deployment from option values (InputError naming the option when bad)."""
        dp = None if draft_tp is None else Placement(tp=draft_tp)
        return cls(hw, get_stack(stack), Placement(tp=tp, pp=pp, offload=offload),
                   None if draft_stack is None else get_stack(draft_stack), dp)

    # -- roles --------------------------------------------------------------------------
    def stack_of(self, role: str) -> SoftwareStack:
        if role == "draft":
            return self.draft_stack or self.stack
        return self.stack

    def without_host(self) -> Deployment:
        """This deployment with an infinitely fast host (`SoftwareStack.without_host`):
        a step on it lasts as long as its GPU work and its GPU's fixed costs alone, so
        its time over the real step's is the share of the step the GPU sets."""
        return replace(self, stack=self.stack.without_host(),
                       draft_stack=(None if self.draft_stack is None
                                    else self.draft_stack.without_host()))

    def placement_of(self, role: str) -> Placement:
        if role == "draft":
            return self.draft_placement or SINGLE
        return self.target_placement

    def with_stack(self, stack: SoftwareStack | str) -> Deployment:
        """The same devices and placement on another stack (target and draft)."""
        return replace(self, stack=get_stack(stack), draft_stack=None)

    @property
    def is_ideal(self) -> bool:
        """Kernels only on one device: exactly the kernel model."""
        return (self.stack_of("target").is_ideal and self.stack_of("draft").is_ideal
                and self.target_placement == SINGLE
                and self.placement_of("draft") == SINGLE)

    # -- checks -------------------------------------------------------------------------
    def check(self, target: ModelSpec, draft: ModelSpec | None, *, kv_tokens: float,
              draft_kv_tokens: float = 0.0) -> None:
        """InputError when a placement cannot split a model or does not fit a device."""
        check_fit(self.hw, target, self.target_placement, kv_tokens=kv_tokens, draft=draft,
                  draft_placement=self.draft_placement, draft_kv_tokens=draft_kv_tokens)

    def memory_footprint(self, target: ModelSpec, draft: ModelSpec | None, *,
                         kv_tokens: float, draft_kv_tokens: float = 0.0
                         ) -> dict[str, float | bool | int | None]:
        """Peak memory of the busiest device of the placements (weights and KV cache of
        `kv_tokens`, without the reserve) against one device's capacity; the same keys
        as a single device's footprint, plus ``devices`` and ``busiest_device``."""
        loads = device_memory(target, self.target_placement, kv_tokens=kv_tokens,
                              draft=draft, draft_placement=self.draft_placement,
                              draft_kv_tokens=draft_kv_tokens, hw=self.hw)
        per_dev = {d: sum(b for _, b in parts) for d, parts in loads.items()}
        busiest = max(per_dev, key=lambda d: per_dev[d])
        weights = sum(b for parts in loads.values() for what, b in parts
                      if what.endswith(" weights"))
        kv = sum(b for parts in loads.values() for what, b in parts
                 if what.endswith(" KV cache"))
        cap = float(self.hw.mem_bytes)
        return {"weights_bytes": weights, "kv_peak_bytes": kv,
                "peak_bytes": per_dev[busiest], "capacity_bytes": cap,
                "fits": per_dev[busiest] <= cap, "devices": len(per_dev),
                "busiest_device": busiest}

    # -- prices ---------------------------------------------------------------------------
    def pass_costs(self, model: ModelSpec, *, role: str, tokens: np.ndarray,
                   context: np.ndarray, batch: np.ndarray | int = 1,
                   phase: str | None = None, layers: int | None = None,
                   shared_bytes: float = 0.0, shared_bytes_per_token: float = 0.0,
                   requests: np.ndarray | None = None,
                   cost_fn: Any = None) -> dict[str, np.ndarray]:
        """Passes of `model` in `role` on this deployment.

        Returns the kernel model's arrays (``energy_j``, ``flops``, ``bytes``,
        ``dram_bytes``, ``link_bytes``) with ``latency_s`` the pass's wall time, plus
        ``kernel_s``, ``host_s`` and ``gpu_s`` (the pass's wall time is the longer of
        these two, plus ``request_s``).  `shared_bytes` plus `shared_bytes_per_token`
        per token of the pass's KV cache is memory another model (a draft beside the
        target) holds on this role's device 0, for the offload budget.  A prefill
        starts `requests` requests each (default: one per row when its context is 0),
        and the stack's ``request_host_s`` for each is its ``request_s``.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        if cost_fn is None:
            from .pass_evaluator import pass_costs as cost_fn
        placement = self.placement_of(role)
        stack = self.stack_of(role)
        t = np.asarray(tokens, dtype=np.float64)
        s = np.asarray(context, dtype=np.float64)
        kwargs: dict[str, Any] = {"tokens": t, "context": s, "batch": batch}
        if phase is not None:
            kwargs["phase"] = phase
        if placement.tp > 1:
            kwargs["tp"] = placement.tp
        if layers is not None:
            kwargs["layers"] = layers
        raw = cost_fn(model, self.hw, **kwargs)
        kernel = np.asarray(raw["latency_s"], dtype=np.float64).reshape(-1)
        if self.is_ideal or (stack.is_ideal and placement.pp == 1 and not placement.offload):
            out = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in raw.items()}
            out["kernel_s"] = kernel
            out["host_s"] = np.zeros_like(kernel)
            out["gpu_s"] = kernel
            return out
        hop_const = hop_per_token = offload = 0.0
        if placement.pp > 1:  # activations hop pp - 1 times over the device link
            hop_const = (placement.pp - 1) * self.hw.link_step_latency_s
            hop_per_token = ((placement.pp - 1) * model.d_model * ACTIVATION_BYTES
                             / self.hw.link_bw_bytes_s)
        if placement.offload:
            kv_tokens = float(np.max(s + t)) * float(np.max(batch))
            offload = offload_time_s(self.hw, model, placement, kv_tokens=kv_tokens,
                                     shared_bytes=shared_bytes
                                     + shared_bytes_per_token * kv_tokens, layers=layers)
        if "kernels" not in raw:
            raise ValueError("the cost function returned no 'kernels': a software stack "
                             "needs to know which kernels the pass's time already holds")
        on = pass_on_stack(stack, model, self.hw, kernel_s=kernel, tokens=t, context=s,
                           batch=batch, layers=layers, tp=placement.tp,
                           model_kernels=raw["kernels"],
                           gpu_const_s=hop_const + offload,
                           gpu_per_row_token_s=hop_per_token,
                           host_extra_s=(placement.pp - 1) * stack.host_per_kernel_s)
        request = np.zeros_like(on["wall_s"])
        if phase == "prefill" and stack.request_host_s > 0:
            # a request's first pass: the engine's host work on the request runs before
            # and after it, not beside it
            started = (np.broadcast_to(s == 0, request.shape)
                       * np.broadcast_to(np.asarray(batch, dtype=np.float64), request.shape)
                       if requests is None
                       else np.broadcast_to(np.asarray(requests, dtype=np.float64),
                                            request.shape))
            request = started * stack.request_host_s
        wall = on["wall_s"] + request
        extra = on["extra_dram_bytes"]
        out = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in raw.items()}
        out["energy_j"] = (out["energy_j"] + extra * self.hw.e_dram_byte_j
                           + float(self.hw.static_power_w) * (wall - kernel))
        out["bytes"] = out["bytes"] + extra
        if "dram_bytes" in out:
            out["dram_bytes"] = out["dram_bytes"] + extra
        out["latency_s"] = wall
        out["kernel_s"] = kernel
        out["host_s"] = on["host_s"]
        out["gpu_s"] = on["gpu_s"]
        out["request_s"] = request
        return out

    def selection(self, n_nodes: np.ndarray | float, vocab: int, *, role: str = "target"
                  ) -> dict[str, np.ndarray]:
        """The token-selection tail over `n_nodes` positions' logits (``host_s``,
        ``gpu_s``, ``dram_bytes``) on `role`'s stack (:func:`~.sampling_tail.sampling_tail`).
        On the ``ideal`` stack it is the hardware's own selection, as the step-cost door
        charges it (``HardwareSpec.sampling_unit_latency_s``: an accelerator's sampling
        unit, nothing on a GPU, whose selection kernels belong to a stack)."""
        stack = self.stack_of(role)
        n = np.asarray(n_nodes, dtype=np.float64)
        if stack.is_ideal:
            zero = np.zeros_like(n)
            return {"host_s": zero, "gpu_s": self.hw.sampling_unit_latency_s(n, vocab),
                    "dram_bytes": zero}
        return sampling_tail(self.hw, n, vocab, stack)

    def loop_ops(self, ops: np.ndarray | float, *, role: str = "target"
                 ) -> tuple[np.ndarray, np.ndarray]:
        """``(host_s, gpu_s)`` of `ops` operations of the decode loop on `role`'s stack."""
        return ops_on_stack(self.stack_of(role), self.hw, ops)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "hw": self.hw.name, "stack": self.stack.name,
            "target_placement": self.target_placement.to_dict(),
        }
        if self.draft_stack is not None:
            out["draft_stack"] = self.draft_stack.name
        if self.draft_placement is not None:
            out["draft_placement"] = self.draft_placement.to_dict()
        return out
