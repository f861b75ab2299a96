"""Formal properties of ``tree_verify`` (see :mod:`specaccel.hdl.formal`).

:func:`assert_verify_response` states what a verify response must be for a request, in
terms of the request alone: the error flag exactly on an invalid request (zero nodes, more
than N, a present node whose parent is not below it) with a zero payload; otherwise a path
that starts at the root, follows parent pointers through acceptable nodes only, takes the
lowest-index acceptable child at every step (the tie-break), stops only where no child is
acceptable, is zero past its end, and the bonus token of its last node.  Together these
determine the response uniquely: they are :func:`specaccel.models.golden.verify_tree`
written as assertions.  The node-serial unit is held to the same statement
(:mod:`specaccel.hdl.units.tree_verify_serial.properties`).
"""

from __future__ import annotations

from amaranth.hdl import Assert, Cat, Module, Signal, Value

from specaccel.hdl.formal import Proof, _no_reset, check_stream_output, drive_stream_input

__all__ = ["PROOFS", "assert_verify_response", "request_is_invalid", "stochastic_acceptable"]


def request_is_invalid(request, nodes: int):
    """The golden model's (and the units') invalid request: zero nodes, more than
    `nodes`, or a present node whose parent pointer is not below it."""
    n = request.n_nodes
    bad = [(n > i) & (request.parent[i] >= i) for i in range(1, nodes)]
    return (n == 0) | (n > nodes) | Cat(*bad).any()


def stochastic_acceptable(request, nodes: int, prob_width: int):
    """Per node, ``u * q < p * 2**w`` (as ``(u * q) >> w < p``), as an N-bit value.

    Harnesses compute it where the request enters the unit and carry the bits along: the
    product then has the very inputs of the unit's own multiplier at the same cycle, which
    the solver merges, instead of proving two multipliers equal across cycles."""
    return Cat(*[((request.uniform[i] * request.draft_prob[i]) >> prob_width)
                 < request.target_prob[i] for i in range(nodes)])


def assert_verify_response(m: Module, out, request, *, nodes: int, mode: str,
                           accept_bits=None) -> None:
    """Assert (combinationally) that response view `out` answers request view `request`
    (a ``verify_request_layout`` view).

    Stochastic mode: `accept_bits` (:func:`stochastic_acceptable` of the request) says
    which nodes pass the sampling test; None (uniforms drawn inside the unit, unknown to
    the harness) leaves acceptability unstated: the structural properties remain (error
    flag, root, parent pointers, zeros past the end, bonus token of the last node)."""
    n = request.n_nodes
    present = [n > i for i in range(nodes)]
    judge = mode == "greedy" or accept_bits is not None

    def acceptable(j):
        if mode == "greedy":
            return request.token[j] == request.target_token[request.parent[j]]
        return accept_bits.bit_select(j, 1) if isinstance(j, Value) else accept_bits[j]

    invalid = Signal(name="spec_invalid")
    m.d.comb += invalid.eq(request_is_invalid(request, nodes))
    m.d.comb += Assert(out.error == invalid)
    with m.If(invalid):
        m.d.comb += [Assert(out.accepted == 0), Assert(out.bonus_token == 0),
                     Assert(out.path.as_value() == 0)]
    with m.Else():
        m.d.comb += [Assert(out.path[0] == 0), Assert(out.accepted < n)]
        for d in range(1, nodes):
            node, prev = out.path[d], out.path[d - 1]
            with m.If(out.accepted >= d):
                m.d.comb += [Assert(node > prev), Assert(node < n),
                             Assert(request.parent[node] == prev)]
                if judge:
                    m.d.comb += Assert(acceptable(node))
                    for j in range(1, nodes - 1):  # no acceptable sibling below it
                        m.d.comb += Assert(~((j < node) & present[j]
                                             & (request.parent[j] == prev) & acceptable(j)))
            with m.Else():
                m.d.comb += Assert(node == 0)
        last = out.path[out.accepted]
        m.d.comb += Assert(out.bonus_token == request.target_token[last])
        if judge:  # the walk stops only where no child is acceptable
            for j in range(1, nodes):
                m.d.comb += Assert(~(present[j] & (request.parent[j] == last) & acceptable(j)))


def _invariants(nodes: int, *, back_pressure: bool, **params) -> Module:
    """The unit between a rule-keeping producer and a consumer that is either free
    (`back_pressure`) or always ready; a shadow pipeline of requests, advanced with the
    unit's own enable, holds the request each response answers."""
    from specaccel.hdl.units.tree_verify.gateware import TreeVerifyUnit

    m = Module()
    _no_reset(m)
    m.submodules.dut = dut = TreeVerifyUnit(nodes=nodes, **params)
    drive_stream_input(m, dut.req, "req")
    if back_pressure:
        check_stream_output(m, dut.resp, "resp")
    else:
        m.d.comb += dut.resp.ready.eq(1)
    en = ~dut.resp.valid | dut.resp.ready
    valid, request = dut.req.valid, dut.req.payload
    judged = dut.mode == "stochastic" and dut.uniform_source == "request"
    accept = stochastic_acceptable(request, nodes, dut.prob_width) if judged else Cat()
    for stage in range(dut.latency):
        v = Signal(name=f"shadow_valid{stage}")
        r = Signal(dut.request_layout, name=f"shadow{stage}")
        a = Signal(len(accept), name=f"shadow_accept{stage}")
        with m.If(en):
            m.d.sync += [v.eq(valid), r.eq(request), a.eq(accept)]
        valid, request, accept = v, r, a
    # one response per request, in order, after `latency` advances
    m.d.comb += Assert(dut.resp.valid == valid)
    with m.If(dut.resp.valid):
        assert_verify_response(m, dut.resp.payload, request, nodes=nodes, mode=dut.mode,
                               accept_bits=accept if judged else None)
    return m


def _proofs() -> list[Proof]:
    greedy = dict(token_width=3)
    stochastic = dict(token_width=3, prob_width=8, mode="stochastic")
    lfsr = dict(token_width=3, prob_width=8, mode="stochastic", uniform_source="lfsr")
    return [
        Proof("tree_verify N=8 greedy response invariants, always ready", "tree_verify",
              lambda: _invariants(8, back_pressure=False, **greedy), induction=8,
              fault="tv-tie-break"),
        Proof("tree_verify N=4 greedy response invariants, back-pressure", "tree_verify",
              lambda: _invariants(4, back_pressure=True, **greedy), depth=20, small_depth=10,
              fault="tv-bad-parent"),
        Proof("tree_verify N=4 stochastic response invariants, always ready", "tree_verify",
              lambda: _invariants(4, back_pressure=False, **stochastic), induction=6,
              fault="tv-stochastic-strict"),
        Proof("tree_verify N=4 stochastic response invariants, back-pressure", "tree_verify",
              lambda: _invariants(4, back_pressure=True, **stochastic), depth=20,
              small_depth=10,
              fault="tv-too-many"),
        Proof("tree_verify N=8 stochastic LFSR structural invariants", "tree_verify",
              lambda: _invariants(8, back_pressure=True, **lfsr), depth=20, small_depth=10,
              fault="tv-token-memory"),
    ]


PROOFS = _proofs()
