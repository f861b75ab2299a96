"""The RTL units' area: the unit alone, flip-flops and block RAM counted, sizes between
and beyond the table said so."""

import math

import pytest

from specaccel.models.cost import AcceleratorConfig, area
from specaccel.models.cost.rtl_table import AREA_DEVICE, load_characterisation


def _rows(unit):
    return {int(r["nodes"]): r for r in load_characterisation()
            if r["unit"] == unit and r["device"] == AREA_DEVICE}


def test_flip_flops_carry_and_block_ram_each_add_area():
    base = {"bare_luts": 100.0, "bare_ffs": 0.0, "bare_carry": 0.0, "bare_brams": 0.0}
    a0 = area.fpga_logic_area_mm2(base, 45)
    assert a0 == pytest.approx(100 * 10 * 0.8 / 0.7 * 1e-6)
    assert area.fpga_logic_area_mm2({**base, "bare_ffs": 100.0}, 45) == pytest.approx(
        a0 + 100 * 4.5 / 0.7 * 1e-6)
    assert area.fpga_logic_area_mm2({**base, "bare_carry": 10.0}, 45) == pytest.approx(
        a0 + 10 * 2.1 / 0.7 * 1e-6)
    # a block RAM is its 4,096 bits of SRAM
    assert area.fpga_logic_area_mm2({**base, "bare_brams": 2.0}, 7) == pytest.approx(
        area.fpga_logic_area_mm2(base, 7) + area.sram_area_mm2(2 * 4096 / 8, 7))
    assert area.lut_logic_area_mm2(100, 45) == pytest.approx(a0)


@pytest.mark.parametrize("unit", ["tree_verify", "tree_verify_serial", "kv_compact",
                                  "tree_mask"])
def test_a_characterised_size_is_its_row(unit):
    rows = _rows(unit)
    n = max(rows)
    res, source = area.unit_resources(unit, n)
    assert res == {c: float(rows[n][c]) for c in area.UNIT_RESOURCES}
    assert source == f"rtl-characterisation (unit alone on {AREA_DEVICE}, N={n})"
    assert "extrapolated" not in source


def test_between_sizes_the_counts_follow_the_power_law_through_the_neighbours():
    rows = _rows("tree_verify_serial")
    res, source = area.unit_resources("tree_verify_serial", 48)
    assert source.endswith("interpolated between N=32 and N=64)")
    lo, hi = rows[32], rows[64]
    for c in ("bare_luts", "bare_ffs"):
        slope = math.log(hi[c] / lo[c]) / math.log(2)
        assert res[c] == pytest.approx(lo[c] * 1.5 ** slope)
        assert lo[c] < res[c] < hi[c]


def test_beyond_the_table_the_area_is_extrapolated_and_says_so():
    res, source = area.unit_resources("tree_verify", 256)
    assert "extrapolated beyond N=64 by the fitted power law" in source
    assert res["bare_luts"] > float(_rows("tree_verify")[64]["bare_luts"])
    hw = AcceleratorConfig(tree_nodes=256).build()
    assert "RTL unit area" in hw.source and "tree_verify extrapolated beyond N=64" in hw.source
    assert hw.verify_unit_source.startswith("rtl-characterisation, extrapolated by the "
                                            "latency law: tree_verify beyond N=64")
    assert AcceleratorConfig().build().verify_unit_source == "rtl-characterisation"
    assert "extrapolated" not in AcceleratorConfig().build().source


def test_no_rows_falls_back_to_a_per_node_estimate():
    res, source = area.unit_resources("no_such_unit", 10)
    assert source == "per-node-estimate" and res["bare_luts"] == 400 and res["bare_ffs"] == 400


def test_the_accelerator_counts_its_units_from_the_bare_rows():
    cfg = AcceleratorConfig(verify_unit="tree_verify_serial")
    units = cfg.rtl_unit_areas()
    assert set(units) == {"tree_verify_serial", "kv_compact", "tree_mask"}
    parts = cfg.area_breakdown()
    assert parts["verify_unit"] == pytest.approx(units["tree_verify_serial"][0]
                                                 + units["kv_compact"][0])
    assert parts["tree_unit"] == pytest.approx(units["tree_mask"][0])


def test_the_sampling_unit_is_counted_alone_with_its_flip_flops():
    from specaccel.models.cost import sampling_unit_table as sut

    cfg = AcceleratorConfig()
    rows = [r for r in sut.load_sampling_table() if r["kind"] == "unit"
            and r["lanes"] == cfg.sampling_lanes and r["device"] == sut.AREA_DEVICE]
    assert len(rows) == 1 and rows[0]["bare_ffs"] > 0
    res = sut.sampling_unit_resources(cfg.sampling_lanes)
    assert res == {c: float(rows[0][c]) for c in area.UNIT_RESOURCES}
    assert cfg.area_breakdown()["sampling_unit"] == pytest.approx(
        area.fpga_logic_area_mm2(res, cfg.node_nm))
    assert area.fpga_logic_area_mm2(res, 7) > area.lut_logic_area_mm2(res["bare_luts"], 7)
