"""Formal properties of ``kv_compact`` (see :mod:`specaccel.hdl.formal`): against a shadow of
the request the output register was loaded from, the gather indices are ``base + path[k]``
at full width, ``count`` and ``moves`` follow, and the error flag is exactly "path not
starting at 0, not increasing, or a slot past the slot width" (with a zero payload)."""

from __future__ import annotations

from amaranth.hdl import Assert, Cat, Module, Mux, Signal

from specaccel.hdl.formal import Proof, _no_reset, check_stream_output, drive_stream_input

__all__ = ["PROOFS"]


def _kv_compact(nodes: int, slot_width: int) -> Module:
    from specaccel.hdl.units.kv_compact.gateware import KVCompactUnit

    m = Module()
    _no_reset(m)
    m.submodules.dut = dut = KVCompactUnit(nodes=nodes, slot_width=slot_width)
    drive_stream_input(m, dut.req, "req")
    check_stream_output(m, dut.resp, "resp")
    # shadow: the request the output register was loaded from (loaded on req.ready)
    shadow = Signal(dut.request_layout, name="shadow")
    with m.If(dut.req.ready):
        m.d.sync += shadow.eq(dut.req.payload)
    out = dut.resp.payload
    top = (1 << slot_width) - 1
    bad = [shadow.path[0] != 0]
    for k in range(nodes):
        live = shadow.accepted >= k
        full = Signal(slot_width + 1, name=f"full_slot{k}")
        m.d.comb += full.eq(shadow.base + shadow.path[k])
        bad.append(live & (full > top))
        if k:
            bad.append(live & (shadow.path[k] <= shadow.path[k - 1]))
    error = Cat(*bad).any()
    with m.If(dut.resp.valid):
        m.d.comb += Assert(out.error == error)
        with m.If(~error):
            m.d.comb += Assert(out.count == shadow.accepted + 1)
            for k in range(nodes):
                live = shadow.accepted >= k
                m.d.comb += Assert(out.gather[k] == Mux(live, shadow.base + shadow.path[k], 0))
                m.d.comb += Assert(out.moves[k] == (live & (shadow.path[k] != k)))
        with m.Else():
            m.d.comb += [Assert(out.count == 0), Assert(out.moves == 0),
                         Assert(out.gather.as_value() == 0)]
    return m




PROOFS = [
    Proof("kv_compact N=16 slots 20 response invariants", "kv_compact",
          lambda: _kv_compact(16, 20), induction=4, fault="kv-overflow-msb"),
    Proof("kv_compact N=8 slots 16 response invariants", "kv_compact",
          lambda: _kv_compact(8, 16), induction=4, fault="kv-live"),
]
