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

from .hardware_spec import HardwareSpec
from .model_spec import ACTIVATION_BYTES, ModelSpec

#: Host link of each GPU preset: PCIe generation x16, bytes/s per direction (PCI-SIG:
#: 3.0 x16 = 15.75 GB/s, 4.0 x16 = 31.5 GB/s, 5.0 x16 = 63 GB/s).
HOST_LINK_BW: dict[str, float] = {
    "a100-40gb": 31.5e9, "a100-80gb": 31.5e9, "a100-80gb-pcie": 31.5e9, "h100-sxm": 63e9,
    "h200": 63e9, "l4": 31.5e9, "l40": 31.5e9, "rtx-2080-ti": 15.75e9, "rtx-3090": 31.5e9,
    "rtx-4090": 31.5e9,
}
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


def _gb(x: float) -> str:
    return f"{x / 1e9:.2f} GB"


def staging_bytes(model: ModelSpec, placement: Placement) -> float:
    """Device memory one device of an offloaded `model` holds to copy streamed layers
    into: `OFFLOAD_STAGING_LAYERS` layers of its shard (0 without offloading)."""
    if not placement.offload:
        return 0.0
    return OFFLOAD_STAGING_LAYERS * layer_weight_bytes(model) / placement.tp


@dataclass(frozen=True)
class OffloadPlan:
    """What an offloaded model keeps on its devices and what it streams every pass.

    ``resident_bytes`` and ``streamed_bytes`` add up to the model's weights (over all
    devices); ``resident_layers`` counts the whole decoder layers kept, out of ``layers``
    (a tensor-parallel group keeps the same layers on every shard); ``staging_bytes`` is
    what each streaming device sets aside to copy layers into.
    """

    resident_bytes: float
    streamed_bytes: float
    resident_layers: int
    layers: int
    staging_bytes: float

    @property
    def resident_fraction(self) -> float:
        total = self.resident_bytes + self.streamed_bytes
        return self.resident_bytes / total if total else 1.0

    def to_dict(self) -> dict[str, float | int]:
        return {"resident_bytes": self.resident_bytes, "streamed_bytes": self.streamed_bytes,
                "resident_layers": self.resident_layers, "layers": self.layers,
                "staging_bytes": self.staging_bytes}


def offload_plan(model: ModelSpec, hw: HardwareSpec, placement: Placement, *,
                 kv_tokens: float, shared_bytes: float = 0.0) -> OffloadPlan:
    """What `model` keeps on and streams to its devices (all resident without offload).

    With ``offload``, a device that holds its whole share beside its KV cache,
    `shared_bytes` (a draft on device 0) and `RESERVED_BYTES` keeps it.  Otherwise the
    streamed layers need their staging buffers (`staging_bytes`); in the room left the
    device keeps its weights outside the decoder layers (embedding, final norm, LM head)
    and then whole layers; the rest streams every pass.
    """
    if not placement.offload:
        return OffloadPlan(model.weight_bytes, 0.0, model.n_layers, model.n_layers, 0.0)
    layer = layer_weight_bytes(model) / placement.tp
    stage_layers = _stage_layers(model, placement.pp) if model.n_layers else \
        [0] * placement.pp
    kept = total = 0.0
    layers_kept = list(stage_layers)
    streaming = False
    for dev, w, kv in device_loads(model, placement, kv_tokens=kv_tokens):
        total += w
        room = hw.mem_bytes - kv - RESERVED_BYTES - (shared_bytes if dev == 0 else 0.0)
        if w <= room:
            kept += w
            continue
        streaming = True
        stage = dev // placement.tp
        n_layers = stage_layers[stage]
        other = max(w - n_layers * layer, 0.0)
        room -= staging_bytes(model, placement)
        if layer <= 0.0:  # no decoder layers to place whole: keep what fits
            kept += min(w, max(room, 0.0))
            continue
        n = 0  # without room for the weights outside the layers, everything streams
        if other <= room:
            n = min(n_layers, math.floor((room - other) / layer))
            kept += other + n * layer
        layers_kept[stage] = min(layers_kept[stage], n)
    return OffloadPlan(kept, total - kept, sum(layers_kept), model.n_layers,
                       staging_bytes(model, placement) if streaming else 0.0)


