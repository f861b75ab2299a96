"""Argmax / sampling unit: one node's logits streamed in chunks, the selected token out.

The semantics are those of :mod:`specaccel.models.golden.token_selection` (greedy: first
maximum, lowest index wins ties; sampling: first index whose cumulative weight exceeds the
threshold ``floor(u * total)``).  The vocabulary arrives ``chunk`` lanes per beat, so a
verify pipeline can start on a node's logits before the whole vocabulary is there.

Pipeline (global stall: every stage advances when the output register is free or being
read; ``inp.ready`` is that condition):

* **S1** registers the beat and its base index (running sum of ``count`` in the request);
* **S2** reduces the chunk: the first maximum of the valid lanes (greedy) and the lane
  prefix sums of the weights (sampling), both log-depth trees;
* **S3** merges the chunk into the per-request running state (best logit / remaining
  threshold) and, on the request's last beat, writes the result register (``out``).

Latency: 3 cycles from the last beat's handshake to ``out.valid``; one beat per cycle.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

MAX_NODES = 1 << 16
MAX_CHUNK = 64
MAX_WIDTH = 32
MAX_LOGIT_WIDTH = 64


def _check_int(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], not {value!r}")
    return value


def beat_layout(*, nodes: int, token_width: int, prob_width: int, chunk: int,
                logit_width: int) -> data.StructLayout:
    """The payload of one input beat (see :class:`ArgmaxSampleUnit` for the fields)."""
    return data.StructLayout({
        "lanes": data.ArrayLayout(signed(logit_width), chunk),
        "count": range(chunk + 1),
        "last": 1,
        "node": range(nodes),
        "sample": 1,
        "threshold": unsigned(prob_width + token_width),
    })


def result_layout(*, nodes: int, token_width: int) -> data.StructLayout:
    """The payload of one result (see :class:`ArgmaxSampleUnit`)."""
    return data.StructLayout({
        "token": unsigned(token_width),
        "found": 1,
        "node": range(nodes),
    })


class ArgmaxSampleUnit(wiring.Component):
    """Streamed argmax (greedy) or inverse-CDF sample (stochastic) of one node's logits.

    Parameters
    ----------
    nodes : int
        Tree nodes whose requests are tagged (``node`` field width is ``range(nodes)``).
    token_width : int
        Bits of a token index; a request's vocabulary is at most ``2**token_width``.
    prob_width : int
        Bits of a sampling weight (low bits of a lane); ``prob_width <= logit_width``.
    chunk : int
        Logit lanes per beat.
    logit_width : int
        Bits of a lane (a signed logit in greedy mode).

    Attributes
    ----------
    inp : stream.Signature(beat_layout), In
        One beat per handshake.  ``lanes[j]`` for ``j < count`` are the logits of vocabulary
        indices ``base + j`` where ``base`` is the sum of the earlier beats' ``count`` in this
        request (so a vocabulary that is not a multiple of ``chunk`` ends with a short
        beat; ``count = 0`` beats add nothing).  Greedy mode reads lanes as signed logits;
        sample mode reads the low ``prob_width`` bits of each lane as an unsigned weight.
        ``last`` ends the request.  ``node`` (tag echoed in the result), ``sample``
        (0 greedy, 1 sample) and ``threshold`` (``floor(u * total)``, sampling only) are
        read on the first beat of a request and ignored on the others.
    out : stream.Signature(result_layout), Out
        One result per request: ``token`` (the chosen index), ``found`` (0 when no index
        qualified: an empty request, or a threshold >= the total weight; ``token`` is then
        0) and ``node``.
    """

    def __init__(self, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                 chunk: int = 4, logit_width: int = 16) -> None:
        self.nodes = _check_int("nodes", nodes, 1, MAX_NODES)
        self.token_width = _check_int("token_width", token_width, 1, MAX_WIDTH)
        self.logit_width = _check_int("logit_width", logit_width, 2, MAX_LOGIT_WIDTH)
        self.prob_width = _check_int("prob_width", prob_width, 1, MAX_WIDTH)
        if prob_width > logit_width:
            raise ValueError(
                f"prob_width must be <= logit_width ({logit_width}), not {prob_width!r}"
            )
        self.chunk = _check_int("chunk", chunk, 1, MAX_CHUNK)
        self.beat = beat_layout(nodes=nodes, token_width=token_width, prob_width=prob_width,
                                chunk=chunk, logit_width=logit_width)
        self.result = result_layout(nodes=nodes, token_width=token_width)
        super().__init__({
            "inp": In(stream.Signature(self.beat)),
            "out": Out(stream.Signature(self.result)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        c = self.chunk
        tw = self.token_width
        rem_w = self.prob_width + self.token_width
        lane_idx_w = bits_for(max(c - 1, 0))

        advance = Signal()
        m.d.comb += [
            advance.eq(~self.out.valid | self.out.ready),
            self.inp.ready.eq(advance),
        ]

        # ---- S1: register the beat and its base index --------------------------------
        in_request = Signal()  # a request has started and its last beat is not yet in
        next_base = Signal(tw)
        s1_valid = Signal()
        s1_first = Signal()
        s1_base = Signal(tw)
        s1 = Signal(self.beat)
        take = Signal()
        m.d.comb += take.eq(self.inp.valid & advance)
        base_now = Signal(tw)
        m.d.comb += base_now.eq(Mux(in_request, next_base, 0))
        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(self.inp.valid),
                s1.eq(self.inp.payload),
                s1_first.eq(~in_request),
                s1_base.eq(base_now),
            ]
        with m.If(take):
            m.d.sync += [
                in_request.eq(~self.inp.payload.last),
                next_base.eq(base_now + self.inp.payload.count),
            ]

        # ---- S2: reduce the chunk ---------------------------------------------------
        lane_ok = [Signal(name=f"lane_ok{j}") for j in range(c)]
        for j in range(c):
            m.d.comb += lane_ok[j].eq(s1.count > j)
        # greedy: (valid, value, lane) first-maximum tree, lower lane wins ties
        cands = [(lane_ok[j], s1.lanes[j], Const(j, lane_idx_w)) for j in range(c)]
        level = 0
        while len(cands) > 1:
            merged = []
            for k in range(0, len(cands) - 1, 2):
                (av, a, ai), (bv, b, bi) = cands[k], cands[k + 1]
                pick_a = Signal(name=f"pick_a_l{level}_{k}")
                v = Signal(name=f"max_ok_l{level}_{k}")
                val = Signal(signed(self.logit_width), name=f"max_l{level}_{k}")
                idx = Signal(lane_idx_w, name=f"max_idx_l{level}_{k}")
                m.d.comb += [
                    pick_a.eq(av & (~bv | (a >= b))),
                    v.eq(av | bv),
                    val.eq(Mux(pick_a, a, b)),
                    idx.eq(Mux(pick_a, ai, bi)),
                ]
                merged.append((v, val, idx))
            if len(cands) % 2:
                merged.append(cands[-1])
            cands = merged
            level += 1
        g_ok, g_val, g_idx = cands[0]

        # sampling: inclusive prefix sums of the masked weights (Sklansky, log depth)
        psum_w = self.prob_width + bits_for(c)
        weights = []
        for j in range(c):
            w = Signal(psum_w, name=f"weight{j}")
            m.d.comb += w.eq(Mux(lane_ok[j], s1.lanes[j].as_unsigned()[:self.prob_width], 0))
            weights.append(w)
        prefix = self._prefix_sums(m, weights, psum_w)

        s2_valid = Signal()
        s2_first = Signal()
        s2_last = Signal()
        s2_base = Signal(tw)
        s2_node = Signal.like(s1.node)
        s2_sample = Signal()
        s2_threshold = Signal(rem_w)
        s2_g_ok = Signal()
        s2_g_val = Signal(signed(self.logit_width))
        s2_g_idx = Signal(lane_idx_w)
        s2_prefix = [Signal(psum_w, name=f"s2_prefix{j}") for j in range(c)]
        with m.If(advance):
            m.d.sync += [
                s2_valid.eq(s1_valid),
                s2_first.eq(s1_first),
                s2_last.eq(s1.last),
                s2_base.eq(s1_base),
                s2_node.eq(s1.node),
                s2_sample.eq(s1.sample),
                s2_threshold.eq(s1.threshold),
                s2_g_ok.eq(g_ok),
                s2_g_val.eq(g_val),
                s2_g_idx.eq(g_idx),
            ]
            m.d.sync += [s2_prefix[j].eq(prefix[j]) for j in range(c)]

        # ---- S3: merge into the request state; emit on the last beat -------------------
        best_ok = Signal()
        best_val = Signal(signed(self.logit_width))
        best_tok = Signal(tw)
        rem = Signal(rem_w)
        s_found = Signal()
        s_tok = Signal(tw)
        req_node = Signal.like(s1.node)
        req_sample = Signal()

        cur_best_ok = Mux(s2_first, 0, best_ok)
        cur_rem = Signal(rem_w)
        cur_s_found = Signal()
        m.d.comb += [
            cur_rem.eq(Mux(s2_first, s2_threshold, rem)),
            cur_s_found.eq(Mux(s2_first, 0, s_found)),
        ]
        g_take = Signal()
        m.d.comb += g_take.eq(s2_g_ok & (~cur_best_ok | (s2_g_val > best_val)))
        new_best_ok = Signal()
        new_best_val = Signal(signed(self.logit_width))
        new_best_tok = Signal(tw)
        m.d.comb += [
            new_best_ok.eq(cur_best_ok | s2_g_ok),
            new_best_val.eq(Mux(g_take, s2_g_val, best_val)),
            new_best_tok.eq(Mux(g_take, (s2_base + s2_g_idx)[:tw], best_tok)),
        ]

        hits = Signal(c)
        m.d.comb += hits.eq(Cat(*[s2_prefix[j] > cur_rem for j in range(c)]))
        hit_lane = Signal(lane_idx_w)
        for j in reversed(range(c)):  # priority: the lowest hit lane
            with m.If(hits[j]):
                m.d.comb += hit_lane.eq(j)
        s_take = Signal()
        m.d.comb += s_take.eq(~cur_s_found & hits.any())
        new_s_found = Signal()
        new_s_tok = Signal(tw)
        m.d.comb += [
            new_s_found.eq(cur_s_found | s_take),
            new_s_tok.eq(Mux(s_take, (s2_base + hit_lane)[:tw], s_tok)),
        ]
        node_now = Mux(s2_first, s2_node, req_node)
        sample_now = Mux(s2_first, s2_sample, req_sample)

        with m.If(advance):
            m.d.sync += self.out.valid.eq(0)
            with m.If(s2_valid):
                m.d.sync += [
                    best_ok.eq(new_best_ok),
                    best_val.eq(new_best_val),
                    best_tok.eq(new_best_tok),
                    rem.eq(cur_rem - s2_prefix[c - 1]),
                    s_found.eq(new_s_found),
                    s_tok.eq(new_s_tok),
                    req_node.eq(node_now),
                    req_sample.eq(sample_now),
                ]
                with m.If(s2_last):
                    found = Mux(sample_now, new_s_found, new_best_ok)
                    m.d.sync += [
                        self.out.valid.eq(1),
                        self.out.payload.node.eq(node_now),
                        self.out.payload.found.eq(found),
                        self.out.payload.token.eq(
                            Mux(found, Mux(sample_now, new_s_tok, new_best_tok), 0)
                        ),
                    ]
        return m

    @staticmethod
    def _prefix_sums(m: Module, values: list[Signal], width: int) -> list[Signal]:
        """Inclusive prefix sums of `values` by recursive halving (depth log2 len)."""
        def rec(vals: list, tag: str) -> list:
            if len(vals) == 1:
                return vals
            half = (len(vals) + 1) // 2
            left = rec(vals[:half], tag + "l")
            right = rec(vals[half:], tag + "r")
            out = list(left)
            for k, r in enumerate(right):
                s = Signal(width, name=f"psum_{tag}{k}")
                m.d.comb += s.eq(left[-1] + r)
                out.append(s)
            return out

        return rec(values, "")
