"""TreeVerifyUnit: pipelined greedy/stochastic draft-tree verification (initiation interval 1).

It computes exactly :func:`specaccel.models.golden.verify_tree` in the golden model's
parallel form (see :mod:`specaccel.models.golden.tree_verify`):

* stage A — per-node acceptability: greedy ``token[i] == target_token[parent[i]]`` (an
  ``m.Switch`` mux of the parent's target token, compared in 2-bit slices that leave the
  stage unreduced); stochastic: the product ``u[i] * q[i]`` in fixed point (see below),
  compared with ``p[i]`` in stage B; beside it, from the parent pointers alone, the
  sibling relation ``parent[i] == parent[j]`` (1 bit per pair), the grandparent pointer,
  and the error checks;
* stage B — the AND of the slices (stochastic: the comparison with p), then ``first[i]``:
  node i is acceptable and no lower-indexed acceptable sibling exists (the lowest-index
  tie-break), an AND-OR over single bits; beside it the great-grandparent and
  4th-ancestor pointers;
* stage D2 — ``ok[i] = first[i] & first[parent] & first[grandparent] &
  first[great-grandparent]`` (the root counts as first);
* stages D3..Dk, ``k = ceil(log2(N - 1))``: pointer doubling ``ok[i] &= ok[jump[i]]`` with
  ``jump[i]`` the ``2**(s-1)``-th ancestor (or the root).  The jump pointers need no
  acceptability, so each is computed one stage before it is used (``jump[jump[i]]``), and
  since a valid tree's ``2**s``-th ancestor of i is the root or at most ``i - 2**s``,
  only those nodes are multiplexer candidates.  Afterwards ``ok[i]`` is ``on_path[i]``
  (N = 2: ``first``; N = 3: ``first[i] & first[parent]`` in stage B);
* rank stage — the on-path nodes form one chain in index order, so an on-path node's rank
  among them (a log-depth prefix count) is its depth; also which on-path node is the last;
* output stage — ``path[rank[i]] = i``, ``accepted`` = the number of on-path non-root
  nodes, ``bonus_token`` = ``target_token`` of the last on-path node.  The target tokens
  wait for it in a small memory (block RAM on an FPGA) indexed by the pipeline-advance
  count, not in a register chain of N * token_width bits per stage.

Every stage is one register; all stages advance together when the output is empty or
accepted (``en = ~resp.valid | resp.ready``), so a new tree enters every cycle without
back-pressure and latency is ``max(k, 1) + 3 <= ceil(log2(N)) + 3`` cycles.

Stochastic fixed point
----------------------
u, q and p are ``w = prob_width``-bit unsigned integers read as fractions ``x / 2**w``.
The node is accepted iff ``(u/2**w) * (q/2**w) < p/2**w``, i.e. iff
``u * q < p * 2**w``, which the hardware evaluates as ``(u * q) >> w < p`` (exact).
Software hands the golden model the same quantised values as floats
(:mod:`specaccel.hdl.stochastic_fixed_point`), for which the float comparison is exact, so
hardware and model agree bit for bit.  What is in hardware: the per-node comparison and the
walk (first acceptable child, lowest index).  What stays in software: the residual
distributions of later siblings (SpecInfer multi-step sampling: the k-th sibling's p and q
after siblings 0..k-1 were rejected) and sampling the correction/bonus token from the
residual at the stopping node — both arrive per node in ``target_prob``/``draft_prob``/
``target_token``, as in the trace schema.

Invalid input
-------------
``n_nodes == 0``, ``n_nodes > N`` or ``parent[i] >= i`` for some ``1 <= i < n_nodes`` set
``error``; the response then has ``accepted = 0``, an all-zero path and ``bonus_token = 0``.
The pipeline never stalls on bad input, so the next request is answered normally.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from specaccel.hdl.layouts import index_shape, verify_request_layout, verify_response_layout
from specaccel.hdl.uniform_lfsr import DEFAULT_SEED, LFSR_WIDTH, lfsr_advance_masks
from specaccel.hdl.unit_parameters import check_verify_parameters, validating
from specaccel.hdl.units.tree_verify import UNIT

__all__ = ["TreeVerifyUnit", "doubling_stages"]

TOKEN_SLICE = 2  # token bits per equality slice registered in stage A


def doubling_stages(nodes: int) -> int:
    """Pointer-doubling stages needed for a chain of ``nodes - 1`` non-root nodes."""
    return max(0, (nodes - 2).bit_length())


class TreeVerifyUnit(wiring.Component):
    """Verify one draft tree per cycle.

    Parameters
    ----------
    nodes:
        N, the maximum number of tree nodes including the root, in [2, 128].
    token_width:
        Bits of a token id, in [1, 18] (18 bits hold a 256k vocabulary).
    prob_width:
        Bits of a fixed-point probability or uniform, in [8, 16] (stochastic mode only).
    mode:
        ``"greedy"`` or ``"stochastic"`` (fixed at build time).
    uniform_source:
        Stochastic mode only: ``"request"`` (per-node ``uniform`` field in the request) or
        ``"lfsr"`` (drawn in the unit, see :mod:`specaccel.hdl.uniform_lfsr`).
    lfsr_seed:
        Reset state of the LFSR (``uniform_source="lfsr"``).

    Attributes
    ----------
    req : In(stream.Signature(verify_request_layout(...)))
        One tree per transfer: ``n_nodes``, per-node ``parent``, ``token``,
        ``target_token`` and, in stochastic mode, ``draft_prob``, ``target_prob`` (and
        ``uniform`` when ``uniform_source="request"``).
    resp : Out(stream.Signature(verify_response_layout(...)))
        ``path`` (accepted node indices, root first, zero-filled), ``accepted``,
        ``bonus_token``, ``error``; in request order.
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
        self.request_layout = verify_request_layout(
            nodes=nodes, token_width=token_width, prob_width=prob_width,
            stochastic=mode == "stochastic", uniform_in_request=uniform_source == "request")
        self.response_layout = verify_response_layout(nodes=nodes, token_width=token_width)
        # the declared law, levels(N) + 3 = max(doubling_stages(N), 1) + 3 register stages
        # (the testbenches measure the latency rather than assume it)
        self.latency = UNIT.law(mode=mode).cycles(nodes=nodes)
        super().__init__({
            "req": In(stream.Signature(self.request_layout)),
            "resp": Out(stream.Signature(self.response_layout)),
        })

    # -- stage A helpers ---------------------------------------------------------------------

    def _uniforms(self, m: Module, en: Signal) -> list:
        """Per-node uniforms: from the request, or this request's stretch of LFSR bits."""
        p = self.req.payload
        n, w = self.nodes, self.prob_width
        if self.uniform_source == "request":
            return [p.uniform[i] for i in range(n)]
        state = Signal(LFSR_WIDTH, init=self.lfsr_seed)
        outputs, next_state = lfsr_advance_masks(n * w)
        bits = [(state & mask).xor() for mask in outputs]
        with m.If(self.req.valid & en):
            m.d.sync += state.eq(Cat(*[(state & mask).xor() for mask in next_state]))
        return [Cat(*bits[i * w:(i + 1) * w]) for i in range(n)]

    def elaborate(self, platform) -> Module:
        m = Module()
        n, tw, w = self.nodes, self.token_width, self.prob_width
        idx = index_shape(n)
        req = self.req.payload

        # Whole-pipeline enable: advance when the output register is empty or being taken.
        en = Signal()
        m.d.comb += [en.eq(~self.resp.valid | self.resp.ready), self.req.ready.eq(en)]

        # ---- stage A: validity, error, per-node acceptability --------------------------
        n_nodes = req.n_nodes
        present = [Signal(name=f"present{i}") for i in range(n)]
        m.d.comb += [present[i].eq(n_nodes > i) for i in range(n)]
        bad_parent = [present[i] & (req.parent[i] >= i) for i in range(1, n)]
        error_a = (n_nodes == 0) | (n_nodes > n) | Cat(*bad_parent).any()

        # the sibling relation (same_parent[i][j] = parent[i] == parent[j], j < i) needs
        # only the request, so stage A has room for it and stage B works on 1-bit values
        same_parent = [[Signal(name=f"same_parent{i}_{j}") for j in range(1, i)]
                       for i in range(n)]
        for i in range(2, n):
            m.d.comb += [same_parent[i][j - 1].eq(req.parent[i] == req.parent[j])
                         for j in range(1, i)]

        # acceptability leaves stage A in parts that stage B (which has the slack) ANDs
        accept_a: list[list] = [[] for _ in range(n)]
        stochastic_b: list = [None] * n  # stochastic mode: acceptability computed in B
        if self.mode == "greedy":
            # the parent's target token by an explicit m.Switch mux (smaller than a one-hot
            # AND-OR, and than comparing against every earlier target token), compared in
            # TOKEN_SLICE-bit slices: one LUT level after the mux; B ANDs the slices
            for i in range(1, n):
                parent_tt = Signal(tw, name=f"parent_target{i}")
                with m.Switch(req.parent[i]):
                    for j in range(i):
                        with m.Case(j):
                            m.d.comb += parent_tt.eq(req.target_token[j])
                accept_a[i] = [present[i] & (req.token[i][g:g + TOKEN_SLICE]
                                             == parent_tt[g:g + TOKEN_SLICE])
                               for g in range(0, tw, TOKEN_SLICE)]
        else:
            uniforms = self._uniforms(m, en)
            # the product (no multipliers on an iCE40: LUTs and carry chains) fills stage
            # A; its comparison with p is made in stage B
            for i in range(1, n):
                product = Signal(2 * w, name=f"uq{i}")
                m.d.comb += product.eq(uniforms[i] * req.draft_prob[i])
                uq_b, p_b = Signal(w, name=f"uq_b{i}"), Signal(w, name=f"p_b{i}")
                present_b = Signal(name=f"present_b{i}")
                with m.If(en):
                    m.d.sync += [uq_b.eq(product[w:]), p_b.eq(req.target_prob[i]),
                                 present_b.eq(present[i])]
                stochastic_b[i] = present_b & (uq_b < p_b)

        # the grandparent pointer needs no acceptability (nor does any later jump pointer)
        grandparent = [Signal(idx, name=f"grandparent{i}") for i in range(n)]
        for i in range(1, n):
            with m.Switch(req.parent[i]):
                for j in range(1, i):
                    with m.Case(j):
                        m.d.comb += grandparent[i].eq(req.parent[j])

        def register(values: list, name: str) -> list:
            """Register a pointer per node; node 0 (the root) always points at itself."""
            regs = [Const(0, idx), *[Signal(idx, name=f"{name}{i}") for i in range(1, n)]]
            with m.If(en):
                m.d.sync += [regs[i].eq(values[i]) for i in range(1, n)]
            return regs

        def follow(pointer: list, hops: int, values: list) -> list:
            """``values[pointer[i]]`` per node, `pointer` being the `hops`-th ancestor."""
            return [Const(0, idx), *[_select(pointer[i], values, _candidates(i, hops))
                                     for i in range(1, n)]]

        valid_b = Signal()
        error_b = Signal()
        accept_parts_b = [Signal(len(parts), name=f"accept_parts_b{i}")
                          for i, parts in enumerate(accept_a)]
        same_parent_b = [Signal(max(i - 1, 0), name=f"same_parent_b{i}") for i in range(n)]
        with m.If(en):
            m.d.sync += [valid_b.eq(self.req.valid), error_b.eq(error_a)]
            m.d.sync += [accept_parts_b[i].eq(Cat(*accept_a[i])) for i in range(1, n)]
            m.d.sync += [same_parent_b[i].eq(Cat(*same_parent[i])) for i in range(2, n)]
        parent_b = register([Const(0, idx), *[req.parent[i] for i in range(1, n)]], "parent_b")
        grandparent_b = register(grandparent, "grandparent_b")

        # The target tokens are needed again only for the bonus token at the output: they
        # wait in a memory (block RAM on an FPGA) instead of a register delay line.  Slot =
        # pipeline advance count; a tree written at advance a is read back at advance
        # a + latency - 2 (registered read) so that its tokens meet it at the output stage.
        k = doubling_stages(n)
        latency = self.latency
        depth = 1 << (latency - 1).bit_length()
        m.submodules.tokens = tokens = Memory(shape=unsigned(n * tw), depth=depth, init=[])
        advance = Signal(range(depth))
        wport = tokens.write_port()
        rport = tokens.read_port()
        with m.If(en):
            m.d.sync += advance.eq(advance + 1)
        m.d.comb += [
            wport.addr.eq(advance), wport.data.eq(req.target_token.as_value()), wport.en.eq(en),
            rport.addr.eq(advance - (latency - 2)), rport.en.eq(en),
        ]
        tt = [rport.data[i * tw:(i + 1) * tw] for i in range(n)]

        # ---- stage B: first acceptable child among siblings (lowest index wins) --------------
        # (signals, not expressions: each first_b[j] feeds up to N muxes below, and an
        # expression would be emitted again at every use — N^3 Verilog)
        accept_b = [Const(0, 1)]
        for i in range(1, n):
            accept_b.append(Signal(name=f"accept_b{i}"))
            m.d.comb += accept_b[i].eq(accept_parts_b[i].all() if stochastic_b[i] is None
                                       else stochastic_b[i])
        first_b = [Const(1, 1)]
        for i in range(1, n):
            earlier = [accept_b[j] & same_parent_b[i][j - 1] for j in range(1, i)]
            first_i = Signal(name=f"first_b{i}")
            m.d.comb += first_i.eq(accept_b[i] & ~_or_all(earlier))
            first_b.append(first_i)
        valid = Signal(name="valid_c")
        error = Signal(name="error_c")
        ok = Signal(n, name="ok_c")
        with m.If(en):
            m.d.sync += [valid.eq(valid_b), error.eq(error_b), ok[0].eq(1)]
            for i in range(1, n):
                if k == 1:  # N = 3: the two non-root levels are done here
                    parent_first = _select(parent_b[i], first_b, _candidates(i, 1))
                    m.d.sync += ok[i].eq(first_b[i] & parent_first)
                else:  # ok = first; N = 2 needs nothing more
                    m.d.sync += ok[i].eq(first_b[i])

        # jump pointers (the 2^s-th ancestor, or the root) run one stage ahead of their use:
        # stage D_s (s >= 3) reads the 2^(s-1)-th ancestor; D2 reads parent, grandparent and
        # great-grandparent at once
        needed = {1 << (s - 1) for s in range(3, k + 1)}
        jumps: dict[int, list] = {}
        if k >= 2:
            ahead = {1: parent_b, 2: grandparent_b,
                     3: follow(grandparent_b, 2, parent_b)}
            if 4 in needed:
                ahead[4] = follow(grandparent_b, 2, grandparent_b)
            jumps = {h: register(v, f"jump{h}_c") for h, v in ahead.items()}

        # ---- doubling stages D2..Dk: on_path[i] = AND of first over i and its ancestors ----
        for s in range(2, k + 1):
            nvalid = Signal(name=f"valid_d{s}")
            nerror = Signal(name=f"error_d{s}")
            nok = Signal(n, name=f"ok_d{s}")
            with m.If(en):
                m.d.sync += [nvalid.eq(valid), nerror.eq(error), nok[0].eq(1)]
                for i in range(1, n):
                    if s == 2:  # first[i] & first of its three nearest ancestors
                        terms = [_select(jumps[h][i], ok, _candidates(i, h)) for h in (1, 2, 3)]
                    else:  # ok[i] & ok[jump[i]]: covers 2^s nodes up from i
                        h = 1 << (s - 1)
                        terms = [_select(jumps[h][i], ok, _candidates(i, h))]
                    m.d.sync += nok[i].eq(ok[i] & Cat(*terms).all())
            top = max(jumps)
            ahead = {h: v for h, v in jumps.items() if h in needed and h >= 1 << s}
            if 2 * top in needed:
                ahead[2 * top] = follow(jumps[top], top, jumps[top])
            jumps = {h: register(v, f"jump{h}_d{s}_") for h, v in ahead.items()}
            valid, error, ok = nvalid, nerror, nok

        # ---- rank stage: the on-path nodes form one chain in index order, so an on-path
        # node's rank among them (a log-depth prefix count) is its depth -----------------------
        rank_shape = idx
        valid_r = Signal(name="valid_r")
        error_r = Signal(name="error_r")
        on = Signal(n, name="on_r")
        last = Signal(n, name="last_r")
        rank = [Signal(rank_shape, name=f"rank_r{i}") for i in range(1, n)]
        counts = _prefix_counts([ok[i] for i in range(1, n)], idx.width)  # on[1] + .. + on[i]
        with m.If(en):
            m.d.sync += [valid_r.eq(valid), error_r.eq(error), on.eq(ok)]
            m.d.sync += [rank[i].eq(counts[i]) for i in range(n - 1)]
            m.d.sync += [last[i].eq(ok[i] & ~ok[i + 1:].any()) for i in range(n - 1)]
            m.d.sync += last[n - 1].eq(ok[n - 1])

        # ---- output stage: path[rank[i]] = i, accepted, bonus token ---------------------------
        path_entries = [Const(0, idx)]
        for d in range(1, n):
            path_entries.append(
                _or_all([Mux(on[i] & (rank[i - 1] == d), i, 0) for i in range(d, n)]))
        accepted = rank[-1] if rank else Const(0, idx)
        bonus = _or_all([Mux(last[i], tt[i], 0) for i in range(n)])
        valid, error = valid_r, error_r

        out = self.resp.payload
        with m.If(en):
            m.d.sync += self.resp.valid.eq(valid)
            m.d.sync += out.error.eq(error)
            with m.If(error):
                m.d.sync += [out.accepted.eq(0), out.bonus_token.eq(0)]
                m.d.sync += [out.path[d].eq(0) for d in range(n)]
            with m.Else():
                m.d.sync += [out.accepted.eq(accepted), out.bonus_token.eq(bonus)]
                m.d.sync += [out.path[d].eq(path_entries[d]) for d in range(n)]
        return m


