"""SamplingUnit: one node's bf16 logits streamed at W lanes per cycle, its token out.

The rule is :func:`specaccel.models.golden.token_selection.select_token` (greedy argmax,
top-k with k <= 8, temperature, inverse-CDF sampling from a given uniform; bf16 order with
NaN below ``-inf`` and ``-0 == +0``; lower index first among equal logits).  The tests check
this unit against that function on the same inputs.

Structure
---------
*Stream front end* (one beat of W lanes per cycle, never stalls inside):

* **IN** registers the beat and its base index (the running sum of ``count``);
* **KEY** turns each valid lane into its 17-bit rank key (``valid << 16 | order_key``; an
  invalid lane is 0, below every logit, NaN included);
* **TREE**, one register stage per level, merges sorted lists of up to ``max_top_k``
  (key, lane) pairs: two lists of lengths p and q are merged by p*q key comparisons (the
  rank of ``a_i`` is ``i`` plus the number of ``b_j`` strictly above it, ``b_j``'s is ``j``
  plus the number of ``a_i`` at or above it: the left list holds the lower lanes, so it
  wins ties), then one-hot selection by rank;
* **GLOBAL** adds the beat's base to the lane numbers;
* **MERGE** merges the beat's list into the request's running list (earlier beats win
  ties); a first beat merges into an empty list.  This is the one recurrence of the front
  end.  After a request's last beat the list is parked for the tail.

*Tail* (a small sequential machine, one job at a time, overlapping the next request's
stream): with ``k = min(top_k, candidates)``, ``k = 1`` answers at once; otherwise it
forms each weight ``2**-(d_i * inv_temp)`` with a shift-add multiply (``INV_TEMP_WIDTH``
cycles), the threshold ``(u * total) >> 16`` the same way, and scans the cumulative
weights.  Flow control is by credits: a beat is taken only while fewer than two requests
whose last beat was taken are still unanswered, so a finished list always has a free slot
and back-pressure on ``out`` never reaches the front end.

Cycles: a request of V logits occupies ``ceil(V / W)`` beats (requests shorter than the
greedy latency are throttled by the two credits); from its last beat to the
result the greedy path takes ``latency_greedy`` cycles and a top-k sample
``latency_greedy + tail`` (tail about ``22 k + 20`` cycles), measured by the tests and
the characterisation.  While the tail of one request runs, the next request streams.

Interface policy (beyond the rule): ``top_k`` 0 acts as 1 and values above
``max_top_k`` as ``max_top_k``; a request of more than ``2**token_width`` logits sets
``error`` (and its token is then meaningless); an empty request answers ``found = 0``.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for, ceil_log2

from specaccel.models.golden import bf16
from specaccel.models.golden.token_selection import (
    EXP2_TABLE,
    EXP_FRAC,
    EXP_TABLE_BITS,
    INV_TEMP_WIDTH,
    MAX_TOP_K,
    UNIFORM_WIDTH,
    WEIGHT_FRAC,
)

from .unit_parameters import check_int, validating

__all__ = ["MAX_LANES", "SamplingUnit", "sampling_beat_layout", "sampling_result_layout"]

MAX_LANES = 64
#: largest vocabulary index width (2**18 = 262,144 logits)
MAX_TOKEN_WIDTH = 18
KEY_WIDTH = 17  # valid bit + 16-bit bf16 order key
#: bits of the request's ``top_k`` field (whatever ``max_top_k`` the unit is built for)
TOP_K_WIDTH = 4
#: requests whose last beat was taken and whose result is not yet read, at most
_JOBS = 2


def sampling_beat_layout(*, lanes: int, max_top_k: int) -> data.StructLayout:
    """One beat: ``lanes`` bf16 patterns, ``count`` valid lanes (a prefix), ``last``, and the
    request's ``top_k``, ``inv_temp``, ``uniform`` (read on its first beat)."""
    return data.StructLayout({
        "lanes": data.ArrayLayout(unsigned(16), lanes),
        "count": range(lanes + 1),
        "last": 1,
        "top_k": unsigned(TOP_K_WIDTH),
        "inv_temp": unsigned(INV_TEMP_WIDTH),
        "uniform": unsigned(UNIFORM_WIDTH),
    })


