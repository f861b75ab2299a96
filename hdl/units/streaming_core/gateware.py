"""StreamingSpecDecodeCore: the streaming sampling unit, the node-serial verify unit and KV
compaction, for trees of N nodes over real vocabularies.

A decode step arrives node by node, root first, as the target's verify pass produces it:
a node header on ``node`` (draft ``token``, ``parent``, ``last`` on the tree's last node,
the node's sampling fields ``top_k``/``inv_temp``/``uniform``, and the KV slot ``kv_base``
read on the root), then that node's bf16 logits on ``logits`` (W lanes per beat, ``last``
on its final beat).  For each node

* :class:`~specaccel.hdl.units.sampling.gateware.SamplingUnit` selects the target's token from the
  logits (argmax or top-k sample, :func:`~specaccel.models.golden.token_selection.
  select_token`);
* the header and that token become one node record of
  :class:`~specaccel.hdl.units.tree_verify_serial.gateware.TreeVerifySerialUnit` (greedy: the draft
  token is accepted when it equals the target's token at its parent; with sampled target
  tokens this is lossless sampling verification);
* after the tree's last node the verify response and the root's ``kv_base`` go to
  :class:`~specaccel.hdl.units.kv_compact.gateware.KVCompactUnit`, and ``commit`` carries the verify
  response, the compaction response and the tree's sampling flags (a NaN logit, a
  vocabulary past the index width).

Headers wait in a FIFO while their logits stream, so a node's header may be sent as soon as
the previous node's logits are in.  Everything is in request order.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, Value, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from specaccel.hdl.layouts import index_shape, kv_compact_response_layout, verify_response_layout
from specaccel.hdl.unit_parameters import check_int, validating
from specaccel.hdl.units.kv_compact.gateware import KVCompactUnit
from specaccel.hdl.units.sampling.gateware import TOP_K_WIDTH, SamplingUnit
from specaccel.hdl.units.tree_verify_serial.gateware import TreeVerifySerialUnit

__all__ = ["StreamingSpecDecodeCore", "commit_layout", "logit_beat_layout",
           "node_header_layout"]


def node_header_layout(*, nodes: int, token_width: int, slot_width: int) -> data.StructLayout:
    """A node header: ``token``, ``parent``, ``last`` (the tree's last node), ``top_k``,
    ``inv_temp``, ``uniform``, ``kv_base`` (read on the root)."""
    return data.StructLayout({
        "token": unsigned(token_width), "parent": index_shape(nodes), "last": 1,
        "top_k": unsigned(TOP_K_WIDTH), "inv_temp": unsigned(16), "uniform": unsigned(16),
        "kv_base": unsigned(slot_width),
    })


def logit_beat_layout(*, lanes: int) -> data.StructLayout:
    """A beat of a node's logits: ``lanes`` bf16 patterns, ``count`` valid, ``last``."""
    return data.StructLayout({"lanes": data.ArrayLayout(unsigned(16), lanes),
                              "count": range(lanes + 1), "last": 1})


def commit_layout(*, nodes: int, token_width: int, slot_width: int) -> data.StructLayout:
    """One tree's answer: ``verify``, ``compact`` and the sampling flags ``nan``,
    ``sample_error`` (OR over the tree's nodes)."""
    return data.StructLayout({
        "verify": verify_response_layout(nodes=nodes, token_width=token_width),
        "compact": kv_compact_response_layout(nodes=nodes, slot_width=slot_width),
        "nan": 1, "sample_error": 1,
    })


class StreamingSpecDecodeCore(wiring.Component):
    """Sampling + node-serial verify + KV compaction (greedy verification of sampled or
    argmax target tokens).

    Parameters
    ----------
    nodes:
        N, the largest tree, in [2, 128].
    lanes:
        W, logits per beat (a power of two, 1 .. 64).
    max_top_k:
        Largest ``top_k`` of the sampling unit, 1 .. 8.
    token_width:
        Bits of a token id (vocabulary up to ``2**token_width``), 1 .. 18.
    slot_width:
        Bits of a KV-cache slot, 1 .. 32.
    """

    def __init__(self, *, nodes: int = 64, lanes: int = 4, max_top_k: int = 8,
                 token_width: int = 18, slot_width: int = 16) -> None:
        with validating(self):
            check_int("slot_width", slot_width, 1, 32)
            self.sampling = SamplingUnit(lanes=lanes, max_top_k=max_top_k,
                                         vocab=1 << token_width)
            self.verify = TreeVerifySerialUnit(nodes=nodes, token_width=token_width)
            self.compact = KVCompactUnit(nodes=nodes, slot_width=slot_width)
        self.nodes, self.lanes, self.max_top_k = nodes, lanes, max_top_k
        self.token_width, self.slot_width = token_width, slot_width
        self.header_layout = node_header_layout(nodes=nodes, token_width=token_width,
                                                slot_width=slot_width)
        self.beat_layout = logit_beat_layout(lanes=lanes)
        self.commit_layout = commit_layout(nodes=nodes, token_width=token_width,
                                           slot_width=slot_width)
        super().__init__({
            "node": In(stream.Signature(self.header_layout)),
            "logits": In(stream.Signature(self.beat_layout)),
            "commit": Out(stream.Signature(self.commit_layout)),
            "trees": Out(32), "nodes_done": Out(32),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.sampling = samp = self.sampling
        m.submodules.verify = verify = self.verify
        m.submodules.compact = compact = self.compact
        hdr_fields = ("token", "parent", "last")
        hdr_w = sum(len(Value.cast(getattr(self.node.payload, f))) for f in hdr_fields)
        m.submodules.headers = headers = fifo.SyncFIFOBuffered(width=hdr_w, depth=4)
        m.submodules.bases = bases = fifo.SyncFIFOBuffered(width=self.slot_width, depth=4)
        m.submodules.flags = flags = fifo.SyncFIFOBuffered(width=2, depth=4)
        m.submodules.results = results = fifo.SyncFIFOBuffered(
            width=verify.response_layout.size + 2, depth=2)

        # ---- headers: the current node's sampling fields; the rest waits for its token ----
        cur = Signal(self.header_layout)
        cur_valid = Signal()
        in_tree = Signal()  # a tree has started and its last header is not yet in
        hdr = self.node.payload
        root = ~in_tree
        m.d.comb += [
            self.node.ready.eq(~cur_valid & headers.w_rdy & (~root | bases.w_rdy)),
            headers.w_data.eq(Cat(hdr.token, hdr.parent, hdr.last)),
            bases.w_data.eq(hdr.kv_base),
        ]
        took = self.node.valid & self.node.ready
        m.d.comb += [headers.w_en.eq(took), bases.w_en.eq(took & root)]
        with m.If(took):
            m.d.sync += [cur.eq(hdr), cur_valid.eq(1), in_tree.eq(~hdr.last)]

        # ---- logits -> sampling unit, with the current node's fields -----------------------
        beat = self.logits.payload
        m.d.comb += [
            samp.inp.payload.lanes.eq(beat.lanes), samp.inp.payload.count.eq(beat.count),
            samp.inp.payload.last.eq(beat.last), samp.inp.payload.top_k.eq(cur.top_k),
            samp.inp.payload.inv_temp.eq(cur.inv_temp),
            samp.inp.payload.uniform.eq(cur.uniform),
            samp.inp.valid.eq(self.logits.valid & cur_valid),
            self.logits.ready.eq(samp.inp.ready & cur_valid),
        ]
        with m.If(self.logits.valid & self.logits.ready & beat.last):
            m.d.sync += cur_valid.eq(0)

        # ---- sampled token + header -> verify node record ---------------------------------
        tw = self.token_width
        pw = len(Value.cast(hdr.parent))
        h_token = headers.r_data[:tw]
        h_parent = headers.r_data[tw:tw + pw]
        h_last = headers.r_data[tw + pw]
        rec = verify.req.payload
        sres = samp.out.payload
        m.d.comb += [
            rec.token.eq(h_token), rec.parent.eq(h_parent), rec.target_token.eq(sres.token),
            rec.last.eq(h_last),
            verify.req.valid.eq(samp.out.valid & headers.r_rdy & (~h_last | flags.w_rdy)),
            samp.out.ready.eq(verify.req.ready & headers.r_rdy & (~h_last | flags.w_rdy)),
        ]
        moved = samp.out.valid & samp.out.ready
        m.d.comb += headers.r_en.eq(moved)
        tree_nan = Signal()
        tree_err = Signal()
        nan_now = tree_nan | sres.nan
        err_now = tree_err | sres.error
        m.d.comb += [flags.w_data.eq(Cat(nan_now, err_now)), flags.w_en.eq(moved & h_last)]
        with m.If(moved):
            m.d.sync += [tree_nan.eq(nan_now & ~h_last), tree_err.eq(err_now & ~h_last),
                         self.nodes_done.eq(self.nodes_done + 1)]

        # ---- verify response -> compaction (with the root's base) and the result FIFO -----
        go = verify.resp.valid & bases.r_rdy & flags.r_rdy & compact.req.ready & results.w_rdy
        m.d.comb += [
            compact.req.payload.path.eq(verify.resp.payload.path),
            compact.req.payload.accepted.eq(verify.resp.payload.accepted),
            compact.req.payload.base.eq(bases.r_data),
            compact.req.valid.eq(verify.resp.valid & bases.r_rdy & flags.r_rdy
                                 & results.w_rdy),
            verify.resp.ready.eq(bases.r_rdy & flags.r_rdy & compact.req.ready
                                 & results.w_rdy),
            bases.r_en.eq(go), flags.r_en.eq(go),
            results.w_data.eq(Cat(verify.resp.payload.as_value(), flags.r_data)),
            results.w_en.eq(go),
        ]

        # ---- join the compaction response with its verify result ---------------------------
        out = self.commit.payload
        vbits = verify.response_layout.size
        m.d.comb += [
            out.verify.eq(results.r_data[:vbits]), out.nan.eq(results.r_data[vbits]),
            out.sample_error.eq(results.r_data[vbits + 1]),
            out.compact.eq(compact.resp.payload),
            self.commit.valid.eq(compact.resp.valid & results.r_rdy),
            compact.resp.ready.eq(self.commit.ready & results.r_rdy),
            results.r_en.eq(self.commit.valid & self.commit.ready),
        ]
        with m.If(self.commit.valid & self.commit.ready):
            m.d.sync += self.trees.eq(self.trees + 1)
        return m
