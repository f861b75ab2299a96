"""The accelerator's systolic arrays: cycles of a GEMM, fold by fold, per dataflow.

A GEMM ``(M x K) @ (K x N)`` runs on ``cores`` independent arrays of ``rows x cols``
PEs.  As in SCALE-Sim (its ``systolic_compute_os/ws/is`` compute models), each dataflow
keeps one operand in the PEs, maps two dimensions onto the array and streams the third
through it:

========  ===================  ==================  ==========  ===================
dataflow  on the rows          on the columns      streamed    held in the PEs
========  ===================  ==================  ==========  ===================
``os``    M (output rows)      N (output columns)  K           the outputs
``ws``    K (reduction)        N                   M           the weights
``is``    K                    M                   N           the inputs
========  ===================  ==================  ==========  ===================

A dimension larger than the array is cut into *folds*; a partial fold is padded to the
full array, so every fold takes the same cycles, one fold after another:

* ``load``  -- ``rows`` cycles to shift the stationary operand into the array, one row
  per cycle (``ws``, ``is``; ``os`` has nothing to preload);
* ``stream`` -- one cycle per element of the streamed dimension (the MACs);
* ``skew`` -- ``rows - 1`` cycles: operands enter row ``r`` ``r`` cycles late, so the
  last row starts that much after the first;
* ``drain`` -- ``cols - 1`` cycles: the last results leave through the far column.

Folds run in waves of ``cores`` (``count`` independent GEMMs add their folds).  This is
the schedule whose cycles SCALE-Sim counts with ideal memory (CALC bandwidth mode: every
SRAM demand is served in time, DRAM bandwidth is whatever that needs); the cost model
puts the HBM and SRAM bandwidth limits on top, per operator (`operators.Operator.cost`).
SCALE-Sim prints the index of the last cycle, one less than the count used here.

`gemm_cycles` gives the breakdown (pure Python, the reference); `array_gemm_time_nb`
is the same closed form compiled for the Numba pass evaluator.  Both are checked
against each other and against SCALE-Sim (tests/cost/test_systolic_array*.py).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from specaccel.schema.errors import InputError

if TYPE_CHECKING:
    from .hardware_spec import HardwareSpec

#: Dataflows of the array, and their codes in the packed hardware vector.
DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")
DATAFLOW_CODES: dict[str, float] = {"os": 0.0, "ws": 1.0, "is": 2.0}


@dataclass(frozen=True)
class ArrayCycles:
    """Cycles of `count` GEMMs ``m x n x k`` on `cores` arrays (one fold schedule).

    ``load``, ``stream``, ``skew`` and ``drain`` are totals over the waves and add up to
    ``cycles``.  ``utilisation`` is MACs / (cycles x PEs of all cores) (SCALE-Sim's
    "overall utilisation"); ``mapping_efficiency`` is the share of PEs a fold maps
    (SCALE-Sim's "mapping efficiency"; padding of partial folds is the loss).
    """

    dataflow: str
    rows: int
    cols: int
    cores: int
    row_folds: float
    col_folds: float
    folds: float
    waves: float
    load: float
    stream: float
    skew: float
    drain: float
    cycles: float
    utilisation: float
    mapping_efficiency: float

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def fold_dims(dataflow: str, m: float, n: float, k: float) -> tuple[float, float, float]:
    """(dimension on the rows, on the columns, streamed) of a GEMM in `dataflow`."""
    if dataflow == "os":
        return m, n, k
    if dataflow == "ws":
        return k, n, m
    if dataflow == "is":
        return k, m, n
    raise InputError(f"unknown dataflow {dataflow!r}; choose one of {', '.join(DATAFLOWS)}",
                     field="dataflow")


def gemm_cycles(rows: int, cols: int, dataflow: str, m: float, n: float, k: float,
                count: float = 1.0, cores: int = 1) -> ArrayCycles:
    """Cycles of `count` independent ``(m x k) @ (k x n)`` GEMMs on `cores` arrays."""
    on_rows, on_cols, streamed = fold_dims(dataflow, m, n, k)
    if min(m, n, k, count) <= 0:
        return ArrayCycles(dataflow, rows, cols, cores, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                           0.0, 0.0, 0.0, 0.0)
    row_folds = float(math.ceil(on_rows / rows))
    col_folds = float(math.ceil(on_cols / cols))
    folds = count * row_folds * col_folds
    waves = float(math.ceil(folds / cores))
    load = 0.0 if dataflow == "os" else float(rows)
    skew, drain = rows - 1.0, cols - 1.0
    cycles = waves * (load + streamed + skew + drain)
    return ArrayCycles(
        dataflow=dataflow, rows=rows, cols=cols, cores=cores, row_folds=row_folds,
        col_folds=col_folds, folds=folds, waves=waves, load=waves * load,
        stream=waves * streamed, skew=waves * skew, drain=waves * drain, cycles=cycles,
        utilisation=count * m * n * k / (cycles * rows * cols * cores),
        mapping_efficiency=on_rows * on_cols / (row_folds * rows * col_folds * cols),
    )


def _array_gemm_cycles(rows, cols, dataflow, cores, m, n, k,
                       count):  # pragma: no cover - compiled
    """`gemm_cycles(...).cycles` for the Numba evaluator (`dataflow` as its code)."""
    if dataflow == 0.0:
        on_rows, on_cols, streamed = m, n, k
        load = 0.0
    elif dataflow == 1.0:
        on_rows, on_cols, streamed = k, n, m
        load = rows
    else:
        on_rows, on_cols, streamed = k, m, n
        load = rows
    folds = count * math.ceil(on_rows / rows) * math.ceil(on_cols / cols)
    return math.ceil(folds / cores) * (load + streamed + rows - 1.0 + cols - 1.0)


def __getattr__(name: str):
    """``array_gemm_cycles_nb``: :func:`_array_gemm_cycles` compiled by Numba on first use,
    so that the hardware specs (which read :data:`DATAFLOWS` here) load without Numba."""
    if name != "array_gemm_cycles_nb":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from numba import njit

    compiled = njit(cache=True)(_array_gemm_cycles)
    globals()[name] = compiled
    return compiled


def gemm_time_s(hw: HardwareSpec, m: float, n: float, k: float, count: float) -> float:
    """Seconds for `count` GEMMs on an accelerator `hw`: its arrays (``tile_m x tile_n``
    PEs, ``n_cores`` of them, ``hw.dataflow``) or its vector unit when that is faster,
    divided by the compute-efficiency factor (control bubbles)."""
    cycles = gemm_cycles(hw.tile_m, hw.tile_n, hw.dataflow, m, n, k, count, hw.n_cores).cycles
    vector_s = 2.0 * count * m * n * k / hw.vec_flops
    return min(cycles / hw.clock_hz, vector_s) / hw.compute_efficiency
