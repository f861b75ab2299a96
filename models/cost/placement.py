"""Where a model's weights and KV cache live: tensor parallel, layers in sequence, offload.

A `Placement` spreads one model over ``tp * pp`` devices of one kind:

* ``tp`` -- tensor parallelism: every layer's heads, MLP width and vocabulary split over
  ``tp`` devices that run in lock-step and all-reduce twice per layer (the kernel model
  prices the shard and the all-reduce: ``pass_costs(..., tp=tp)``);
* ``pp`` -- layers in sequence, as Hugging Face's ``device_map="auto"`` places a model at
  batch 1: device ``i`` holds layers ``[i L/pp, (i+1) L/pp)``, the pass runs through the
  devices one after the other (no overlap at batch 1, so the kernel time is that of the
  whole model) and the activations hop ``pp - 1`` times over the device link
  (`hop_time_s`);
* ``offload`` -- weights that do not fit a device stay in host memory and are copied
  over PCIe on every pass (Sequoia's and accelerate's offloading), on the pass's stream,
  so the copy adds to the pass (`offload_time_s`).  What stays is decided per decoder
  layer, as both engines place whole modules: the embedding, final norm and LM head
  first, then as many whole layers as fit beside the KV cache and the staging buffers the
  streamed layers are copied into (`OFFLOAD_STAGING_LAYERS`; `resident_fraction`).

`device_loads` lists the bytes every device holds; `check_fit` rejects a placement that
does not fit, naming the device and the bytes.  Target and draft are placed separately;
a draft without its own placement shares device 0 of the target's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from specaccel.schema.errors import InputError

from .hardware_presets import offload_capable_hardware
from .hardware_spec import HardwareSpec, gib
from .model_spec import ACTIVATION_BYTES, ModelSpec

#: Fraction of the host link a pinned host-to-device weight copy achieves: DeepSpeed
#: ZeRO-Inference streams Llama-2-70B's 138 GB over PCIe 4.0 in 5.3 s per token
#: (Sequoia, arXiv 2402.12374, Section 1: 26 GB/s = 0.83 of 31.5 GB/s).
HOST_LINK_EFFICIENCY = 0.83
#: Memory a framework keeps for itself on every device (CUDA context, allocator slack,
#: activation workspace): 1 GiB.
RESERVED_BYTES = float(1 << 30)
#: Layers' worth of device memory an offloading engine copies the streamed layers into:
#: two, so that the next layer's copy can proceed while the current one computes
#: (Sequoia's offload engine allocates two layer buffers, Engine/offload_engine.py).
OFFLOAD_STAGING_LAYERS = 2


@dataclass(frozen=True)
class Placement:
    """How one model is spread over devices (module docstring)."""

    tp: int = 1
    pp: int = 1
    offload: bool = False

    def __post_init__(self) -> None:
        for f in ("tp", "pp"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"must be an integer >= 1, not {v!r}", field=f)
            if v > 4096:
                raise InputError(f"must be <= 4096, not {v}", field=f)

    @property
    def devices(self) -> int:
        return self.tp * self.pp

    def check_model(self, model: ModelSpec, *, role: str = "target") -> None:
        """InputError when `model` cannot be split this way (heads, layers); it names the
        option of `role` (``tp`` or ``draft_tp``, ``pp``)."""
        tp_field = "tp" if role == "target" else f"{role}_tp"
        if self.tp > 1 and model.kind != "medusa":
            if model.n_heads % self.tp:
                raise InputError(f"tensor parallel degree {self.tp} does not divide the "
                                 f"{model.n_heads} attention heads of {role} {model.name}",
                                 field=tp_field)
            if model.n_kv_heads % self.tp and self.tp % model.n_kv_heads:
                raise InputError(f"tensor parallel degree {self.tp} does not divide (nor is a "
                                 f"multiple of) the {model.n_kv_heads} KV heads of {role} "
                                 f"{model.name}", field=tp_field)
        if self.pp > 1 and self.pp > max(model.n_layers, 1):
            raise InputError(f"{self.pp} pipeline stages for the {model.n_layers} layers of "
                             f"{role} {model.name}", field="pp")

    def to_dict(self) -> dict[str, object]:
        return {"tp": self.tp, "pp": self.pp, "offload": self.offload}


SINGLE = Placement()


def _stage_layers(model: ModelSpec, pp: int) -> list[int]:
    """Layers of each pipeline stage (``device_map="auto"`` fills devices in order)."""
    base, rest = divmod(model.n_layers, pp)
    return [base + (1 if i < rest else 0) for i in range(pp)]


def layer_weight_bytes(model: ModelSpec) -> float:
    """Weight bytes of one decoder layer (the mean over a hybrid's layer kinds)."""
    if model.n_layers == 0:
        return 0.0
    return ((model.n_attn_layers * model.attn_mixer_params + model.n_ssm_layers
             * model.ssm_mixer_params + model.n_mlp_blocks * model.mlp_params)
            / model.n_layers * model.weight_bytes_per_param)


def weight_bytes_by_stage(model: ModelSpec, pp: int) -> list[float]:
    """Weight bytes of each pipeline stage: its layers, the embedding on the first stage,
    the final norm and LM head on the last."""
    wb = model.weight_bytes_per_param
    if model.n_layers == 0 or pp == 1:
        return [model.weight_bytes] * 1 + [0.0] * (pp - 1)
    layer = layer_weight_bytes(model)
    stages = [n * layer for n in _stage_layers(model, pp)]
    other = model.weight_bytes - sum(stages)
    embed = model.vocab_size * model.d_model * wb if model.has_embedding else 0.0
    stages[0] += min(embed, other)
    stages[-1] += max(other - embed, 0.0)
    return stages


def device_loads(model: ModelSpec, placement: Placement, *, kv_tokens: float,
                 role: str = "target") -> list[tuple[int, float, float]]:
    """``(device index, weight bytes, KV bytes)`` of `model` on each of its devices.

    `kv_tokens` is the KV cache the placement must hold (tokens x rows).  Tensor parallel
    shards split weights and KV evenly; pipeline stages hold their layers' share.
    """
    placement.check_model(model, role=role)
    stages = weight_bytes_by_stage(model, placement.pp)
    layers = _stage_layers(model, placement.pp) if model.n_layers else [0] * placement.pp
    out = []
    for s in range(placement.pp):
        kv = (model.kv_bytes_per_token * kv_tokens * (layers[s] / model.n_layers)
              if model.n_layers else 0.0)
        for r in range(placement.tp):
            out.append((s * placement.tp + r, stages[s] / placement.tp, kv / placement.tp))
    return out


def largest_layer_bytes(model: ModelSpec) -> float:
    """Weight bytes of the largest decoder layer (a hybrid's attention and state-space
    layers differ; the rest have one size)."""
    kinds = []
    if model.n_attn_layers:
        kinds.append(model.attn_mixer_params + model.mlp_params)
    if model.n_ssm_layers:
        kinds.append(model.ssm_mixer_params + (model.mlp_params if model.ssm_has_mlp else 0))
    return max(kinds, default=0.0) * model.weight_bytes_per_param


def staging_bytes(model: ModelSpec, placement: Placement) -> float:
    """Device memory one device of an offloaded `model` holds to copy streamed layers
    into: `OFFLOAD_STAGING_LAYERS` of its largest layer's shard (0 without offloading)."""
    if not placement.offload:
        return 0.0
    return OFFLOAD_STAGING_LAYERS * largest_layer_bytes(model) / placement.tp


@dataclass(frozen=True)
class OffloadPlan:
    """What an offloaded model keeps on its devices and what it streams every pass.

    ``resident_bytes`` and ``streamed_bytes`` add up to the model's weights (over all
    devices); ``copy_bytes`` is what crosses the host link on the critical path (the
    stages one after the other, the slowest shard of each tensor-parallel group);
    ``resident_layers`` counts the whole decoder layers kept, out of ``layers`` (the
    fewest any shard of a stage keeps); ``staging_bytes`` is what a streaming device sets
    aside to copy layers into; ``per_device`` is ``(kept, streamed, staging)`` bytes of
    each device in `device_loads` order.
    """

    resident_bytes: float
    streamed_bytes: float
    copy_bytes: float
    resident_layers: int
    layers: int
    staging_bytes: float
    per_device: tuple[tuple[float, float, float], ...]

    @property
    def resident_fraction(self) -> float:
        total = self.resident_bytes + self.streamed_bytes
        return self.resident_bytes / total if total else 1.0

    def to_dict(self) -> dict[str, float | int]:
        return {"resident_bytes": self.resident_bytes, "streamed_bytes": self.streamed_bytes,
                "copy_bytes": self.copy_bytes, "resident_layers": self.resident_layers,
                "layers": self.layers, "staging_bytes": self.staging_bytes}


def _outside_layers_bytes(model: ModelSpec, placement: Placement, stage: int,
                          weights: float) -> float:
    """Weight bytes of one shard of `stage` outside its decoder layers (embedding on the
    first stage, final norm and LM head on the last)."""
    n = _stage_layers(model, placement.pp)[stage] if model.n_layers else 0
    return max(weights - n * layer_weight_bytes(model) / placement.tp, 0.0)


def offload_plan(model: ModelSpec, hw: HardwareSpec, placement: Placement, *,
                 kv_tokens: float, shared_bytes: float = 0.0) -> OffloadPlan:
    """What `model` keeps on and streams to its devices (all resident without offload).

    With ``offload``, a device that holds its whole share beside its KV cache,
    `shared_bytes` (what another model holds on device 0: a draft beside the target) and
    `RESERVED_BYTES` keeps it.  Otherwise the streamed layers need their staging buffers
    (`staging_bytes`); in the room left the device keeps its weights outside the decoder
    layers (embedding, final norm, LM head) and then whole layers; the rest streams every
    pass.  A device without room even for those (`check_fit` refuses it) keeps nothing.
    """
    loads = device_loads(model, placement, kv_tokens=kv_tokens)
    if not placement.offload:
        return OffloadPlan(model.weight_bytes, 0.0, 0.0, model.n_layers, model.n_layers,
                           0.0, tuple((w, 0.0, 0.0) for _, w, _ in loads))
    layer = layer_weight_bytes(model) / placement.tp
    stage_layers = _stage_layers(model, placement.pp) if model.n_layers else \
        [0] * placement.pp
    layers_kept = list(stage_layers)
    stage_copy = [0.0] * placement.pp
    per_device = []
    for dev, w, kv in loads:
        stage = dev // placement.tp
        room = hw.mem_bytes - kv - RESERVED_BYTES - (shared_bytes if dev == 0 else 0.0)
        if w <= room:
            per_device.append((w, 0.0, 0.0))
            continue
        staging = staging_bytes(model, placement)
        room -= staging
        other = _outside_layers_bytes(model, placement, stage, w)
        if layer <= 0.0:  # no decoder layers to place whole: keep what fits
            kept = min(w, max(room, 0.0))
            n = 0
        elif other <= room:
            n = min(stage_layers[stage], math.floor((room - other) / layer))
            kept = other + n * layer
        else:
            kept, n = 0.0, 0
        layers_kept[stage] = min(layers_kept[stage], n)
        stage_copy[stage] = max(stage_copy[stage], w - kept)
        per_device.append((kept, w - kept, staging))
    kept_all = sum(k for k, _, _ in per_device)
    streamed_all = sum(x for _, x, _ in per_device)
    return OffloadPlan(kept_all, streamed_all, sum(stage_copy), sum(layers_kept),
                       model.n_layers, max((st for _, _, st in per_device), default=0.0),
                       tuple(per_device))


def resident_fraction(model: ModelSpec, hw: HardwareSpec, placement: Placement, *,
                      kv_tokens: float, shared_bytes: float = 0.0) -> float:
    """Fraction of the weights that stays on the devices (`offload_plan`; 1 without
    offloading)."""
    return offload_plan(model, hw, placement, kv_tokens=kv_tokens,
                        shared_bytes=shared_bytes).resident_fraction


def _eagle_shared_bytes(draft: ModelSpec) -> float:
    """Bytes of the target's embedding and LM head that an EAGLE head reads and does not
    hold itself (0 for other drafts)."""
    if draft.kind != "eagle":
        return 0.0
    return 2.0 * draft.vocab_size * draft.d_model * draft.weight_bytes_per_param


def draft_on_target_device(draft: ModelSpec | None,
                           draft_placement: Placement | None) -> tuple[float, float]:
    """``(weight bytes, KV bytes per token)`` a draft without a placement of its own holds
    on the target's device 0 (``(0, 0)`` for a draft on its own devices, or none)."""
    if draft is None or draft_placement is not None:
        return 0.0, 0.0
    return max(draft.weight_bytes - _eagle_shared_bytes(draft), 0.0), \
        float(draft.kv_bytes_per_token)


def device_memory(target: ModelSpec, target_placement: Placement, *, kv_tokens: float,
                  draft: ModelSpec | None = None, draft_placement: Placement | None = None,
                  draft_kv_tokens: float = 0.0, hw: HardwareSpec | None = None
                  ) -> dict[int, list[tuple[str, float]]]:
    """What each device holds: ``{device: [(what, bytes), ...]}`` (without the reserve).

    The target's devices are ``0 .. tp*pp-1``; a draft with its own placement uses the
    next devices, one without shares the target's device 0.  An offloaded model holds
    its KV cache and, without `hw`, the least it needs: its weights outside the decoder
    layers and the staging buffers of the streamed layers (`check_fit` tests that).
    With `hw` it holds what `offload_plan` keeps there, staging only where layers stream.
    """
    loads: dict[int, list[tuple[str, float]]] = {}

    def place(model: ModelSpec, placement: Placement, base: int, kv_tokens_: float,
              own_shared: float, role: str, shared_on_0: float) -> None:
        plan = (offload_plan(model, hw, placement, kv_tokens=kv_tokens_,
                             shared_bytes=shared_on_0)
                if hw is not None and placement.offload else None)
        for i, (dev, w, kv) in enumerate(device_loads(model, placement, kv_tokens=kv_tokens_,
                                                     role=role)):
            outside = _outside_layers_bytes(model, placement, dev // placement.tp, w)
            stage_buf = staging_bytes(model, placement)
            if not placement.offload:
                weights, staging = w - own_shared / placement.devices, 0.0
            elif plan is not None and plan.per_device[i][0] > 0.0:
                weights, _, staging = plan.per_device[i]
            elif outside + stage_buf < w:  # the least it must hold to stream its layers
                weights, staging = outside, stage_buf
            else:  # streaming would need more than its whole share
                weights, staging = w, 0.0
            parts = loads.setdefault(base + dev, [])
            parts.append((f"{model.name} weights", weights))
            parts.append((f"{model.name} KV cache", kv))
            if staging > 0.0:
                parts.append((f"{model.name} offload staging", staging))

    weights_0, kv_rate_0 = draft_on_target_device(draft, draft_placement)
    place(target, target_placement, 0, kv_tokens, 0.0, "target",
          weights_0 + kv_rate_0 * draft_kv_tokens)
    if draft is not None:
        dp = draft_placement or SINGLE
        base = target_placement.devices if draft_placement is not None else 0
        # an EAGLE head beside the target reads the target's embedding and LM head; on
        # devices of its own it holds copies
        own = _eagle_shared_bytes(draft) if draft_placement is None else 0.0
        place(draft, dp, base, draft_kv_tokens, own, "draft", 0.0)
    return loads


def check_fit(hw: HardwareSpec, target: ModelSpec, target_placement: Placement, *,
              kv_tokens: float, draft: ModelSpec | None = None,
              draft_placement: Placement | None = None, draft_kv_tokens: float = 0.0) -> None:
    """InputError naming the device and the bytes when a placement does not fit
    (`device_memory` plus `RESERVED_BYTES` on each device)."""
    loads = device_memory(target, target_placement, kv_tokens=kv_tokens, draft=draft,
                          draft_placement=draft_placement, draft_kv_tokens=draft_kv_tokens)
    for dev in sorted(loads):
        need = sum(b for _, b in loads[dev]) + RESERVED_BYTES
        if need > hw.mem_bytes:
            parts = ", ".join(f"{what} {gib(b)}" for what, b in loads[dev] if b > 0)
            hint = ("an offloaded model still holds its KV cache, its weights outside the "
                    "layers and two layers of staging; use more devices (--tp/--pp) or a "
                    "shorter context" if any("offload staging" in what for what, _ in loads[dev])
                    else "use more devices (--tp/--pp) or --offload")
            raise InputError(f"{hw.name} #{dev} needs {gib(need)} ({parts}, reserved "
                             f"{gib(RESERVED_BYTES)}) but has {gib(hw.mem_bytes)}; {hint}",
                             field="placement")


def hop_time_s(hw: HardwareSpec, model: ModelSpec, placement: Placement,
               tokens: np.ndarray, batch: np.ndarray | float = 1.0) -> np.ndarray:
    """Time the activations of a pass spend hopping between pipeline stages: ``pp - 1``
    copies of ``batch x tokens x d_model`` activations over the device link."""
    t = np.asarray(tokens, dtype=np.float64)
    if placement.pp == 1:
        return np.zeros_like(t)
    msg = np.asarray(batch, dtype=np.float64) * t * model.d_model * ACTIVATION_BYTES
    return (placement.pp - 1) * (hw.link_step_latency_s + msg / hw.link_bw_bytes_s)


def host_link_bw(hw: HardwareSpec) -> float:
    """Achieved host-to-device bandwidth of `hw` (bytes/s)."""
    if hw.host_link_bw_bytes_s <= 0:
        capable = offload_capable_hardware()
        if hw.name in capable:  # a preset whose host link was set to 0
            raise InputError(f"host_link_bw_bytes_s is 0 on this {hw.name}: no link to "
                             f"copy offloaded weights over", field="offload")
        raise InputError(f"{hw.name} has no host link in the offload model; offloading is "
                         f"modelled on {', '.join(capable)}", field="offload")
    return hw.host_link_bw_bytes_s * HOST_LINK_EFFICIENCY


def offload_time_s(hw: HardwareSpec, model: ModelSpec, placement: Placement, *,
                   kv_tokens: float, shared_bytes: float = 0.0,
                   layers: int | None = None) -> float:
    """Seconds per pass to copy the non-resident weights in (0 without offloading).

    Devices of a tensor-parallel group copy their shards in parallel over their own
    links, so the slowest shard sets the time; pipeline stages copy one after the other
    (`OffloadPlan.copy_bytes`).  `layers` < all (an early exit) copies only the evaluated
    layers' share.
    """
    if not placement.offload:
        return 0.0
    copy = offload_plan(model, hw, placement, kv_tokens=kv_tokens,
                        shared_bytes=shared_bytes).copy_bytes
    if layers is not None and model.n_layers:
        copy *= layers / model.n_layers
    return copy / host_link_bw(hw)


def devices_needed(model: ModelSpec, hw: HardwareSpec) -> int:
    """The fewest devices whose memory holds `model`'s weights (a hint for errors)."""
    return max(1, math.ceil(model.weight_bytes / max(hw.mem_bytes - RESERVED_BYTES, 1.0)))
