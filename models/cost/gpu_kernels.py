"""The GPU kernel model: on-device time of the kernels of a forward pass, by shape.

A GPU (`HardwareSpec.kind == "gpu"` with a `GpuKernelSpec`) prices each operator as the
kernel that runs it, not as bytes over one flat bandwidth factor and FLOPs over one flat
compute factor.  Every kernel costs a fixed time, `GpuKernelSpec.fixed_s`, plus the
larger of its compute time and its memory time.  The fixed time has two parts:
``kernel_latency_s``, inside the kernel (the first DRAM round trip before data streams,
the drain of the last wave), and ``launch_gap_s``, between one kernel and the next on
the device (the front end starting the next grid), which a profiler's kernel time
leaves out:

* **GEMM** ``M x N x K`` (`gemm_time`): the output is cut into CTA tiles ``BM x BN``
  (``BM`` from 16 up to 128: a short ``M`` -- decode, verify -- takes a short tile);
  when there are fewer tiles than SMs the reduction dimension may be split (split-K, at
  least `SPLIT_K_MIN` of K per CTA, no partial second wave) so that idle SMs stream
  weights too, at the price of the fp32 partial sums written and read back.  Compute:
  the CTAs run in waves of ``n_sm`` (wave quantisation), each tile at
  ``mma_efficiency`` of the SM's tensor-core peak.  Memory: the kernel's unique bytes
  at the DRAM bandwidth the active SMs can pull, ``min(dram_efficiency x peak, active
  SMs x sm_bw_bytes_s)``.  The tile and split giving the shortest time are taken, as a
  tuned library's heuristics would.  Small-M GEMMs therefore come out bandwidth-bound
  at a fraction of peak bandwidth that depends on the shape (the fixed latency weighs
  more on a small weight matrix; few tiles leave SMs idle), and large-M GEMMs
  compute-bound with quantisation steps.
* **Attention** (`attention_time`): prefill runs FlashAttention (CTAs over batch x heads
  x 128-query blocks -- 64 when it also reads a KV cache, as FlashAttention-2's
  KV-cache kernel does --, causal: each query sees its keys only); decode and verify run the
  decode kernel (FlashDecoding): the queries of one KV head's group (``T x hq/hkv``
  rows, padded to the 16-row MMA) share a CTA.  When the CTAs leave SMs idle the keys
  may be split into chunks that fill them (split-KV, plus a combine kernel), whichever
  is faster, as the libraries' heuristics choose; a tree-verify pass also reads its
  mask.
  Its tensor-core work runs at ``attn_efficiency`` (the softmax is inside that figure).
* **Weight-only integer quantisation** (int8/int4 weights, bf16 compute): each CTA
  converts the weights of its tile on its SM's CUDA cores (``dequant_fma_slots`` FP32-FMA
  issue slots per weight, one SM issuing ``vec_flops / 2 / n_sm`` of them a second), so
  the conversion runs in the same waves as the CTAs; a GEMM's compute is the larger of
  that and its MMA time.  This CUDA-core work is what keeps an int8 decode GEMM from
  halving the bf16 time: gpt-fast's int8 Llama-2-7B streams 1069 GB/s where bf16
  streams 1397 (its README), MI250x 700 vs 1029.
* **Element-wise and reduction kernels** (`elementwise_time`: norms, the gated
  activation, embedding gather, SSM conv/scan): bytes at the achieved DRAM bandwidth,
  FLOPs on the CUDA cores.

The collectives of tensor parallelism are in `collectives`.  Parameters are physical and
per device (`hardware_presets.DEVICE_FACTS`, each with its source); docs/cost-model.md
derives them.  `pass_evaluator` implements the same formulas a second time in Numba.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from specaccel.schema.errors import InputError

#: Row counts of the CTA tiles a GEMM kernel may use (the MMA instruction is 16 rows).
GEMM_TILE_M = (16, 32, 64, 128)
#: Column counts of the CTA tiles.
GEMM_TILE_N = (64, 128, 256)
#: Smallest slice of K one CTA reduces when the reduction is split.
SPLIT_K_MIN = 256
#: Query rows of one FlashAttention prefill CTA.
FLASH_Q_BLOCK = 128
#: Query rows of one split-KV decode CTA (larger query groups take several CTAs).
DECODE_Q_BLOCK = 64
#: Smallest chunk of the context one split-KV CTA reads.
SPLIT_KV_MIN = 256
#: Rows of one tensor-core MMA: shorter operands are padded to it.
MMA_ROWS = 16
#: Bytes of an fp32 partial sum (split-K, split-KV).
PARTIAL_BYTES = 4.0
#: Weight dtypes stored as integers that a weight-only GEMM dequantises on the CUDA cores.
INTEGER_WEIGHT_DTYPES = ("int8", "int4")
#: CUDA-core work to dequantise one integer weight, in FP32-FMA issue slots, from the
#: instruction rates alone: the int-to-float conversion issues at a quarter of the FMA
#: rate (16 vs 64 results per clock per SM on compute capability 8.x, CUDA C++
#: Programming Guide, "Throughput of Native Arithmetic Instructions") = 4, extracting the
#: byte 1, packing to bf16 1.  It is the floor of `GpuKernelSpec.dequant_fma_slots`; a
#: real kernel also issues address arithmetic, the scale and the loop, so the A100's
#: figure is fitted (`hardware_presets`).
DEQUANT_FMA_SLOTS = 6.0


@dataclass(frozen=True)
class GpuKernelSpec:
    """What the kernel model needs to know about one GPU beyond the datasheet peaks.

    All fractions are of the datasheet figure of the `HardwareSpec` they belong to
    (dense bf16 tensor FLOP/s, peak DRAM bandwidth).  `sources` names where each figure
    comes from (parameter name -> text).
    """

    n_sm: int
    mma_efficiency: float
    attn_efficiency: float
    dram_efficiency: float
    sm_bw_bytes_s: float
    kernel_latency_s: float
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    dequant_fma_slots: float = DEQUANT_FMA_SLOTS
    launch_gap_s: float = 0.0

    def __post_init__(self) -> None:
        if self.n_sm < 1:
            raise InputError(f"must be >= 1, not {self.n_sm}", field="n_sm")
        for name in ("mma_efficiency", "attn_efficiency", "dram_efficiency"):
            v = getattr(self, name)
            if not (0 < v <= 1):
                raise InputError(f"must be in (0, 1], not {v!r}", field=name)
        for name in ("sm_bw_bytes_s", "dequant_fma_slots"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise InputError(f"must be a positive number, not {v!r}", field=name)
        for name in ("kernel_latency_s", "launch_gap_s"):
            v = getattr(self, name)
            if not (v >= 0 and math.isfinite(v)):
                raise InputError(f"must be >= 0, not {v!r}", field=name)

    @property
    def fixed_s(self) -> float:
        """Fixed time one kernel adds to a pass: its own start and drain
        (``kernel_latency_s``) and the gap before the next (``launch_gap_s``)."""
        return self.kernel_latency_s + self.launch_gap_s


@dataclass(frozen=True)
class KernelTime:
    """The on-device time of one operator's kernels, with its compute and memory parts."""

    seconds: float
    compute_s: float
    memory_s: float
    kernels: float

    @property
    def bound(self) -> str:
        return "compute" if self.compute_s > self.memory_s else "memory"


