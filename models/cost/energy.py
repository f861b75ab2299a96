"""Energy per operation and per byte by process node.

Reference figures are Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014, for 45 nm at 0.9 V:

* 16-bit FP add 0.4 pJ, 16-bit FP multiply 1.1 pJ  -> bf16 MAC 1.5 pJ (0.75 pJ/FLOP);
* 8-bit int add 0.03 pJ, 8-bit int multiply 0.2 pJ -> int8 MAC 0.23 pJ;
* SRAM read of 64 bits: 8 KB array 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ.  A large on-chip
  buffer built from 256 KB banks sits between the last two: we take 50 pJ / 64 bits
  (6.25 pJ/byte) at 45 nm.

These scale with the process node by `ENERGY_SCALE` (dynamic energy relative to 45 nm:
capacitance shrinks with the feature size and the supply voltage stops falling below
~16 nm; a rough, +-30 % reading of published scaling studies).  DRAM energy does not
follow the logic node: HBM2/HBM2e transfers cost about 3.9 pJ/bit (O'Connor et al.,
"Fine-grained DRAM", MICRO 2017), i.e. 31.2 pJ/byte, at every node.
"""

from __future__ import annotations

from specaccel.schema.errors import InputError

#: Dynamic energy of logic and SRAM at node (nm) relative to 45 nm.
ENERGY_SCALE: dict[int, float] = {
    45: 1.0, 32: 0.70, 28: 0.60, 22: 0.50, 16: 0.38, 14: 0.35, 12: 0.32, 10: 0.27,
    7: 0.20, 5: 0.15, 3: 0.12,
}

BF16_MAC_PJ_45NM = 1.5
INT8_MAC_PJ_45NM = 0.23
SRAM_BYTE_PJ_45NM = 50.0 / 8.0
HBM_BYTE_PJ = 3.9 * 8.0


def energy_scale(node_nm: int) -> float:
    """Dynamic-energy factor of `node_nm` relative to 45 nm (InputError if not tabled)."""
    try:
        return ENERGY_SCALE[int(node_nm)]
    except (KeyError, ValueError):
        raise InputError(
            f"no energy scaling for {node_nm!r} nm; choose one of {sorted(ENERGY_SCALE)}",
            field="node_nm",
        ) from None


def flop_energy_j(node_nm: int, precision: str = "bf16") -> float:
    """Energy per FLOP (half a MAC) of the matrix engine at `node_nm`."""
    mac = INT8_MAC_PJ_45NM if precision in ("int8", "fp8") else BF16_MAC_PJ_45NM
    return mac / 2.0 * energy_scale(node_nm) * 1e-12


def sram_byte_energy_j(node_nm: int) -> float:
    """Energy per byte read or written in the large on-chip SRAM at `node_nm`."""
    return SRAM_BYTE_PJ_45NM * energy_scale(node_nm) * 1e-12


def dram_byte_energy_j() -> float:
    """Energy per HBM byte (node independent)."""
    return HBM_BYTE_PJ * 1e-12

#: Energy per byte over a chip-to-chip serial link (NVLink-class SerDes are quoted at
#: roughly 1-2 pJ/bit; we take 1.5 pJ/bit = 12 pJ/byte).
LINK_BYTE_PJ = 12.0
