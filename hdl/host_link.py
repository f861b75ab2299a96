"""The board's host link: a UART byte protocol, a small register file and the core.

Host to device (little-endian)::

    'W' addr value[4]        write register `addr`
    'R' addr                 read register `addr`   -> 'r' value[4]
    'N' header[H] logits[2V] one node: its header (the core's node-header layout, H bytes)
                             then VOCAB bf16 logits, two bytes each

Device to host: ``'r' value[4]`` for a read and ``'T' commit[C]`` (the core's commit
layout, C bytes) after each tree's last node.  H, C and every field's bit position are in
the exported layout (:mod:`.layout_export`).

Registers (32 bits): 0 ``ID`` (``0x53504543``, "SPEC"), 1 ``PARAMS`` (nodes | lanes << 8 |
max_top_k << 16 | token_width << 24), 2 ``VOCAB`` (logits per node, read-write), 3
``TREES`` and 4 ``NODES`` (answered so far), 5 ``STATUS`` (UART overruns in the low 16 bits,
framing errors in the high 16), 6 ``SCRATCH`` (read-write).

Widths are adapted by :class:`~specaccel.hdl.axi_stream.AxisToWord` (header bytes to a
header word), a byte-to-lane packer (logit bytes to W-lane beats with ``count`` and
``last``) and :class:`~specaccel.hdl.axi_stream.WordToAxis` (commit word to bytes).
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .axi_stream import AxisToWord, WordToAxis, beats_per_word
from .streaming_core import StreamingSpecDecodeCore
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["REGISTERS", "ID_VALUE", "HostLinkTop"]

ID_VALUE = 0x53504543
REGISTERS = {"ID": 0, "PARAMS": 1, "VOCAB": 2, "TREES": 3, "NODES": 4, "STATUS": 5,
             "SCRATCH": 6}


class HostLinkTop(wiring.Component):
    """UART pins ``rx``/``tx`` around a :class:`StreamingSpecDecodeCore`.

    Parameters
    ----------
    divisor:
        Clock cycles per UART bit.
    **core:
        :class:`StreamingSpecDecodeCore` parameters.
    """

    def __init__(self, *, divisor: int, **core) -> None:
        self.core = StreamingSpecDecodeCore(**core)
        self.receiver = UARTReceiver(divisor=divisor)
        self.transmitter = UARTTransmitter(divisor=divisor)
        self.header_bytes = beats_per_word(self.core.header_layout.size, 1)
        self.commit_bytes = beats_per_word(self.core.commit_layout.size, 1)
        self.header_in = AxisToWord(word_bits=self.core.header_layout.size, data_bytes=1)
        self.commit_out = WordToAxis(word_bits=self.core.commit_layout.size, data_bytes=1)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform) -> Module:
        m = Module()
        core = self.core
        m.submodules.core = core
        m.submodules.rx = rx = self.receiver
        m.submodules.tx = tx = self.transmitter
        m.submodules.header_in = hin = self.header_in
        m.submodules.commit_out = cout = self.commit_out
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]

        # ---- registers -------------------------------------------------------------------
        vocab = Signal(32, init=1)
        scratch = Signal(32)
        framing = Signal(16)
        with m.If(rx.framing_error):
            m.d.sync += framing.eq(framing + 1)
        params = (core.nodes | core.lanes << 8 | core.max_top_k << 16
                  | core.token_width << 24)
        regs = Array([Const(ID_VALUE, 32), Const(params, 32), vocab, core.trees,
                      core.nodes_done, Cat(rx.overruns, framing), scratch, Const(0, 32)])

        # ---- receive: command parser -------------------------------------------------------
        byte = rx.out.payload
        addr = Signal(8)
        value = Signal(32)
        k = Signal(range(max(self.header_bytes, 4) + 1))
        left = Signal(32)                     # logits of this node still to come
        lo = Signal(8)                        # low byte of a logit
        lanes = [Signal(16, name=f"lane{j}") for j in range(core.lanes)]
        lane = Signal(range(core.lanes + 1))
        beat_valid = Signal()
        beat_last = Signal()
        read_pending = Signal()
        read_value = Signal(32)
        lw = core.logits.payload
        m.d.comb += [core.logits.valid.eq(beat_valid), lw.count.eq(lane),
                     lw.last.eq(beat_last)]
        m.d.comb += [lw.lanes[j].eq(lanes[j]) for j in range(core.lanes)]
        with m.If(core.logits.valid & core.logits.ready):
            m.d.sync += [beat_valid.eq(0), lane.eq(0)]
        wiring.connect(m, hin.out, core.node)
        m.d.comb += [hin.inp.payload.data.eq(byte), hin.inp.payload.keep.eq(1),
                     hin.inp.payload.last.eq(k == self.header_bytes - 1)]

        with m.FSM(name="parser"):
            with m.State("CMD"):
                m.d.comb += rx.out.ready.eq(1)
                with m.If(rx.out.valid):
                    m.d.sync += k.eq(0)
                    with m.Switch(byte):
                        with m.Case(ord("W")):
                            m.next = "W_ADDR"
                        with m.Case(ord("R")):
                            m.next = "R_ADDR"
                        with m.Case(ord("N")):
                            m.next = "HEADER"
            with m.State("W_ADDR"):
                m.d.comb += rx.out.ready.eq(1)
                with m.If(rx.out.valid):
                    m.d.sync += addr.eq(byte)
                    m.next = "W_VALUE"
            with m.State("W_VALUE"):
                m.d.comb += rx.out.ready.eq(1)
                with m.If(rx.out.valid):
                    m.d.sync += [value.eq(Cat(value[8:], byte)), k.eq(k + 1)]
                    with m.If(k == 3):
                        m.next = "W_DO"
            with m.State("W_DO"):
                with m.If(addr == REGISTERS["VOCAB"]):
                    m.d.sync += vocab.eq(value)
                with m.If(addr == REGISTERS["SCRATCH"]):
                    m.d.sync += scratch.eq(value)
                m.next = "CMD"
            with m.State("R_ADDR"):
                m.d.comb += rx.out.ready.eq(~read_pending)
                with m.If(rx.out.valid & ~read_pending):
                    m.d.sync += [read_value.eq(Mux(byte < 8, regs[byte[:3]], 0)),
                                 read_pending.eq(1)]
                    m.next = "CMD"
            with m.State("HEADER"):  # header bytes -> header word -> core.node
                m.d.comb += [hin.inp.valid.eq(rx.out.valid), rx.out.ready.eq(hin.inp.ready)]
                with m.If(rx.out.valid & hin.inp.ready):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == self.header_bytes - 1):
                        m.d.sync += left.eq(vocab)
                        m.next = "LOGIT_LO"
            with m.State("LOGIT_LO"):
                with m.If(left == 0):
                    # an empty vocabulary: one empty last beat, once the lanes are free
                    with m.If(~beat_valid):
                        m.d.sync += [beat_valid.eq(1), beat_last.eq(1)]
                        m.next = "CMD"
                with m.Else():
                    m.d.comb += rx.out.ready.eq(1)
                    with m.If(rx.out.valid):
                        m.d.sync += lo.eq(byte)
                        m.next = "LOGIT_HI"
            with m.State("LOGIT_HI"):  # a logit completes; a full beat or the last goes out
                m.d.comb += rx.out.ready.eq(~beat_valid)
                with m.If(rx.out.valid & ~beat_valid):
                    for j in range(core.lanes):
                        with m.If(lane == j):
                            m.d.sync += lanes[j].eq(Cat(lo, byte))
                    m.d.sync += [lane.eq(lane + 1), left.eq(left - 1)]
                    with m.If((lane == core.lanes - 1) | (left == 1)):
                        m.d.sync += [beat_valid.eq(1), beat_last.eq(left == 1)]
                    with m.If(left == 1):
                        m.next = "CMD"
                    with m.Else():
                        m.next = "LOGIT_LO"

        # ---- transmit: register replies and commits ----------------------------------------
        m.d.comb += [cout.inp.payload.eq(core.commit.payload.as_value()),
                     cout.inp.valid.eq(core.commit.valid), core.commit.ready.eq(cout.inp.ready)]
        send = Signal(40)
        n_send = Signal(range(6))
        with m.FSM(name="sender"):
            with m.State("IDLE"):
                with m.If(read_pending):
                    m.d.sync += [send.eq(Cat(Const(ord("r"), 8), read_value)), n_send.eq(5),
                                 read_pending.eq(0)]
                    m.next = "BYTES"
                with m.Elif(cout.out.valid):
                    m.d.sync += [send.eq(ord("T")), n_send.eq(1)]
                    m.next = "TAG"
            with m.State("BYTES"):
                m.d.comb += [tx.inp.payload.eq(send[:8]), tx.inp.valid.eq(1)]
                with m.If(tx.inp.ready):
                    m.d.sync += [send.eq(send >> 8), n_send.eq(n_send - 1)]
                    with m.If(n_send == 1):
                        m.next = "IDLE"
            with m.State("TAG"):
                m.d.comb += [tx.inp.payload.eq(send[:8]), tx.inp.valid.eq(1)]
                with m.If(tx.inp.ready):
                    m.next = "COMMIT"
            with m.State("COMMIT"):
                m.d.comb += [tx.inp.payload.eq(cout.out.payload.data),
                             tx.inp.valid.eq(cout.out.valid), cout.out.ready.eq(tx.inp.ready)]
                with m.If(cout.out.valid & tx.inp.ready & cout.out.payload.last):
                    m.next = "IDLE"
        return m
