"""The stream-protocol monitors fail a simulation that breaks the valid/ready rule, in the
Amaranth simulator and in cocotb, and the drivers keep the rule themselves."""

import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from specaccel.hdl.amaranth_stream_driver import run_stream
from specaccel.hdl.stream_protocol import StreamMonitor, StreamProtocolError


def test_monitor_accepts_the_rule():
    mon = StreamMonitor("s")
    # offered at 0, stalled at 1 and 2 with the same payload, taken at 3; idle; taken at once
    for cycle, (valid, ready, payload) in enumerate(
            [(1, 0, 5), (1, 0, 5), (1, 0, 5), (1, 1, 5), (0, 0, 9), (1, 1, 7), (1, 0, 8)]):
        mon.observe(cycle, bool(valid), bool(ready), payload)
    assert (mon.transfers, mon.stalls) == (2, 4)


@pytest.mark.parametrize("second, message", [((0, 1, 5), "valid dropped at cycle 1"),
                                             ((1, 1, 6), "payload changed at cycle 1")])
def test_monitor_rejects_a_broken_rule(second, message):
    mon = StreamMonitor("unit.resp")
    mon.observe(0, True, False, 5)
    with pytest.raises(StreamProtocolError, match=message):
        mon.observe(1, *map(bool, second[:2]), second[2])


class Leaky(wiring.Component):
    """Passes requests through a register but drops its output after one cycle whether it
    was taken or not (the fault the monitors exist for)."""

    def __init__(self):
        super().__init__({"req": In(stream.Signature(8)), "resp": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.req.ready.eq(~self.resp.valid)
        m.d.sync += self.resp.valid.eq(self.req.valid & ~self.resp.valid)
        with m.If(self.req.valid & self.req.ready):
            m.d.sync += self.resp.payload.eq(self.req.payload)
        return m


class Passing(wiring.Component):
    """A correct one-register stream buffer."""

    def __init__(self):
        super().__init__({"req": In(stream.Signature(8)), "resp": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.req.ready.eq(~self.resp.valid | self.resp.ready)
        with m.If(self.req.ready):
            m.d.sync += [self.resp.valid.eq(self.req.valid),
                         self.resp.payload.eq(self.req.payload)]
        return m


def test_amaranth_driver_fails_a_unit_that_breaks_the_rule():
    with pytest.raises(StreamProtocolError, match="resp: valid dropped"):
        run_stream(Leaky(), list(range(20)), seed=1, p_ready=0.3)


def test_amaranth_driver_keeps_the_rule_under_back_pressure():
    """With random valid and ready the input monitor (which watches the driver) and the
    output monitor pass, and every word arrives in order."""
    run = run_stream(Passing(), list(range(200)), seed=2, p_valid=0.5, p_ready=0.4)
    assert run.responses == list(range(200))


def test_cocotb_driver_fails_a_unit_that_breaks_the_rule(tmp_path):
    """The cocotb driver's monitors catch the leaky unit on Icarus (the bench module
    expects the error and fails otherwise), and pass the correct buffer."""
    from pathlib import Path

    from specaccel.hdl.cocotb_runner import run_unit_bench

    here = Path(__file__).parent
    for unit, expect in ((Leaky(), "error"), (Passing(), "pass")):
        measured = run_unit_bench(unit, toplevel="stream_unit",
                                  test_module="cocotb_protocol_bench", test_dir=here,
                                  build_dir=tmp_path / expect, params={"expect": expect})
        assert measured["outcome"] == expect
