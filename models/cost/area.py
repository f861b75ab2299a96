"""Silicon area estimates per component of the parameterised accelerator.

Reference areas at 45 nm (Horowitz ISSCC 2014): 16-bit FP multiply 1640 um^2, 16-bit FP
add 1360 um^2; with operand and pipeline registers we take 4000 um^2 per bf16 MAC
processing element (PE) and the same per vector-unit lane.  Logic area scales with the
node by `LOGIC_AREA_SCALE` (transistor density: about 3.3 MTr/mm^2 at 45 nm against about
91 MTr/mm^2 at 7 nm, i.e. 1/28).  SRAM scales worse than logic; `SRAM_UM2_PER_BIT` is the
effective area per bit including periphery (7 nm: 0.027 um^2 high-density cell at about
50 % array efficiency).  An HBM PHY plus controller is taken as 15 mm^2 per stack (it is
an edge-of-die macro of roughly that size on A100/H100 die shots; an estimate).
Control, network-on-chip and clocking add `OVERHEAD_FRACTION` of the sum.

The RTL units (verify, compaction, mask) are sized from the **bare-unit** rows of the RTL
characterisation table (the unit synthesised alone, no harness) on `AREA_DEVICE`, the
iCE40, whose logic is plain LUT4s, flip-flops, carry cells and 4 kbit block RAMs: every
one is counted (:func:`fpga_logic_area_mm2`).  At 45 nm: a LUT4's function is about 10
NAND2 gates (NAND2 0.8 um^2, the NanGate 45 nm cell), a flip-flop 4.5 um^2 (DFF_X1), the
carry half of a full adder 2.1 um^2 (half of FA_X1's 4.3), all at 70 % placement density;
a block RAM is counted as its 4,096 bits of SRAM (an upper bound: a unit may use fewer
bits of a block than it holds).  Between characterised sizes each count is interpolated
on the power law through its two neighbours; beyond the table it is extrapolated with the
power law fitted to all the unit's rows, and the figure's source says so.
"""

from __future__ import annotations

import math

import numpy as np

from specaccel.schema.errors import InputError

LOGIC_AREA_SCALE: dict[int, float] = {
    45: 1.0, 32: 0.55, 28: 0.42, 22: 0.30, 16: 0.16, 14: 0.14, 12: 0.12, 10: 0.07,
    7: 0.036, 5: 0.022, 3: 0.015,
}
SRAM_UM2_PER_BIT: dict[int, float] = {
    45: 0.60, 32: 0.40, 28: 0.25, 22: 0.20, 16: 0.13, 14: 0.12, 12: 0.11, 10: 0.08,
    7: 0.055, 5: 0.045, 3: 0.040,
}
PE_UM2_45NM = 4000.0
#: An int8/fp8 MAC PE: 8-bit multiply 282 um^2 + 32-bit accumulate add 137 um^2 (Horowitz)
#: plus registers.
PE_INT8_UM2_45NM = 800.0
HBM_PHY_MM2_PER_STACK = 15.0
OVERHEAD_FRACTION = 0.15
LUT_GATES = 10.0
NAND2_UM2_45NM = 0.8
FF_UM2_45NM = 4.5
CARRY_UM2_45NM = 2.1
#: Bits of one iCE40 block RAM (SB_RAM40_4K).
BRAM_BITS = 4096
PLACEMENT_DENSITY = 0.7
#: The resources of a characterised unit the area counts (bare-unit table columns).
UNIT_RESOURCES = ("bare_luts", "bare_ffs", "bare_carry", "bare_brams")
#: Fallback size of a verify/tree unit when no characterisation is available: about 40
#: LUTs and 40 flip-flops per node (comparators, the path walk and the request registers
#: of a 16-bit-token unit).
FALLBACK_LUTS_PER_NODE = 40.0
FALLBACK_FFS_PER_NODE = 40.0


def _scale(table: dict[int, float], node_nm: int, what: str) -> float:
    try:
        return table[int(node_nm)]
    except (KeyError, ValueError):
        raise InputError(f"no {what} figure for {node_nm!r} nm; choose one of {sorted(table)}",
                         field="node_nm") from None


def pe_area_mm2(node_nm: int, precision: str = "bf16") -> float:
    """Area of one MAC PE (or vector lane) at `node_nm`: bf16, or int8/fp8."""
    base = PE_INT8_UM2_45NM if precision in ("int8", "fp8") else PE_UM2_45NM
    return base * _scale(LOGIC_AREA_SCALE, node_nm, "logic area") * 1e-6


def sram_area_mm2(n_bytes: float, node_nm: int) -> float:
    """Area of `n_bytes` of on-chip SRAM at `node_nm`."""
    return n_bytes * 8.0 * _scale(SRAM_UM2_PER_BIT, node_nm, "SRAM area") * 1e-6


