"""Drive a node-serial unit (many ``req`` records per ``resp`` word) in the Amaranth simulator.

The counterpart of :func:`~specaccel.hdl.amaranth_stream_driver.run_stream` for
:class:`~specaccel.hdl.units.tree_verify_serial.gateware.TreeVerifySerialUnit`: a request
is a list of node-record words, answered by one response word.  ``req.valid`` and ``resp.ready`` are
randomised, and the cycle of every tree's first and last record transfer and of every
response is recorded, so that tests and the characterisation *measure* latency and interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

__all__ = ["NodeStreamRun", "run_node_stream"]


@dataclass
class NodeStreamRun:
    """What :func:`run_node_stream` observed.

    Attributes
    ----------
    responses:
        Response words in the order they left the unit.
    first_cycles, last_cycles:
        Per tree, the cycle of its first and of its last record transfer.
    received_cycles:
        Cycle of each response transfer.
    cycles:
        Cycles simulated.
    """

    responses: list[int] = field(default_factory=list)
    first_cycles: list[int] = field(default_factory=list)
    last_cycles: list[int] = field(default_factory=list)
    received_cycles: list[int] = field(default_factory=list)
    cycles: int = 0


def run_node_stream(dut, trees: Sequence[Sequence[int]], *, seed: int = 0,
                    p_valid: float = 1.0, p_ready: float = 1.0,
                    max_cycles: int | None = None) -> NodeStreamRun:
    """Send every tree's records through ``dut.req``; collect one ``resp`` word per tree.

    Parameters
    ----------
    dut:
        A component with ``req`` (In) and ``resp`` (Out) streams.
    trees:
        Per tree, its packed node-record words (the last one has ``last = 1``).
    seed:
        Seed of the back-pressure pattern.
    p_valid, p_ready:
        Per-cycle probability of offering a record / accepting a response.
    max_cycles:
        Give up after this many cycles (default: a generous bound); the run then has fewer
        responses than trees, which the caller's assertion catches.
    """
    rng = np.random.default_rng(seed)
    words = [w for tree in trees for w in tree]
    starts = set()
    ends = set()
    pos = 0
    for tree in trees:
        starts.add(pos)
        pos += len(tree)
        ends.add(pos - 1)
    limit = max_cycles if max_cycles is not None else 64 + 40 * (len(words) + len(trees))
    run = NodeStreamRun()

    async def bench(ctx):
        sent = 0
        cycle = 0
        while len(run.responses) < len(trees) and cycle < limit:
            offer = sent < len(words) and (p_valid >= 1.0 or rng.random() < p_valid)
            ctx.set(dut.req.valid, int(offer))
            if offer:
                ctx.set(dut.req.payload.as_value(), words[sent])
            ready = p_ready >= 1.0 or rng.random() < p_ready
            ctx.set(dut.resp.ready, int(ready))
            if offer and ctx.get(dut.req.ready):
                if sent in starts:
                    run.first_cycles.append(cycle)
                if sent in ends:
                    run.last_cycles.append(cycle)
                sent += 1
            if ready and ctx.get(dut.resp.valid):
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
