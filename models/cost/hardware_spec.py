"""What the cost model needs to know about a device (`HardwareSpec`).

One description covers GPUs and the parameterised accelerator.  The matrix engine is
``n_cores`` independent engines of ``tile_m x tile_n`` (a GPU's SMs with their
tensor-core tiles; the accelerator's systolic arrays, rows x columns).  On the
accelerator (``kind="accelerator"``) a GEMM is timed by `systolic_array`: weight/input
loads, skew, streaming and drain of every fold in the ``os``, ``ws`` or ``is`` dataflow.
On a GPU, the tile model:

* output-stationary (``dataflow="os"``): a GEMM ``M x N x K`` is cut into
  ``ceil(M/tm) * ceil(N/tile_n)`` output tiles, each taking
  ``2*tm*tile_n*K / core_peak + fill_cycles / clock`` (fill and drain of the array);
* weight-stationary (``dataflow="ws"``): the array holds a ``tile_m x tile_n`` block of
  the weight matrix (``K`` on the rows) and streams the ``M`` rows through:
  ``ceil(K/tile_m) * ceil(N/tile_n)`` tiles, each ``2*tile_m*tile_n*M / core_peak +
  fill_cycles / clock``.

Tiles run in waves of ``n_cores``.  A GPU picks a smaller tile for a short ``M``
(``tm = min(tile_m, ceil(M / tile_m_min) * tile_m_min)``).  The vector unit
(``vec_flops``) runs element-wise work and, when faster, a skinny GEMM (GEMV).
See docs/cost-model.md.

A GPU preset carries a `GpuKernelSpec` (``gpu``): its passes are then priced by the
shape-aware kernel model of `gpu_kernels` (GEMM tiles, waves and split-K; attention
kernels; per-kernel latency) and its collectives by `collectives`, instead of the tile
model and flat efficiency factors above, which remain the model of a device without a
kernel spec.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from specaccel.schema.errors import InputError

from .gpu_kernels import GpuKernelSpec
from .systolic_array import DATAFLOWS


def gib(nbytes: float, digits: int = 2) -> str:
    """A memory amount as device memory is sized, in GiB (``"80.00 GiB"``)."""
    return f"{nbytes / 2**30:.{digits}f} GiB"

HARDWARE_KINDS = ("gpu", "accelerator")


def verify_units() -> tuple[str, ...]:
    """RTL verify units an accelerator can carry: the units whose rows in the RTL
    characterisation table have ``role = verify`` (``tree_verify``: a whole tree per cycle;
    ``tree_verify_serial``: one node per cycle at a fraction of the area)."""
    from specaccel.models.cost.rtl_table import units_with_role

    return units_with_role("verify")


#: The verify units of the bundled table (`verify_units()`), for option choices.
VERIFY_UNITS = verify_units()

#: A GPU's software verify step: accept/reject + path walk, then the KV-compaction
#: gather, then the host sync of the result -- 3 kernels, each launch-bound.
GPU_VERIFY_KERNELS = 3
#: Building the tree mask and position ids on a GPU: 2 small kernels.
GPU_TREE_KERNELS = 2


@dataclass(frozen=True)
class HardwareSpec:
    """A device as seen by the cost model (all units SI: FLOP/s, bytes/s, s, J, W).

    Efficiency factors: achieved memory bandwidth is ``mem_bw_bytes_s * bw_efficiency``
    and achieved matrix/vector throughput is the tile model divided by
    ``compute_efficiency``.  Setting both to 1 gives the pure roofline.  A GPU with a
    kernel model (``gpu``, a `GpuKernelSpec`) is priced kernel by kernel instead; its
    ``bw_efficiency`` and ``compute_efficiency`` then mirror the kernel spec's achieved
    DRAM bandwidth and large-GEMM efficiency (for the code that needs one flat figure,
    e.g. the KV-commit gather).  ``link_oneshot_latency_s`` > 0 lets all-reduces use the
    one-shot/two-shot algorithms of `collectives` beside the ring.
    ``host_link_bw_bytes_s`` is the peak per-direction bandwidth of the link to host
    memory that offloaded weights are copied over (0: none modelled, no offloading).

    ``verify_unit_nodes`` is the largest draft tree (nodes, root included) the verify and
    tree units take in one pass: ``AcceleratorConfig.tree_nodes`` on an accelerator, which
    must have one; ``None`` on a GPU, whose verify runs in software with no node limit.
    ``verify_unit`` names the RTL verify unit (one of `verify_units()`) whose characterised
    cycles time the verify step on an accelerator; a GPU ignores it.
    ``sampling_lanes`` is the lane count W of an accelerator's streaming sampling unit,
    which selects the target's token at every verified node
    (:mod:`~specaccel.models.cost.sampling_tail`); ``None`` on a GPU and on an accelerator
    whose tokens are selected elsewhere (nothing is charged then).
    """

    name: str
    kind: str
    peak_flops: float
    vec_flops: float
    mem_bw_bytes_s: float
    mem_bytes: float
    clock_hz: float
    n_cores: int
    tile_m: int
    tile_n: int
    tile_m_min: int
    fill_cycles: float
    dataflow: str
    bw_efficiency: float
    compute_efficiency: float
    sram_bytes: float
    sram_bw_bytes_s: float
    weight_sram_bytes: float
    act_in_sram: bool
    e_flop_j: float
    e_dram_byte_j: float
    e_sram_byte_j: float
    e_link_byte_j: float
    static_power_w: float
    link_bw_bytes_s: float
    link_step_latency_s: float
    tdp_w: float = 0.0
    kernel_launch_s: float = 0.0
    area_mm2: float = 0.0
    peak_int8_ops: float = 0.0
    verify_unit_nodes: int | None = None
    verify_unit: str = "tree_verify"
    sampling_lanes: int | None = None
    gpu: GpuKernelSpec | None = None
    link_oneshot_latency_s: float = 0.0
    host_link_bw_bytes_s: float = 0.0
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in HARDWARE_KINDS:
            raise InputError(f"unknown kind {self.kind!r}; choose one of {HARDWARE_KINDS}",
                             field="kind")
        if self.dataflow not in DATAFLOWS:
            raise InputError(f"unknown dataflow {self.dataflow!r}; choose one of {DATAFLOWS}",
                             field="dataflow")
        if self.kind == "gpu" and self.dataflow == "is":
            raise InputError("input-stationary is a dataflow of the accelerator's systolic "
                             "arrays; a GPU's tile model is 'os' or 'ws'", field="dataflow")
        for fname in ("peak_flops", "vec_flops", "mem_bw_bytes_s", "clock_hz",
                      "bw_efficiency", "compute_efficiency", "sram_bw_bytes_s",
                      "link_bw_bytes_s"):
            v = getattr(self, fname)
            if not (v > 0 and math.isfinite(v)):
                raise InputError(f"must be a positive number, not {v!r}", field=fname)
        for fname in ("n_cores", "tile_m", "tile_n", "tile_m_min"):
            if getattr(self, fname) < 1:
                raise InputError(f"must be >= 1, not {getattr(self, fname)}", field=fname)
        if self.tile_m_min > self.tile_m:
            raise InputError("tile_m_min must be <= tile_m", field="tile_m_min")
        if self.bw_efficiency > 1 or self.compute_efficiency > 1:
            raise InputError("efficiency factors must be <= 1", field="bw_efficiency")
        self._check_verify_unit_nodes()
        lanes = self.sampling_lanes
        if lanes is not None and (self.kind == "gpu" or isinstance(lanes, bool)
                                  or not isinstance(lanes, numbers.Integral) or lanes < 1):
            raise InputError(f"must be None on a GPU and a positive integer on an accelerator, "
                             f"not {lanes!r}", field="sampling_lanes")
        if self.gpu is not None and self.kind != "gpu":
            raise InputError("only a GPU has a kernel model", field="gpu")
        if self.gpu is not None and (self.weight_sram_bytes > 0 or self.act_in_sram):
            raise InputError("a GPU's kernel model keeps weights and activations in DRAM; "
                             "set weight_sram_bytes=0 and act_in_sram=False", field="gpu")
        for fname in ("link_oneshot_latency_s", "host_link_bw_bytes_s"):
            v = getattr(self, fname)
            if not (v >= 0 and math.isfinite(v)):
                raise InputError(f"must be >= 0, not {v!r}", field=fname)
        if self.verify_unit not in verify_units():
            raise InputError(f"unknown verify unit {self.verify_unit!r}; choose one of "
                             f"{', '.join(verify_units())}", field="verify_unit")

    def _check_verify_unit_nodes(self) -> None:
        n = self.verify_unit_nodes
        if self.kind == "gpu":
            if n is not None:
                raise InputError(f"must be None on a GPU (software verify has no node "
                                 f"limit), not {n!r}", field="verify_unit_nodes")
            return
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise InputError(f"an accelerator's verify unit needs a node count >= 1, not "
                             f"{n!r}", field="verify_unit_nodes")

    # -- variants --------------------------------------------------------------------------
    def with_efficiency(self, bw: float, compute: float) -> HardwareSpec:
        """A copy priced by the flat-factor roofline with these efficiency factors (1, 1
        is the pure roofline); a GPU's kernel model is dropped."""
        return replace(self, bw_efficiency=bw, compute_efficiency=compute, gpu=None,
                       link_oneshot_latency_s=0.0)

    def roofline(self) -> HardwareSpec:
        """The pure roofline of this device: both efficiency factors 1, no kernel model."""
        return self.with_efficiency(1.0, 1.0)

    @property
    def kernel_model(self) -> str:
        """How passes on this device are priced: ``"gpu-kernels"`` (the shape-aware GPU
        kernel model) or ``"tile-roofline"`` (tile/wave model and efficiency factors)."""
        return "gpu-kernels" if self.gpu is not None else "tile-roofline"

    # -- verify and tree units -------------------------------------------------------------
    @property
    def verify_unit_source(self) -> str:
        """Where `verify_unit_latency_s` comes from: ``"gpu-software-kernels"`` or
        ``"rtl-characterisation"``; on an accelerator built for trees larger than the
        table holds for its verify or compaction unit, ``"rtl-characterisation,
        extrapolated beyond N=..."`` (the latency law, not a measurement, times it)."""
        if self.kind == "gpu":
            return "gpu-software-kernels"
        return _rtl_source((self.verify_unit, "kv_compact"), self.verify_unit_nodes)

    @property
    def tree_unit_source(self) -> str:
        """Where `tree_unit_latency_s` comes from (as `verify_unit_source`, for the
        ``tree_mask`` unit)."""
        if self.kind == "gpu":
            return "gpu-software-kernels"
        return _rtl_source(("tree_mask",), self.verify_unit_nodes)

    def verify_unit_latency_s(self, n_nodes: int) -> float:
        """Time of the verify step for an `n_nodes`-node tree.

        GPU: a software step of `GPU_VERIFY_KERNELS` launch-bound kernels
        (``kernel_launch_s`` each; the per-node work of a tree of up to a few hundred
        nodes fits one thread block and hides under the launch).  Accelerator: cycles of
        the RTL verify unit `verify_unit` followed by the ``kv_compact`` unit that turns
        the path into compaction indices, at ``clock_hz``, from the RTL characterisation
        table scaled by each unit's latency law
        (:func:`~specaccel.models.cost.rtl_table.request_cycles`).  A unit that is not
        node-serial has the pipeline of its size ``N = verify_unit_nodes`` whatever the
        tree it is given; a node-serial unit takes the tree's nodes.
        """
        n = _check_nodes(n_nodes)
        if self.kind == "gpu":
            return GPU_VERIFY_KERNELS * self.kernel_launch_s
        size = max(n, int(self.verify_unit_nodes or n))
        cycles = _sized_cycles(self.verify_unit, n, size) + _sized_cycles("kv_compact", n, size)
        return cycles / self.clock_hz

    def tree_unit_latency_s(self, n_nodes: int) -> float:
        """Time to build the attention mask and position ids of the next tree.

        GPU: `GPU_TREE_KERNELS` launch-bound kernels.  Accelerator: the RTL ``tree_mask``
        unit's cycles from the characterisation table (one node per cycle).
        """
        n = _check_nodes(n_nodes)
        if self.kind == "gpu":
            return GPU_TREE_KERNELS * self.kernel_launch_s
        return _rtl_cycles("tree_mask", n) / self.clock_hz

    def sampling_unit_latency_s(self, n_nodes: np.ndarray, vocab: int) -> np.ndarray:
        """Time of the accelerator's sampling unit to select a token at each of `n_nodes`
        verified nodes over `vocab` logits (per element of `n_nodes`).

        Accelerator: the streaming sampling unit's characterised cycles at ``clock_hz``
        (:func:`~.sampling_tail.sampling_tail`).  GPU: zero here, because a GPU selects
        tokens with kernels of its software stack, which the stack's cost charges.
        """
        n = np.asarray(n_nodes, dtype=np.float64)
        if self.kind == "gpu":
            return np.zeros_like(n)
        from .sampling_tail import sampling_tail  # it prices this spec: imported late

        return sampling_tail(self, n, int(vocab))["gpu_s"]

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = asdict(self)
        out["verify_unit_source"] = self.verify_unit_source
        return out


