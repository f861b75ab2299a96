"""Vector model of ``argmax_sample``: random requests and their golden results.

The Amaranth-simulator test and the cocotb bench both use it, so the stimulus and the
expected answers (:mod:`specaccel.models.golden.token_selection`) are defined once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specaccel.models.golden.token_selection import NO_TOKEN, greedy_token, sample_token_at


@dataclass(frozen=True)
class Request:
    node: int
    sample: bool
    threshold: int
    values: list[int]  # logits (greedy, signed) or weights (sample, unsigned)
    counts: list[int]  # lanes per beat; sums to len(values)

    def expected(self) -> tuple[int, int]:
        """(found, token) from the golden model."""
        if self.sample:
            tok = sample_token_at(self.values, self.threshold)
        else:
            tok = greedy_token(self.values) if self.values else NO_TOKEN
        return (0, 0) if tok == NO_TOKEN else (1, tok)

    def beats(self, rng: np.random.Generator, *, nodes: int, chunk: int, logit_width: int,
              prob_width: int, token_width: int) -> list[dict]:
        """Beat payloads; unused lanes and later beats' request fields hold random junk."""
        out = []
        pos = 0
        for b, cnt in enumerate(self.counts):
            lanes = []
            for j in range(chunk):
                if j < cnt:
                    v = self.values[pos + j]
                    if self.sample:  # junk in the lane bits above the weight
                        hi = int(rng.integers(0, 2 ** (logit_width - prob_width)))
                        v = v | (hi << prob_width)
                        if v >= 2 ** (logit_width - 1):
                            v -= 2**logit_width
                    lanes.append(v)
                else:
                    lanes.append(int(rng.integers(-(2 ** (logit_width - 1)),
                                                  2 ** (logit_width - 1))))
            pos += cnt
            first = b == 0
            out.append({
                "lanes": lanes,
                "count": cnt,
                "last": int(b == len(self.counts) - 1),
                "node": self.node if first else int(rng.integers(0, nodes)),
                "sample": int(self.sample) if first else int(rng.integers(0, 2)),
                "threshold": self.threshold if first else int(
                    rng.integers(0, 2 ** (prob_width + token_width))),
            })
        return out


def random_requests(rng: np.random.Generator, n: int, *, nodes: int, chunk: int,
                    logit_width: int, prob_width: int, token_width: int) -> list[Request]:
    """`n` random requests: ties, short last beats, empty beats, thresholds near the total."""
    reqs = []
    vocab_max = min(2**token_width, 6 * chunk + 3)
    for _ in range(n):
        vocab = int(rng.integers(1, vocab_max + 1))
        counts = []
        left = vocab
        while left > 0:
            if rng.random() < 0.05:
                counts.append(0)
            c = int(rng.integers(1, chunk + 1)) if rng.random() < 0.2 else chunk
            counts.append(min(c, left))
            left -= counts[-1]
        if rng.random() < 0.02:
            counts, vocab = [0], 0
        sample = bool(rng.random() < 0.5)
        if sample:
            hi = 2**prob_width if rng.random() < 0.3 else 4  # small range: many ties/zeros
            values = [int(v) for v in rng.integers(0, hi, vocab)]
            total = sum(values)
            threshold = int(rng.integers(0, total + 3)) if rng.random() < 0.1 else (
                int(rng.integers(0, total)) if total else 0)
        else:
            lo, hi = (-(2 ** (logit_width - 1)), 2 ** (logit_width - 1))
            if rng.random() < 0.6:
                lo, hi = -3, 3  # narrow range: ties everywhere
            values = [int(v) for v in rng.integers(lo, hi, vocab)]
            threshold = int(rng.integers(0, 2 ** (prob_width + token_width)))
        reqs.append(Request(node=int(rng.integers(0, nodes)), sample=sample,
                            threshold=threshold, values=values, counts=counts))
    return reqs


CYCLE_REQUESTS = 12


def measure_cycles(unit, rng: np.random.Generator) -> tuple[int, float]:
    """(latency from a request's last beat to its result, II per beat) with one-beat
    requests back to back and the output always ready, measured."""
    from amaranth.sim import Simulator

    from specaccel.hdl.amaranth_stream_driver import steady_interval

    n = CYCLE_REQUESTS
    sent: list[int] = []
    got: list[int] = []

    async def bench(ctx):
        ctx.set(unit.out.ready, 1)
        beat = unit.beat.const({"lanes": [1] * unit.chunk, "count": unit.chunk, "last": 1})
        ctx.set(unit.inp.payload, beat)
        cycle = 0
        while len(got) < n and cycle < 100 * n:
            ctx.set(unit.inp.valid, int(len(sent) < n))
            if len(sent) < n and ctx.get(unit.inp.ready):
                sent.append(cycle)
            if ctx.get(unit.out.valid):
                got.append(cycle)
            await ctx.tick()
            cycle += 1

    sim = Simulator(unit)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    if len(got) != n:
        raise RuntimeError(f"argmax unit answered {len(got)} of {n} requests")
    return got[0] - sent[0], steady_interval(sent)
