"""`verilator --lint-only -Wall` is clean on every registered unit's Verilog with the
waiver file, and the waivers are patterns of Amaranth's output, not blanket silence."""

import pytest

from specaccel.hdl.units import registry
from specaccel.hdl.verilator_lint import lint_unit, lint_verilog

#: The rules the waiver file waives (each justified in hdl/verilator_waivers.vlt).
WAIVED = {"DECLFILENAME", "PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND", "WIDTHTRUNC",
          "CASEINCOMPLETE", "ASCRANGE", "UNSIGNED"}


def _configurations():
    """Every unit at N = 4 and 8 with its defaults, and with each other choice of each
    choice parameter (mode, uniform source) at N = 8."""
    for name, unit in registry().items():
        for n in (4, 8) if unit.tree_sized else (8,):
            yield pytest.param(name, n, {}, id=f"{name}-n{n}")
        for param in unit.parameters:
            for choice in param.choices or ():
                if choice != param.default:
                    extra = {param.name: choice}
                    if param.name == "uniform_source":
                        extra["mode"] = "stochastic"
                    yield pytest.param(name, 8, extra, id=f"{name}-n8-{param.name}-{choice}")


@pytest.mark.parametrize("name, nodes, extra", list(_configurations()))
def test_every_unit_lints_clean_with_the_waivers(name, nodes, extra):
    result = lint_unit(name, nodes=nodes, **extra)
    assert result.clean, "\n".join(result.messages[:20])


def test_without_waivers_the_amaranth_patterns_are_reported():
    result = lint_unit("tree_verify_serial", nodes=8, waivers=False)
    assert not result.clean
    rules = result.rules()
    assert {"PROCASSINIT", "UNUSEDSIGNAL"} <= set(rules) and set(rules) <= WAIVED


BAD = """\
module {top}(input clk, input [3:0] a, input [3:0] b, input sel, output reg [3:0] q,
             output reg [3:0] l);
  always @(posedge clk) q = a + b;      // blocking assignment in a clocked block
  always @* if (sel) l = a;             // a latch
endmodule
"""


def test_real_findings_are_not_waived():
    result = lint_verilog(BAD.format(top="bad"), "bad")
    assert not result.clean
    assert {"BLKSEQ", "LATCH"} <= set(result.rules())


def test_only_submodules_named_unit_dot_sub_may_share_the_file():
    # Amaranth names submodules `unit.sub`; any other second module in the file is reported
    verilog = """\
module other(input clk, input [3:0] a, output reg [3:0] q);
  always @(posedge clk) q <= a;
endmodule
module top(input clk, input [3:0] a, output [3:0] q);
  other u(.clk(clk), .a(a), .q(q));
endmodule
"""
    assert lint_verilog(verilog, "top").rules() == {"DECLFILENAME": 1}
    assert lint_verilog(verilog.replace("other", "\\top.other "), "top").clean
