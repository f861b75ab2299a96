"""The parameterised speculative-decoding accelerator (`AcceleratorConfig`).

``specaccel-default`` is `AcceleratorConfig()`; every number is documented (with why) in
docs/cost-model.md, section "specaccel-default".  `AcceleratorConfig.build` turns a
configuration into the `HardwareSpec` the cost model evaluates, with energy per FLOP and
per byte from `energy` and an area estimate from `area`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from specaccel.schema.config_fields import (
    Config,
    config_from_toml,
    from_mapping,
    option,
    read_toml,
)
from specaccel.schema.errors import InputError

from . import area, energy, sampling_unit_table
from .hardware_spec import DATAFLOWS, VERIFY_UNITS, HardwareSpec

MIB = 1024.0**2
GB = 1e9
PRECISIONS = ("bf16", "int8", "fp8")
"""MAC precisions of the PE array (``int8``/``fp8``: a W8A8 design)."""


@dataclass(frozen=True)
class AcceleratorConfig(Config):
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
    lane counts are accepted) and the unit's LUTs join the area.
    """

    name: str = "specaccel-default"
    # Every number has bounds a real design could have, generous by orders of magnitude
    # around today's chips (the comment on each says where its range comes from).  Within
    # them every latency, energy and area the cost model computes is a finite number
    # (tests/cost/test_energy_area.py prices the corners), so a typo such as 1e-300 is
    # refused here, naming the parameter, instead of printing inf or NaN.
    node_nm: int = option(7, help="process node: energy per op and area scale with it",
                          unit="nm", choices=tuple(sorted(energy.ENERGY_SCALE)),
                          what="process node (nm)")
    # FPGA prototypes run at ~100 MHz, GPUs and TPUs at 1-2 GHz
    clock_hz: float = option(1.2e9, help="clock of the PE array, vector unit and the "
                             "tree/verify units", unit="Hz", ge=1e6, le=1e10)
    # a TPU v4 chip has 8 matrix units of 128 x 128 (v6e: 256 x 256), an H100 132 SMs
    array_cores: int = option(8, help="independent systolic arrays", ge=1, le=1024)
    array_rows: int = option(64, help="rows of each array", ge=1, le=1024)
    array_cols: int = option(128, help="columns of each array", ge=1, le=1024)
    dataflow: str = option("os", help="`os` (output-stationary), `ws` (weight-stationary) "
                           "or `is` (input-stationary) systolic arrays", choices=DATAFLOWS)
    # an H100 has 16896 FP32 lanes
    vector_lanes: int = option(2048, help="lanes of the vector unit (element-wise work, GEMV)",
                               ge=1, le=1_000_000)
    # from a microcontroller NPU's 64 KiB to a wafer-scale chip's 44 GB (Cerebras WSE-3)
    sram_mib: float = option(96.0, help="on-chip SRAM", unit="MiB", ge=1 / 16, le=65536)
    weight_sram_mib: float = option(72.0, help="part of the SRAM that may hold weights "
                                    "(<= `sram_mib`)", unit="MiB", gt=0, le=65536)
    # an H100's shared memory moves ~18 kB a cycle, the WSE-3's SRAM ~20 MB a cycle
    sram_bytes_per_cycle: float = option(8192.0, help="SRAM bandwidth per cycle",
                                         unit="B/cycle", ge=1, le=1e8)
    # B200 and MI300X carry 8 stacks; HBM1 moves 128 GB/s a stack, HBM4 about 2 TB/s;
    # a stack holds 1 GB (HBM1) to 64 GB (HBM4)
    hbm_stacks: int = option(5, help="HBM stacks", ge=1, le=64)
    hbm_gbs_per_stack: float = option(409.6, help="bandwidth per stack", unit="GB/s", ge=1,
                                      le=1e4)
    hbm_gb_per_stack: float = option(16.0, help="capacity per stack", unit="GB", ge=0.125,
                                     le=1024)
    # measured efficiencies are 0.3-0.95; below 1 % the design is not doing the work
    bw_efficiency: float = option(0.85, help="achieved / peak HBM bandwidth", ge=0.01, le=1)
    compute_efficiency: float = option(0.95, help="achieved / modelled matrix throughput",
                                       ge=0.01, le=1)
    precision: str = option("bf16", help="MAC precision: `bf16`, or `int8`/`fp8` (W8A8)",
                            choices=PRECISIONS, what="array precision")
    # from a PCIe 3 lane (~1 GB/s) to NVLink 5 (1.8 TB/s); a step takes ~1 us on NVLink,
    # tens of us over Ethernet
    link_bw_bytes_s: float = option(300e9, help="chip-to-chip link bandwidth (tensor "
                                    "parallel)", unit="B/s", ge=1e8, le=1e14)
    link_step_latency_s: float = option(1e-6, help="latency of one all-reduce step", unit="s",
                                        ge=1e-9, le=1e-2)
    # logic at 7 nm leaks ~0.01-0.1 W/mm^2; ~1 W/mm^2 is all a chip can be cooled at
    leakage_w_per_mm2: float = option(0.03, help="static power per mm² of logic",
                                      unit="W/mm²", ge=1e-5, le=1)
    # an HBM stack draws a few watts when idle
    hbm_background_w_per_stack: float = option(3.0, help="background power per HBM stack",
                                               unit="W", ge=0.01, le=100)
    # the largest tree the sweeps and Sequoia build (4096 nodes)
    tree_nodes: int = option(64, help="largest tree the verify and tree units take",
                             unit="nodes", ge=1, le=4096)
    verify_unit: str = option(
        "tree_verify", choices=VERIFY_UNITS, what="verify unit",
        help="RTL verify unit: `tree_verify` (a whole tree per cycle, ceil(log2 N) + 3 "
             "cycles) or `tree_verify_serial` (one node per cycle, n + 3 cycles, a small "
             "fraction of the LUTs: see hdl.md); cycles and area come from its "
             "characterisation")
    sampling_lanes: int = option(
        32, choices=sampling_unit_table.characterised_lanes(), what="sampling lanes",
        unit="logits/cycle",
        help="bf16 logits per cycle of the sampling unit that picks the target's token at "
             "every verified node (ceil(vocab / W) cycles a node; cycles and LUTs from its "
             "characterisation)")

    def check_rules(self) -> None:
        if self.weight_sram_mib > self.sram_mib:
            raise InputError("weight_sram_mib must be <= sram_mib", field="weight_sram_mib")

    @property
    def n_pes(self) -> int:
        return self.array_cores * self.array_rows * self.array_cols

    @property
    def peak_flops(self) -> float:
        return 2.0 * self.n_pes * self.clock_hz

    def rtl_unit_areas(self) -> dict[str, tuple[float, str]]:
        """Area in mm^2 and its source for each RTL unit the design carries (its verify
        unit, ``kv_compact`` and ``tree_mask``, built for `tree_nodes`): the unit alone as
        characterised, LUTs, flip-flops, carry cells and block RAM
        (:func:`~specaccel.models.cost.area.unit_area_mm2`)."""
        return {u: area.unit_area_mm2(u, self.tree_nodes, self.node_nm)
                for u in dict.fromkeys((self.verify_unit, "kv_compact", "tree_mask"))}

    def area_breakdown(self) -> dict[str, float]:
        """Area estimate per component in mm^2 (plus ``"total"``)."""
        pe = area.pe_area_mm2(self.node_nm, self.precision)
        units = self.rtl_unit_areas()
        parts = {
            "pe_array": self.n_pes * pe,
            "vector_unit": self.vector_lanes * area.pe_area_mm2(self.node_nm),
            "sram": area.sram_area_mm2(self.sram_mib * MIB, self.node_nm),
            "hbm_phy": self.hbm_stacks * area.HBM_PHY_MM2_PER_STACK,
            "verify_unit": units[self.verify_unit][0] + units["kv_compact"][0],
            "tree_unit": units["tree_mask"][0],
            "sampling_unit": area.fpga_logic_area_mm2(
                sampling_unit_table.sampling_unit_resources(self.sampling_lanes),
                self.node_nm),
        }
        parts["control_noc"] = area.OVERHEAD_FRACTION * sum(parts.values())
        parts["total"] = sum(parts.values())
        return parts

    def build(self) -> HardwareSpec:
        """The `HardwareSpec` of this design."""
        areas = self.area_breakdown()
        extrapolated = [f"{u} {src[src.index('extrapolated'):].rstrip(')')}"
                        for u, (_, src) in self.rtl_unit_areas().items()
                        if "extrapolated" in src]
        logic_mm2 = areas["total"] - areas["hbm_phy"]
        static_w = (self.leakage_w_per_mm2 * logic_mm2
                    + self.hbm_background_w_per_stack * self.hbm_stacks)
        # skew + drain of one fold; the accelerator's GEMMs are timed by systolic_array
        fill = float(self.array_rows - 1 + self.array_cols - 1)
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
                   f"{self.array_rows}x{self.array_cols} {self.dataflow})"
                   + ("; RTL unit area " + ", ".join(extrapolated) if extrapolated else ""),
        )


