"""Drive a one-in, one-out stream unit in the Amaranth simulator with random back-pressure.

The driver half of the fast (Amaranth-simulator) tests: it moves packed request words into a
unit's ``req`` stream and collects ``resp`` words, randomising ``req.valid`` and
``resp.ready``, and records the cycle of every transfer so that tests *measure* latency and
initiation interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator


@dataclass
class StreamRun:
    """What a :func:`run_stream` call observed.

    Attributes
    ----------
    responses:
        Response words, in the order they left the unit.
    sent_cycles, received_cycles:
        Cycle number of each request / response transfer.
    cycles:
        Cycles simulated.
    """

    responses: list[int]
    sent_cycles: list[int]
    received_cycles: list[int]
    cycles: int


def run_stream(dut, requests: list[int], *, seed: int = 0, p_valid: float = 1.0,
               p_ready: float = 1.0, max_cycles: int | None = None) -> StreamRun:
    """Send `requests` through ``dut.req`` and collect as many words from ``dut.resp``.

    Parameters
    ----------
    dut:
        A component with ``req`` (In) and ``resp`` (Out) streams.
    requests:
        Packed request words.
    seed:
        Seed of the back-pressure pattern.
    p_valid, p_ready:
        Per-cycle probability of offering a request / accepting a response.
    max_cycles:
        Give up after this many cycles (default: generous bound); the run then has fewer
        responses than requests, which the caller's assertion catches.
    """
    rng = np.random.default_rng(seed)
    limit = max_cycles if max_cycles is not None else 64 + 300 * (len(requests) + 4)
    run = StreamRun([], [], [], 0)

    async def bench(ctx):
        sent = 0
        cycle = 0
        while len(run.responses) < len(requests) and cycle < limit:
            offer = sent < len(requests) and rng.random() < p_valid
            ctx.set(dut.req.valid, int(offer))
            if offer:
                ctx.set(dut.req.payload.as_value(), requests[sent])
            ctx.set(dut.resp.ready, int(rng.random() < p_ready))
            if offer and ctx.get(dut.req.ready):
                run.sent_cycles.append(cycle)
                sent += 1
            if ctx.get(dut.resp.valid) and ctx.get(dut.resp.ready):
                run.responses.append(ctx.get(dut.resp.payload.as_value()))
                run.received_cycles.append(cycle)
            await ctx.tick()
            cycle += 1
        run.cycles = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return run
