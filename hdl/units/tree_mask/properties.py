"""Formal properties of ``tree_mask`` (see :mod:`specaccel.hdl.formal`).

Against a shadow of the request the unit took (loaded at the request handshake): the error
flag exactly on an invalid request (zero nodes, more than N, a present node whose parent is
not below it) with all rows and positions zero; otherwise row 0 is ``1``, every present
node's row is its parent's row plus its own bit, position 0 is ``root_position`` and every
present node's position is its parent's plus one (modulo ``2**position_width``), and rows
and positions past ``n_nodes`` are zero.  These define
:func:`~specaccel.models.golden.tree_attention_mask` and
:func:`~specaccel.models.golden.position_ids` recursively, so they fix the response.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Module, Signal

from specaccel.hdl.formal import Proof, _no_reset, check_stream_output, drive_stream_input
from specaccel.hdl.units.tree_verify.properties import request_is_invalid

__all__ = ["PROOFS"]


def _invariants(nodes: int, position_width: int) -> Module:
    from specaccel.hdl.units.tree_mask.gateware import TreeMaskUnit

    m = Module()
    _no_reset(m)
    m.submodules.dut = dut = TreeMaskUnit(nodes=nodes, position_width=position_width)
    drive_stream_input(m, dut.req, "req")
    check_stream_output(m, dut.resp, "resp")
    shadow = Signal(dut.request_layout, name="shadow")
    with m.If(dut.req.valid & dut.req.ready):
        m.d.sync += shadow.eq(dut.req.payload)
    out = dut.resp.payload
    n = shadow.n_nodes
    with m.If(dut.resp.valid):
        invalid = request_is_invalid(shadow, nodes)
        m.d.comb += Assert(out.error == invalid)
        with m.If(invalid):
            m.d.comb += [Assert(out.mask.as_value() == 0), Assert(out.position.as_value() == 0)]
        with m.Else():
            m.d.comb += [Assert(out.mask[0] == 1),
                         Assert(out.position[0] == shadow.root_position)]
            for i in range(1, nodes):
                parent = shadow.parent[i]
                with m.If(n > i):
                    m.d.comb += [
                        Assert(out.mask[i] == (out.mask[parent] | (1 << i))),
                        Assert(out.position[i] == (out.position[parent] + 1)[:position_width]),
                    ]
                with m.Else():
                    m.d.comb += [Assert(out.mask[i] == 0), Assert(out.position[i] == 0)]
    return m


PROOFS = [
    Proof("tree_mask N=6 response invariants", "tree_mask", lambda: _invariants(6, 4),
          induction=10, fault="mask-depth"),
    Proof("tree_mask N=8 response invariants", "tree_mask", lambda: _invariants(8, 6),
          depth=20, slow=True, fault="mask-bad-parent"),
]
