"""Pin-light place-and-route harness: a unit between stream register stages fed and read
through shift registers.

A bare unit has hundreds of I/O bits, more than an FPGA package has pins, and its I/O-pad
delays would dominate timing, so it cannot be placed and routed on its own.  The harness
gives it five pins (``clk``, ``rst``, ``sin``, ``load``, ``sout``) and surrounds each of
its ``lib.stream`` interfaces with the one-register stage a real neighbour would be:

* an **input stream** (the unit consumes it) is driven by a *producer stage*: ``valid``
  is a register that takes a new offer only when the stage is empty or the unit takes the
  current one (``~valid | ready``), and the payload registers hold under the same enable.
  The unit's ``ready`` output therefore drives the producer's register enables, as it
  would in a pipeline of such stages;
* an **output stream** (the unit produces it) feeds a *consumer stage*: a one-entry
  buffer whose ``ready = ~full | drain``, one LUT from two registers (``full``, and
  ``drain``, the registered ready of the stage after it); a handshake loads the payload
  into the buffer.  The unit's ``ready`` input is thus logic driven by registers, never a
  constant, and its ``valid``/``payload`` outputs end at the buffer's load enable.

Payload and control bits come from shift registers fed by ``sin``; every payload buffer
and every other output bit shifts out through ``sout`` (``load`` captures the outputs that
are not stream payloads).  Nothing of the unit can be optimised away (all inputs are
controllable, all outputs observable) and every path through the unit is register to
register, so the reported Fmax is the unit's own between realistic neighbours.

The harness is for place and route only: its flip-flops (about one per unit port bit)
and LUTs (about one per output bit) are not the unit's area.  The unit's own area is
synthesised without it (:func:`specaccel.hdl.synthesis.synthesise_bare`).
"""

from __future__ import annotations

from amaranth import Cat, Module, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

HARNESS_PORTS = ("clk", "rst", "sin", "load", "sout")
#: How the harness drives an output stream's ``ready`` (the docs quote this).
READY_PATH = "ready = ~full | drain: a one-entry consumer buffer, one LUT from two registers"


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


def _streams(unit: wiring.Component) -> tuple[list, list, set[str]]:
    """(input streams, output streams, their member names) of `unit`'s top level."""
    ins, outs = [], []
    for name, member in unit.signature.members.items():
        if member.is_signature and isinstance(member.signature, stream.Signature):
            (ins if member.flow == wiring.In else outs).append(getattr(unit, name))
    names = {n for n, m in unit.signature.members.items()
             if m.is_signature and isinstance(m.signature, stream.Signature)}
    return ins, outs, names


class ShiftRegisterHarness(wiring.Component):
    """Wrap `unit` so that it has five pins, register-to-register timing and stream
    neighbours with a realistic handshake (module docstring).

    Parameters
    ----------
    unit : wiring.Component
        The unit under synthesis (any signature; ``lib.stream`` members get producer or
        consumer stages, every other member is wired to the shift registers).

    Attributes
    ----------
    sin : Signal(1), In
        Serial input: feeds the control bits (offers, drains, other inputs), then each
        producer stage's payload.
    load : Signal(1), In
        1: capture the non-payload outputs in parallel; 0: shift the output chain.
    sout : Signal(1), Out
        Serial output: the end of the output chain.
    """

    def __init__(self, unit: wiring.Component) -> None:
        if not isinstance(unit, wiring.Component):
            raise TypeError(f"unit must be an amaranth wiring.Component, not {unit!r}")
        self.unit = unit
        super().__init__({"sin": In(1), "load": In(1), "sout": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.unit = unit = self.unit
        in_streams, out_streams, stream_names = _streams(unit)

        # unit inputs and outputs that are not part of a stream handshake
        other_in: list[Value] = []
        other_out: list[Value] = []
        for path, member, value in unit.signature.flatten(unit):
            if path[0] in stream_names:
                continue
            (other_in if member.flow == wiring.In else other_out).append(Value.cast(value))

        # control shift register (free-running): offers, drains, the other inputs
        n_ctrl = len(in_streams) + len(out_streams) + sum(len(v) for v in other_in)
        ctrl = Signal(max(n_ctrl, 1))
        m.d.sync += ctrl.eq(Cat(self.sin, ctrl[:-1]))
        bits = iter(range(n_ctrl))
        serial = ctrl[-1]

        # producer stages: valid register and payload held while offered and not taken
        for s in in_streams:
            offer = ctrl[next(bits)]
            valid = Signal(name=f"{s.valid.name}_producer")
            payload = Signal(len(Value.cast(s.payload)), name=f"{s.valid.name}_payload")
            with m.If(~valid | s.ready):
                m.d.sync += [valid.eq(offer), payload.eq(Cat(serial, payload[:-1]))]
            m.d.comb += [s.valid.eq(valid), s.payload.eq(payload)]
            serial = payload[-1]

        # the other inputs from the control register
        for v in other_in:
            m.d.comb += v.eq(Cat(*(ctrl[next(bits)] for _ in range(len(v)))))

        # output chain: consumer buffers (loaded on their handshake), then the captures
        chain_in = serial  # the input chain's end keeps every input bit observable
        for s in out_streams:
            drain = ctrl[next(bits)]
            full = Signal(name=f"{s.valid.name}_full")
            ready = ~full | drain
            take = s.valid & ready
            m.d.comb += s.ready.eq(ready)
            with m.If(take):
                m.d.sync += full.eq(1)
            with m.Elif(drain):
                m.d.sync += full.eq(0)
            width = len(Value.cast(s.payload))
            buf = Signal(width, name=f"{s.valid.name}_buffer")
            with m.If(take):
                m.d.sync += buf.eq(s.payload)
            with m.Else():
                m.d.sync += buf.eq(Cat(chain_in, buf[:-1]))
            chain_in = buf[-1] ^ full

        # stream readys of input streams and any other outputs: loaded on `load`
        captured = Cat(*(s.ready for s in in_streams), *other_out)
        if len(captured):
            capture = Signal(len(captured))
            with m.If(self.load):
                m.d.sync += capture.eq(captured)
            with m.Else():
                m.d.sync += capture.eq(Cat(chain_in, capture[:-1]))
            chain_in = capture[-1]
        out = Signal()
        m.d.sync += out.eq(chain_in)
        m.d.comb += self.sout.eq(out)
        return m
