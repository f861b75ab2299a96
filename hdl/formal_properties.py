"""The formal harnesses of the units (see :mod:`specaccel.hdl.formal`)."""

from __future__ import annotations

from amaranth.hdl import Assert, Cat, Module, Mux, Signal

from specaccel.hdl.formal import Proof, _no_reset, check_stream_output, drive_stream_input


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
    Proof("kv_compact N=16 slots 20", "kv_compact", lambda: _kv_compact(16, 20)),
    Proof("kv_compact N=8 slots 16", "kv_compact", lambda: _kv_compact(8, 16)),
]


def _stream_rules(unit: str, **params) -> Module:
    """Any unit between rule-keeping producers and free consumers: its outputs keep the
    stream rules (valid held until ready, payload stable while stalled)."""
    from amaranth.lib import wiring

    from specaccel.hdl.units import build_unit

    m = Module()
    _no_reset(m)
    m.submodules.dut = dut = build_unit(unit, **params)
    for name, member in dut.signature.members.items():
        stream = getattr(dut, name)
        if member.flow == wiring.In:
            drive_stream_input(m, stream, name)
        else:
            check_stream_output(m, stream, name)
    return m


PROOFS += [
    Proof(f"{unit} N={n}{' ' + p['mode'] if 'mode' in p else ''} stream rules", unit,
          (lambda unit=unit, n=n, p=p: _stream_rules(unit, nodes=n, **p)))
    for unit, n, p in (
        ("tree_verify", 4, dict(token_width=4)),
        ("tree_verify", 8, dict(token_width=4, prob_width=8, mode="stochastic")),
        ("tree_verify_serial", 8, dict(token_width=4)),
        ("tree_verify_serial", 8, dict(token_width=4, prob_width=8, mode="stochastic",
                                       uniform_source="lfsr")),
        ("tree_mask", 8, dict(position_width=8)),
        ("kv_compact", 16, dict(slot_width=20)),
        ("argmax_sample", 4, dict(token_width=6, prob_width=4, chunk=2, logit_width=6)),
        ("spec_decode_core", 4, dict(token_width=4, position_width=8, slot_width=8)),
    )
]
