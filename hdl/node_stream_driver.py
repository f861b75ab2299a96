"""Drive a node-serial unit (many ``req`` records per ``resp`` word) in the Amaranth simulator.

The counterpart of :func:`~specaccel.hdl.amaranth_stream_driver.run_stream` for
:class:`~specaccel.hdl.units.tree_verify_serial.gateware.TreeVerifySerialUnit`: a request
is a list of node-record words, answered by one response word.  ``req.valid`` and ``resp.ready`` are
randomised (a record once offered stays offered, unchanged, until it is taken), a
:class:`~specaccel.hdl.stream_protocol.StreamMonitor` on ``req`` and ``resp`` fails the run
at the first cycle that breaks the stream rule, and the cycle of every tree's first and last
record transfer and of every response is recorded, so that tests and the characterisation
*measure* latency and interval.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Value
from amaranth.sim import Simulator

from specaccel.hdl.amaranth_stream_driver import Gap
from specaccel.hdl.stream_protocol import StreamMonitor

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
    stall_positions:
        Back-pressure on ``resp`` in cycles, by the stage of the youngest record (as
        :attr:`~specaccel.hdl.amaranth_stream_driver.StreamRun.stall_positions`).
    """

    responses: list[int] = field(default_factory=list)
    first_cycles: list[int] = field(default_factory=list)
    last_cycles: list[int] = field(default_factory=list)
    received_cycles: list[int] = field(default_factory=list)
    cycles: int = 0
    stall_positions: Counter = field(default_factory=Counter)


def run_node_stream(dut, trees: Sequence[Sequence[int]], *, seed: int = 0,
                    p_valid: float = 1.0, p_ready: float = 1.0,
                    max_cycles: int | None = None,
                    more: Callable[[NodeStreamRun], list[list[int]]] | None = None
                    ) -> NodeStreamRun:
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
    more:
        Called whenever every tree so far has been answered, with the run so far; the trees
        it returns are sent next (none: the run ends); a
        :class:`~specaccel.hdl.amaranth_stream_driver.Gap` among them idles the input.
    """
    rng = np.random.default_rng(seed)
    words: list[int] = []
    starts: set[int] = set()
    ends: set[int] = set()
    count = [0]
    gaps: dict[int, int] = {}  # record index -> idle cycles before it is offered

    def add(new_trees) -> None:
        for tree in new_trees:
            if isinstance(tree, Gap):
                gaps[len(words)] = gaps.get(len(words), 0) + tree.cycles
                continue
            starts.add(len(words))
            words.extend(tree)
            ends.add(len(words) - 1)
            count[0] += 1

    add(trees)
    limit = max_cycles if max_cycles is not None else 64 + 40 * (len(words) + len(trees))
    run = NodeStreamRun()
    monitors = (StreamMonitor("req"), StreamMonitor("resp"))

    def pending() -> bool:
        nonlocal limit
        if len(run.responses) < count[0]:
            return True
        added = more(run) if more is not None else []
        trees_added = [t for t in added if not isinstance(t, Gap)]
        limit += sum(t.cycles for t in added if isinstance(t, Gap))
        if max_cycles is None:
            limit += 40 * (sum(len(t) for t in trees_added) + len(trees_added))
        add(added)
        return bool(trees_added)

    async def bench(ctx):
        sent = 0
        cycle = 0
        offer = False
        youngest = 0  # req.ready cycles since the youngest record's transfer (0: none)
        while pending() and cycle < limit:
            # an offered record stays offered until taken (the stream rule)
            if not offer and gaps.get(sent, 0) > 0:
                gaps[sent] -= 1
            else:
                offer = offer or (sent < len(words) and
                                  (p_valid >= 1.0 or rng.random() < p_valid))
            ctx.set(dut.req.valid, int(offer))
            if offer:
                ctx.set(Value.cast(dut.req.payload), words[sent])
            ready = p_ready >= 1.0 or rng.random() < p_ready
            ctx.set(dut.resp.ready, int(ready))
            for monitor, port in zip(monitors, (dut.req, dut.resp), strict=True):
                valid = ctx.get(port.valid)
                monitor.observe(cycle, valid, ctx.get(port.ready),
                                ctx.get(Value.cast(port.payload)) if valid else 0)
            in_ready = ctx.get(dut.req.ready)
            out_valid = ctx.get(dut.resp.valid)
            if youngest and out_valid and not ready:
                run.stall_positions[youngest] += 1
            if offer and in_ready:
                if sent in starts:
                    run.first_cycles.append(cycle)
                if sent in ends:
                    run.last_cycles.append(cycle)
                sent += 1
                offer = False
                youngest = 1
            elif in_ready and youngest:
                youngest += 1
            if ready and out_valid:
                run.responses.append(ctx.get(Value.cast(dut.resp.payload)))
                run.received_cycles.append(cycle)
            await ctx.tick()
            cycle += 1
        run.cycles = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return run
