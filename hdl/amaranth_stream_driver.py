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
    outputs:
        Per output stream name, the words in the order they left the unit.
    sent_cycles:
        Cycle number of each request transfer.
    output_cycles:
        Per output stream name, the cycle of each transfer.
    cycles:
        Cycles simulated.
    """

    outputs: dict[str, list[int]]
    sent_cycles: list[int]
    output_cycles: dict[str, list[int]]
    cycles: int

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
               outputs: tuple[str, ...] = ("resp",)) -> StreamRun:
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
    """
    rng = np.random.default_rng(seed)
    limit = max_cycles if max_cycles is not None else 64 + 300 * (len(requests) + 4)
    run = StreamRun({o: [] for o in outputs}, [], {o: [] for o in outputs}, 0)
    streams = [(o, getattr(dut, o)) for o in outputs]

    async def bench(ctx):
        sent = 0
        cycle = 0
        def pending():
            return any(len(run.outputs[o]) < len(requests) for o in outputs)

        while pending() and cycle < limit:
            offer = sent < len(requests) and rng.random() < p_valid
            ctx.set(dut.req.valid, int(offer))
            if offer:
                ctx.set(dut.req.payload.as_value(), requests[sent])
            for _, port in streams:
                ctx.set(port.ready, int(rng.random() < p_ready))
            if offer and ctx.get(dut.req.ready):
                run.sent_cycles.append(cycle)
                sent += 1
            for name, port in streams:
                if ctx.get(port.valid) and ctx.get(port.ready):
                    run.outputs[name].append(ctx.get(port.payload.as_value()))
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
