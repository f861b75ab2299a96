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
The verify and tree units use the LUT counts of the RTL characterisation table when
present (1 LUT4 ~ 10 NAND2 gates, NAND2 0.8 um^2 at 45 nm, 70 % placement density).
"""

from __future__ import annotations

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
PLACEMENT_DENSITY = 0.7
#: Fallback LUT count of a verify/tree unit when no characterisation is available:
#: about 40 LUTs per node (comparators and the path walk of a 16-bit-token unit).
FALLBACK_LUTS_PER_NODE = 40.0


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


def lut_logic_area_mm2(luts: float, node_nm: int) -> float:
    """ASIC area of logic characterised as `luts` FPGA LUTs."""
    gate = NAND2_UM2_45NM * _scale(LOGIC_AREA_SCALE, node_nm, "logic area")
    return luts * LUT_GATES * gate / PLACEMENT_DENSITY * 1e-6


def unit_luts(unit: str, n_nodes: int) -> tuple[float, str]:
    """LUTs of RTL `unit` sized for `n_nodes`, and where the figure comes from."""
    try:
        from specaccel.models.cost.rtl_table import load_characterisation

        rows = [r for r in load_characterisation() if str(r.get("unit")) == unit
                and r.get("luts") not in (None, "")]
    except (ImportError, FileNotFoundError, OSError):
        rows = []
    if rows:
        best = min(rows, key=lambda r: (int(r["nodes"]) < n_nodes, abs(int(r["nodes"]) - n_nodes)))
        scale = n_nodes / max(int(best["nodes"]), 1)
        return float(best["luts"]) * scale, "rtl-characterisation"
    return FALLBACK_LUTS_PER_NODE * n_nodes, "per-node-estimate"
