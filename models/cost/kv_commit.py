"""Cost of committing a verified tree's KV (and SSM state) after the verify step.

The verify pass wrote KV for every tree node (`pass_cost`); after verification the
accepted path must end up contiguous in the cache and the rest is dropped (a rollback is
free: the slots are simply reused).

* GPU: the nodes' KV sits in HBM at ``base + node``; the compaction gather reads and
  writes each moved token's KV (``2 x moved x KV bytes``) in one launch-bound kernel.
* Accelerator: the tree's KV is held in SRAM during the verify pass (`operators`), so a
  commit reads the accepted tokens' KV from SRAM and writes it once to HBM.

An SSM layer instead keeps the state of the last accepted node: one state is copied per
row (GPU: read + write in HBM; accelerator: SRAM -> HBM).
"""

from __future__ import annotations

import math

import numpy as np

from specaccel.schema.errors import InputError

from .hardware_spec import HardwareSpec
from .model_spec import ModelSpec


def _kv_bytes_per_token_shard(model: ModelSpec, tp: int) -> float:
    return (2.0 * model.n_attn_layers * math.ceil(model.n_kv_heads / tp) * model.head_dim
            * model.kv_bytes_per_elem)


def _ssm_state_bytes_shard(model: ModelSpec, tp: int) -> float:
    if not model.n_ssm_layers:
        return 0.0
    di = math.ceil(model.ssm_d_inner / tp)
    conv_ch = di + (2 * math.ceil(model.ssm_groups / tp) * model.ssm_state
                    if model.ssm_head_dim else 0)
    state = di * model.ssm_state + conv_ch * (model.ssm_conv - 1)
    return model.n_ssm_layers * state * model.ssm_state_bytes_per_elem


def kv_commit_cost(model: ModelSpec, hw: HardwareSpec, *, tokens: np.ndarray | int,
                   batch: np.ndarray | int = 1, tp: int = 1) -> dict[str, np.ndarray]:
    """Latency, energy and bytes (per device) of committing `tokens` KV entries per row.

    `tokens` is the number of accepted tokens whose KV must be moved (GPU) or written
    back (accelerator) per row; arrays broadcast.  Returns arrays ``latency_s``,
    ``energy_j``, ``bytes``, ``dram_bytes``.
    """
    t = np.asarray(tokens, dtype=float)
    b = np.asarray(batch, dtype=float)
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise InputError("must be finite and >= 0", field="tokens")
    if np.any(b < 1):
        raise InputError("must be >= 1", field="batch")
    if isinstance(tp, bool) or not isinstance(tp, int) or tp < 1:
        raise InputError(f"must be a positive integer, not {tp!r}", field="tp")
    kv = b * t * _kv_bytes_per_token_shard(model, tp)
    state = np.where(t > 0, b * _ssm_state_bytes_shard(model, tp), 0.0)
    moved = kv + state
    if hw.act_in_sram:
        dram = moved
        sram = moved
        overhead = 0.0
    else:
        dram = 2.0 * moved
        sram = np.zeros_like(moved)
        overhead = hw.kernel_launch_s
    mem_s = np.maximum(dram / (hw.mem_bw_bytes_s * hw.bw_efficiency), sram / hw.sram_bw_bytes_s)
    latency = np.where(moved > 0, mem_s + overhead, 0.0)
    energy = (dram * hw.e_dram_byte_j + sram * hw.e_sram_byte_j
              + hw.static_power_w * latency)
    return {"latency_s": latency, "energy_j": energy, "bytes": dram + sram, "dram_bytes": dram}
