"""KVCompactUnit: accepted path -> KV-cache gather indices (one path per cycle).

Exactly :func:`specaccel.models.golden.kv_compaction`: the verify pass wrote the KV of tree
node i to slot ``base + i``; destination ``base + k`` reads ``gather[k] = base + path[k]``
for ``k <= accepted``.  ``moves`` marks the destinations whose source differs
(:func:`~specaccel.models.golden.kv_moves`).  One register stage, initiation interval 1.

Invalid input — ``path[0] != 0``, a path not strictly increasing within
``0..accepted``, or a slot past ``2**slot_width - 1`` — sets ``error`` with a zero payload.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from specaccel.hdl.layouts import kv_compact_request_layout, kv_compact_response_layout
from specaccel.hdl.unit_parameters import NODES_RANGE, check_int, validating

__all__ = ["KVCompactUnit"]


class KVCompactUnit(wiring.Component):
    """Turn an accepted path into gather indices for the KV-cache compaction.

    Parameters
    ----------
    nodes:
        N, maximum tree nodes including the root, in [2, 128].
    token_width, prob_width:
        Accepted (and validated) for the registry's common interface; unused here.
    slot_width:
        Bits of a KV-cache slot index, in [1, 32].

    Attributes
    ----------
    req : In(stream.Signature(kv_compact_request_layout(...)))
        ``path`` (root first, as the verify unit emits it), ``accepted``, ``base``.
    resp : Out(stream.Signature(kv_compact_response_layout(...)))
        ``gather`` (zero past ``count``), ``count`` = accepted + 1, ``moves``, ``error``.
    """

    def __init__(self, *, nodes: int, slot_width: int = 16) -> None:
        with validating(self):
            check_int("nodes", nodes, *NODES_RANGE)
            check_int("slot_width", slot_width, 1, 32)
        self.nodes = nodes
        self.slot_width = slot_width
        self.request_layout = kv_compact_request_layout(nodes=nodes, slot_width=slot_width)
        self.response_layout = kv_compact_response_layout(nodes=nodes, slot_width=slot_width)
        super().__init__({
            "req": In(stream.Signature(self.request_layout)),
            "resp": Out(stream.Signature(self.response_layout)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        n, sw = self.nodes, self.slot_width
        req = self.req.payload

        en = Signal()
        m.d.comb += [en.eq(~self.resp.valid | self.resp.ready), self.req.ready.eq(en)]

        live = [req.accepted >= k for k in range(n)]
        gather, overflow = _slots(m, req.base, [req.path[k] for k in range(n)], sw)
        bad = [req.path[0] != 0]
        bad += [live[k] & (req.path[k] <= req.path[k - 1]) for k in range(1, n)]
        bad += [live[k] & overflow[k] for k in range(n)]
        error = Cat(*bad).any()

        out = self.resp.payload
        with m.If(en):
            m.d.sync += self.resp.valid.eq(self.req.valid)
            m.d.sync += out.error.eq(error)
            m.d.sync += out.count.eq(Mux(error, 0, req.accepted + 1))
            for k in range(n):
                m.d.sync += out.gather[k].eq(Mux(live[k] & ~error, gather[k], 0))
            m.d.sync += out.moves.eq(
                Mux(error, 0, Cat(*[live[k] & (req.path[k] != k) for k in range(n)])))
        return m


def _slots(m: Module, base, paths: list, slot_width: int) -> tuple[list, list]:
    """``base + path[k]`` (``slot_width`` bits) and whether it overflows, per k.

    A path entry has only ``p`` bits, so only the low ``p`` bits of the base take a real
    addition; the high part is ``base_hi`` or ``base_hi + 1`` (one incrementer shared by
    all k) by that addition's carry, and the slot overflows exactly when the carry is set
    and ``base_hi`` is all ones.  Short per-entry carry chains instead of N full-width
    adders keep the error flag, which gates every output, shallow.
    """
    p = len(paths[0])
    if slot_width <= p:  # narrow slots: plain adders
        sums = [Signal(slot_width + 1, name=f"slot{k}") for k in range(len(paths))]
        m.d.comb += [sums[k].eq(base + paths[k]) for k in range(len(paths))]
        return [v[:slot_width] for v in sums], [v[slot_width] for v in sums]
    base_hi = base[p:]
    base_hi_next = Signal(slot_width - p, name="base_hi_next")
    m.d.comb += base_hi_next.eq(base_hi + 1)
    gather, overflow = [], []
    for k, path in enumerate(paths):
        low = Signal(p + 1, name=f"slot_low{k}")
        m.d.comb += low.eq(base[:p] + path)
        gather.append(Cat(low[:p], Mux(low[p], base_hi_next, base_hi)))
        overflow.append(low[p] & base_hi.all())
    return gather, overflow
