"""One GEMM on the accelerator, in cycles: what ``specaccel cost --gemm MxNxK`` reports.

The array's schedule (`systolic_array.gemm_cycles`: load, streaming, skew, drain of every
fold) with ideal memory, then the same roofline an operator of a pass gets
(`operators.Operator.cost`): the weights stream from HBM (``weights_on_chip=True``: from
SRAM), the input and output activations stay in SRAM, and the operator takes the longest
of compute, HBM and SRAM time.  Cycles the memory adds beyond compute are *stalls*;
``compute_efficiency`` adds *control* cycles (bubbles between folds).
"""

from __future__ import annotations

from typing import Any

from specaccel.schema.errors import InputError

from .hardware_spec import HardwareSpec
from .model_spec import ACTIVATION_BYTES, DTYPE_BYTES
from .operators import _gemm
from .systolic_array import gemm_cycles


def accelerator_gemm_cost(hw: HardwareSpec, m: int, n: int, k: int, *,
                          weight_dtype: str = "bf16",
                          weights_on_chip: bool = False) -> dict[str, Any]:
    """Cycles, utilisation, bytes and latency of ``(m x k) @ (k x n)`` on `hw`."""
    if hw.kind != "accelerator":
        raise InputError(f"{hw.name} is a {hw.kind}: cycles of a GEMM are modelled for the "
                         "accelerator's systolic arrays (give --accel or an accelerator "
                         "--hw)", field="--gemm")
    for name, v in (("m", m), ("n", n), ("k", k)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise InputError(f"{name} must be a positive integer, not {v!r}", field="--gemm")
    if weight_dtype not in DTYPE_BYTES:
        raise InputError(f"unknown dtype {weight_dtype!r}", field="--weight-dtype")
    arr = gemm_cycles(hw.tile_m, hw.tile_n, hw.dataflow, m, n, k, 1.0, hw.n_cores)
    vector_cycles = 2.0 * m * n * k / hw.vec_flops * hw.clock_hz
    engine = "array" if arr.cycles <= vector_cycles else "vector"
    engine_cycles = min(arr.cycles, vector_cycles)
    op = _gemm("gemm", hw, m, n, k, 1.0, DTYPE_BYTES[weight_dtype], ACTIVATION_BYTES)
    cost = op.cost(hw, weights_resident=weights_on_chip, acts_on_chip=True)
    compute_cycles = op.compute_s * hw.clock_hz
    total = cost.latency_s * hw.clock_hz
    pes = hw.tile_m * hw.tile_n * hw.n_cores
    return {
        "gemm": {"m": m, "n": n, "k": k},
        "hardware": hw.name,
        "array": {"rows": hw.tile_m, "cols": hw.tile_n, "cores": hw.n_cores,
                  "dataflow": hw.dataflow, "clock_hz": hw.clock_hz},
        "folds": arr.folds, "row_folds": arr.row_folds, "col_folds": arr.col_folds,
        "waves": arr.waves,
        "engine": engine,
        "cycles": {
            "load": arr.load, "compute": arr.stream, "skew": arr.skew, "drain": arr.drain,
            "array": arr.cycles, "vector": vector_cycles,
            "control": compute_cycles - engine_cycles,
            "stall": total - compute_cycles,
            "total": total,
        },
        "array_utilisation": arr.utilisation,
        "mapping_efficiency": arr.mapping_efficiency,
        "utilisation": m * n * k / (total * pes),
        "latency_s": cost.latency_s,
        "flops": cost.flops,
        "dram_bytes": cost.dram_bytes,
        "sram_bytes": cost.sram_bytes,
        "dram_s": cost.dram_bytes / (hw.mem_bw_bytes_s * hw.bw_efficiency),
        "sram_s": cost.sram_bytes / hw.sram_bw_bytes_s,
        "bound": cost.bound,
        "weights_on_chip": weights_on_chip,
        "weight_dtype": weight_dtype,
    }
