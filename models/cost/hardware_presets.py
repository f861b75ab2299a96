"""Hardware presets: the GPUs/TPU of ``specaccel/data/hardware.csv`` plus the
parameterised accelerator ``specaccel-default``.

A preset is declared once, in two halves: its datasheet row in the CSV (peak bf16 and
int8 rates, memory bandwidth and capacity, on-chip SRAM, clock, TDP, source), whose
``preset`` column names it, and its `DeviceFacts` in `DEVICE_FACTS` (SM count, CUDA-core
rate for the vector work, the link joining devices and the link to host memory, and the
kernel model's parameters with their sources -- or, for the TPU, which has no kernel
model, flat efficiency factors).  `LINKS` and `HOST_LINKS` hold the links' figures.
docs/cost-model.md derives every figure.
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
from .collectives import LinkSpec
from .gpu_kernels import GpuKernelSpec
from .hardware_spec import HardwareSpec

#: Bytes of one "GB" of a GPU's memory capacity: the datasheets' capacities are binary
#: (nvidia-smi reports an 80 GB A100's memory as 81,920 MiB).  The ECC reserve that some
#: GDDR parts (L4, L40) set aside when ECC is on is not modelled.  Bandwidths and FLOP
#: rates stay decimal.
GIB = float(1 << 30)

#: Achieved per-direction bandwidth and latencies of the links (`collectives.LinkSpec`).
#: ``ONESHOT_LATENCY_S`` is fitted (calibration row: gpt-fast Llama-2-7B on 8 A100s,
#: `validation_table.CALIBRATION`); PCIe and ICI run NCCL's ring only.
ONESHOT_LATENCY_S = 9.4e-6
LINKS: dict[str, LinkSpec] = {
    "nvlink3": LinkSpec(
        "nvlink3", 195e9, 2e-6, ONESHOT_LATENCY_S,
        "NVLink3, 300 GB/s per direction; 195 GB/s measured by nccl-tests sendrecv on 8 "
        "A100s (li-plus/playground cuda/nccl.md); ring step 2 us (NCCL small-message "
        "all-reduce on 8 GPUs is 20-30 us = 14 steps); one-shot latency fitted"),
    "nvlink4": LinkSpec(
        "nvlink4", 292e9, 2e-6, ONESHOT_LATENCY_S,
        "NVLink4, 450 GB/s per direction at the A100's measured fraction (195/300), an "
        "estimate; latencies as NVLink3.  Vidur's NCCL profiles of an H100 DGX (validate's "
        "collectives section) put its bus bandwidth 2 to 33 % above it"),
    "pcie4": LinkSpec(
        "pcie4", 26e9, 5e-6, 0.0,
        "PCIe 4.0 x16, 32 GB/s per direction; 26.2 GB/s measured by CUDA bandwidthTest "
        "on an A100 PCIe (jdh4/della-gpu-A100); ring step 5 us; no peer-to-peer "
        "one-shot all-reduce over PCIe (serving stacks fall back to NCCL)"),
    "pcie3": LinkSpec(
        "pcie3", 26e9 / 31.5e9 * 15.75e9, 5e-6, 0.0,
        "PCIe 3.0 x16, 15.75 GB/s per direction, at the fraction of it the PCIe 4.0 "
        "link's 26 GB/s is of 31.5; ring step 5 us; no one-shot all-reduce"),
    "ici": LinkSpec("ici", 300e9, 2e-6, 0.0, "TPU v4 ICI: 6 links x 50 GB/s"),
}
#: Links to host memory, peak bytes/s per direction of an x16 slot (PCI-SIG: 3.0 =
#: 15.75 GB/s, 4.0 = 31.5 GB/s, 5.0 = 63 GB/s); what a weight copy achieves over them is
#: `placement.HOST_LINK_EFFICIENCY` of it.
HOST_LINKS: dict[str, float] = {"pcie3": 15.75e9, "pcie4": 31.5e9, "pcie5": 63e9}
#: A launch-bound small CUDA kernel costs ~5 us (launch + completion): the figure for the
#: software verify and tree steps (`HardwareSpec.kernel_launch_s`).
KERNEL_LAUNCH_S = 5e-6

#: The GPU kernel model's parameters per preset (see `gpu_kernels` and
#: docs/cost-model.md).  ``KERNEL_LATENCY_S`` is fitted (calibration row: gpt-fast
#: Llama-2-7B decode on one A100, `validation_table.CALIBRATION`) and used for every GPU
#: without a row of its own; on the A100 it is not split into an in-kernel part and a
#: gap between kernels (fitted as the H100's are, Vidur's A100 kernel profiles divide the
#: time between fixed and per-byte parts differently from the whole passes: 6.8 us and
#: 0.831 against 4.74 us and 0.784, so no gap follows from them).  The H100's is split,
#: each part fitted on its own measurement: ``H100_KERNEL_LATENCY_S``, inside the kernel, with
#: ``H100_DRAM_FITTED`` and ``H100_MMA_FITTED`` on Vidur's kernel profiles of
#: Llama-2-7B's layers (calibration rows, `operator_validation.CALIBRATION`), and
#: ``H100_LAUNCH_GAP_S``, between kernels, on torchao's Llama-3.1-8B bf16 decode on an
#: H100 (calibration row); its int8 weight-only row is predicted with them.  The H100
#: loses time per kernel that its kernels do not show, as Chen (2026, arXiv:2605.30571)
#: finds for batch-1 decode on it (CUDA graphs cut its step by 1.26x, the L4's by 1.03x).
#: ``SM_BW`` is Little's
#: law: the 64 KiB a 4-stage 128x128x32 bf16 cp.async pipeline keeps in flight per SM
#: over a ~600 ns loaded DRAM latency.
KERNEL_LATENCY_S = 4.74e-6
H100_KERNEL_LATENCY_S = 5.72e-6
H100_DRAM_FITTED = 0.902
H100_MMA_FITTED = 0.777
H100_LAUNCH_GAP_S = 5.45e-6
SM_BW = 64 * 1024 / 600e-9
#: Best-shape GEMM efficiency (MAMF: the maximum achievable matmul FLOPS over a brute-force
#: shape search, stas00/ml-engineering) per device.  The GEMMs of a transformer layer run
#: below it: ``A100_MMA_FITTED`` is fitted on the TensorRT-LLM Llama-2-7B 2048-token
#: prefill (calibration row), and every GPU with a MAMF figure and no fit of its own
#: takes the same fraction of it (the RTX 3090, which has none, scales the A100's by a
#: measured torch.mm rate: ``GA102_MMA``).
MAMF = {"a100": 271.2 / 312, "ada": 0.92}
A100_MMA_FITTED = 0.710
SHAPE_FRACTION = A100_MMA_FITTED / MAMF["a100"]
#: Streaming (copy/read benchmark) fraction of peak DRAM bandwidth per device family:
#: A100 "about 1700 GB/s" of 2039 (gpt-fast README).  The GEMM kernels of a decode pass
#: stream a little below it: ``A100_DRAM_FITTED`` is fitted on gpt-fast Llama-2-70B on 2
#: A100s (calibration row).  The H100's kernels stream at its streaming figure (0.902 of
#: peak fitted on Vidur's profiles, beside 3615 of 4000 GB/s coalesced read on a GH200,
#: mredenti/PowerCapping).
DRAM_STREAM = {"a100": 1700 / 2039}
A100_DRAM_FITTED = 0.784
STREAM_FRACTION = A100_DRAM_FITTED / DRAM_STREAM["a100"]
#: CUDA-core FMA issue slots to dequantise one integer weight in a weight-only GEMM
#: (`gpu_kernels`): fitted on gpt-fast Llama-2-7B int8 decode on one A100 (calibration
#: row), above the 6 slots the conversion instruction rates alone give.
A100_DEQUANT_FITTED = 6.45
_A100_SRC = {
    "mma_efficiency": "fitted on the TensorRT-LLM Llama-2-7B 2048-token prefill "
                      "(calibration row): 0.82 of the A100's MAMF, 271.2 of 312 TFLOPS "
                      "(stas00/ml-engineering, compute/accelerator)",
    "attn_efficiency": "FlashAttention-2 forward reaches up to 73 % of peak on A100 "
                       "(Dao 2023, arXiv:2307.08691)",
    "dram_efficiency": "fitted on gpt-fast Llama-2-70B on 2 A100s (calibration row): "
                       "0.95 of the 1700 GB/s of 2039 that gpt-fast's README reports "
                       "achievable on an A100-80GB at 330 W",
    "sm_bw_bytes_s": "Little's law: 64 KiB in flight per SM / 600 ns",
    "kernel_latency_s": "fitted on gpt-fast Llama-2-7B decode (calibration row)",
    "dequant_fma_slots": "fitted on gpt-fast Llama-2-7B int8 decode (calibration row); "
                         "the conversion instruction rates alone give 6 (CUDA C++ "
                         "Programming Guide, arithmetic instruction throughput)",
}
_VIDUR_H100 = ("Vidur's kernel profiles of Llama-2-7B's linear layers on an H100 "
               "(calibration rows; microsoft/vidur, specaccel/data/operator-profiles.csv)")
_HOPPER_SRC = {
    **_A100_SRC,
    "mma_efficiency": f"fitted at 1024 to 4096 tokens on {_VIDUR_H100}; 0.97 of the "
                      "MAMF, 794.5 of 989 TFLOPS bf16 (stas00/ml-engineering)",
    "attn_efficiency": "FlashAttention-3 forward reaches up to 75 % of peak on H100 "
                       "(Shah et al. 2024, arXiv:2407.08608)",
    "dram_efficiency": f"fitted at 1 to 64 tokens on {_VIDUR_H100}; the Hopper streaming "
                       "figure is 3615 GB/s coalesced read of 4000 on a GH200 "
                       "(mredenti/PowerCapping)",
    "kernel_latency_s": f"fitted at 1 to 64 tokens on {_VIDUR_H100}",
    "launch_gap_s": "fitted on torchao Llama-3.1-8B bf16 decode on an H100 (calibration "
                    "row; pytorch/ao torchao/quantization/README.md)",
    "dequant_fma_slots": "the A100's fitted figure (no int8 weight-only row on this part)",
}
_ADA_SRC = {
    **_A100_SRC,
    "mma_efficiency": "the A100's fitted fraction (0.82) of ~92 %, the cuBLAS HGEMM "
                      "efficiency of the Ada L20 (DefTruth/CUDA-Learn-Notes hgemm; no public "
                      "MAMF for this part; the L4's 72 W power cap is not modelled)",
    "attn_efficiency": "estimate: FlashAttention-2 on Ada, taken below its A100 figure "
                       "(no public measurement found)",
    "kernel_latency_s": "the A100's fitted figure (no row to fit on this part)",
    "dequant_fma_slots": "the A100's fitted figure (no int8 weight-only row on this part)",
}
#: GA102 (RTX 3090, A10): the DRAM fraction a batch-1 fp16 GEMM streams at on the A10,
#: the GA102 part with a public per-shape measurement: a 4096 x 12288 layer at one token
#: moves its 100.7 MB in 217.1 us (robertgshaw2-neuralmagic/vllm-benchmarking,
#: layer_benchmarking/results_a10/results.csv), 0.79 of the A10's 600 GB/s once the
#: kernel's fixed latency is taken off.  The 3090's GDDR6X sits on the same memory
#: controller; no 3090 measurement was found.
GA102_DRAM = 100.7e6 / (217.1e-6 - KERNEL_LATENCY_S) / 600e9
#: Best fp16 square ``torch.mm`` (1024 to 10240, random data) in a public table of such
#: measurements (zzc0721/torch-performance-test-data, database.md): the RTX 3090 at
#: 75.48, 75.64 and 75.88 TFLOP/s from three contributors -- above its 71 TFLOP/s
#: datasheet peak, which GeForce quotes at a 1695 MHz boost clock -- and the
#: A100-SXM4-80GB at 258.74 TFLOP/s of its 312.  The 3090's per-tile fraction is the
#: A100's fitted one over the A100's share of its peak in that table, times the 3090's.
TORCH_MM_FP16_SHARE = {"a100": 258.74 / 312, "ga102": 75.64 / 71}
GA102_MMA = A100_MMA_FITTED / TORCH_MM_FP16_SHARE["a100"] * TORCH_MM_FP16_SHARE["ga102"]
#: The best fp16 GEMM rate over the dense peak in vllm-benchmarking's layer tables, both
#: on zero inputs (at least as fast as real data) and of the same GEMM (8192 x 10240 at
#: 8192 tokens): the A10 69.0 of 125 TFLOP/s (0.552, at its 150 W cap), the A100 290.5
#: of 312.  The A10's MMA fraction is the A100's fitted one scaled by the two shares, as
#: the RTX 3090's is by its torch.mm table (``GA102_MMA``).
ZEROS_GEMM_SHARE = {
    "a10": 2.0 * 8192 * 8192 * 10240 / (8192 / 411319.001192731) / 125e12,
    "a100": 2.0 * 8192 * 8192 * 10240 / (8192 / 1731420.741387366) / 312e12,
}
A10_MMA = A100_MMA_FITTED / ZEROS_GEMM_SHARE["a100"] * ZEROS_GEMM_SHARE["a10"]
#: What an A100 part without a calibration row of its own takes from the A100-80GB SXM.
_A100_BORROWED = {
    "mma_efficiency": "the A100-80GB SXM's fitted figure (the same GA100 SMs)",
    "kernel_latency_s": "the A100-80GB SXM's fitted figure (the same front end)",
    "dequant_fma_slots": "the A100-80GB SXM's fitted figure (the same SMs)",
}
_GA102_SRC = {
    **_A100_SRC,
    "mma_efficiency": "the A100's fitted fraction scaled by the two GPUs' best fp16 "
                      "torch.mm on random data in one public table (3090 75.64 of 71 "
                      "TFLOPS, GeForce's fp32-accumulate peak at its rated boost clock; "
                      "A100 258.74 of 312; zzc0721/torch-performance-test-data): 0.91",
    "attn_efficiency": "the A100's FlashAttention-2 figure (the same SM generation; no "
                       "3090 measurement found)",
    "dram_efficiency": "0.79 of peak: a batch-1 fp16 GEMM on the A10, the same GA102 "
                       "die (vllm-benchmarking's A10 table; hardware_presets.GA102_DRAM)",
    "kernel_latency_s": "the A100's fitted figure (no row to fit on this part)",
    "dequant_fma_slots": "the A100's fitted figure (no int8 weight-only row on this part)",
}
_ADA_MMA = SHAPE_FRACTION * MAMF["ada"]
@dataclass(frozen=True, kw_only=True)
class DeviceFacts:
    """What one device preset needs beyond its datasheet row in ``hardware.csv``: the
    facts the datasheet row has no column for, and how its passes are priced.

    ``kernels`` is a GPU's kernel model (`gpu_kernels`); a device without one (the TPU)
    gives ``efficiency`` instead, its flat (achieved-bandwidth, compute) factors.
    ``link`` joins the devices of a tensor-parallel group (a key of `LINKS`);
    ``host_link`` reaches host memory, for offloading (a key of `HOST_LINKS`, ``None``:
    no host link is modelled and ``--offload`` is refused).
    """

    n_cores: int          # SMs (GPU) or matrix units (TPU: 2 TensorCores x 4 MXUs)
    vec_flops: float      # FLOP/s of the non-tensor (vector) path
    link: str
    host_link: str | None
    kernels: GpuKernelSpec | None = None
    efficiency: tuple[float, float] | None = None
    tile: int = 128       # output tile edge of one core (128 x 128)
    tile_m_min: int = 16  # smallest M tile a kernel picks (GPU 16; systolic MXU 128)
    fill_cycles: float = 0.0  # per-tile fill/drain (systolic MXU: rows + cols; GPU 0)
    dataflow: str = "os"
    kernel_launch_s: float = KERNEL_LAUNCH_S

    def __post_init__(self) -> None:
        if (self.kernels is None) == (self.efficiency is None):
            raise ValueError("a device preset gives either a kernel model or flat "
                             "efficiency factors, not both or neither")
        if self.kernels is not None and self.kernels.n_sm != self.n_cores:
            raise ValueError(f"kernel model has {self.kernels.n_sm} SMs, the device "
                             f"{self.n_cores}")
        if self.link not in LINKS:
            raise ValueError(f"unknown link {self.link!r}")
        if self.host_link is not None and self.host_link not in HOST_LINKS:
            raise ValueError(f"unknown host link {self.host_link!r}")


def _gpu(n_sm: int, vec_flops: float, link: str, host_link: str, *, mma: float,
         attn: float, dram: float, sources: dict[str, str],
         kernel_latency_s: float = KERNEL_LATENCY_S, launch_gap_s: float = 0.0
         ) -> DeviceFacts:
    """A GPU preset's facts: `n_sm` SMs and the kernel model's fractions (`sources`
    says where each comes from)."""
    kernels = GpuKernelSpec(n_sm, mma, attn, dram, SM_BW, kernel_latency_s, sources,
                            A100_DEQUANT_FITTED, launch_gap_s)
    return DeviceFacts(n_cores=n_sm, vec_flops=vec_flops, link=link, host_link=host_link,
                       kernels=kernels)


#: Every device preset beside its datasheet row (``hardware.csv``, whose ``preset``
#: column names the entry).  CUDA-core FP32 rates as the vector path (datasheets): A100
#: 19.5, H100/H200 SXM 67, L4 30.3, L40 90.5, A40 37.4, A10 31.2, RTX 2080 Ti 13.4, RTX 3090 35.6,
#: RTX 4090 82.6 TFLOP/s.  Device links: A100 SXM NVLink3, H100/H200 NVLink4, the A100
#: PCIe card, L4, L40, A40, A10, RTX 3090 and RTX 4090 PCIe 4.0 x16, the RTX 2080 Ti PCIe 3.0
#: x16 (the NVLink bridges of the A100 PCIe, the A40, the 2080 Ti and the 3090 are
#: add-ons, not modelled; the 4090 has none), TPU v4 ICI.  Host links: PCIe 5.0 x16 on
#: Hopper, 3.0 on the 2080 Ti, 4.0 on the others; the TPU's host link is not modelled.
DEVICE_FACTS: dict[str, DeviceFacts] = {
    "a100-40gb": _gpu(108, 19.5e12, "nvlink3", "pcie4", mma=A100_MMA_FITTED, attn=0.73,
                      dram=A100_DRAM_FITTED, sources={
                          **_A100_SRC, **_A100_BORROWED, "dram_efficiency": "the "
                          "A100-80GB's achieved fraction (same HBM controller)"}),
    "a100-80gb": _gpu(108, 19.5e12, "nvlink3", "pcie4", mma=A100_MMA_FITTED, attn=0.73,
                      dram=A100_DRAM_FITTED, sources=_A100_SRC),
    "a100-80gb-pcie": _gpu(108, 19.5e12, "pcie4", "pcie4", mma=A100_MMA_FITTED, attn=0.73,
                           dram=A100_DRAM_FITTED, sources={
                               **_A100_SRC, **_A100_BORROWED,
                               "dram_efficiency": "the A100-80GB SXM's "
                               "achieved fraction (the same die and HBM2e controller; its "
                               "300 W cap is not modelled)"}),
    "h100-sxm": _gpu(132, 67e12, "nvlink4", "pcie5", mma=H100_MMA_FITTED, attn=0.75,
                     dram=H100_DRAM_FITTED, sources=_HOPPER_SRC,
                     kernel_latency_s=H100_KERNEL_LATENCY_S,
                     launch_gap_s=H100_LAUNCH_GAP_S),
    "h200": _gpu(132, 67e12, "nvlink4", "pcie5", mma=H100_MMA_FITTED, attn=0.75,
                 dram=H100_DRAM_FITTED, kernel_latency_s=H100_KERNEL_LATENCY_S,
                 launch_gap_s=H100_LAUNCH_GAP_S, sources={
                     **_HOPPER_SRC,
                     "mma_efficiency": "the H100's fitted figure (the same SMs and "
                     "clocks; 'H200 is the same', stas00/ml-engineering)",
                     "dram_efficiency": "the H100's fitted figure (HBM3e on the same "
                     "memory controller); no H200 measurement found",
                     "kernel_latency_s": "the H100's fitted figure (the same SMs; no H200 "
                     "profile)",
                     "launch_gap_s": "the H100's fitted figure (the same front end; no "
                     "H200 row to fit)"}),
    "l4": _gpu(58, 30.3e12, "pcie4", "pcie4", mma=_ADA_MMA, attn=0.60, dram=0.83, sources={
        **_ADA_SRC, "dram_efficiency": "batch-1 bf16 decode on L4 reaches 81 % of its "
        "bandwidth floor with launch overhead that CUDA graphs cut by only 2.8 % (Chen "
        "2026, arXiv:2605.30571): >= 0.83"}),
    "l40": _gpu(142, 90.5e12, "pcie4", "pcie4", mma=_ADA_MMA, attn=0.60, dram=0.83,
                sources={**_ADA_SRC, "dram_efficiency": "estimate: the L4's GDDR6 fraction "
                         "(no L40 measurement found)"}),
    "a40": _gpu(84, 37.4e12, "pcie4", "pcie4", mma=A100_MMA_FITTED, attn=0.73,
                dram=GA102_DRAM, sources={
                    **_GA102_SRC,
                    "mma_efficiency": "estimate: the A100's fitted fraction (a datacenter "
                    "GA102 runs fp32 accumulate at full rate, so the RTX 3090's torch.mm "
                    "share does not apply; its 300 W cap is not modelled)",
                    "dram_efficiency": "the GDDR6 fraction measured on the A10, the same "
                    "GA102 die and memory (hardware_presets.GA102_DRAM)"}),
    "a10": _gpu(72, 31.2e12, "pcie4", "pcie4", mma=A10_MMA, attn=0.73,
                dram=GA102_DRAM, sources={
                    **_GA102_SRC,
                    "mma_efficiency": "fitted: the A100's fitted fraction scaled by the "
                    "two GPUs' best GEMM in vllm-benchmarking's layer tables, both on "
                    "zero inputs (A10 69.0 of 125 TFLOPS at its 150 W cap, A100 290.5 of "
                    "312; the GEMM section's calibration rows; hardware_presets.A10_MMA)",
                    "dram_efficiency": "fitted on its own 4096 x 12288 one-token GEMM in "
                    "vllm-benchmarking's A10 table (the GEMM section's calibration row; "
                    "hardware_presets.GA102_DRAM)"}),
    "rtx-2080-ti": _gpu(68, 13.4e12, "pcie3", "pcie3", mma=A100_MMA_FITTED, attn=0.60,
                        dram=GA102_DRAM, sources={
                            **_A100_SRC,
                            "mma_efficiency": "estimate: the A100's fitted fraction (no "
                            "Turing GEMM measurement found)",
                            "attn_efficiency": "estimate: below the A100's FlashAttention-2 "
                            "figure (FlashAttention-2 does not run on Turing; no "
                            "measurement found)",
                            "dram_efficiency": "estimate: the GDDR6 fraction measured on "
                            "the A10 (hardware_presets.GA102_DRAM; no 2080 Ti measurement "
                            "found)",
                            "kernel_latency_s": "the A100's fitted figure (no row to fit "
                            "on this part)",
                            "dequant_fma_slots": "the A100's fitted figure (no int8 "
                            "weight-only row on this part)"}),
    "rtx-3090": _gpu(82, 35.6e12, "pcie4", "pcie4", mma=GA102_MMA, attn=0.73,
                     dram=GA102_DRAM, sources=_GA102_SRC),
    "rtx-4090": _gpu(128, 82.6e12, "pcie4", "pcie4", mma=_ADA_MMA, attn=0.60, dram=0.83,
                     sources={**_ADA_SRC, "dram_efficiency": "estimate: the L4's fraction "
                              "(Ada's memory controller; no RTX 4090 measurement found)"}),
    # 8 MXUs of 128 x 128 (2 TensorCores x 4), systolic; no kernel model: the A100's
    # former flat factors (no measurement bundled)
    "tpuv4": DeviceFacts(n_cores=8, vec_flops=4.3e12, link="ici", host_link=None,
                         efficiency=(0.685, 0.70), tile_m_min=128, fill_cycles=256.0),
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
    rows = list(csv.DictReader(io.StringIO(text)))
    named = [row["preset"] for row in rows]
    if sorted(named) != sorted(DEVICE_FACTS):
        raise RuntimeError(f"hardware.csv's presets {sorted(named)} and DEVICE_FACTS "
                           f"{sorted(DEVICE_FACTS)} must name the same devices, once each")
    for row in rows:
        device, name = row["device"], row["preset"]
        facts = DEVICE_FACTS[name]
        link = LINKS[facts.link]
        kernels = facts.kernels
        if kernels is not None:
            be, ce = kernels.dram_efficiency, kernels.mma_efficiency
        else:
            assert facts.efficiency is not None
            be, ce = facts.efficiency
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
            mem_bytes=float(row["mem_gb"]) * GIB,
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
            link_bw_bytes_s=link.bw_bytes_s,
            link_step_latency_s=link.step_latency_s,
            link_oneshot_latency_s=link.oneshot_latency_s,
            host_link_bw_bytes_s=HOST_LINKS[facts.host_link] if facts.host_link else 0.0,
            gpu=kernels,
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
    return [*_csv_presets(), "specaccel-default"]


def offload_capable_hardware() -> list[str]:
    """Names of the presets with a host link, on which weights can be offloaded."""
    return [name for name, hw in _csv_presets().items() if hw.host_link_bw_bytes_s > 0]


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