def fpga_logic_area_mm2(resources: dict[str, float], node_nm: int) -> float:
    """ASIC area at `node_nm` of logic characterised on the iCE40 as `resources`
    (``bare_luts``, ``bare_ffs``, ``bare_carry``, ``bare_brams``; missing ones are 0)."""
    scale = _scale(LOGIC_AREA_SCALE, node_nm, "logic area")
    logic_um2 = (resources.get("bare_luts", 0.0) * LUT_GATES * NAND2_UM2_45NM
                 + resources.get("bare_ffs", 0.0) * FF_UM2_45NM
                 + resources.get("bare_carry", 0.0) * CARRY_UM2_45NM)
    logic = logic_um2 * scale / PLACEMENT_DENSITY * 1e-6
    return logic + sram_area_mm2(resources.get("bare_brams", 0.0) * BRAM_BITS / 8.0, node_nm)


def lut_logic_area_mm2(luts: float, node_nm: int) -> float:
    """ASIC area of the LUT4 logic alone of a unit characterised as `luts` LUTs (its
    flip-flops, carry and RAM not counted: :func:`fpga_logic_area_mm2` counts them)."""
    return fpga_logic_area_mm2({"bare_luts": luts}, node_nm)


def _power_law(points: list[tuple[int, float]], n: float) -> float:
    """Least-squares power law through `points` (positive values), at `n`."""
    pos = [(k, v) for k, v in points if v > 0]
    if not pos:
        return 0.0
    if len(pos) == 1:
        return pos[0][1] * n / pos[0][0]
    slope, icpt = np.polyfit(np.log([k for k, _ in pos]), np.log([v for _, v in pos]), 1)
    return float(math.exp(icpt) * n ** slope)


def unit_resources(unit: str, n_nodes: int, rows=None) -> tuple[dict[str, float], str]:
    """The resources (:data:`UNIT_RESOURCES`) of RTL `unit` built for `n_nodes` nodes, and
    where they come from.

    From the bare-unit rows of the characterisation table on ``AREA_DEVICE``: the row at
    `n_nodes` if there is one (``"rtl-characterisation (unit alone, N=64)"``); between two
    characterised sizes, each count on the power law through them (``"... interpolated
    between N=32 and N=64"``); outside the table, each on the power law fitted to all rows
    (``"... extrapolated beyond N=64 by the fitted power law"``).  Without rows, a per-node
    estimate (``"per-node-estimate"``).
    """
    from specaccel.models.cost.rtl_table import AREA_DEVICE, bundled_rows

    rows = bundled_rows() if rows is None else rows
    mine = sorted((r for r in rows if r["unit"] == unit and r["device"] == AREA_DEVICE
                   and r.get("bare_luts") is not None), key=lambda r: int(r["nodes"]))
    if not mine:
        return ({"bare_luts": FALLBACK_LUTS_PER_NODE * n_nodes,
                 "bare_ffs": FALLBACK_FFS_PER_NODE * n_nodes}, "per-node-estimate")
    sizes = [int(r["nodes"]) for r in mine]
    series = {c: [(int(r["nodes"]), float(r[c] or 0)) for r in mine] for c in UNIT_RESOURCES}
    what = f"rtl-characterisation (unit alone on {AREA_DEVICE}"
    if n_nodes in sizes:
        i = sizes.index(n_nodes)
        return {c: series[c][i][1] for c in UNIT_RESOURCES}, f"{what}, N={n_nodes})"
    if sizes[0] < n_nodes < sizes[-1]:
        hi = next(i for i, k in enumerate(sizes) if k > n_nodes)
        out = {}
        for c in UNIT_RESOURCES:
            (k0, v0), (k1, v1) = series[c][hi - 1], series[c][hi]
            out[c] = (_power_law([(k0, v0), (k1, v1)], n_nodes) if v0 > 0 and v1 > 0
                      else v0 + (v1 - v0) * (n_nodes - k0) / (k1 - k0))
        return out, f"{what}, interpolated between N={sizes[hi - 1]} and N={sizes[hi]})"
    side = "beyond" if n_nodes > sizes[-1] else "below"
    edge = sizes[-1] if n_nodes > sizes[-1] else sizes[0]
    return ({c: _power_law(series[c], n_nodes) for c in UNIT_RESOURCES},
            f"{what}, extrapolated {side} N={edge} by the fitted power law)")


def unit_area_mm2(unit: str, n_nodes: int, node_nm: int) -> tuple[float, str]:
    """ASIC area of RTL `unit` built for `n_nodes` nodes at `node_nm`, and its source
    (:func:`unit_resources`)."""
    resources, source = unit_resources(unit, n_nodes)
    return fpga_logic_area_mm2(resources, node_nm), source
