"""TreeVerifySerialUnit: draft-tree verification one node per cycle (O(N log N) area).

The scan
--------
For a tree whose parents precede their children (``parent[i] < i``) the golden walk of
:mod:`specaccel.models.golden.tree_verify` is one pass in node-index order::

    c = 0; T = target_token[0]; path = [0]
    for i in 1 .. n-1:
        if parent[i] == c and acceptable(i, T): c = i; T = target_token[i]; path.append(i)
    bonus = T

greedy ``acceptable(i, T)`` is ``token[i] == T`` (T *is* ``target_token[parent[i]]``
whenever ``parent[i] == c``), stochastic ``acceptable(i)`` is ``u[i] * q[i] < p[i] * 2**w``
(local to the node, as in the parallel unit,
:class:`~specaccel.hdl.units.tree_verify.gateware.TreeVerifyUnit`).  The state is
``(c, T)``: no node ever needs another node's target token, so there is no N-way routing.

Why it equals the golden walk (induction over the path): suppose after scanning nodes
``< i`` the state ``c`` is the golden walk's current node and no node between ``c`` and ``i``
is an acceptable child of ``c``.  The golden walk's next step from ``c`` is the lowest-index
acceptable child ``k`` of ``c``; every child of ``c`` has index ``> c``, so the scan meets the
children of ``c`` in index order after ``c`` and takes the first acceptable one, which is ``k``
(the lowest-index tie-break).  Nodes between ``c`` and ``k`` that are not children of ``c`` are
skipped (``parent != c``), and so is every node in a subtree not on the path.  After taking ``k``
every child of ``k`` has index ``> k``, so none has been skipped yet: the invariant holds for
``c = k``.  When ``c`` has no acceptable child the scan never moves again, as the walk stops.
The Amaranth and cocotb tests check this against ``verify_tree`` on many thousand trees.

Pipeline (one node per cycle, no back-pressure from the scan)
--------------------------------------------------------------
* input: the node's index in its tree (a counter reset by ``last``), whether it is a root,
  too-many-nodes (index >= N) and ``parent >= index``.  Registered: A.  Stochastic units
  form ``u * q`` over two stages first (stage P: the half products ``u * q_lo`` and
  ``u * q_hi``; then their sum into A), since the HX8K has no multipliers.
* stage A: whether the node will be taken, against the scan state *as it will be* when the
  node reaches the scan: if the scan moves this very cycle (to the node in stage B), compare
  with that node (``token == target_token_B``, ``parent == index_B``), else with the state
  (``token == T``, ``parent == c``); also "no error so far".  Registered: B (``take``).  This
  lookahead keeps the W-bit compare out of the one-cycle scan loop, and the scan's enables
  are single registers.
* stage B (scan): a root resets the state; ``take`` moves ``c, T`` to the node and a one-hot
  write pointer ``slot`` one entry on.  The path register's entry at ``slot`` is written
  every cycle with B's index (no logic in the N log N write enables: the entry is final
  once ``slot`` has moved past it); a thermometer ``below`` marks the entries on the path.
* stage C: after the tree's last node the response register is loaded from the state
  (``path`` masked by ``below``, ``accepted = depth``, ``bonus_token = T``).

Latency: a tree's last node handshake to its response is 4 cycles for every N (5 in
stochastic mode; measured by the tests); a tree of n nodes occupies n cycles of input, and
the next tree's root may follow the last node at once.  All stages advance together when the
response register is empty or taken (``req.ready = ~resp.valid | resp.ready``), so a pending
response that is not taken stalls the input and nothing is lost.

Area: the path working register and the response register (N log2 N bits each), the N-bit
write pointer and thermometer, and an O(W + log N) scan.

Invalid input
-------------
``parent >= index`` on a non-root node, or more than N nodes before ``last``, set the tree's
``error``; the rest of the tree is consumed until ``last`` and the response has ``error = 1``,
``accepted = 0``, an all-zero path and ``bonus_token = 0``.  The next tree is answered normally.

Uniforms
--------
``uniform_source="request"``: a ``uniform`` field per node record.  ``"lfsr"``: every node
record consumes ``prob_width`` bits of :mod:`specaccel.hdl.uniform_lfsr` (the root's and the
dropped nodes' too), node i's uniform being the next ``prob_width`` bits, least significant
first: a tree of n records uses ``UniformLFSR.uniforms(n, prob_width)``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from specaccel.hdl.layouts import index_shape, verify_node_layout, verify_response_layout
from specaccel.hdl.uniform_lfsr import DEFAULT_SEED, LFSR_WIDTH, lfsr_advance_masks
from specaccel.hdl.unit_parameters import check_verify_parameters, validating
from specaccel.hdl.units.tree_verify_serial import UNIT

__all__ = ["TreeVerifySerialUnit"]


class TreeVerifySerialUnit(wiring.Component):
    """Verify draft trees streamed one node record per cycle.

    Parameters
    ----------
    nodes:
        N, the maximum number of tree nodes including the root, in [2, 128].
    token_width:
        Bits of a token id, in [1, 18].
    prob_width:
        Bits of a fixed-point probability or uniform, in [8, 16] (stochastic mode only).
    mode:
        ``"greedy"`` or ``"stochastic"``.
    uniform_source:
        Stochastic mode: ``"request"`` (``uniform`` in each node record) or ``"lfsr"``.
    lfsr_seed:
        Reset state of the LFSR (``uniform_source="lfsr"``).

    Attributes
    ----------
    req : In(stream.Signature(verify_node_layout(...)))
        One node record per transfer, root first: ``token``, ``parent``, ``target_token``
        (stochastic: ``draft_prob``, ``target_prob``, [``uniform``]) and ``last``.
    resp : Out(stream.Signature(verify_response_layout(...)))
        One response per tree, the same layout as
        :class:`~specaccel.hdl.units.tree_verify.gateware.TreeVerifyUnit`'s: ``path``, ``accepted``,
        ``bonus_token``, ``error``.
    """

    def __init__(self, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                 mode: str = "greedy", uniform_source: str = "request",
                 lfsr_seed: int = DEFAULT_SEED) -> None:
        with validating(self):
            check_verify_parameters(nodes=nodes, token_width=token_width,
                                    prob_width=prob_width, mode=mode,
                                    uniform_source=uniform_source, lfsr_seed=lfsr_seed)
        self.nodes = nodes
        self.token_width = token_width
        self.prob_width = prob_width
        self.mode = mode
        self.uniform_source = uniform_source
        self.lfsr_seed = lfsr_seed
        self.node_layout = verify_node_layout(
            nodes=nodes, token_width=token_width, prob_width=prob_width,
            stochastic=mode == "stochastic", uniform_in_request=uniform_source == "request")
        self.response_layout = verify_response_layout(nodes=nodes, token_width=token_width)
        #: cycles from a tree's last record to its response: the declared law for a
        #: one-record tree (4; 5 in stochastic mode, for the two-stage multiplier)
        self.latency = UNIT.law(mode=mode).cycles(nodes=nodes, n=1)
        super().__init__({
            "req": In(stream.Signature(self.node_layout)),
            "resp": Out(stream.Signature(self.response_layout)),
        })

    def _uniform(self, m: Module, advance: Signal):
        """This node's uniform: from the record, or the next ``prob_width`` LFSR bits."""
        if self.uniform_source == "request":
            return self.req.payload.uniform
        state = Signal(LFSR_WIDTH, init=self.lfsr_seed)
        outputs, next_state = lfsr_advance_masks(self.prob_width)
        with m.If(advance):
            m.d.sync += state.eq(Cat(*[(state & mask).xor() for mask in next_state]))
        return Cat(*[(state & mask).xor() for mask in outputs])

    def elaborate(self, platform) -> Module:
        m = Module()
        n, tw, w = self.nodes, self.token_width, self.prob_width
        idx = index_shape(n)
        req = self.req.payload
        stochastic = self.mode == "stochastic"

        # All stages advance together when the response register is empty or being taken.
        en = Signal()
        m.d.comb += [en.eq(~self.resp.valid | self.resp.ready), self.req.ready.eq(en)]
        take_in = Signal()
        m.d.comb += take_in.eq(self.req.valid & en)

        # ---- input: position in the tree, structural checks --------------------------------
        at_root = Signal(init=1)            # the next record is a tree's root
        count = Signal(range(n + 1))        # index of the next record, saturating at N
        with m.If(take_in):
            with m.If(req.last):
                m.d.sync += [at_root.eq(1), count.eq(0)]
            with m.Else():
                m.d.sync += [at_root.eq(0), count.eq(Mux(count == n, n, count + 1))]
        overflow_in = count == n
        bad_parent_in = ~at_root & (req.parent >= count)

        record = {
            "valid": self.req.valid, "root": at_root, "last": req.last,
            "bad": overflow_in | bad_parent_in, "index": count[:idx.width],
            "token": req.token, "target": req.target_token, "parent": req.parent,
        }
        local_ok_a = Signal()
        if not stochastic:
            a = _register(m, en, record, "a")
        else:
            # u*q < p*2**w over two stages (the HX8K has no multipliers): stage P registers
            # the two half products u*q_lo and u*q_hi, stage A their sum, compared in A
            half = w // 2
            uniform = self._uniform(m, take_in)
            pr = _register(m, en, {**record, "target_prob": req.target_prob,
                                   "lo": uniform * req.draft_prob[:half],
                                   "hi": uniform * req.draft_prob[half:]}, "p")
            a = _register(m, en, {**{k: pr[k] for k in record}, "target_prob": pr["target_prob"],
                                  "product": pr["lo"] + (pr["hi"] << half)}, "a")
            m.d.comb += local_ok_a.eq(a["product"][w:2 * w] < a["target_prob"])
        valid_a, root_a, last_a, bad_a = a["valid"], a["root"], a["last"], a["bad"]
        index_a, token_a, target_a, parent_a = a["index"], a["token"], a["target"], a["parent"]

        # ---- scan state (stage B) ----------------------------------------------------------
        # (data registers have no reset: they mean something only after a root or under a
        # valid flag, and without one their enables need no reset term)
        # stage B holds the node the scan processes this cycle; its flags are already
        # qualified by `valid` so that the scan's enables are single registers
        start_b = Signal()        # a root: reset the scan
        last_b = Signal()         # the tree's last node
        bad_b = Signal()          # an invalid non-root record
        take_b = Signal()         # a valid non-root node, acceptable and a child of c
        index_b = Signal(idx, reset_less=True)
        target_b = Signal(tw, reset_less=True)
        cur = Signal(idx, reset_less=True)         # c: the current end of the accepted path
        cur_target = Signal(tw, reset_less=True)   # T: target_token[c]
        depth = Signal(idx, reset_less=True)       # accepted drafts so far
        err = Signal(reset_less=True)            # this tree has had an invalid record
        slot = Signal(n, reset_less=True)   # one-hot: the path entry the next accepted node takes
        below = Signal(n, reset_less=True)  # thermometer: path entries 0 .. depth are the path
        path = [Signal(idx, name=f"path{d}", reset_less=True) for d in range(n)]

        # ---- stage A -> B: take/reject against the state the node will meet ------------------
        advance_b = start_b | take_b            # the state moves to B's node this cycle
        err_next = ~start_b & (err | bad_b)     # the error state after this cycle
        if stochastic:
            fits_new = local_ok_a & (parent_a == index_b)
            fits_old = local_ok_a & (parent_a == cur)
        else:
            fits_new = (token_a == target_b) & (parent_a == index_b)
            fits_old = (token_a == cur_target) & (parent_a == cur)
        node_a = valid_a & ~root_a
        with m.If(en):
            m.d.sync += [
                start_b.eq(valid_a & root_a), last_b.eq(valid_a & last_a),
                bad_b.eq(node_a & bad_a), index_b.eq(index_a), target_b.eq(target_a),
                take_b.eq(node_a & ~bad_a & ~err_next & Mux(advance_b, fits_new, fits_old)),
            ]

        # ---- the scan -------------------------------------------------------------------------
        with m.If(en):
            with m.If(start_b):
                m.d.sync += [cur.eq(0), cur_target.eq(target_b), depth.eq(0), err.eq(0),
                             slot.eq(1 << 1), below.eq(1)]
            with m.Else():
                with m.If(bad_b):
                    m.d.sync += err.eq(1)
                with m.If(take_b):
                    m.d.sync += [cur.eq(index_b), cur_target.eq(target_b), depth.eq(depth + 1),
                                 slot.eq(slot << 1), below.eq(Cat(1, below[:-1]))]
        # The path register's entry at `slot` is written every cycle, whether B's node is
        # taken or not: `slot` moves past it only on a take, so an entry is final once the
        # path has grown past it, and entries past the end are masked by `below` at the
        # output.  The writes need no enable but the `slot` register bit itself (and repeat
        # the same value while the unit stalls).
        for d in range(1, n):
            with m.If(slot[d]):
                m.d.sync += path[d].eq(index_b)

        # ---- stage C: answer from the scan state after the tree's last node -------------------
        finish_c = Signal()
        with m.If(en):
            m.d.sync += finish_c.eq(last_b)
        # the response payload: a register without reset (its enable is then one LUT)
        out = Signal(self.response_layout, reset_less=True)
        m.d.comb += self.resp.payload.eq(out)
        with m.If(self.resp.ready):
            m.d.sync += self.resp.valid.eq(0)
        with m.If(en & finish_c):
            m.d.sync += [
                self.resp.valid.eq(1), out.error.eq(err),
                out.accepted.eq(Mux(err, 0, depth)), out.bonus_token.eq(Mux(err, 0, cur_target)),
                out.path[0].eq(0),
            ]
            m.d.sync += [out.path[d].eq(Mux(below[d] & ~err, path[d], 0)) for d in range(1, n)]
        return m


def _register(m: Module, en, values: dict, stage: str) -> dict:
    """One pipeline register per value, loaded when `en`; ``"valid"`` is reset to 0, the
    data registers have no reset (they are read only under a valid flag)."""
    out = {}
    for name, value in values.items():
        value = Value.cast(value)
        reg = Signal(len(value), name=f"{name}_{stage}", reset_less=name != "valid")
        with m.If(en):
            m.d.sync += reg.eq(value)
        out[name] = reg
    return out
