"""Requests for :class:`~specaccel.hdl.sampling_unit.SamplingUnit`, their expected results
from the golden model, and an Amaranth-simulator driver that measures cycles.

Expectations come only from
:func:`specaccel.models.golden.token_selection.select_token`; the unit's interface policy
(``top_k`` clamped to ``[1, max_top_k]``, ``error`` past ``2**token_width`` logits) is
applied to the request before the golden rule is asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from specaccel.models.golden import bf16
from specaccel.models.golden.token_selection import (
    INV_TEMP_WIDTH,
    NO_TOKEN,
    UNIFORM_WIDTH,
    select_token,
)

from .layouts import pack

__all__ = ["SamplingRequest", "SamplingRun", "edge_case_requests", "random_requests",
           "run_sampling"]


@dataclass(frozen=True)
class SamplingRequest:
    """One node's logits (bf16 patterns) and its selection fields."""

    logits: np.ndarray
    top_k: int = 1
    inv_temp: int = 0
    uniform: int = 0
    #: beat sizes to cut the logits into (default: full beats, a short last one)
    split: tuple[int, ...] | None = field(default=None, compare=False)

    def beat_counts(self, lanes: int) -> list[int]:
        if self.split is not None:
            if sum(self.split) != len(self.logits) or max(self.split, default=0) > lanes:
                raise ValueError("split must cover the logits in beats of at most `lanes`")
            return list(self.split) or [0]
        v = len(self.logits)
        full, rest = divmod(v, lanes)
        return [lanes] * full + ([rest] if rest or not full else [])

    def beats(self, layout, lanes: int) -> list[int]:
        """Packed beat words of this request for a unit with `lanes` lanes."""
        words = []
        pos = 0
        counts = self.beat_counts(lanes)
        for b, count in enumerate(counts):
            lanes_v = [int(x) for x in self.logits[pos:pos + count]] + [0] * (lanes - count)
            pos += count
            words.append(pack(layout, {
                "lanes": lanes_v, "count": count, "last": int(b == len(counts) - 1),
                "top_k": self.top_k, "inv_temp": self.inv_temp, "uniform": self.uniform,
            }))
        return words

    def expected(self, *, max_top_k: int, token_width: int) -> tuple[int, int, int, int]:
        """(token, found, nan, error) that the unit must answer."""
        if len(self.logits) > 1 << token_width:
            return (-1, -1, -1, 1)  # token, found, nan are not specified after an overflow
        k = min(max(self.top_k, 1), max_top_k)
        sel = select_token(self.logits, top_k=k, inv_temp=self.inv_temp,
                           uniform=self.uniform)
        found = int(sel.token != NO_TOKEN)
        return (sel.token if found else 0, found, int(sel.nan), 0)


def random_logits(rng: np.random.Generator, v: int) -> np.ndarray:
    """bf16 logits of a random flavour: spread normals, few distinct values (many ties),
    or raw patterns (NaNs, infinities, subnormals, -0 included)."""
    kind = rng.integers(0, 4)
    if kind == 0:
        return bf16.from_float(rng.normal(0, 4, v))
    if kind == 1:
        return bf16.from_float(rng.integers(-3, 3, v).astype(np.float32) * 0.5)
    if kind == 2:
        specials = np.array([0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1, 0x0001, 0x8001,
                             0x3F80, 0xBF80], dtype=np.int64)
        pool = np.concatenate([specials, rng.integers(0, 1 << 16, 6)])
        return rng.choice(pool, v).astype(np.uint16)
    return rng.integers(0, 1 << 16, v).astype(np.uint16)


def random_requests(rng: np.random.Generator, n: int, *, lanes: int, max_top_k: int,
                    max_vocab: int = 40) -> list[SamplingRequest]:
    """`n` random requests: vocabularies of 0 .. `max_vocab` logits (mostly not multiples
    of `lanes`), random ``top_k`` (0 and above `max_top_k` included), temperature and
    uniform (the extremes included)."""
    out = []
    for _ in range(n):
        v = int(rng.integers(0, max_vocab + 1)) if rng.random() < 0.95 else 0
        top_k = int(rng.integers(0, max_top_k + 2))
        inv_temp = int(rng.choice([0, 1, (1 << INV_TEMP_WIDTH) - 1,
                                   int(rng.integers(0, 1 << INV_TEMP_WIDTH)),
                                   int(rng.integers(0, 1 << 14))]))
        uniform = int(rng.choice([0, (1 << UNIFORM_WIDTH) - 1,
                                  int(rng.integers(0, 1 << UNIFORM_WIDTH))]))
        split = None
        if v and rng.random() < 0.2:  # short and empty beats in the middle
            parts = []
            left = v
            while left:
                c = int(rng.integers(0, min(lanes, left) + 1))
                parts.append(c)
                left -= c
            split = tuple(parts)
        out.append(SamplingRequest(random_logits(rng, v), top_k, inv_temp, uniform, split))
    return out