def sampling_result_layout(*, token_width: int) -> data.StructLayout:
    """One result: ``token``, ``found`` (0 for an empty request), ``nan`` (a NaN logit was
    seen), ``error`` (more logits than ``2**token_width``)."""
    return data.StructLayout({
        "token": unsigned(token_width), "found": 1, "nan": 1, "error": 1,
    })


class SamplingUnit(wiring.Component):
    """Streaming greedy / top-k sampling of bf16 logits.

    Parameters
    ----------
    lanes:
        W, logits per beat: a power of two in [1, 64].
    max_top_k:
        Largest ``top_k`` served, in [1, 8]; 1 builds a greedy-only unit (no tail).
    token_width:
        Bits of a vocabulary index, in [1, 18]; a request has at most ``2**token_width``
        logits.

    Attributes
    ----------
    inp : In(stream.Signature(sampling_beat_layout(...)))
        Beats of a request: ``lanes[j]`` for ``j < count`` are the logits of indices
        ``base + j``, ``base`` the sum of the earlier beats' ``count``; ``last`` ends it.
    out : Out(stream.Signature(sampling_result_layout(...)))
        One result per request, in order.
    """

    def __init__(self, *, lanes: int = 4, max_top_k: int = MAX_TOP_K,
                 token_width: int = MAX_TOKEN_WIDTH) -> None:
        with validating(self):
            check_int("lanes", lanes, 1, MAX_LANES)
            if lanes & (lanes - 1):
                raise TypeError(f"lanes must be a power of two, not {lanes!r}")
            check_int("max_top_k", max_top_k, 1, MAX_TOP_K)
            check_int("token_width", token_width, 1, MAX_TOKEN_WIDTH)
        self.lanes = lanes
        self.max_top_k = max_top_k
        self.token_width = token_width
        self.beat_layout = sampling_beat_layout(lanes=lanes, max_top_k=max_top_k)
        self.result_layout = sampling_result_layout(token_width=token_width)
        #: register stages of the beat reduction tree
        self.tree_levels = ceil_log2(lanes)
        #: cycles from a last beat's handshake to a greedy result (IN, KEY, TREE...,
        #: GLOBAL, MERGE and park, tail decision; measured by the tests)
        self.latency_greedy = self.tree_levels + 5
        super().__init__({
            "inp": In(stream.Signature(self.beat_layout)),
            "out": Out(stream.Signature(self.result_layout)),
        })

    # ---- sorted-list merge ----------------------------------------------------------
    @staticmethod
    def _merge(m: Module, a: list, b: list, keep: int, name: str) -> list:
        """The top `keep` of two rank-sorted lists of (key, index) pairs; `a` wins ties.

        ``ge[i][j] = a_i >= b_j``.  Both lists are sorted, so the b's above ``a_i`` are a
        prefix of ``b`` and ``a_i``'s rank is ``i + c`` exactly when ``b_{c-1} > a_i`` and
        ``a_i >= b_c``: two comparison bits, no counting (likewise for ``b_j``)."""
        p, q = len(a), len(b)
        ge = [[Signal(name=f"{name}_ge{i}_{j}") for j in range(q)] for i in range(p)]
        for i in range(p):
            for j in range(q):
                m.d.comb += ge[i][j].eq(a[i][0] >= b[j][0])
        out = []
        idx_w = len(a[0][1])
        for r in range(min(keep, p + q)):
            terms = []
            for i in range(min(p, r + 1)):
                c = r - i
                if c > q:
                    continue
                hit = Const(1, 1)
                if c > 0:
                    hit = hit & ~ge[i][c - 1]
                if c < q:
                    hit = hit & ge[i][c]
                terms.append((hit, a[i]))
            for j in range(min(q, r + 1)):
                c = r - j
                if c > p:
                    continue
                hit = Const(1, 1)
                if c > 0:
                    hit = hit & ge[c - 1][j]
                if c < p:
                    hit = hit & ~ge[c][j]
                terms.append((hit, b[j]))
            key = Signal(KEY_WIDTH, name=f"{name}_k{r}")
            idx = Signal(idx_w, name=f"{name}_i{r}")
            k_or = 0
            i_or = 0
            for hit, (kk, ii) in terms:
                k_or = k_or | Mux(hit, kk, 0)
                i_or = i_or | Mux(hit, ii, 0)
            m.d.comb += [key.eq(k_or), idx.eq(i_or)]
            out.append((key, idx))
        return out

    def elaborate(self, platform) -> Module:
        m = Module()
        w = self.lanes
        kmax = self.max_top_k
        tw = self.token_width
        lane_w = max(1, ceil_log2(w))

        # ---- credits: jobs = requests whose last beat was taken, result not yet read ----
        jobs = Signal(range(_JOBS + 1))
        take = Signal()
        m.d.comb += [self.inp.ready.eq(jobs < _JOBS), take.eq(self.inp.valid & self.inp.ready)]
        booked = take & self.inp.payload.last
        freed = self.out.valid & self.out.ready
        with m.If(booked & ~freed):
            m.d.sync += jobs.eq(jobs + 1)
        with m.Elif(freed & ~booked):
            m.d.sync += jobs.eq(jobs - 1)

        # ---- IN: the beat and its base index ---------------------------------------------
        in_request = Signal()
        next_base = Signal(tw + 1)
        base_now = Signal(tw + 1)
        m.d.comb += base_now.eq(Mux(in_request, next_base, 0))
        s1 = Signal(self.beat_layout)
        s1_valid = Signal()
        s1_first = Signal()
        s1_base = Signal(tw + 1)
        m.d.sync += [s1_valid.eq(take), s1.eq(self.inp.payload), s1_first.eq(~in_request),
                     s1_base.eq(base_now)]
        with m.If(take):
            m.d.sync += [in_request.eq(~self.inp.payload.last),
                         next_base.eq(base_now + self.inp.payload.count)]

        # ---- KEY: rank keys of the lanes ---------------------------------------------------
        keys = []
        nan_lanes = []
        for j in range(w):
            b = s1.lanes[j]
            ok = s1.count > j
            nan = (b[7:15] == 0xFF) & (b[:7] != 0)
            neg = b[15] & (b[:15] != 0)  # -0 is +0
            key = Mux(nan, bf16.NAN_KEY, Mux(neg, ~b, Cat(b[:15], Const(1, 1))))
            keys.append(Mux(ok, Cat(key, Const(1, 1)), 0))
            nan_lanes.append(ok & nan)
        carried = {"valid": s1_valid, "first": s1_first, "last": s1.last, "base": s1_base,
                   "count": s1.count, "top_k": s1.top_k, "inv_temp": s1.inv_temp,
                   "uniform": s1.uniform,
                   "nan": Cat(*nan_lanes).any()}
        carried = self._stage(m, carried, "key")
        lists = [[(self._reg(m, keys[j], KEY_WIDTH, f"key{j}"),
                   Const(j, lane_w))] for j in range(w)]

        # ---- TREE: beat reduction, one register stage per level ---------------------------
        for level in range(self.tree_levels):
            merged = [self._merge(m, lists[i], lists[i + 1], kmax, f"t{level}_{i // 2}")
                      for i in range(0, len(lists), 2)]
            lists = [[(self._reg(m, k, KEY_WIDTH, f"t{level}_{n}_k{r}"),
                       self._reg(m, ix, lane_w, f"t{level}_{n}_i{r}"))
                      for r, (k, ix) in enumerate(lst)] for n, lst in enumerate(merged)]
            carried = self._stage(m, carried, f"t{level}")
        beat_list, = lists

        # ---- GLOBAL: base + lane; error if an index passes 2**tw -------------------------
        g_list = [(self._reg(m, k, KEY_WIDTH, f"g_k{r}"),
                   self._reg(m, (carried["base"] + ix)[:tw], tw, f"g_i{r}"))
                  for r, (k, ix) in enumerate(beat_list)]
        over = carried["base"] + carried["count"] > (1 << tw)
        carried = self._stage(m, dict(carried, over=over), "g")

        # ---- MERGE: into the request's running list -------------------------------------
        run = [(Signal(KEY_WIDTH, name=f"run_k{r}"), Signal(tw, name=f"run_i{r}"))
               for r in range(kmax)]
        prior = [(Mux(carried["first"], 0, k), i) for k, i in run]
        new = self._merge(m, prior, g_list, kmax, "run")
        run_nan = Signal()
        run_err = Signal()
        nan_now = carried["nan"] | (run_nan & ~carried["first"])
        err_now = carried["over"] | (run_err & ~carried["first"])
        params = {n: Signal.like(carried[n], name=f"req_{n}")
                  for n in ("top_k", "inv_temp", "uniform")}
        params_now = {n: Mux(carried["first"], carried[n], params[n]) for n in params}
        with m.If(carried["valid"]):
            m.d.sync += [x.eq(y) for (x, _), (y, _) in zip(run, new, strict=True)]
            m.d.sync += [x.eq(y) for (_, x), (_, y) in zip(run, new, strict=True)]
            m.d.sync += [run_nan.eq(nan_now), run_err.eq(err_now)]
            m.d.sync += [params[n].eq(params_now[n]) for n in params]

        # park the finished list (the credits guarantee the slot is free)
        park_valid = Signal()
        park = [(Signal(KEY_WIDTH, name=f"park_k{r}"), Signal(tw, name=f"park_i{r}"))
                for r in range(kmax)]
        park_p = {n: Signal.like(params[n], name=f"park_{n}") for n in params}
        park_nan = Signal()
        park_err = Signal()
        finish = carried["valid"] & carried["last"]
        tail_takes = Signal()
        with m.If(finish):
            m.d.sync += park_valid.eq(1)
        with m.Elif(tail_takes):
            m.d.sync += park_valid.eq(0)
        with m.If(finish):
            m.d.sync += [x.eq(y) for (x, _), (y, _) in zip(park, new, strict=True)]
            m.d.sync += [x.eq(y) for (_, x), (_, y) in zip(park, new, strict=True)]
            m.d.sync += [park_p[n].eq(params_now[n]) for n in params]
            m.d.sync += [park_nan.eq(nan_now), park_err.eq(err_now)]

        self._tail(m, park_valid, tail_takes, park, park_p, park_nan, park_err)
        return m

    # ---- the tail: weights, threshold, inverse-CDF scan --------------------------------
    def _tail(self, m: Module, park_valid, tail_takes, park, park_p, park_nan,
              park_err) -> None:
        """One job at a time; every state is at most one short carry chain or mux deep."""
        kmax = self.max_top_k
        tw = self.token_width
        n_valid = Signal(range(kmax + 1))
        m.d.comb += n_valid.eq(sum(k[-1].as_unsigned() for k, _ in park))
        want = Signal(range(kmax + 1))
        m.d.comb += want.eq(Mux(park_p["top_k"] == 0, 1,
                                Mux(park_p["top_k"] > kmax, kmax, park_p["top_k"])))
        count = Signal(range(kmax + 1))  # candidates k = min(top_k, valid)

        keys = Array(Signal(16, name=f"c_key{r}") for r in range(kmax))
        idxs = Array(Signal(tw, name=f"c_idx{r}") for r in range(kmax))
        weights = Array(Signal(WEIGHT_FRAC + 1, name=f"c_w{r}") for r in range(kmax))
        total_w = WEIGHT_FRAC + 1 + bits_for(kmax)
        total = Signal(total_w)
        inv_temp = Signal(INV_TEMP_WIDTH)
        uniform = Signal(UNIFORM_WIDTH)
        res = Signal(self.result_layout)
        m.d.comb += self.out.payload.eq(res)

        i = Signal(range(kmax + 1))
        sel_key = Signal(16)
        conv = _FixedConversion(m, sel_key)
        fx_sel = Signal(bf16.FIXED_WIDTH)
        fx0 = Signal(bf16.FIXED_WIDTH)
        prod_w = bf16.FIXED_WIDTH + max(INV_TEMP_WIDTH, UNIFORM_WIDTH) + bits_for(kmax) + 1
        acc = Signal(prod_w)
        mcand = Signal(prod_w)
        mplier = Signal(max(INV_TEMP_WIDTH, UNIFORM_WIDTH))
        steps = Signal(range(max(INV_TEMP_WIDTH, UNIFORM_WIDTH) + 1))
        tab = Signal(WEIGHT_FRAC + 1)
        shift = Signal(range(WEIGHT_FRAC + 2))
        wgt = Signal(WEIGHT_FRAC + 1)
        wsel = Signal(WEIGHT_FRAC + 1)
        rem = Signal(total_w)
        table = Array(Const(v, WEIGHT_FRAC + 1) for v in EXP2_TABLE)

        with m.FSM(name="tail"):
            with m.State("IDLE"):
                m.d.comb += tail_takes.eq(park_valid)
                with m.If(park_valid):
                    m.d.sync += [i.eq(0), res.nan.eq(park_nan), res.error.eq(park_err),
                                 inv_temp.eq(park_p["inv_temp"]),
                                 uniform.eq(park_p["uniform"])]
                    m.d.sync += [keys[r].eq(park[r][0][:16]) for r in range(kmax)]
                    m.d.sync += [idxs[r].eq(park[r][1]) for r in range(kmax)]
                    m.d.sync += count.eq(Mux(want < n_valid, want, n_valid))
                    with m.If((n_valid <= 1) | (want == 1)):
                        m.d.sync += [res.token.eq(Mux(n_valid == 0, 0, park[0][1])),
                                     res.found.eq(n_valid != 0), self.out.valid.eq(1)]
                        m.next = "OUT"
                    with m.Else():
                        m.next = "SEL"
            with m.State("SEL"):
                m.d.sync += sel_key.eq(keys[i])
                m.next = "CONV"
            with m.State("CONV"):  # fixed point of candidate i, in two register stages
                m.d.sync += conv.stage_a
                m.next = "CONV2"
            with m.State("CONV2"):
                m.d.sync += fx_sel.eq(conv.value)
                m.next = "SUB"
            with m.State("SUB"):  # candidate 0 is the reference (weight 1.0)
                with m.If(i == 0):
                    m.d.sync += [fx0.eq(fx_sel), weights[0].eq(1 << WEIGHT_FRAC),
                                 total.eq(1 << WEIGHT_FRAC), i.eq(1)]
                    m.next = "SEL"
                with m.Else():
                    m.d.sync += [mcand.eq((fx0.as_signed() - fx_sel.as_signed()).as_unsigned()),
                                 mplier.eq(inv_temp), acc.eq(0), steps.eq(INV_TEMP_WIDTH)]
                    m.next = "MUL"
            with m.State("MUL"):  # e = d * inv_temp, one multiplier bit per cycle
                m.d.sync += [acc.eq(acc + Mux(mplier[0], mcand, 0)), mcand.eq(mcand << 1),
                             mplier.eq(mplier >> 1), steps.eq(steps - 1)]
                with m.If(steps == 1):
                    m.next = "LOOK"
            with m.State("LOOK"):  # 2**-e: table entry of the fraction, shift of the whole
                whole = acc[EXP_FRAC:]
                m.d.sync += [tab.eq(table[acc[EXP_FRAC - EXP_TABLE_BITS:EXP_FRAC]]),
                             shift.eq(Mux(whole > WEIGHT_FRAC, WEIGHT_FRAC + 1, whole))]
                m.next = "SHIFT"
            with m.State("SHIFT"):
                m.d.sync += wgt.eq(tab >> shift)
                m.next = "ACCUM"
            with m.State("ACCUM"):
                m.d.sync += [weights[i].eq(wgt), total.eq(total + wgt), i.eq(i + 1)]
                with m.If(i + 1 == count):
                    m.next = "THRESH"
                with m.Else():
                    m.next = "SEL"
            with m.State("THRESH"):  # t = (u * total) >> UNIFORM_WIDTH
                m.d.sync += [mcand.eq(total), mplier.eq(uniform), acc.eq(0),
                             steps.eq(UNIFORM_WIDTH)]
                m.next = "TMUL"
            with m.State("TMUL"):
                m.d.sync += [acc.eq(acc + Mux(mplier[0], mcand, 0)), mcand.eq(mcand << 1),
                             mplier.eq(mplier >> 1), steps.eq(steps - 1)]
                with m.If(steps == 1):
                    m.d.sync += i.eq(0)
                    m.next = "REM"
            with m.State("REM"):
                m.d.sync += rem.eq(acc[UNIFORM_WIDTH:UNIFORM_WIDTH + total_w])
                m.next = "SCANSEL"
            with m.State("SCANSEL"):
                m.d.sync += wsel.eq(weights[i])
                m.next = "SCAN"
            with m.State("SCAN"):  # cum_i > t  <=>  w_i > t - cum_{i-1}
                with m.If(wsel > rem):
                    m.d.sync += [res.token.eq(idxs[i]), res.found.eq(1), self.out.valid.eq(1)]
                    m.next = "OUT"
                with m.Else():
                    m.d.sync += [rem.eq(rem - wsel), i.eq(i + 1)]
                    m.next = "SCANSEL"
            with m.State("OUT"):
                with m.If(self.out.ready):
                    m.d.sync += self.out.valid.eq(0)
                    m.next = "IDLE"

    # ---- helpers -------------------------------------------------------------------------
    @staticmethod
    def _reg(m: Module, value, width: int, name: str) -> Signal:
        r = Signal(width, name=name, reset_less=True)
        m.d.sync += r.eq(value)
        return r

    @staticmethod
    def _stage(m: Module, values: dict, stage: str) -> dict:
        """One register per carried value (``valid`` resets to 0, the rest need no reset)."""
        out = {}
        for name, v in values.items():
            width = len(Value.cast(v))
            r = Signal(width, name=f"{name}_{stage}", reset_less=name != "valid")
            m.d.sync += r.eq(v)
            out[name] = r
        return out


