"""The parameterised speculative-decoding accelerator (`AcceleratorConfig`).

``specaccel-default`` is `AcceleratorConfig()`; every number is documented (with why) in
docs/cost-model.md, section "specaccel-default".  `AcceleratorConfig.build` turns a
configuration into the `HardwareSpec` the cost model evaluates, with energy per FLOP and
per byte from `energy` and an area estimate from `area`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from specaccel.schema.errors import InputError

from . import area, energy, sampling_tail
from .hardware_spec import DATAFLOWS, VERIFY_UNITS, HardwareSpec

MIB = 1024.0**2
GB = 1e9


@dataclass(frozen=True)
class AcceleratorConfig:
    """Design parameters of the accelerator (defaults = ``specaccel-default``).

    ``precision`` is the MAC precision of the PE array: ``bf16``, or ``int8``/``fp8``
    (a W8A8 design: same MACs per cycle, lower energy per MAC and smaller PEs).

    ``verify_unit`` is the RTL verify unit beside the array, sized for ``tree_nodes``:
    ``tree_verify`` (a whole tree per cycle) or ``tree_verify_serial`` (one node per
    cycle, far smaller); its characterised cycles time the verify step and its LUTs give
    the verify unit's area.

    ``sampling_lanes`` is W, the bf16 logits per cycle of the streaming sampling unit that
    selects the target's token at every verified node: a node costs ``ceil(vocab / W)``
    cycles (:mod:`.sampling_tail`, from the unit's characterisation; only characterised
    lane counts are accepted).
    """

    name: str = "specaccel-default"
    node_nm: int = 7
    clock_hz: float = 1.2e9
    array_cores: int = 8
    array_rows: int = 64
    array_cols: int = 128
    dataflow: str = "os"
    vector_lanes: int = 2048
    sram_mib: float = 96.0
    weight_sram_mib: float = 72.0
    sram_bytes_per_cycle: float = 8192.0
    hbm_stacks: int = 5
    hbm_gbs_per_stack: float = 409.6
    hbm_gb_per_stack: float = 16.0
    bw_efficiency: float = 0.85
    compute_efficiency: float = 0.95
    precision: str = "bf16"
    link_bw_bytes_s: float = 300e9
    link_step_latency_s: float = 1e-6
    leakage_w_per_mm2: float = 0.03
    hbm_background_w_per_stack: float = 3.0
    tree_nodes: int = 64
    verify_unit: str = "tree_verify"
    sampling_lanes: int = 16

    def __post_init__(self) -> None:
        if self.dataflow not in DATAFLOWS:
            raise InputError(f"unknown dataflow {self.dataflow!r}; choose one of {DATAFLOWS}",
                             field="dataflow")
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if not math.isfinite(v):  # NaN compares False with everything: test it first
                raise InputError(f"must be a finite number, not {v!r}", field=f.name)
            if v <= 0:
                raise InputError(f"must be > 0, not {v!r}", field=f.name)
            if f.type == "int" and not float(v).is_integer():
                raise InputError(f"must be an integer, not {v!r}", field=f.name)
            if f.type == "int":
                object.__setattr__(self, f.name, int(v))
        for name in ("bw_efficiency", "compute_efficiency"):
            if getattr(self, name) > 1.0:
                raise InputError(f"must be <= 1, not {getattr(self, name)!r}", field=name)
        if self.precision not in ("bf16", "int8", "fp8"):
            raise InputError(f"unknown array precision {self.precision!r}; choose bf16, int8 "
                             "or fp8", field="precision")
        if self.verify_unit not in VERIFY_UNITS:
            raise InputError(f"unknown verify unit {self.verify_unit!r}; choose one of "
                             f"{', '.join(VERIFY_UNITS)}", field="verify_unit")
        sampling_tail.sampling_timing(self.sampling_lanes)  # a characterised unit
        if self.weight_sram_mib > self.sram_mib:
            raise InputError("weight_sram_mib must be <= sram_mib", field="weight_sram_mib")
        energy.energy_scale(self.node_nm)

    @property
    def n_pes(self) -> int:
        return self.array_cores * self.array_rows * self.array_cols

    @property
    def peak_flops(self) -> float:
        return 2.0 * self.n_pes * self.clock_hz

    def area_breakdown(self) -> dict[str, float]:
        """Area estimate per component in mm^2 (plus ``"total"``)."""
        pe = area.pe_area_mm2(self.node_nm, self.precision)
        verify_luts = (area.unit_luts(self.verify_unit, self.tree_nodes)[0]
                       + area.unit_luts("kv_compact", self.tree_nodes)[0])
        mask_luts, _ = area.unit_luts("tree_mask", self.tree_nodes)
        parts = {
            "pe_array": self.n_pes * pe,
            "vector_unit": self.vector_lanes * area.pe_area_mm2(self.node_nm),
            "sram": area.sram_area_mm2(self.sram_mib * MIB, self.node_nm),
            "hbm_phy": self.hbm_stacks * area.HBM_PHY_MM2_PER_STACK,
            "verify_unit": area.lut_logic_area_mm2(verify_luts, self.node_nm),
            "tree_unit": area.lut_logic_area_mm2(mask_luts, self.node_nm),
            "sampling_unit": area.lut_logic_area_mm2(
                sampling_tail.sampling_unit_luts(self.sampling_lanes), self.node_nm),
        }
        parts["control_noc"] = area.OVERHEAD_FRACTION * sum(parts.values())
        parts["total"] = sum(parts.values())
        return parts

    def build(self) -> HardwareSpec:
        """The `HardwareSpec` of this design."""
        areas = self.area_breakdown()
        logic_mm2 = areas["total"] - areas["hbm_phy"]
        static_w = (self.leakage_w_per_mm2 * logic_mm2
                    + self.hbm_background_w_per_stack * self.hbm_stacks)
        fill = float(self.array_rows + self.array_cols)
        return HardwareSpec(
            name=self.name,
            kind="accelerator",
            peak_flops=self.peak_flops,
            vec_flops=2.0 * self.vector_lanes * self.clock_hz,
            mem_bw_bytes_s=self.hbm_stacks * self.hbm_gbs_per_stack * GB,
            mem_bytes=self.hbm_stacks * self.hbm_gb_per_stack * GB,
            clock_hz=self.clock_hz,
            n_cores=self.array_cores,
            tile_m=self.array_rows,
            tile_n=self.array_cols,
            tile_m_min=self.array_rows,
            fill_cycles=fill,
            dataflow=self.dataflow,
            bw_efficiency=self.bw_efficiency,
            compute_efficiency=self.compute_efficiency,
            sram_bytes=self.sram_mib * MIB,
            sram_bw_bytes_s=self.sram_bytes_per_cycle * self.clock_hz,
            weight_sram_bytes=self.weight_sram_mib * MIB,
            act_in_sram=True,
            e_flop_j=energy.flop_energy_j(self.node_nm, self.precision),
            e_dram_byte_j=energy.dram_byte_energy_j(),
            e_sram_byte_j=energy.sram_byte_energy_j(self.node_nm),
            e_link_byte_j=energy.LINK_BYTE_PJ * 1e-12,
            static_power_w=static_w,
            link_bw_bytes_s=self.link_bw_bytes_s,
            link_step_latency_s=self.link_step_latency_s,
            area_mm2=areas["total"],
            peak_int8_ops=2.0 * self.peak_flops,
            verify_unit_nodes=self.tree_nodes,
            verify_unit=self.verify_unit,
            sampling_lanes=self.sampling_lanes,
            source=f"AcceleratorConfig({self.node_nm} nm, {self.array_cores}x"
                   f"{self.array_rows}x{self.array_cols} {self.dataflow})",
        )