def edge_case_requests(*, lanes: int, max_top_k: int) -> list[SamplingRequest]:
    """Directed cases: ties across lane and beat boundaries, all equal, -inf / NaN / +-0,
    a vocabulary that is not a multiple of the lanes, k = 1 and k = max, uniform 0 and max,
    temperature extremes, an empty request."""
    f = bf16.from_float
    top = (1 << UNIFORM_WIDTH) - 1
    w = lanes
    cases = []
    for k in sorted({1, max_top_k}):
        for u in (0, top):
            for it in (0, 1 << 12, (1 << INV_TEMP_WIDTH) - 1):
                # the maximum tied at the last lane of beat 0 and the first of beat 1
                x = np.full(3 * w + 1, f([-1.0])[0], dtype=np.uint16)
                x[w - 1] = x[w] = x[2 * w] = f([2.0])[0]
                cases.append(SamplingRequest(x, k, it, u))
                # all equal (and a vocabulary of W + 1)
                cases.append(SamplingRequest(np.full(w + 1, f([0.5])[0], np.uint16), k, it, u))
                # -inf everywhere but one NaN; NaN only; +0 against -0
                x = np.full(w + 2, 0xFF80, np.uint16)
                x[1] = 0x7FC0
                cases.append(SamplingRequest(x, k, it, u))
                cases.append(SamplingRequest(np.full(w, 0xFFC1, np.uint16), k, it, u))
                cases.append(SamplingRequest(np.array([0x8000, 0x0000, 0x8000], np.uint16),
                                             k, it, u))
                # a staircase: each beat beats the last (the running list is replaced)
                x = f(np.arange(2 * w + 3, dtype=np.float32) * 0.25)
                cases.append(SamplingRequest(x, k, it, u))
                cases.append(SamplingRequest(x[::-1].copy(), k, it, u))
    if max_top_k >= 3:
        # exponent exactly 16 (weight 1, the last non-zero table shift); this uniform sees it
        cases.append(SamplingRequest(f([16.0, 15.5, 0.0, 0.0]), max_top_k, 1 << 12, 38390))
        # the largest exponent: +inf against -inf at the coldest temperature
        cases.append(SamplingRequest(np.array([0x7F80, 0xFF80, 0x7F80], np.uint16), max_top_k,
                                     (1 << INV_TEMP_WIDTH) - 1, top))
    cases.append(SamplingRequest(np.zeros(0, np.uint16), max_top_k, 0, 0))
    cases.append(SamplingRequest(f([1.0, 3.0]), max_top_k, 0, 0, split=(0, 1, 0, 1)))
    return cases


@dataclass
class SamplingRun:
    """Results (token, found, nan, error) in order, and transfer cycles."""

    results: list[tuple[int, int, int, int]]
    beat_cycles: list[int]
    last_beat_cycles: list[int]
    result_cycles: list[int]
    cycles: int


def run_sampling(unit, requests: list[SamplingRequest], *, seed: int = 0,
                 p_valid: float = 1.0, p_ready: float = 1.0,
                 max_cycles: int | None = None) -> SamplingRun:
    """Stream `requests` through `unit` in the Amaranth simulator with random gaps
    (``p_valid``) and back-pressure (``p_ready``); record every transfer's cycle."""
    from amaranth.sim import Simulator

    rng = np.random.default_rng(seed)
    words: list[tuple[int, bool]] = []
    for r in requests:
        bs = r.beats(unit.beat_layout, unit.lanes)
        words += [(b, i == len(bs) - 1) for i, b in enumerate(bs)]
    limit = max_cycles if max_cycles is not None else 500 + 200 * len(requests) + 2 * len(words)
    layout = unit.result_layout
    run = SamplingRun([], [], [], [], 0)

    async def bench(ctx):
        sent = 0
        cycle = 0
        while len(run.results) < len(requests) and cycle < limit:
            offer = sent < len(words) and rng.random() < p_valid
            ctx.set(unit.inp.valid, int(offer))
            if offer:
                ctx.set(unit.inp.payload.as_value(), words[sent][0])
            ready = rng.random() < p_ready
            ctx.set(unit.out.ready, int(ready))
            if offer and ctx.get(unit.inp.ready):
                run.beat_cycles.append(cycle)
                if words[sent][1]:
                    run.last_beat_cycles.append(cycle)
                sent += 1
            if ready and ctx.get(unit.out.valid):
                v = layout.from_bits(ctx.get(unit.out.payload.as_value()))
                run.results.append((int(v.token), int(v.found), int(v.nan), int(v.error)))
                run.result_cycles.append(cycle)
            await ctx.tick()
            cycle += 1
        run.cycles = cycle

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return run


def matches(got: tuple[int, int, int, int], want: tuple[int, int, int, int]) -> bool:
    """A result equals its expectation (fields the expectation leaves open, -1, match all)."""
    return all(w == -1 or g == w for g, w in zip(got, want, strict=True))
