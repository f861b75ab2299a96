"""Formal properties of ``tree_verify_serial`` (see :mod:`specaccel.hdl.formal`).

* **Response invariants**: the harness collects each tree's node records as the unit
  accepts them (into a ``verify_request_layout`` view whose ``n_nodes`` counts the records,
  saturating at N + 1 = "too many") and queues the finished trees; every response must
  answer the tree at the head of the queue as
  :func:`~specaccel.hdl.units.tree_verify.properties.assert_verify_response` states it
  (the statement the parallel unit is held to), no response comes without a finished tree,
  and no more trees wait than the pipeline holds.
* **Equivalence with the parallel unit** (a miter): one free tree of 1..N nodes, held, goes
  to :class:`~specaccel.hdl.units.tree_verify.gateware.TreeVerifyUnit` as one request and
  to the serial unit as N records one per cycle; both responses must come by a fixed cycle
  and be equal word for word.
"""

from __future__ import annotations

from amaranth.hdl import Assert, Assume, Module, Mux, Signal

from specaccel.hdl.formal import (
    Proof,
    _no_reset,
    check_stream_output,
    drive_stream_input,
    free,
)
from specaccel.hdl.layouts import verify_request_layout
from specaccel.hdl.units.tree_verify.properties import assert_verify_response

__all__ = ["PROOFS"]


def _invariants(nodes: int, **params) -> Module:
    from specaccel.hdl.units.tree_verify_serial.gateware import TreeVerifySerialUnit

    m = Module()
    _no_reset(m)
    m.submodules.dut = dut = TreeVerifySerialUnit(nodes=nodes, **params)
    drive_stream_input(m, dut.req, "req")
    fire_out = check_stream_output(m, dut.resp, "resp")
    stochastic = dut.mode == "stochastic"
    layout = verify_request_layout(nodes=nodes, token_width=dut.token_width,
                                   prob_width=dut.prob_width, stochastic=stochastic,
                                   uniform_in_request=dut.uniform_source == "request")

    # the tree being received: record k goes to node k; n_nodes counts records (N + 1:
    # too many), and the tree with this record written is `tree`
    rec = dut.req.payload
    fire_in = Signal()
    m.d.comb += fire_in.eq(dut.req.valid & dut.req.ready)
    partial = Signal(layout, name="partial")
    tree = Signal(layout, name="tree")
    count = partial.n_nodes
    m.d.comb += tree.eq(partial)
    fields = ["parent", "token", "target_token"]
    if stochastic:
        fields += ["draft_prob", "target_prob"]
        if dut.uniform_source == "request":
            fields.append("uniform")
    # stochastic: the sampling test of each record, taken as the record enters (see
    # stochastic_acceptable), kept beside the tree
    judged = stochastic and dut.uniform_source == "request"
    partial_accept = Signal(nodes if judged else 0, name="partial_accept")
    accept = Signal.like(partial_accept, name="tree_accept")
    m.d.comb += accept.eq(partial_accept)
    if judged:  # the product in the unit's own halves, u * q_lo + (u * q_hi << w/2)
        w, half = dut.prob_width, dut.prob_width // 2
        product = rec.uniform * rec.draft_prob[:half] + (rec.uniform * rec.draft_prob[half:]
                                                          << half)
        record_ok = product[w:2 * w] < rec.target_prob
    for k in range(nodes):
        with m.If(count == k):
            m.d.comb += [getattr(tree, f)[k].eq(getattr(rec, f)) for f in fields]
            if judged:
                m.d.comb += accept[k].eq(record_ok)
    m.d.comb += tree.n_nodes.eq(Mux(count > nodes, count, count + 1))
    with m.If(fire_in):
        with m.If(rec.last):
            m.d.sync += [partial.eq(0), partial_accept.eq(0)]
        with m.Else():
            m.d.sync += [partial.eq(tree), partial_accept.eq(accept)]

    # finished trees waiting for their response (oldest in slot 0)
    depth = dut.latency + 1
    queue = [Signal(layout, name=f"queue{k}") for k in range(depth)]
    queue_accept = [Signal.like(accept, name=f"queue_accept{k}") for k in range(depth)]
    fill = Signal(range(depth + 2), name="fill")
    push = Signal()
    m.d.comb += push.eq(fire_in & rec.last)
    m.d.comb += Assert(fill <= depth)
    with m.If(dut.resp.valid):
        m.d.comb += Assert(fill > 0)  # no response without a finished tree
        assert_verify_response(m, dut.resp.payload, queue[0], nodes=nodes, mode=dut.mode,
                               accept_bits=queue_accept[0] if judged else None)
    pop = fire_out
    m.d.sync += fill.eq(fill + push - pop)
    for k in range(depth):  # pop shifts the queue down; push writes behind the last entry
        for slots, new in ((queue, tree), (queue_accept, accept)):
            kept = Mux(pop, slots[k + 1] if k + 1 < depth else slots[k], slots[k])
            m.d.sync += slots[k].eq(Mux(push & (fill - pop == k), new, kept))
    return m