class _FixedConversion:
    """The Q8.8 fixed value (:func:`specaccel.models.golden.bf16.to_fixed`) of a logit given
    by its 16-bit order key, in two register stages: ``stage_a`` (statements that load the
    magnitude, the sign, "bits dropped" and saturation) and ``value`` (combinational from
    those registers).  NaN's key recovers as a negative NaN, so it saturates to
    ``FIXED_MIN`` like ``-inf``."""

    def __init__(self, m: Module, key) -> None:
        bits = Signal(16, name="fx_bits")
        m.d.comb += bits.eq(Mux(key[15], Cat(key[:15], Const(0, 1)), ~key))
        sign, exp, mant = bits[15], bits[7:15], bits[:7]
        sig = Signal(8, name="fx_sig")
        m.d.comb += sig.eq(Mux(exp == 0, mant, Cat(mant, Const(1, 1))))
        e1 = Mux(exp == 0, 1, exp)  # subnormals: exponent 1, no hidden bit
        lsh = Signal(3, name="fx_lsh")       # exp - 126 when in [0, 7]
        rsh = Signal(4, name="fx_rsh")       # 126 - exp, capped at 8 (everything dropped)
        m.d.comb += [lsh.eq(e1 - 126), rsh.eq(Mux(e1 < 118, 8, 126 - e1))]
        up = e1 >= 126
        mag = Signal(15, name="fx_mag")
        m.d.comb += mag.eq(Mux(up, sig << lsh, sig >> rsh))
        dropped = ~up & ((sig & ((Const(1, 9) << rsh) - 1)[:8]) != 0)
        self.mag = Signal(15, name="fx_mag_r")
        self.dropped = Signal(name="fx_dropped_r")
        self.sign = Signal(name="fx_sign_r")
        self.big = Signal(name="fx_big_r")
        big = exp >= 127 + (bf16.FIXED_WIDTH - 1 - bf16.FIXED_FRAC)
        self.stage_a = [self.mag.eq(mag), self.dropped.eq(dropped), self.sign.eq(sign),
                        self.big.eq(big)]
        half = 1 << (bf16.FIXED_WIDTH - 1)
        neg = (-(self.mag + self.dropped)).as_unsigned()
        self.value = Mux(self.big, Mux(self.sign, half, half - 1),
                         Mux(self.sign, neg, self.mag))[:bf16.FIXED_WIDTH]
