"""AXI-Stream with width adaptation: a unit's wide payload words over a narrow bus.

An AXI-Stream beat here is ``{data, keep, last}`` (``tdata``, ``tkeep``, ``tlast``;
``valid``/``ready`` are the stream's own ``tvalid``/``tready``), ``data_bytes`` wide.  A
payload word of P bits travels as ``ceil(P / (8 * data_bytes))`` beats, least significant
byte first (the bit map of :mod:`.layout_export`), ``last`` on the final beat and ``keep``
marking the bytes that carry payload.

* :class:`WordToAxis` -- serialise payload words into beats;
* :class:`AxisToWord` -- collect beats into payload words.  A packet is the beats up to
  ``last``: a short packet is zero-extended, and beats past the word's length are dropped;
  either sets ``error`` on that word (if the word has an ``error``-style flag the host must
  also check it; the adapter reports it on its own ``error`` output beside the payload);
* :class:`AxisUnit` -- any one-in, one-out stream unit behind an AXI-Stream in and out.
"""

from __future__ import annotations

from collections.abc import Callable

from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .unit_parameters import check_int, validating

__all__ = ["AxisToWord", "AxisUnit", "WordToAxis", "axis_layout", "beats_per_word"]


def axis_layout(data_bytes: int) -> data.StructLayout:
    """One AXI-Stream beat: ``data`` (8 * data_bytes bits), ``keep`` (one bit a byte),
    ``last``."""
    return data.StructLayout({"data": 8 * data_bytes, "keep": data_bytes, "last": 1})


def beats_per_word(word_bits: int, data_bytes: int) -> int:
    return -(-word_bits // (8 * data_bytes))


class _WordAdapter(wiring.Component):
    """What both adapters share: a `word_bits` payload word carried in beats of
    `data_bytes` bytes (``beats`` of them).  `members` makes the signature's members from
    the two widths once they are checked."""

    def __init__(self, *, word_bits: int, data_bytes: int,
                 members: Callable[[int, int], dict]) -> None:
        with validating(self):
            check_int("word_bits", word_bits, 1, 1 << 16)
            check_int("data_bytes", data_bytes, 1, 64)
        self.word_bits = word_bits
        self.data_bytes = data_bytes
        self.beats = beats_per_word(word_bits, data_bytes)
        super().__init__(members(word_bits, data_bytes))


class WordToAxis(_WordAdapter):
    """Payload words (``inp``) to AXI-Stream beats (``out``), one beat per cycle."""

    def __init__(self, *, word_bits: int, data_bytes: int) -> None:
        super().__init__(word_bits=word_bits, data_bytes=data_bytes, members=lambda w, d: {
            "inp": In(stream.Signature(w)),
            "out": Out(stream.Signature(axis_layout(d)))})

    def elaborate(self, platform) -> Module:
        m = Module()
        bus = 8 * self.data_bytes
        n = self.beats
        word = Signal(n * bus)
        k = Signal(range(n + 1))
        busy = Signal()
        m.d.comb += [self.inp.ready.eq(~busy), self.out.valid.eq(busy),
                     self.out.payload.data.eq(word[:bus]),
                     self.out.payload.last.eq(k == n - 1)]
        tail_bytes = -(-(self.word_bits - (n - 1) * bus) // 8)
        full = (1 << self.data_bytes) - 1
        keep_last = (1 << tail_bytes) - 1
        with m.If(k == n - 1):
            m.d.comb += self.out.payload.keep.eq(keep_last)
        with m.Else():
            m.d.comb += self.out.payload.keep.eq(full)
        with m.If(self.inp.valid & self.inp.ready):
            m.d.sync += [word.eq(self.inp.payload), k.eq(0), busy.eq(1)]
        with m.Elif(self.out.valid & self.out.ready):
            m.d.sync += [word.eq(word >> bus), k.eq(k + 1)]
            with m.If(k == n - 1):
                m.d.sync += busy.eq(0)
        return m


class AxisToWord(_WordAdapter):
    """AXI-Stream beats (``inp``) to payload words (``out``); ``error`` beside each word
    says the packet was not exactly the word's length."""

    def __init__(self, *, word_bits: int, data_bytes: int) -> None:
        super().__init__(word_bits=word_bits, data_bytes=data_bytes, members=lambda w, d: {
            "inp": In(stream.Signature(axis_layout(d))),
            "out": Out(stream.Signature(w)), "error": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        bus = 8 * self.data_bytes
        n = self.beats
        word = Signal(n * bus)
        k = Signal(range(n + 1))
        err = Signal()
        m.d.comb += [self.inp.ready.eq(~self.out.valid), self.out.payload.eq(word)]
        with m.If(self.out.valid & self.out.ready):
            m.d.sync += [self.out.valid.eq(0), word.eq(0), k.eq(0), err.eq(0)]
        m.d.comb += self.error.eq(err)
        with m.If(self.inp.valid & self.inp.ready):
            beat = self.inp.payload
            with m.If(k < n):
                for b in range(n):
                    with m.If(k == b):
                        m.d.sync += word[b * bus:(b + 1) * bus].eq(beat.data)
                m.d.sync += k.eq(k + 1)
            with m.Else():
                m.d.sync += err.eq(1)  # beats past the word: dropped
            with m.If(beat.last):
                m.d.sync += self.out.valid.eq(1)
                with m.If(k != n - 1):
                    m.d.sync += err.eq(1)
        return m


class AxisUnit(wiring.Component):
    """`unit` (one stream in, one stream out) behind AXI-Stream ports ``s_axis`` (in) and
    ``m_axis`` (out) of `data_bytes` bytes; ``s_error`` flags a malformed input packet (the
    word still goes to the unit)."""

    def __init__(self, unit: wiring.Component, *, data_bytes: int = 4, inp: str = "req",
                 out: str = "resp") -> None:
        self.unit = unit
        self._names = (inp, out)
        in_bits = Shape.cast(unit.signature.members[inp].signature.members["payload"].shape).width
        out_bits = Shape.cast(unit.signature.members[out].signature.members["payload"].shape).width
        self.deserialiser = AxisToWord(word_bits=in_bits, data_bytes=data_bytes)
        self.serialiser = WordToAxis(word_bits=out_bits, data_bytes=data_bytes)
        super().__init__({"s_axis": In(stream.Signature(axis_layout(data_bytes))),
                          "m_axis": Out(stream.Signature(axis_layout(data_bytes))),
                          "s_error": Out(1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        inp, out = self._names
        m.submodules.unit = unit = self.unit
        m.submodules.deserialiser = des = self.deserialiser
        m.submodules.serialiser = ser = self.serialiser
        wiring.connect(m, wiring.flipped(self.s_axis), des.inp)
        port_in = getattr(unit, inp)
        port_out = getattr(unit, out)
        m.d.comb += [port_in.payload.as_value().eq(des.out.payload), port_in.valid.eq(
            des.out.valid), des.out.ready.eq(port_in.ready), self.s_error.eq(des.error)]
        m.d.comb += [ser.inp.payload.eq(port_out.payload.as_value()),
                     ser.inp.valid.eq(port_out.valid), port_out.ready.eq(ser.inp.ready)]
        wiring.connect(m, ser.out, wiring.flipped(self.m_axis))
        return m