def _equivalence(nodes: int, **params) -> Module:
    """A miter of the serial and the parallel unit on one tree (1..N nodes, any parent
    pointers, so invalid trees too) from reset."""
    from specaccel.hdl.units.tree_verify.gateware import TreeVerifyUnit
    from specaccel.hdl.units.tree_verify_serial.gateware import TreeVerifySerialUnit

    m = Module()
    _no_reset(m)
    m.submodules.par = par = TreeVerifyUnit(nodes=nodes, **params)
    m.submodules.ser = ser = TreeVerifySerialUnit(nodes=nodes, **params)
    layout = par.request_layout
    given = free(m, layout.size, "tree")
    held = Signal(layout, name="held")
    t = Signal(range(4 * nodes + 16), name="t")
    with m.If(t != 4 * nodes + 15):
        m.d.sync += t.eq(t + 1)
    with m.If(t == 0):
        m.d.sync += held.eq(given)
    n = held.n_nodes
    with m.If(t != 0):  # (held is loaded at cycle 0)
        m.d.comb += Assume((n >= 1) & (n <= nodes))
    # the parallel unit takes the tree at cycle 1, the serial one node k at cycle 1 + k
    m.d.comb += [par.req.valid.eq(t == 1), par.req.payload.eq(held),
                 par.resp.ready.eq(1), ser.resp.ready.eq(1)]
    k = Signal(range(nodes + 1), name="k")
    m.d.comb += k.eq(t - 1)
    sending = (t >= 1) & (k < n)
    record = ser.req.payload
    m.d.comb += [ser.req.valid.eq(sending), record.last.eq(k == n - 1)]
    for name in record.shape().members:
        if name != "last":
            m.d.comb += getattr(record, name).eq(getattr(held, name)[k])
    words = {}
    for name, unit in (("par", par), ("ser", ser)):
        got = Signal(name=f"{name}_got")
        word = Signal(unit.response_layout.size, name=f"{name}_word")
        with m.If(unit.resp.valid & ~got):
            m.d.sync += [got.eq(1), word.eq(unit.resp.payload.as_value())]
        words[name] = (got, word)
    (par_got, par_word), (ser_got, ser_word) = words["par"], words["ser"]
    # both have answered once each unit's latency after its last input has passed
    deadline = Mux(n + ser.latency > 1 + par.latency, n + ser.latency, 1 + par.latency) + 2
    m.d.comb += Assert((t < deadline) | (par_got & ser_got))
    with m.If(par_got & ser_got):
        m.d.comb += Assert(par_word == ser_word)
    return m


def _proofs() -> list[Proof]:
    greedy = dict(token_width=3)
    stochastic = dict(token_width=3, prob_width=8, mode="stochastic")
    return [
        Proof("tree_verify_serial N=8 greedy response invariants", "tree_verify_serial",
              lambda: _invariants(8, **greedy), depth=20, small_depth=10,
              fault="tvs-lookahead"),
        Proof("tree_verify_serial N=6 stochastic response invariants", "tree_verify_serial",
              lambda: _invariants(6, **stochastic), depth=20, small_depth=10,
              fault="tvs-stochastic-strict"),
        Proof("tree_verify_serial N=8 equivalent to tree_verify, greedy", "tree_verify_serial",
              lambda: _equivalence(8, **greedy), depth=20, fault="tvs-path-slot"),
        Proof("tree_verify_serial N=4 equivalent to tree_verify, stochastic",
              "tree_verify_serial", lambda: _equivalence(4, **stochastic), depth=20,
              slow=True, fault="tvs-bad-parent"),
        Proof("tree_verify_serial N=8 equivalent to tree_verify, stochastic",
              "tree_verify_serial", lambda: _equivalence(8, **stochastic), depth=20,
              slow=True, fault="tvs-bad-parent"),
    ]


PROOFS = _proofs()
