"""cocotb bench: ``argmax_sample``'s generated Verilog against the golden token selection.

The cocotb test reads the unit's parameters from the environment, makes random requests
with :mod:`.model` (golden results from :mod:`specaccel.models.golden.token_selection`),
packs beats with the unit's own layouts and drives them with random valid/ready.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge

from specaccel.hdl.cocotb_runner import BenchConfig, record_measured


def _config() -> dict:
    return {k: int(os.environ[k.upper()])
            for k in ("nodes", "token_width", "prob_width", "chunk", "logit_width")}


async def _drive(dut, beats: list[int], n_results: int, rng: random.Random, *,
                 p_valid: float, p_ready: float) -> tuple[list[int], list[int], list[int]]:
    """Send `beats`; return (beat handshake cycles, result cycles, result words)."""
    sent_cycles: list[int] = []
    got_cycles: list[int] = []
    got: list[int] = []
    cycle = 0
    limit = 50 + 20 * len(beats)
    while len(got) < n_results and cycle < limit:
        await FallingEdge(dut.clk)
        offer = len(sent_cycles) < len(beats) and rng.random() < p_valid
        dut.inp__valid.value = int(offer)
        if offer:
            dut.inp__payload.value = beats[len(sent_cycles)]
        ready = rng.random() < p_ready
        dut.out__ready.value = int(ready)
        await ReadOnly()
        if offer and dut.inp__ready.value:
            sent_cycles.append(cycle)
        if ready and dut.out__valid.value:
            got.append(dut.out__payload.value.to_unsigned())
            got_cycles.append(cycle)
        cycle += 1
    await FallingEdge(dut.clk)
    dut.inp__valid.value = 0
    return sent_cycles, got_cycles, got


@cocotb.test()
async def argmax_sample_matches_golden(dut):
    """A no-stall burst (measures latency and II), then thousands of random requests with
    random back-pressure; every result equals the golden model's."""
    from specaccel.hdl.units.argmax_sample import model as argmax_vectors
    from specaccel.hdl.units.argmax_sample.gateware import beat_layout, result_layout

    cfg = _config()
    seed = int(os.environ["SEED"])
    n_random = int(os.environ["N_RANDOM"])
    beat_l = beat_layout(**cfg)
    res_l = result_layout(nodes=cfg["nodes"], token_width=cfg["token_width"])
    nprng = np.random.default_rng(seed)
    reqs = argmax_vectors.random_requests(nprng, n_random, **cfg)

    def pack(requests):
        return [beat_l.const(b).as_value().value for r in requests
                for b in r.beats(nprng, **cfg)]

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.inp__valid.value = 0
    dut.out__ready.value = 0
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    # burst: one-beat requests back to back, output always ready
    burst = [argmax_vectors.Request(node=k % cfg["nodes"], sample=False, threshold=0,
                                    values=[k, 1], counts=[2]) for k in range(16)]
    rng = random.Random(seed)
    sent, got_cycles, got = await _drive(dut, pack(burst), len(burst), rng, p_valid=1.0,
                                         p_ready=1.0)
    assert len(got) == len(burst)
    latency = got_cycles[0] - sent[0]
    ii = (sent[-1] - sent[0]) / (len(sent) - 1)

    beats = pack(reqs)
    _, _, got_r = await _drive(dut, beats, len(reqs), rng, p_valid=0.7, p_ready=0.6)
    assert len(got_r) == len(reqs), f"{len(got_r)} results for {len(reqs)} requests"
    bad = []
    for k, (word, r) in enumerate(zip(got_r, reqs, strict=True)):
        v = res_l.from_bits(word)
        found, token = r.expected()
        if (int(v.node), int(v.found), int(v.token)) != (r.node, found, token):
            bad.append((k, (int(v.node), int(v.found), int(v.token)), (r.node, found, token)))
    assert not bad, f"{len(bad)} mismatches, first: {bad[:3]}"
    record_measured({"latency": latency, "ii": ii, "requests": len(reqs), "beats": len(beats)})


CONFIGS = [
    BenchConfig(dict(nodes=16, token_width=16, prob_width=12, chunk=4, logit_width=16),
                dict(n_random=2500, seed=5), small=dict(n_random=800)),
    BenchConfig(dict(nodes=6, token_width=7, prob_width=5, chunk=3, logit_width=6),
                dict(n_random=500, seed=9)),
]


def check(measured: dict, settings: dict, unit) -> None:
    assert measured["latency"] == unit.latency
    assert measured["ii"] == 1.0
    assert measured["requests"] == settings["n_random"]