def _dram_bw(peak_bw: float, g: GpuKernelSpec, active_sms: float) -> float:
    """DRAM bandwidth a kernel occupying `active_sms` SMs achieves."""
    return min(peak_bw * g.dram_efficiency, active_sms * g.sm_bw_bytes_s)


def _tile_m(m: float) -> int:
    """The shortest CTA row count that holds `m` rows (128 for longer operands)."""
    for bm in GEMM_TILE_M:
        if m <= bm:
            return bm
    return GEMM_TILE_M[-1]


def gemm_config_time(peak_flops: float, peak_bw: float, g: GpuKernelSpec, m: float,
                     n: float, k: float, count: float, nbytes: float, bm: int, bn: int,
                     split: int, dequant_s_per_weight: float = 0.0) -> tuple[float, float]:
    """``(compute_s, memory_s)`` of `count` ``m x n x k`` GEMMs moving `nbytes` with CTA
    tile ``bm x bn`` and the reduction split `split` ways (`dequant_s_per_weight`: seconds
    for one SM's CUDA cores to dequantise one weight, 0 for float weights)."""
    n_sm = g.n_sm
    ctas = count * math.ceil(m / bm) * math.ceil(n / bn) * split
    sm_rate = peak_flops * g.mma_efficiency / n_sm
    compute = math.ceil(ctas / n_sm) * 2.0 * bm * bn * (k / split) / sm_rate
    if dequant_s_per_weight > 0.0:
        # each CTA converts its bn x k/split weight tile; the CTAs run in waves
        dequant = math.ceil(ctas / n_sm) * bn * (k / split) * dequant_s_per_weight
        compute = max(compute, dequant)
    extra = 2.0 * PARTIAL_BYTES * count * m * n * split if split > 1 else 0.0
    memory = (nbytes + extra) / _dram_bw(peak_bw, g, min(ctas, n_sm))
    return compute, memory


