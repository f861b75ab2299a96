"""Hardware presets: the GPUs/TPU of ``specaccel/data/hardware.csv`` plus the
parameterised accelerator ``specaccel-default``.

Peak bf16 FLOP/s, memory bandwidth, capacity, on-chip SRAM, clock and TDP come from the
CSV.  What the CSV does not hold is in `DEVICE_FACTS` (datasheet facts: SM count, CUDA-core
FP32 rate for the vector work, the chip-to-chip link) and `EFFICIENCY` (one achieved-
bandwidth and one compute-efficiency factor per preset, derived in docs/cost-model.md).
GPU energy is derived from TDP: static power 25 % of TDP, energy per FLOP such that the
peak FLOP rate draws 45 % of TDP, energy per DRAM byte such that peak bandwidth draws
30 % of TDP.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources

from specaccel.schema.errors import InputError

from . import energy
from .accelerator import AcceleratorConfig
from .hardware_spec import HardwareSpec

CSV_NAMES: dict[str, str] = {
    "A100-40GB-SXM": "a100-40gb",
    "A100-80GB-SXM": "a100-80gb",
    "H100-SXM": "h100-sxm",
    "H200": "h200",
    "L4": "l4",
    "TPUv4": "tpuv4",
}


@dataclass(frozen=True)
class DeviceFacts:
    """Facts not in hardware.csv (datasheets / architecture papers)."""

    n_cores: int          # SMs (GPU) or matrix units (TPU: 2 TensorCores x 4 MXUs)
    tile: int             # output tile edge of one core (128 x 128)
    tile_m_min: int       # smallest M tile a kernel picks (GPU 16; systolic MXU 128)
    fill_cycles: float    # per-tile fill/drain (systolic MXU: rows + cols; GPU 0)
    dataflow: str
    vec_flops: float      # FLOP/s of the non-tensor (vector) path
    link_bw: float        # bytes/s per direction of the chip-to-chip link
    link_step_s: float    # latency of one ring all-reduce step
    kernel_launch_s: float


#: NVLink3 (A100): 600 GB/s bidirectional = 300 GB/s per direction; NVLink4 (H100/H200):
#: 450 GB/s per direction; L4: PCIe 4.0 x16, 32 GB/s per direction; TPU v4 ICI: 6 links
#: x 50 GB/s.  A ring all-reduce step costs ~2 us on NVLink (NCCL small-message
#: all-reduce on 8 GPUs is 20-30 us = 14 steps), ~5 us over PCIe.  A launch-bound small
#: CUDA kernel costs ~5 us (launch + completion), the figure for the software verify.
DEVICE_FACTS: dict[str, DeviceFacts] = {
    "a100-40gb": DeviceFacts(108, 128, 16, 0.0, "os", 19.5e12, 300e9, 2e-6, 5e-6),
    "a100-80gb": DeviceFacts(108, 128, 16, 0.0, "os", 19.5e12, 300e9, 2e-6, 5e-6),
    "h100-sxm": DeviceFacts(132, 128, 16, 0.0, "os", 67e12, 450e9, 2e-6, 5e-6),
    "h200": DeviceFacts(132, 128, 16, 0.0, "os", 67e12, 450e9, 2e-6, 5e-6),
    "l4": DeviceFacts(58, 128, 16, 0.0, "os", 30.3e12, 32e9, 5e-6, 5e-6),
    "tpuv4": DeviceFacts(8, 128, 128, 256.0, "os", 4.3e12, 300e9, 2e-6, 5e-6),
}

#: (achieved-bandwidth factor, compute-efficiency factor) per preset.  A100: bandwidth
#: from the gpt-fast row (1397 GB/s achieved of 2039 = 0.685), compute from the
#: TensorRT-LLM 2048-token prefill row (see docs/cost-model.md).  The other devices have
#: no measurement in the bundled data and take the A100 figures.
EFFICIENCY: dict[str, tuple[float, float]] = {
    "a100-40gb": (0.685, 0.70),
    "a100-80gb": (0.685, 0.70),
    "h100-sxm": (0.685, 0.70),
    "h200": (0.685, 0.70),
    "l4": (0.685, 0.70),
    "tpuv4": (0.685, 0.70),
}

GPU_STATIC_TDP_FRACTION = 0.25
GPU_COMPUTE_TDP_FRACTION = 0.45
GPU_DRAM_TDP_FRACTION = 0.30
GPU_NODE_NM = 7  # A100/H100-class; only for the (unused on GPUs) SRAM byte energy

_SIZE_RE = re.compile(r"([\d.]+)\s*(MiB|MB|KiB|KB)")


def _sram_bytes(text: str, prev: dict[str, float]) -> float:
    if text.strip().lower().startswith("as "):
        other = text.strip()[3:].strip()
        return prev.get(other, 0.0)
    m = _SIZE_RE.search(text)
    if not m:
        return 0.0
    unit = {"MiB": 1024.0**2, "MB": 1e6, "KiB": 1024.0, "KB": 1e3}[m.group(2)]
    return float(m.group(1)) * unit


@functools.cache
def _csv_presets() -> dict[str, HardwareSpec]:
    text = resources.files("specaccel.data").joinpath("hardware.csv").read_text()
    out: dict[str, HardwareSpec] = {}
    srams: dict[str, float] = {}
    clocks: dict[str, float] = {}
    for row in csv.DictReader(io.StringIO(text)):
        device = row["device"]
        name = CSV_NAMES.get(device)
        if name is None:
            continue
        facts = DEVICE_FACTS[name]
        be, ce = EFFICIENCY[name]
        peak = float(row["bf16_tflops_dense"]) * 1e12
        bw = float(row["mem_bw_gbs"]) * 1e9
        tdp = float(row["tdp_w"])
        srams[device.split("-")[0]] = srams[device] = _sram_bytes(row["onchip_sram"], srams)
        clock = float(row["clock_mhz"]) * 1e6 if row["clock_mhz"] else clocks.get("H100", 0.0)
        clocks[device.split("-")[0]] = clock
        out[name] = HardwareSpec(
            name=name,
            kind="gpu",
            peak_flops=peak,
            vec_flops=facts.vec_flops,
            mem_bw_bytes_s=bw,
            mem_bytes=float(row["mem_gb"]) * 1e9,
            clock_hz=clock,
            n_cores=facts.n_cores,
            tile_m=facts.tile,
            tile_n=facts.tile,
            tile_m_min=facts.tile_m_min,
            fill_cycles=facts.fill_cycles,
            dataflow=facts.dataflow,
            bw_efficiency=be,
            compute_efficiency=ce,
            sram_bytes=srams[device],
            sram_bw_bytes_s=10.0 * bw,
            weight_sram_bytes=0.0,
            act_in_sram=False,
            e_flop_j=GPU_COMPUTE_TDP_FRACTION * tdp / peak,
            e_dram_byte_j=GPU_DRAM_TDP_FRACTION * tdp / bw,
            e_sram_byte_j=energy.sram_byte_energy_j(GPU_NODE_NM),
            e_link_byte_j=energy.LINK_BYTE_PJ * 1e-12,
            static_power_w=GPU_STATIC_TDP_FRACTION * tdp,
            link_bw_bytes_s=facts.link_bw,
            link_step_latency_s=facts.link_step_s,
            tdp_w=tdp,
            kernel_launch_s=facts.kernel_launch_s,
            peak_int8_ops=float(row["int8_tops_dense"]) * 1e12,
            source=row["source"],
        )
    return out


def _presets() -> dict[str, HardwareSpec]:
    out = dict(_csv_presets())
    out["specaccel-default"] = _default_accelerator()
    return out


@functools.cache
def _default_accelerator() -> HardwareSpec:
    return AcceleratorConfig().build()


def list_hardware() -> list[str]:
    """Names of the hardware presets."""
    return [*CSV_NAMES.values(), "specaccel-default"]


def get_hardware(name: str) -> HardwareSpec:
    """A hardware preset by name (InputError listing the choices if unknown)."""
    if name == "specaccel-default":
        return _default_accelerator()
    presets = _csv_presets()
    if name not in presets:
        raise InputError(
            f"unknown hardware {name!r}; choose one of {', '.join(list_hardware())}",
            field="hw",
        )
    return presets[name]