def _select(index, values, candidates: list[int]):
    """``values[index]`` as a balanced tree of 2:1 multiplexers over the bits of `index`,
    built only over `candidates` (the indices a valid input can hold; any other index
    selects an unspecified candidate), so its depth is the number of index bits that
    still distinguish candidates."""
    def build(cands: list[int], bit: int):
        if len(cands) == 1:
            return values[cands[0]]
        while all(((c >> bit) & 1) == ((cands[0] >> bit) & 1) for c in cands):
            bit -= 1
        low = [c for c in cands if not (c >> bit) & 1]
        high = [c for c in cands if (c >> bit) & 1]
        return Mux(index[bit], build(high, bit - 1), build(low, bit - 1))
    return build(sorted(candidates), len(index) - 1)


def _candidates(node: int, hops: int) -> list[int]:
    """Where the `hops`-th ancestor of `node` can be in a valid tree: the root (when the
    node is less deep), or a node at least `hops` below it (every hop lowers the index)."""
    return [0, *range(1, node - hops + 1)]


def _prefix_counts(bits: list, width: int) -> list:
    """Inclusive prefix sums of single bits, ``width`` bits each, in log2(len) adder levels
    (Kogge-Stone), so the logic depth stays logarithmic."""
    sums = [b for b in bits]
    step = 1
    while step < len(sums):
        sums = [sums[i] + sums[i - step] if i >= step else sums[i] for i in range(len(sums))]
        sums = [v[:width] if len(v) > width else v for v in sums]
        step *= 2
    return sums


def _or_all(values: list):
    """Bitwise OR of a list of values (balanced tree, so the logic depth is logarithmic)."""
    values = list(values)
    if not values:
        return Const(0, 1)
    while len(values) > 1:
        values = [values[i] | values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]
