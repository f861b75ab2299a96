"""SpecDecodeCore: the tree units connected — mask -> (target pass) -> verify -> compaction.

One request carries a whole decode step: the draft tree with the target's per-node outputs
(the verify request), the root's position id and the KV-cache slot of the root.  The core
forks it to

* :class:`~specaccel.hdl.units.tree_mask.gateware.TreeMaskUnit` -> output stream ``mask`` (the tree
  attention mask and position ids that the target's verify pass consumes), and
* :class:`~specaccel.hdl.units.tree_verify.gateware.TreeVerifyUnit` ->
  :class:`~specaccel.hdl.units.kv_compact.gateware.KVCompactUnit` -> output stream ``commit`` (the
  accepted path, bonus token and the KV gather indices).

In a real accelerator the target pass sits between the mask and the verify unit; here the
target's outputs arrive with the request (as in a replayed trace), so the two branches run
side by side and the core is checked end to end against the golden model.  A request is
taken only when both branches can take it; the KV base slot waits in a small FIFO for its
tree to leave the verify pipeline, and the verify result waits in another for the
compaction.  Both outputs are in request order.
"""

from __future__ import annotations

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from specaccel.hdl.layouts import (
    kv_compact_response_layout,
    tree_mask_response_layout,
    verify_response_layout,
)
from specaccel.hdl.uniform_lfsr import DEFAULT_SEED
from specaccel.hdl.unit_parameters import check_int, check_verify_parameters, validating
from specaccel.hdl.units.kv_compact.gateware import KVCompactUnit
from specaccel.hdl.units.tree_mask.gateware import TreeMaskUnit
from specaccel.hdl.units.tree_verify.gateware import TreeVerifyUnit

__all__ = ["SpecDecodeCore", "core_commit_layout", "core_request_layout"]


def core_request_layout(verify_request: data.StructLayout, *, position_width: int,
                        slot_width: int) -> data.StructLayout:
    """Request of the core: ``tree`` (a verify request), ``root_position``, ``kv_base``."""
    return data.StructLayout({"tree": verify_request, "root_position": unsigned(position_width),
                              "kv_base": unsigned(slot_width)})


def core_commit_layout(*, nodes: int, token_width: int, slot_width: int) -> data.StructLayout:
    """Commit output of the core: ``verify`` (verify response) and ``compact`` (compaction
    response) of the same step."""
    return data.StructLayout({
        "verify": verify_response_layout(nodes=nodes, token_width=token_width),
        "compact": kv_compact_response_layout(nodes=nodes, slot_width=slot_width),
    })


class SpecDecodeCore(wiring.Component):
    """The speculative-decoding tree units of one decode step, connected.

    Parameters
    ----------
    nodes, token_width, prob_width, mode, uniform_source, lfsr_seed:
        As :class:`~specaccel.hdl.units.tree_verify.gateware.TreeVerifyUnit`.
    position_width:
        Bits of a position id (mask unit), in [1, 32].
    slot_width:
        Bits of a KV-cache slot (compaction unit), in [1, 32].

    Attributes
    ----------
    req : In(stream.Signature(core_request_layout(...)))
        ``tree`` (verify request fields), ``root_position``, ``kv_base``.
    mask : Out(stream.Signature(tree_mask_response_layout(...)))
        Tree attention mask rows and position ids of each request.
    commit : Out(stream.Signature(core_commit_layout(...)))
        Verify result and KV gather indices of each request.
    """

    def __init__(self, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                 mode: str = "greedy", uniform_source: str = "request",
                 lfsr_seed: int = DEFAULT_SEED, position_width: int = 16,
                 slot_width: int = 16) -> None:
        with validating(self):
            # every check before any sub-unit exists (a half-built core leaves none unused)
            check_verify_parameters(nodes=nodes, token_width=token_width,
                                    prob_width=prob_width, mode=mode,
                                    uniform_source=uniform_source, lfsr_seed=lfsr_seed)
            check_int("position_width", position_width, 1, 32)
            check_int("slot_width", slot_width, 1, 32)
            self.verify = TreeVerifyUnit(nodes=nodes, token_width=token_width,
                                         prob_width=prob_width, mode=mode,
                                         uniform_source=uniform_source, lfsr_seed=lfsr_seed)
            self.tree_mask = TreeMaskUnit(nodes=nodes, position_width=position_width)
            self.compact = KVCompactUnit(nodes=nodes, slot_width=slot_width)
        self.nodes, self.token_width, self.prob_width = nodes, token_width, prob_width
        self.position_width, self.slot_width = position_width, slot_width
        self.request_layout = core_request_layout(self.verify.request_layout,
                                                  position_width=position_width,
                                                  slot_width=slot_width)
        self.commit_layout = core_commit_layout(nodes=nodes, token_width=token_width,
                                                slot_width=slot_width)
        super().__init__({
            "req": In(stream.Signature(self.request_layout)),
            "mask": Out(stream.Signature(tree_mask_response_layout(
                nodes=nodes, position_width=position_width))),
            "commit": Out(stream.Signature(self.commit_layout)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.verify = verify = self.verify
        m.submodules.tree_mask = tmask = self.tree_mask
        m.submodules.compact = compact = self.compact
        slot_width = self.compact.slot_width
        verify_resp_width = self.verify.response_layout.size
        m.submodules.bases = bases = fifo.SyncFIFOBuffered(
            width=slot_width, depth=self.verify.latency + 2)
        m.submodules.results = results = fifo.SyncFIFOBuffered(width=verify_resp_width, depth=4)
        req = self.req.payload

        # fork the request to the mask unit and the verify unit (+ base FIFO)
        m.d.comb += [
            tmask.req.payload.n_nodes.eq(req.tree.n_nodes),
            tmask.req.payload.parent.eq(req.tree.parent),
            tmask.req.payload.root_position.eq(req.root_position),
            verify.req.payload.eq(req.tree),
            bases.w_data.eq(req.kv_base),
            self.req.ready.eq(tmask.req.ready & verify.req.ready & bases.w_rdy),
            tmask.req.valid.eq(self.req.valid & verify.req.ready & bases.w_rdy),
            verify.req.valid.eq(self.req.valid & tmask.req.ready & bases.w_rdy),
            bases.w_en.eq(self.req.valid & tmask.req.ready & verify.req.ready),
        ]
        wiring.connect(m, tmask.resp, wiring.flipped(self.mask))

        # verify result -> compaction (with its base) and -> result FIFO
        go = verify.resp.valid & bases.r_rdy & compact.req.ready & results.w_rdy
        m.d.comb += [
            compact.req.payload.path.eq(verify.resp.payload.path),
            compact.req.payload.accepted.eq(verify.resp.payload.accepted),
            compact.req.payload.base.eq(bases.r_data),
            compact.req.valid.eq(verify.resp.valid & bases.r_rdy & results.w_rdy),
            verify.resp.ready.eq(bases.r_rdy & compact.req.ready & results.w_rdy),
            bases.r_en.eq(go),
            results.w_data.eq(verify.resp.payload.as_value()),
            results.w_en.eq(go),
        ]

        # join the compaction response with its verify result
        out = self.commit.payload
        m.d.comb += [
            out.verify.eq(results.r_data),
            out.compact.eq(compact.resp.payload),
            self.commit.valid.eq(compact.resp.valid & results.r_rdy),
            compact.resp.ready.eq(self.commit.ready & results.r_rdy),
            results.r_en.eq(self.commit.valid & self.commit.ready),
        ]
        return m
