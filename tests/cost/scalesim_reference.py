"""SCALE-Sim runs of single GEMMs, and the stored array-vs-SCALE-Sim table they make.

`run_scalesim` runs SCALE-Sim (PyPI ``scalesim``, test dependency) on one ``M x N x K``
GEMM on one ``rows x cols`` array with the ``os``, ``ws`` or ``is`` dataflow, through its
own top-level class, config file and GEMM topology file, in CALC bandwidth mode (its
default): every SRAM demand is served in time, the DRAM bandwidth that takes is
computed, not imposed.  Its "Total Cycles" is then the array's own schedule: operand
loads, skew, streaming and drain of every fold.

`reference_cycles` runs a GEMM whole when it is small enough, else *fold-sampled*: in
SCALE-Sim every fold of a GEMM is padded to the full array and takes the same number of
cycles, and with CALC bandwidth there are no stalls, so a GEMM cut down to fewer folds
along its two folded dimensions (the streamed dimension kept whole, the partial last fold
kept) runs ``folds / sampled folds`` times faster.  The sampled run is scaled back by
that ratio; ``tests/cost/test_systolic_array_scalesim.py`` checks on GEMMs run both ways
that the scaling is exact.

Regenerate the stored table (``specaccel/data/array-scalesim.csv``; about an hour on one
core, run it niced)::

    nice .venv/bin/python tests/cost/scalesim_reference.py
"""

from __future__ import annotations

import contextlib
import csv
import importlib.metadata
import inspect
import io
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Demand lines (= cycles) above which a GEMM is fold-sampled instead of run whole: SCALE-Sim
#: serves each line element by element in Python, about a millisecond per line of a
#: 128-wide array on this class of machine.
LINE_BUDGET = 6_000

TABLE = Path(__file__).resolve().parents[2] / "specaccel" / "data" / "array-scalesim.csv"

#: The grid: GEMMs of decode (M = 1), tree/chain verify (M = nodes, or batch x nodes) and
#: prefill passes of the presets' shapes (N = output features, K = reduction), per-device
#: shards of tensor-parallel layers, a 68M draft, and odd sizes that leave partial folds.
GEMMS: tuple[tuple[str, int, int, int], ...] = (
    ("decode 7B o_proj", 1, 4096, 4096),
    ("decode 7B qkv_proj", 1, 12288, 4096),
    ("decode 7B mlp_up (gate)", 1, 11008, 4096),
    ("decode 7B mlp_down", 1, 4096, 11008),
    ("decode 70B o_proj", 1, 8192, 8192),
    ("decode 70B mlp_up tp2", 1, 14336, 8192),
    ("decode 7B lm_head tp2", 1, 16000, 4096),
    ("decode 68M mlp_up", 1, 3072, 768),
    ("decode 68M mlp_down", 1, 768, 3072),
    ("verify chain 8, 7B o_proj", 8, 4096, 4096),
    ("verify 16, 7B qkv_proj", 16, 12288, 4096),
    ("verify EAGLE 26, 7B mlp_down", 26, 4096, 11008),
    ("verify 32, 7B mlp_up", 32, 11008, 4096),
    ("verify 48, 70B o_proj", 48, 8192, 8192),
    ("verify 64, 7B o_proj", 64, 4096, 4096),
    ("verify 64, 13B mlp_down", 64, 5120, 13824),
    ("verify 64, 13B mlp_up", 64, 13824, 5120),
    ("verify 64, 7B lm_head tp2", 64, 16000, 4096),
    ("verify 60, 68M qkv_proj", 60, 2304, 768),
    ("verify 4x32, 7B o_proj", 128, 4096, 4096),
    ("verify 4x64, 7B mlp_down", 256, 4096, 11008),
    ("verify 8x16, 70B qkv tp8", 128, 1280, 8192),
    ("prefill 512, 7B o_proj", 512, 4096, 4096),
    ("prefill 512, 7B qkv_proj", 512, 12288, 4096),
    ("prefill 512, 7B mlp_up", 512, 11008, 4096),
    ("prefill 512, 7B mlp_down", 512, 4096, 11008),
    ("prefill 384, 13B o_proj", 384, 5120, 5120),
    ("prefill 512, 70B qkv tp8", 512, 1280, 8192),
    ("prefill 512, 70B mlp_down tp4", 512, 8192, 7168),
    ("prefill 200, 2k x 2k", 200, 2048, 2048),
    ("small 3 x 512 x 512", 3, 512, 512),
    ("odd 100 x 1000 x 700", 100, 1000, 700),
    ("odd 37 x 2500 x 1500", 37, 2500, 1500),
)
ARRAYS: tuple[tuple[int, int], ...] = ((32, 32), (64, 64), (64, 128), (128, 128))
DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")

FIELDS = ("label", "m", "n", "k", "rows", "cols", "dataflow", "run", "run_m", "run_n",
          "run_k", "fold_ratio", "scalesim_run_cycles", "scalesim_stall_cycles",
          "scalesim_cycles", "scalesim_version")

_CONFIG = """[general]
run_name = gemm

[architecture_presets]
ArrayHeight = {rows}
ArrayWidth = {cols}
IfmapSramSzkB = 6144
FilterSramSzkB = 6144
OfmapSramSzkB = 2048
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Bandwidth = 10
Dataflow = {dataflow}
MemoryBanks = 1
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 1
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 1
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False
"""


def scalesim_version() -> str:
    return importlib.metadata.version("scalesim")