def fill_split(n_sm: int, ctas: float, length: float, minimum: int) -> int:
    """The split of a reduction of `length` over `ctas` CTAs that fills the SMs without a
    partial second wave (each piece at least `minimum` long; 1 when nothing is idle)."""
    if ctas >= n_sm:
        return 1
    return int(max(1, min(n_sm // ctas, math.ceil(length / minimum))))


def gemm_time(peak_flops: float, peak_bw: float, g: GpuKernelSpec, m: float, n: float,
              k: float, count: float, nbytes: float,
              dequant_s_per_weight: float = 0.0) -> KernelTime:
    """One kernel running `count` independent ``m x n x k`` GEMMs that move `nbytes` of
    DRAM traffic (weights, input and output rows): the best CTA tile and split-K
    (`dequant_s_per_weight`: see `dequant_sm_seconds`)."""
    if m <= 0 or n <= 0 or k <= 0 or count <= 0:
        return KernelTime(0.0, 0.0, 0.0, 0.0)
    bm_small = _tile_m(m)
    best = (math.inf, 0.0, 0.0)
    for bm in (bm_small, GEMM_TILE_M[-1]) if bm_small != GEMM_TILE_M[-1] else (bm_small,):
        for bn in GEMM_TILE_N:
            tiles = count * math.ceil(m / bm) * math.ceil(n / bn)
            for split in (1, fill_split(g.n_sm, tiles, k, SPLIT_K_MIN)):
                c, mem = gemm_config_time(peak_flops, peak_bw, g, m, n, k, count, nbytes,
                                          bm, bn, split, dequant_s_per_weight)
                if max(c, mem) < best[0]:
                    best = (max(c, mem), c, mem)
    return KernelTime(best[0] + g.fixed_s, best[1], best[2], 1.0)


def dequant_sm_seconds(weight_dtype: str, vec_flops: float, g: GpuKernelSpec) -> float:
    """Seconds for one SM's CUDA cores to dequantise one weight of `weight_dtype` (0 unless
    an integer dtype): ``dequant_fma_slots`` FMA issue slots at ``vec_flops / 2 / n_sm``."""
    if weight_dtype not in INTEGER_WEIGHT_DTYPES:
        return 0.0
    return g.dequant_fma_slots * g.n_sm / (0.5 * vec_flops)


def gemm_efficiency(peak_flops: float, peak_bw: float, g: GpuKernelSpec, m: float,
                    n: float, k: float, weight_bytes_per_elem: float = 2.0) -> float:
    """Achieved fraction of peak FLOP/s of one bf16 ``m x n x k`` GEMM (for the curves of
    docs/cost-model.md and their checks against published measurements)."""
    nbytes = k * n * weight_bytes_per_elem + 2.0 * (m * k + m * n)
    t = gemm_time(peak_flops, peak_bw, g, m, n, k, 1.0, nbytes).seconds
    return 2.0 * m * n * k / t / peak_flops


def attention_time(peak_flops: float, peak_bw: float, g: GpuKernelSpec, *, batch: float,
                   q_heads: float, kv_heads: float, tokens: float, keys: float,
                   head_dim: float, nbytes: float, prefill: bool,
                   cached: bool = False) -> KernelTime:
    """Fused attention over `tokens` queries per row and `keys` keys per query (mean over
    the queries), `nbytes` of DRAM traffic (KV read, Q/O, new KV, mask); `cached`: a
    prefill that also attends to tokens already in a KV cache (chunked prefill)."""
    if batch <= 0 or tokens <= 0 or q_heads <= 0:
        return KernelTime(0.0, 0.0, 0.0, 0.0)
    n_sm = g.n_sm
    sm_rate = peak_flops * g.attn_efficiency / n_sm
    if prefill:  # one CTA per head and query block (64 rows in the KV-cache kernel)
        q_block = DECODE_Q_BLOCK if cached else FLASH_Q_BLOCK
        rows_all, heads = tokens, q_heads
    else:  # one CTA per KV head: its group's queries share the K/V tiles
        rows_all, q_block, heads = tokens * q_heads / kv_heads, DECODE_Q_BLOCK, kv_heads
    rows = min(float(q_block), math.ceil(rows_all / MMA_ROWS) * MMA_ROWS)
    base = batch * heads * math.ceil(rows_all / q_block)
    best = KernelTime(math.inf, 0.0, 0.0, 0.0)
    for split in (1, fill_split(n_sm, base, keys, SPLIT_KV_MIN)):
        ctas = base * split
        compute = math.ceil(ctas / n_sm) * 4.0 * rows * (keys / split) * head_dim / sm_rate
        extra = 0.0
        kernels = 1.0
        if split > 1:  # partial outputs written, read back by the combine kernel
            extra = 2.0 * PARTIAL_BYTES * batch * tokens * q_heads * (head_dim + 1.0) * split
            kernels = 2.0
        memory = (nbytes + extra) / _dram_bw(peak_bw, g, min(ctas, n_sm))
        t = max(compute, memory) + kernels * g.fixed_s
        if t < best.seconds:
            best = KernelTime(t, compute, memory, kernels)
    return best


def elementwise_time(peak_bw: float, vec_flops: float, g: GpuKernelSpec, flops: float,
                     nbytes: float) -> KernelTime:
    """An element-wise or row-reduction kernel: `nbytes` at the achieved DRAM bandwidth,
    `flops` on the CUDA cores (such kernels spread over every SM); no work, no kernel."""
    if flops <= 0 and nbytes <= 0:
        return KernelTime(0.0, 0.0, 0.0, 0.0)
    compute = flops / vec_flops
    memory = nbytes / (peak_bw * g.dram_efficiency)
    return KernelTime(max(compute, memory) + g.fixed_s, compute, memory, 1.0)
