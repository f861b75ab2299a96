"""8N1 UART receiver and transmitter with byte streams (the board's host link).

``divisor`` is clock cycles per bit (``clk_hz / baud``; 217 for 115,200 baud at 25 MHz).
The receiver samples each bit in its middle, a start bit that is high again at its middle
is ignored (glitch), and a stop bit that is low drops the byte and sets ``framing_error``
for one cycle; a byte that arrives while the previous one is still unread is dropped and
counted in ``overruns``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .unit_parameters import check_int, validating

__all__ = ["UARTReceiver", "UARTTransmitter"]


class UARTReceiver(wiring.Component):
    """``rx`` pin in, ``out`` bytes (a one-entry buffer: read it within a byte time)."""

    def __init__(self, *, divisor: int) -> None:
        with validating(self):
            check_int("divisor", divisor, 4, 1 << 20)
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "out": Out(stream.Signature(8)),
                          "framing_error": Out(1), "overruns": Out(16)})

    def elaborate(self, platform) -> Module:
        m = Module()
        d = self.divisor
        rx = Signal(init=1)
        rx_sync = Signal(init=1)
        m.d.sync += [rx_sync.eq(self.rx), rx.eq(rx_sync)]  # two-flop synchroniser
        timer = Signal(range(d * 3 // 2 + 1))
        bit = Signal(range(9))
        shreg = Signal(8)
        with m.If(self.out.ready):
            m.d.sync += self.out.valid.eq(0)
        m.d.sync += self.framing_error.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(d // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.next = "IDLE"  # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(d - 1), bit.eq(0)]
                        m.next = "DATA"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq((shreg >> 1) | (rx << 7)), timer.eq(d - 1),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(~rx):
                        m.d.sync += self.framing_error.eq(1)
                    with m.Elif(self.out.valid & ~self.out.ready):
                        m.d.sync += self.overruns.eq(self.overruns + 1)
                    with m.Else():
                        m.d.sync += [self.out.payload.eq(shreg), self.out.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
        return m


class UARTTransmitter(wiring.Component):
    """``inp`` bytes in, ``tx`` pin out (idle high, one stop bit)."""

    def __init__(self, *, divisor: int) -> None:
        with validating(self):
            check_int("divisor", divisor, 4, 1 << 20)
        self.divisor = divisor
        super().__init__({"inp": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        d = self.divisor
        timer = Signal(range(d))
        bits = Signal(10)  # start, 8 data bits LSB first, stop
        left = Signal(range(12))  # 10 bits to send, then one bit time for the stop bit
        m.d.comb += self.inp.ready.eq(left == 0)
        with m.If(self.inp.valid & self.inp.ready):
            m.d.sync += [bits.eq((self.inp.payload << 1) | (1 << 9)), left.eq(11),
                         timer.eq(0)]
        with m.Elif((left != 0) & (timer == 0)):
            m.d.sync += [left.eq(left - 1), timer.eq(d - 1)]
            with m.If(left > 1):
                m.d.sync += [self.tx.eq(bits[0]), bits.eq(bits >> 1)]
        with m.Elif(left != 0):
            m.d.sync += timer.eq(timer - 1)
        return m
