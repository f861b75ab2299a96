"""Drive a one-in, one-out stream unit in the Amaranth simulator with random back-pressure.

The driver half of the fast (Amaranth-simulator) tests: it moves packed request words into a
unit's ``req`` stream and collects ``resp`` words, randomising ``req.valid`` and
``resp.ready``, and records the cycle of every transfer so that tests *measure* latency and
initiation interval.  The driver keeps the stream rule itself (a request once offered stays
offered, unchanged, until it is taken), and a
:class:`~specaccel.hdl.stream_protocol.StreamMonitor` on every stream fails the run at the
first cycle that breaks it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Value
from amaranth.sim import Simulator

from specaccel.hdl.stream_protocol import StreamMonitor


@dataclass(frozen=True)
class Gap:
    """In the words a ``more`` callback returns: keep the input idle for `cycles` cycles
    before offering the next word (how a test steers back-pressure positions)."""

    cycles: int


@dataclass
class StreamRun:
    """What a :func:`run_stream` call observed.

    Attributes
    ----------
    outputs:
        Per output stream name, the words in the order they left the unit.
    sent_cycles:
        Cycle number of each request transfer.
    output_cycles:
        Per output stream name, the cycle of each transfer.
    cycles:
        Cycles simulated.
    stall_positions:
        Back-pressure on the first output stream (``valid`` high, ``ready`` low), in cycles,
        by how many stages the youngest request had moved into the pipeline: the number of
        cycles with ``req.ready`` high since its transfer, that one included (every unit's
        pipeline advances exactly when it is ready for input).
    """

    outputs: dict[str, list[int]]
    sent_cycles: list[int]
    output_cycles: dict[str, list[int]]
    cycles: int
    stall_positions: Counter = field(default_factory=Counter)

    @property
    def responses(self) -> list[int]:
        """Words of the ``resp`` stream."""
        return self.outputs["resp"]

    @property
    def received_cycles(self) -> list[int]:
        """Transfer cycles of the ``resp`` stream."""
        return self.output_cycles["resp"]


def run_stream(dut, requests: list[int], *, seed: int = 0, p_valid: float = 1.0,
               p_ready: float = 1.0, max_cycles: int | None = None,
               outputs: tuple[str, ...] = ("resp",),
               more: Callable[[StreamRun], list[int]] | None = None) -> StreamRun:
    """Send `requests` through ``dut.req`` and collect as many words from every output.

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
    outputs:
        Names of the output streams (each gets its own random ``ready``).
    more:
        Called whenever every request so far has been answered, with the run so far; the
        words it returns are sent next (none: the run ends), a :class:`Gap` among them
        idling the input.  Coverage-driven tests steer their stimulus with it.
    """
    rng = np.random.default_rng(seed)
    requests = list(requests)
    gaps: dict[int, int] = {}  # request index -> idle cycles before it is offered
    limit = max_cycles if max_cycles is not None else 64 + 300 * (len(requests) + 4)
    run = StreamRun({o: [] for o in outputs}, [], {o: [] for o in outputs}, 0)
    streams = [(o, getattr(dut, o)) for o in outputs]
    monitors = {o: StreamMonitor(o) for o in ("req", *outputs)}

    async def bench(ctx):
        sent = 0
        cycle = 0
        offer = False
        youngest = 0  # req.ready cycles since the youngest request's transfer (0: none)
        first = streams[0][1]
        def pending():
            nonlocal limit
            if any(len(run.outputs[o]) < len(requests) for o in outputs):
                return True
            added = more(run) if more is not None else []
            for item in added:
                if isinstance(item, Gap):
                    gaps[len(requests)] = gaps.get(len(requests), 0) + item.cycles
                    limit += item.cycles
                else:
                    requests.append(item)
                    limit += 300 if max_cycles is None else 0
            return any(not isinstance(item, Gap) for item in added)

        while pending() and cycle < limit:
            # an offered request stays offered until taken (the stream rule)
            if not offer and gaps.get(sent, 0) > 0:
                gaps[sent] -= 1
            else:
                offer = offer or (sent < len(requests) and rng.random() < p_valid)
            ctx.set(dut.req.valid, int(offer))
            if offer:
                ctx.set(Value.cast(dut.req.payload), requests[sent])
            for _, port in streams:
                ctx.set(port.ready, int(rng.random() < p_ready))
            for name, port in (("req", dut.req), *streams):
                valid = ctx.get(port.valid)
                monitors[name].observe(cycle, valid, ctx.get(port.ready),
                                       ctx.get(Value.cast(port.payload)) if valid else 0)
            in_ready = ctx.get(dut.req.ready)
            if youngest and ctx.get(first.valid) and not ctx.get(first.ready):
                run.stall_positions[youngest] += 1
            if offer and in_ready:
                run.sent_cycles.append(cycle)
                sent += 1
                offer = False
                youngest = 1
            elif in_ready and youngest:
                youngest += 1
            for name, port in streams:
                if ctx.get(port.valid) and ctx.get(port.ready):
                    run.outputs[name].append(ctx.get(Value.cast(port.payload)))
                    run.output_cycles[name].append(cycle)
            await ctx.tick()
            cycle += 1
        run.cycles = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return run


def steady_interval(cycles: list[int]) -> float:
    """Mean interval over the second half of a run of transfer cycles."""
    if len(cycles) < 2:
        raise RuntimeError("too few transfers to measure an initiation interval")
    tail = cycles[len(cycles) // 2 - 1:] if len(cycles) >= 4 else cycles
    return (tail[-1] - tail[0]) / (len(tail) - 1)


def measure_stream(dut, requests: list[int], *, output: str = "resp",
                   outputs: tuple[str, ...] = ("resp",)) -> tuple[int, float]:
    """(latency, II) of `dut` on `requests` sent back to back with every output ready:
    cycles from the first request's transfer to the first `output` transfer, and the
    steady interval between request transfers."""
    run = run_stream(dut, requests, outputs=outputs)
    got = run.output_cycles[output]
    if len(got) != len(requests):
        raise RuntimeError(f"unit answered {len(got)} of {len(requests)} requests")
    return got[0] - run.sent_cycles[0], steady_interval(run.sent_cycles)