def accelerator_design(path: str | None = None, overrides: Mapping[str, Any] | None = None
                       ) -> AcceleratorConfig:
    """An accelerator design: the fields of a TOML design file at `path` (top-level keys
    are :class:`AcceleratorConfig` fields, plus an optional ``name``), then `overrides`;
    defaults for the rest.  Unknown keys and bad values are :class:`InputError`\\ s naming
    the file, line and field; so are a file that is not ``.toml`` and one that sets
    nothing (an empty file would otherwise silently mean the default design)."""
    base = AcceleratorConfig()
    if path is not None:
        suffix = Path(path).suffix.lower()
        if suffix != ".toml":
            raise InputError(f"an accelerator design is a .toml file, not "
                             f"{suffix or '(no suffix)'!r}", file=str(path))
        data = read_toml(path)
        if not data:
            raise InputError("empty file: an accelerator design sets at least one parameter "
                             "(docs/config-format.md)", file=str(path))
        name = data.get("name", base.name)
        if not isinstance(name, str) or not name:
            raise InputError(f"must be a non-empty string, not {name!r}", file=str(path),
                             field="name")
        base = config_from_toml(AcceleratorConfig, path, base=replace(base, name=name),
                                ignore=("name",))
    return from_mapping(AcceleratorConfig, overrides or {}, base=base)