def resident_fraction(model: ModelSpec, hw: HardwareSpec, placement: Placement, *,
                      kv_tokens: float, shared_bytes: float = 0.0) -> float:
    """Fraction of the weights that stays on the devices (`offload_plan`; 1 without
    offloading)."""
    return offload_plan(model, hw, placement, kv_tokens=kv_tokens,
                        shared_bytes=shared_bytes).resident_fraction


def device_memory(target: ModelSpec, target_placement: Placement, *, kv_tokens: float,
                  draft: ModelSpec | None = None, draft_placement: Placement | None = None,
                  draft_kv_tokens: float = 0.0) -> dict[int, list[tuple[str, float]]]:
    """What each device holds: ``{device: [(what, bytes), ...]}`` (without the reserve).

    The target's devices are ``0 .. tp*pp-1``; a draft with its own placement uses the
    next devices, one without shares the target's device 0.  With ``offload`` a model's
    weights are counted as streamed from the host (its resident layers fill whatever
    memory is left: `resident_fraction`); its KV cache and staging buffers are held.
    """
    loads: dict[int, list[tuple[str, float]]] = {}
    for dev, w, kv in device_loads(target, target_placement, kv_tokens=kv_tokens):
        weights = 0.0 if target_placement.offload else w
        loads.setdefault(dev, []).append((f"{target.name} weights", weights))
        loads[dev].append((f"{target.name} KV cache", kv))
        if target_placement.offload:
            loads[dev].append((f"{target.name} offload staging",
                               staging_bytes(target, target_placement)))
    if draft is not None:
        base = 0
        dp = draft_placement or SINGLE
        if draft_placement is not None:
            base = target_placement.devices
        # an EAGLE head reads the target's embedding and LM head: they are not its own
        shared = (2.0 * draft.vocab_size * draft.d_model * draft.weight_bytes_per_param
                  if draft.kind == "eagle" else 0.0)
        for dev, w, kv in device_loads(draft, dp, kv_tokens=draft_kv_tokens, role="draft"):
            weights = 0.0 if dp.offload else w - shared / dp.devices
            loads.setdefault(base + dev, []).append((f"{draft.name} weights", weights))
            loads[base + dev].append((f"{draft.name} KV cache", kv))
            if dp.offload:
                loads[base + dev].append((f"{draft.name} offload staging",
                                          staging_bytes(draft, dp)))
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
            parts = ", ".join(f"{what} {_gb(b)}" for what, b in loads[dev] if b > 0)
            raise InputError(f"{hw.name} #{dev} needs {_gb(need)} ({parts}, reserved "
                             f"{_gb(RESERVED_BYTES)}) but has {_gb(hw.mem_bytes)}; use more "
                             "devices (--tp/--pp) or --offload", field="placement")


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
    try:
        raw = HOST_LINK_BW[hw.name]
    except KeyError:
        raise InputError(f"{hw.name} has no host link in the offload model; offloading is "
                         f"modelled on {', '.join(HOST_LINK_BW)}", field="offload") from None
    return raw * HOST_LINK_EFFICIENCY


def offload_time_s(hw: HardwareSpec, model: ModelSpec, placement: Placement, *,
                   kv_tokens: float, shared_bytes: float = 0.0,
                   layers: int | None = None) -> float:
    """Seconds per pass to copy the non-resident weights in (0 without offloading).

    Devices of a tensor-parallel group copy their shards in parallel over their own
    links; pipeline stages one after the other.  `layers` < all (an early exit) copies
    only the evaluated layers' share.
    """
    if not placement.offload:
        return 0.0
    kept = resident_fraction(model, hw, placement, kv_tokens=kv_tokens,
                             shared_bytes=shared_bytes)
    streamed = (1.0 - kept) * model.weight_bytes
    if layers is not None and model.n_layers:
        streamed *= layers / model.n_layers
    return streamed / placement.tp / host_link_bw(hw)


def devices_needed(model: ModelSpec, hw: HardwareSpec) -> int:
    """The fewest devices whose memory holds `model`'s weights (a hint for errors)."""
    return max(1, math.ceil(model.weight_bytes / max(hw.mem_bytes - RESERVED_BYTES, 1.0)))