def check_finite_costs(costs: Mapping[str, Any], *, hw: Any, what: str,
                       field: str = "hw") -> None:
    """:class:`InputError` naming `field` when a cost in `costs` (a number or an array of
    them, by name) is not a finite number.

    An accelerator's parameters are bounded so that its costs stay finite
    (:class:`~.accelerator.AcceleratorConfig`), but a hand-made `HardwareSpec` or a cost
    function may still give inf or NaN: that must never be printed as a result.  `what`
    says whose costs they are ("the target passes of vicuna-7b").
    """
    for name, value in costs.items():
        a = np.asarray(value, dtype=np.float64)
        bad = a[~np.isfinite(a)]
        if bad.size:
            raise InputError(f"{what} on {getattr(hw, 'name', hw)}: {name} came out "
                             f"{float(bad.flat[0])!r}, not a finite number; the device's "
                             "parameters (bandwidth, clock, efficiencies, power) are beyond "
                             "what the cost model prices", field=field)


def _check_nodes(n_nodes: int) -> int:
    n = int(n_nodes)
    if n < 1 or n != n_nodes:
        raise InputError(f"must be a positive integer, not {n_nodes!r}", field="n_nodes")
    return n


def _rtl_source(units: tuple[str, ...], nodes: int | None) -> str:
    """``"rtl-characterisation"``, naming the units of `units` whose table ends below
    `nodes` (their cycles at `nodes` are extrapolated by the latency law)."""
    from specaccel.models.cost.rtl_table import characterised_nodes

    beyond = []
    for unit in units:
        sizes = characterised_nodes(unit)
        if nodes is not None and sizes and nodes > sizes[-1]:
            beyond.append(f"{unit} beyond N={sizes[-1]}")
    if not beyond:
        return "rtl-characterisation"
    return "rtl-characterisation, extrapolated by the latency law: " + ", ".join(beyond)


def _rtl_cycles(unit: str, n: int) -> float:
    """Latency in cycles of RTL `unit` for an `n`-node request (the characterisation table
    and the unit's latency law, :func:`~specaccel.models.cost.rtl_table.request_cycles`)."""
    from specaccel.models.cost.rtl_table import request_cycles

    return request_cycles(unit, n)


def _sized_cycles(unit: str, n: int, size: int) -> float:
    """Cycles of RTL `unit`, built for `size` nodes, answering an `n`-node request: a
    node-serial unit takes the request's nodes, any other the pipeline of its size."""
    from specaccel.models.cost.rtl_table import latency_law

    return _rtl_cycles(unit, n if latency_law(unit).node_serial else size)
