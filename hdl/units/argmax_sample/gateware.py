"""Argmax / sampling unit: one node's logits streamed in chunks, the selected token out.

The semantics are those of :mod:`specaccel.models.golden.token_selection` (greedy: first
maximum, lowest index wins ties; sampling: first index whose cumulative weight exceeds the
threshold ``floor(u * total)``).  The vocabulary arrives ``chunk`` lanes per beat, so a
verify pipeline can start on a node's logits before the whole vocabulary is there.

Pipeline (one beat per cycle; nothing ever stalls — flow control is by credits: a beat is
accepted only while the result FIFO has a slot for every request in flight):

* **S1** registers the beat and its base index (running sum of ``count`` in the request);
* **S2** reduces the chunk, one register stage per tree level: the first maximum of the
  valid lanes (greedy) and the lane prefix sums of the weights (sampling);
* **S3** merges the chunk maximum into the running best (the tightest loop: one
  carry-chain compare and one LUT) and compares the prefix sums against the remaining
  threshold;
* **S4** picks the first hitting lane of the first hitting beat and, on the request's last
  beat, writes the result into the FIFO that drives ``out``.

Latency: ``4 + ceil(log2 chunk)`` cycles (``unit.latency``; 6 for chunk = 4) from the last
beat's handshake to ``out.valid``.  Measured on iCE40 HX8K (pin-light harness, N = 16,
chunk 4, 16-bit logits): about 118 MHz.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from specaccel.hdl.unit_parameters import validating
from specaccel.hdl.units.argmax_sample import UNIT

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
        with validating(self):
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
            #: register stages of the chunk reduction (one per tree level, at least one)
            self.reduce_levels = max(1, (chunk - 1).bit_length())
            #: cycles from the handshake of a request's last beat to its result on ``out``
            self.latency = UNIT.law(chunk=chunk).cycles(nodes=nodes)
            #: result FIFO slots: enough for one-beat requests back to back at full rate
            self.fifo_depth = self.latency + 3
        super().__init__({
            "inp": In(stream.Signature(self.beat)),
            "out": Out(stream.Signature(self.result)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        c = self.chunk
        tw = self.token_width
        rem_w = self.prob_width + self.token_width

        # Credit flow control: the pipeline never stalls.  Every request whose last beat was
        # accepted holds a slot of the result FIFO until its result is read, and a beat is
        # accepted only while a slot is free, so back-pressure never reaches the datapath
        # (no enable fan-out from `out.ready`, no combinational ready path).
        advance = Const(1)
        fifo = SyncFIFOBuffered(width=len(self.out.payload.as_value()), depth=self.fifo_depth)
        m.submodules.results = fifo
        reserved = Signal(range(self.fifo_depth + 1))
        m.d.comb += [
            self.inp.ready.eq(reserved < self.fifo_depth),
            self.out.valid.eq(fifo.r_rdy),
            self.out.payload.eq(fifo.r_data),
            fifo.r_en.eq(self.out.ready),
        ]
        booked = self.inp.valid & self.inp.ready & self.inp.payload.last
        freed = self.out.valid & self.out.ready
        with m.If(booked & ~freed):
            m.d.sync += reserved.eq(reserved + 1)
        with m.Elif(freed & ~booked):
            m.d.sync += reserved.eq(reserved - 1)

        # ---- S1: register the beat and its base index --------------------------------
        in_request = Signal()  # a request has started and its last beat is not yet in
        next_base = Signal(tw)
        s1_valid = Signal()
        s1_first = Signal()
        s1_base = Signal(tw)
        s1 = Signal(self.beat)
        take = Signal()
        m.d.comb += take.eq(self.inp.valid & self.inp.ready)
        base_now = Signal(tw)
        m.d.comb += base_now.eq(Mux(in_request, next_base, 0))
        with m.If(advance):
            m.d.sync += [
                s1_valid.eq(take),
                s1.eq(self.inp.payload),
                s1_first.eq(~in_request),
                s1_base.eq(base_now),
            ]
        with m.If(take):
            m.d.sync += [
                in_request.eq(~self.inp.payload.last),
                next_base.eq(base_now + self.inp.payload.count),
            ]

        # ---- S2: reduce the chunk, one register stage per tree level ---------------------
        # greedy: (valid, value, token) first-maximum tree, the lower lane wins ties;
        # sampling: inclusive prefix sums of the masked weights (Sklansky: at level k,
        # lane j with bit k set adds the last prefix of the block of 2**k lanes before it).
        psum_w = self.prob_width + bits_for(c)
        cands = []
        prefix = []
        lane_tok = []
        for j in range(c):
            ok = Signal(name=f"lane_ok{j}")
            tok = Signal(tw, name=f"lane_tok{j}")
            w = Signal(psum_w, name=f"weight{j}")
            m.d.comb += [
                ok.eq(s1.count > j),
                tok.eq(s1_base + j),
                w.eq(Mux(ok, s1.lanes[j].as_unsigned()[:self.prob_width], 0)),
            ]
            cands.append((ok, s1.lanes[j], tok))
            prefix.append(w)
            lane_tok.append(tok)
        carried = {
            "valid": s1_valid, "first": s1_first, "last": s1.last, "node": s1.node,
            "sample": s1.sample, "threshold": s1.threshold,
        }
        lw = self.logit_width
        for level in range(self.reduce_levels):
            merged = []
            for k in range(0, len(cands) - 1, 2):
                (av, a, at), (bv, b, bt) = cands[k], cands[k + 1]
                pick_a = Signal(name=f"pick_a_l{level}_{k}")
                m.d.comb += pick_a.eq(av & (~bv | (a >= b)))
                merged.append((av | bv, Mux(pick_a, a, b), Mux(pick_a, at, bt)))
            if len(cands) % 2:
                merged.append(cands[-1])
            sums = [prefix[j] + prefix[((j >> level) << level) - 1] if (j >> level) & 1
                    else prefix[j] for j in range(c)]
            # register the level
            final = level == self.reduce_levels - 1
            # after the last level the maximum is biased to unsigned (v + 2**lw: carry-chain
            # friendly), and an empty chunk's maximum is EMPTY = 0, below every logit
            cands = [
                (self._reg(m, advance, v, 1, f"max_ok_l{level}_{k}"),
                 self._reg(m, advance, Mux(v, Cat(val[:-1], ~val[-1]), 0) if final else val,
                           unsigned(lw + 1) if final else signed(lw), f"max_l{level}_{k}"),
                 self._reg(m, advance, Mux(v, t, 0) if final else t, tw,
                           f"max_tok_l{level}_{k}"))
                for k, (v, val, t) in enumerate(merged)
            ]
            prefix = [self._reg(m, advance, x, psum_w, f"prefix_l{level}_{j}")
                      for j, x in enumerate(sums)]
            lane_tok = [self._reg(m, advance, x, tw, f"lane_tok_l{level}_{j}")
                        for j, x in enumerate(lane_tok)]
            carried = {name: self._reg(m, advance, v, len(v), f"{name}_l{level}")
                       for name, v in carried.items()}
        (s2_g_ok, s2_g_val, s2_g_tok), = cands
        s2_prefix = prefix
        s2_lane_tok = lane_tok
        s2_valid = carried["valid"]
        s2_first = carried["first"]
        s2_last = carried["last"]
        s2_node = carried["node"]
        s2_sample = carried["sample"]
        s2_threshold = carried["threshold"]

        # ---- S3: greedy merge; sampling comparisons against the remaining threshold -------
        best_ok = Signal()
        best_val = Signal(self.logit_width + 1)  # biased; EMPTY (0) until a lane was seen
        best_tok = Signal(tw)
        rem = Signal(rem_w)  # threshold minus the weights of the earlier beats
        req_node = Signal.like(s1.node)
        req_sample = Signal()

        cur_best_ok = Signal()
        cur_best_tok = Signal(tw)
        m.d.comb += [
            cur_best_ok.eq(~s2_first & best_ok),
            cur_best_tok.eq(Mux(s2_first, 0, best_tok)),
        ]
        # g_take: one LUT after the carry chain (the loop best_val -> compare -> best_val
        # is the unit's tightest recurrence): a first beat always loads (EMPTY and token 0
        # if it has no lanes); later a chunk must beat the best strictly (the earlier index
        # wins ties), and EMPTY never does.
        g_take = Signal()
        m.d.comb += g_take.eq(s2_first | (s2_g_val > best_val))
        new_best_ok = Signal()
        new_best_val = Signal(self.logit_width + 1)
        new_best_tok = Signal(tw)
        m.d.comb += [
            new_best_ok.eq(cur_best_ok | s2_g_ok),
            new_best_val.eq(Mux(g_take, s2_g_val, best_val)),
            new_best_tok.eq(Mux(g_take, s2_g_tok, cur_best_tok)),
        ]

        # hits[j]: lane j's cumulative weight exceeds the threshold.  A prefix sum has
        # psum_w bits, so it can only exceed a remainder whose high bits are zero; the
        # comparison is psum_w bits wide.  Both comparisons start from registers (no mux in
        # front of the carry chains); the first-beat choice is a 1-bit mux after them.
        def exceeds(psum, limit):
            if rem_w <= psum_w:
                return psum > limit
            return (limit[psum_w:] == 0) & (psum > limit[:psum_w])

        hits = Signal(c)
        for j in range(c):
            m.d.comb += hits[j].eq(Mux(s2_first, exceeds(s2_prefix[j], s2_threshold),
                                       exceeds(s2_prefix[j], rem)))
        node_now = Mux(s2_first, s2_node, req_node)
        sample_now = Mux(s2_first, s2_sample, req_sample)

        s3_valid = Signal()
        s3_first = Signal()
        s3_last = Signal()
        s3_node = Signal.like(s1.node)
        s3_sample = Signal()
        s3_hits = Signal(c)
        s3_lane_tok = [Signal(tw, name=f"s3_lane_tok{j}") for j in range(c)]
        s3_g_found = Signal()
        s3_g_tok = Signal(tw)
        with m.If(advance):
            m.d.sync += [
                s3_valid.eq(s2_valid),
                s3_first.eq(s2_first),
                s3_last.eq(s2_last),
                s3_node.eq(node_now),
                s3_sample.eq(sample_now),
                s3_hits.eq(hits),
                s3_g_found.eq(new_best_ok),
                s3_g_tok.eq(new_best_tok),
            ]
            m.d.sync += [s3_lane_tok[j].eq(s2_lane_tok[j]) for j in range(c)]
            with m.If(s2_valid):
                m.d.sync += [
                    best_ok.eq(new_best_ok),
                    best_val.eq(new_best_val),
                    best_tok.eq(new_best_tok),
                    rem.eq(Mux(s2_first, s2_threshold, rem) - s2_prefix[c - 1]),
                    req_node.eq(node_now),
                    req_sample.eq(sample_now),
                ]

        # ---- S4: sampling pick (first hit lane of the first hitting beat); emit ----------
        s_found = Signal()
        s_tok = Signal(tw)
        cur_s_found = Signal()
        cur_s_tok = Signal(tw)
        m.d.comb += [
            cur_s_found.eq(~s3_first & s_found),
            cur_s_tok.eq(Mux(s3_first, 0, s_tok)),
        ]
        # prefix sums are non-decreasing, so `hits` is a thermometer code: the first hit
        # lane is where it turns on
        first_hit = Signal(c)
        m.d.comb += first_hit.eq(s3_hits & ~(s3_hits << 1)[:c])
        hit_tok = Signal(tw)
        m.d.comb += hit_tok.eq(
            self._or_reduce([Mux(first_hit[j], s3_lane_tok[j], 0) for j in range(c)]))
        s_take = Signal()
        m.d.comb += s_take.eq(~cur_s_found & s3_hits[c - 1])
        new_s_found = Signal()
        new_s_tok = Signal(tw)
        m.d.comb += [
            new_s_found.eq(cur_s_found | s_take),
            new_s_tok.eq(Mux(s_take, hit_tok, cur_s_tok)),
        ]

        result = Signal(self.result)
        m.d.comb += [
            result.node.eq(s3_node),
            result.found.eq(Mux(s3_sample, new_s_found, s3_g_found)),
            result.token.eq(Mux(s3_sample, new_s_tok, s3_g_tok)),
            fifo.w_data.eq(result),
            fifo.w_en.eq(s3_valid & s3_last),  # a slot was reserved when the beat came in
        ]
        with m.If(s3_valid):
            m.d.sync += [
                s_found.eq(new_s_found),
                s_tok.eq(new_s_tok),
            ]
        return m

    @staticmethod
    def _reg(m: Module, enable: Signal, value, shape, name: str) -> Signal:
        """A register of `value` loaded when `enable` is high."""
        r = Signal(shape, name=name)
        with m.If(enable):
            m.d.sync += r.eq(value)
        return r

    @staticmethod
    def _or_reduce(values: list) -> object:
        out = values[0]
        for v in values[1:]:
            out = out | v
        return out
