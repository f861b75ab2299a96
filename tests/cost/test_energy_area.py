"""Energy per operation / byte by node, area per component, and the factor derivation."""

import pytest

from specaccel.models.cost import (
    AcceleratorConfig,
    area,
    energy,
    get_hardware,
    get_model,
    pass_cost,
)
from specaccel.schema.errors import InputError


def test_horowitz_figures_at_45nm_and_scaling():
    assert energy.flop_energy_j(45) == pytest.approx(0.75e-12)  # (1.1 + 0.4) / 2 pJ
    assert energy.flop_energy_j(45, "int8") == pytest.approx(0.115e-12)
    assert energy.sram_byte_energy_j(45) == pytest.approx(50e-12 / 8)
    nodes = sorted(energy.ENERGY_SCALE, reverse=True)
    per_node = [energy.flop_energy_j(n) for n in nodes]
    assert all(a > b for a, b in zip(per_node, per_node[1:], strict=False))
    assert energy.dram_byte_energy_j() == pytest.approx(31.2e-12)
    with pytest.raises(InputError):
        energy.energy_scale(6)


def test_area_grows_with_the_design_and_shrinks_with_the_node():
    base = AcceleratorConfig().area_breakdown()
    bigger = AcceleratorConfig(array_cores=16, sram_mib=192, weight_sram_mib=100).area_breakdown()
    assert bigger["pe_array"] == pytest.approx(2 * base["pe_array"])
    assert bigger["sram"] == pytest.approx(2 * base["sram"])
    older = AcceleratorConfig(node_nm=16).area_breakdown()
    assert older["pe_array"] > 4 * base["pe_array"]
    assert AcceleratorConfig(precision="int8").area_breakdown()["pe_array"] < base["pe_array"]
    assert area.sram_area_mm2(1024**2, 7) == pytest.approx(8 * 1024**2 * 0.055e-6)


def test_energy_of_a_pass_adds_up_from_its_parts():
    hw = get_hardware("specaccel-default")
    c = pass_cost(get_model("llama-2-7b"), hw, tokens=8, context=2000, phase="verify")
    sram = c.bytes - c.dram_bytes
    want = (c.flops * hw.e_flop_j + c.dram_bytes * hw.e_dram_byte_j + sram * hw.e_sram_byte_j
            + hw.static_power_w * c.latency_s)
    assert c.energy_j == pytest.approx(want, rel=1e-12)
    older = AcceleratorConfig(node_nm=28).build()
    c28 = pass_cost(get_model("llama-2-7b"), older, tokens=8, context=2000, phase="verify")
    assert c28.energy_j > c.energy_j


def test_gpu_flat_factors_mirror_the_kernel_model():
    hw = get_hardware("a100-80gb")
    assert hw.bw_efficiency == hw.gpu.dram_efficiency == pytest.approx(0.784)
    assert hw.compute_efficiency == hw.gpu.mma_efficiency
    assert hw.roofline().gpu is None and hw.roofline().bw_efficiency == 1.0