@dataclass(frozen=True)
class ScaleSimResult:
    """SCALE-Sim's compute report of one GEMM."""

    cycles: int
    stall_cycles: int
    overall_util_pct: float
    mapping_efficiency_pct: float


def run_scalesim(m: int, n: int, k: int, rows: int, cols: int,
                 dataflow: str) -> ScaleSimResult:
    """Run SCALE-Sim on the GEMM ``(m x k) @ (k x n)`` and read its compute report."""
    from scalesim.scale_sim import scalesim

    with tempfile.TemporaryDirectory(prefix="scalesim-") as tmp:
        d = Path(tmp)
        (d / "arch.cfg").write_text(_CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
        (d / "gemm.csv").write_text(f"Layer, M, N, K,\ngemm, {m}, {n}, {k},\n")
        kwargs = {"save_disk_space": True, "verbose": False, "config": str(d / "arch.cfg"),
                  "topology": str(d / "gemm.csv"), "input_type_gemm": True}
        if "layout" in inspect.signature(scalesim.__init__).parameters:  # SCALE-Sim 3
            (d / "layout.csv").write_text("Layer,\n")
            kwargs["layout"] = str(d / "layout.csv")
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(**kwargs)
            sim.run_scale(top_path=str(d))
        with open(d / "gemm" / "COMPUTE_REPORT.csv", newline="") as f:
            report = {key.strip(): value.strip() for key, value in
                      zip(*list(csv.reader(f))[:2], strict=False) if key.strip()}
    return ScaleSimResult(cycles=int(report["Total Cycles"]),
                          stall_cycles=int(report["Stall Cycles"]),
                          overall_util_pct=float(report["Overall Util %"]),
                          mapping_efficiency_pct=float(report["Mapping Efficiency %"]))


def folded_dims(m: int, n: int, k: int, dataflow: str) -> tuple[str, str, str]:
    """(dimension on the array's rows, on its columns, streamed through) in SCALE-Sim."""
    return {"os": ("m", "n", "k"), "ws": ("k", "n", "m"), "is": ("k", "m", "n")}[dataflow]


def _sample(d: int, extent: int, folds: int) -> int:
    """`d` cut to `folds` folds of `extent`, keeping the partial last fold."""
    full = math.ceil(d / extent)
    if folds >= full:
        return d
    return extent * (folds - 1) + (d - extent * (full - 1))


def sampled_gemm(m: int, n: int, k: int, rows: int, cols: int, dataflow: str,
                 budget: int = LINE_BUDGET) -> tuple[int, int, int, float]:
    """The GEMM to run in SCALE-Sim for ``m x n x k`` and the fold ratio to scale it by.

    Whole when its demand lines fit `budget`; else the folded dimensions are cut to
    ``sqrt(budget / lines per fold)`` folds each (at least one), the larger fold count
    first when only one can be cut.
    """
    dims = {"m": m, "n": n, "k": k}
    on_rows, on_cols, streamed = folded_dims(m, n, k, dataflow)
    f_rows = math.ceil(dims[on_rows] / rows)
    f_cols = math.ceil(dims[on_cols] / cols)
    load = 0 if dataflow == "os" else rows
    per_fold = load + dims[streamed] + rows + cols - 2  # only sizes the run, not the answer
    if f_rows * f_cols * per_fold <= budget:
        return m, n, k, 1.0
    fit = max(budget // per_fold, 1)  # folds that fit the budget
    cap = max(math.isqrt(fit), 1)
    s_rows, s_cols = min(f_rows, cap), min(f_cols, cap)
    if s_rows == f_rows:  # only the columns are cut: give them the rest of the budget
        s_cols = min(f_cols, max(fit // s_rows, 1))
    elif s_cols == f_cols:
        s_rows = min(f_rows, max(fit // s_cols, 1))
    dims[on_rows] = _sample(dims[on_rows], rows, s_rows)
    dims[on_cols] = _sample(dims[on_cols], cols, s_cols)
    return dims["m"], dims["n"], dims["k"], (f_rows * f_cols) / (s_rows * s_cols)


def reference_cycles(m: int, n: int, k: int, rows: int, cols: int, dataflow: str,
                     budget: int = LINE_BUDGET) -> dict[str, object]:
    """SCALE-Sim's cycles for the GEMM, run whole or fold-sampled (see module doc)."""
    rm, rn, rk, ratio = sampled_gemm(m, n, k, rows, cols, dataflow, budget)
    res = run_scalesim(rm, rn, rk, rows, cols, dataflow)
    # SCALE-Sim reports the index of the last demand line: lines - 1 (+ stalls, 0 in CALC)
    cycles = res.cycles if ratio == 1.0 else round((res.cycles + 1) * ratio) - 1
    return {"m": m, "n": n, "k": k, "rows": rows, "cols": cols, "dataflow": dataflow,
            "run": "whole" if ratio == 1.0 else "fold-sampled", "run_m": rm, "run_n": rn,
            "run_k": rk, "fold_ratio": ratio, "scalesim_run_cycles": res.cycles,
            "scalesim_stall_cycles": res.stall_cycles, "scalesim_cycles": cycles,
            "scalesim_version": scalesim_version()}


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else TABLE
    rows = []
    for label, m, n, k in GEMMS:
        for r, c in ARRAYS:
            for df in DATAFLOWS:
                row = {"label": label, **reference_cycles(m, n, k, r, c, df)}
                rows.append(row)
                print(f"{label:32s} {r:3d}x{c:<3d} {df}  {row['run']:12s} "
                      f"{row['scalesim_cycles']}", flush=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
