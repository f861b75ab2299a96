"""TreeMaskUnit: parent pointers -> tree-attention mask rows and position ids.

Exactly :func:`specaccel.models.golden.tree_attention_mask` and
:func:`~specaccel.models.golden.position_ids`: row i has bit j set iff j is i or an ancestor
of i; ``position[i] = root_position + depth(i)``.

Structure: one node per cycle in index order (``row[i] = row[parent[i]] | 1 << i``,
``position[i] = position[parent[i]] + 1``; ``parent[i] < i`` makes the parent's row ready),
so a tree of n nodes takes about n cycles and the area is one N-way row multiplexer plus the
N x N mask register — instead of the N^3 of a fully parallel pointer-doubling mask.  The
testbenches measure its latency; it is the throughput limit of
:class:`~specaccel.hdl.units.spec_decode_core.gateware.SpecDecodeCore` for large trees.

Invalid input (``n_nodes == 0``, ``n_nodes > N``, ``parent[i] >= i``) is answered at once
with ``error`` set and all-zero rows and positions; the unit returns to idle after every
response, so it never hangs and the next request is served normally.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from specaccel.hdl.layouts import (
    count_shape,
    index_shape,
    tree_mask_request_layout,
    tree_mask_response_layout,
)
from specaccel.hdl.unit_parameters import NODES_RANGE, check_int, validating

__all__ = ["TreeMaskUnit"]


class TreeMaskUnit(wiring.Component):
    """Build the ancestor mask and position ids of one tree per request.

    Parameters
    ----------
    nodes:
        N, maximum nodes including the root, in [2, 128].
    token_width, prob_width:
        Accepted (and validated) for the registry's common interface; unused here.
    position_width:
        Bits of a position id, in [1, 32].

    Attributes
    ----------
    req : In(stream.Signature(tree_mask_request_layout(...)))
        ``n_nodes``, per-node ``parent`` (node 0's ignored), ``root_position``.
    resp : Out(stream.Signature(tree_mask_response_layout(...)))
        ``mask`` rows, ``position`` ids (zero past ``n_nodes``), ``error``.
    """

    def __init__(self, *, nodes: int, position_width: int = 16) -> None:
        with validating(self):
            check_int("nodes", nodes, *NODES_RANGE)
            check_int("position_width", position_width, 1, 32)
        self.nodes = nodes
        self.position_width = position_width
        self.request_layout = tree_mask_request_layout(nodes=nodes,
                                                       position_width=position_width)
        self.response_layout = tree_mask_response_layout(nodes=nodes,
                                                         position_width=position_width)
        super().__init__({
            "req": In(stream.Signature(self.request_layout)),
            "resp": Out(stream.Signature(self.response_layout)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        n, pw = self.nodes, self.position_width
        idx = index_shape(n)
        req = self.req.payload

        # parent pointers in a shift register: parent_q[1] is always the current node's
        # parent, and the current node is also kept one-hot (cur_oh), so neither the
        # parent pointer nor the row write enable needs a multiplexer or a decoder
        parent_q = [Signal(idx, name=f"parent_q{i}") for i in range(n)]
        cur_oh = Signal(n)
        # row i has no bit above i (a node's ancestors are below it): only i + 1 bits
        row = [Signal(i + 1, name=f"row{i}") for i in range(n)]
        pos = [Signal(pw, name=f"pos{i}") for i in range(n)]
        # position = root_position + depth: the parent's depth (a few bits) is what goes
        # through the mux, and root_position + 1 + depth is split as in the compaction
        # unit: a short add of the low bits, the high bits ready-made as hi or hi + 1
        depth = [Const(0, idx), *[Signal(idx, name=f"depth{i}") for i in range(1, n)]]
        low_bits = min(idx.width, pw)
        root_next = Signal(pw)  # root_position + 1
        root_next_hi_inc = Signal(max(pw - low_bits, 1))  # (root_position + 1) >> b, + 1
        count = Signal(count_shape(n))
        cur = Signal(range(n + 1))
        error = Signal()

        present = [req.n_nodes > i for i in range(n)]
        bad = Cat(*[present[i] & (req.parent[i] >= i) for i in range(1, n)]).any()
        req_error = (req.n_nodes == 0) | (req.n_nodes > n) | bad

        # the row and position of the current node's parent (an explicit mux: indexing by
        # a signal would lower to a barrel shifter, about 3x larger)
        parent_row = Signal(n)
        parent_depth = Signal(idx)
        with m.Switch(parent_q[1]):
            for j in range(n - 1):
                with m.Case(j):
                    m.d.comb += parent_row.eq(row[j])
        # a 2:1 mux tree (continuous assignments) rather than a case process: the depth
        # registers keep their reset value until the first multi-node tree, and Icarus
        # would never evaluate a process that nothing has triggered since time 0
        m.d.comb += parent_depth.eq(_mux_tree(parent_q[1], depth[:n - 1]))
        low = Signal(low_bits + 1)
        m.d.comb += low.eq(root_next[:low_bits] + parent_depth)
        if pw > low_bits:
            child_pos = Cat(low[:low_bits],
                            Mux(low[low_bits], root_next_hi_inc, root_next[low_bits:]))
        else:
            child_pos = low[:pw]

        out = self.resp.payload
        m.d.comb += out.error.eq(error)
        for i in range(n):
            m.d.comb += [out.mask[i].eq(row[i]), out.position[i].eq(pos[i])]

        # ready/valid are decoded from the state outside the FSM body: a comb assignment
        # inside a state becomes an `always @*` process that Icarus does not evaluate until
        # the state first changes (X after reset).
        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(self.req.valid):
                    m.d.sync += [parent_q[i].eq(req.parent[i]) for i in range(n)]
                    m.d.sync += cur_oh.eq(1 << 1)
                    m.d.sync += [row[i].eq(0) for i in range(1, n)]
                    m.d.sync += [pos[i].eq(0) for i in range(1, n)]
                    m.d.sync += [count.eq(req.n_nodes), cur.eq(1), error.eq(req_error)]
                    with m.If(req_error):
                        m.d.sync += [row[0].eq(0), pos[0].eq(0)]
                        m.next = "DONE"
                    with m.Else():
                        m.d.sync += [row[0].eq(1), pos[0].eq(req.root_position),
                                     root_next.eq(req.root_position + 1),
                                     root_next_hi_inc.eq(
                                         (req.root_position + (1 << low_bits) + 1)
                                         >> low_bits)]
                        with m.If(req.n_nodes == 1):
                            m.next = "DONE"
                        with m.Else():
                            m.next = "BUSY"
            with m.State("BUSY"):
                for i in range(1, n):
                    with m.If(cur_oh[i]):
                        m.d.sync += [row[i].eq(Cat(parent_row[:i], 1)),
                                     pos[i].eq(child_pos),
                                     depth[i].eq(parent_depth + 1)]
                m.d.sync += [parent_q[i].eq(parent_q[i + 1]) for i in range(1, n - 1)]
                m.d.sync += cur_oh.eq(cur_oh << 1)
                m.d.sync += cur.eq(cur + 1)
                with m.If(cur + 1 >= count):
                    m.next = "DONE"
            with m.State("DONE"):
                with m.If(self.resp.ready):
                    m.next = "IDLE"
        m.d.comb += [self.req.ready.eq(fsm.ongoing("IDLE")),
                     self.resp.valid.eq(fsm.ongoing("DONE"))]
        return m


def _mux_tree(index, values: list):
    """``values[index]`` as a balanced tree of 2:1 multiplexers (``index`` < len(values))."""
    def build(lo: int, bit: int):
        if bit < 0 or lo + 1 >= len(values):
            return values[lo]
        half = 1 << bit
        if lo + half >= len(values):
            return build(lo, bit - 1)
        return Mux(index[bit], build(lo + half, bit - 1), build(lo, bit - 1))
    return build(0, len(index) - 1)
