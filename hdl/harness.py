"""Pin-light synthesis harness: a unit between a serial-in and a serial-out shift register.

A bare unit has hundreds of I/O bits, more than an FPGA package has pins, and its
I/O-pad delays would dominate timing.  The harness gives every input port of the unit a
bit of a long shift register fed from one pin (``sin``) and captures every output port
into a register that is loaded in parallel (``load = 1``) or shifted out to one pin
(``sout``).  Nothing of the unit can be optimised away (all inputs are controllable, all
outputs observable), the I/O is five pins (``clk``, ``rst``, ``sin``, ``load``, ``sout``),
and every timing path through the unit is register to register, so the reported Fmax is
the unit's own.
"""

from __future__ import annotations

from amaranth import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

HARNESS_PORTS = ("clk", "rst", "sin", "load", "sout")


def unit_port_bits(unit: wiring.Component) -> tuple[int, int]:
    """(input bits, output bits) of `unit`'s signature, flattened."""
    n_in = n_out = 0
    for _path, member, value in unit.signature.flatten(unit):
        width = len(Value.cast(value))
        if member.flow == wiring.In:
            n_in += width
        else:
            n_out += width
    return n_in, n_out


class ShiftRegisterHarness(wiring.Component):
    """Wrap `unit` so that it has five pins and register-to-register timing.

    Parameters
    ----------
    unit : wiring.Component
        The unit under synthesis (any signature; all members are wired).

    Attributes
    ----------
    sin : Signal(1), In
        Serial input; shifts into the register that drives all of the unit's inputs.
    load : Signal(1), In
        1: capture all of the unit's outputs in parallel; 0: shift the capture register.
    sout : Signal(1), Out
        Serial output: bit 0 of the capture register.
    """

    def __init__(self, unit: wiring.Component) -> None:
        if not isinstance(unit, wiring.Component):
            raise TypeError(f"unit must be an amaranth wiring.Component, not {unit!r}")
        self.unit = unit
        super().__init__({"sin": In(1), "load": In(1), "sout": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.unit = self.unit
        ins: list[Value] = []
        outs: list[Value] = []
        for _path, member, value in self.unit.signature.flatten(self.unit):
            (ins if member.flow == wiring.In else outs).append(Value.cast(value))
        n_in = sum(len(v) for v in ins)
        n_out = sum(len(v) for v in outs)
        if n_in:
            shift_in = Signal(n_in)
            m.d.sync += shift_in.eq(Cat(self.sin, shift_in[:-1]))
            pos = 0
            for v in ins:
                m.d.comb += v.eq(shift_in[pos:pos + len(v)])
                pos += len(v)
        if n_out:
            capture = Signal(n_out)
            with m.If(self.load):
                m.d.sync += capture.eq(Cat(*outs))
            with m.Else():
                m.d.sync += capture.eq(capture[1:])
            m.d.comb += self.sout.eq(capture[0])
        return m
