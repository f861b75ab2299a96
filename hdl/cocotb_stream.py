"""cocotb driver (bench side) for a unit with one ``req`` and one ``resp`` stream
(Amaranth port names ``req__valid``, ``req__ready``, ``req__payload``, ``resp__...``).

Inputs change on the falling clock edge; handshakes and outputs are sampled after
``ReadOnly()`` of that half cycle, i.e. exactly what the next rising edge will see.
Every transfer is stamped with its cycle number so that the bench measures latency and
initiation interval instead of assuming them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly


@dataclass
class StreamLog:
    """Transfers observed by :func:`drive` (``responses``/``received_cycles``: the first
    output stream; ``outputs``/``output_cycles``: every output stream by name)."""

    outputs: dict[str, list[int]] = field(default_factory=dict)
    sent_cycles: list[int] = field(default_factory=list)
    output_cycles: dict[str, list[int]] = field(default_factory=dict)
    cycles: int = 0
    first: str = "resp"

    @property
    def responses(self) -> list[int]:
        return self.outputs[self.first]

    @property
    def received_cycles(self) -> list[int]:
        return self.output_cycles[self.first]


async def reset(dut, cycles: int = 2) -> None:
    """Start a 100 MHz clock and hold the synchronous reset for `cycles` cycles."""
    Clock(dut.clk, 10, unit="ns").start(start_high=False)
    dut.rst.value = 1
    dut.req__valid.value = 0
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def drive(dut, requests: list[int], *, rng: random.Random, p_valid: float = 1.0,
                p_ready: float = 1.0, max_cycles: int | None = None,
                outputs: tuple[str, ...] = ("resp",)) -> StreamLog:
    """Send `requests`, collect as many words from every output stream, with random
    valid/ready back-pressure."""
    log = StreamLog(outputs={o: [] for o in outputs}, output_cycles={o: [] for o in outputs},
                    first=outputs[0])
    limit = max_cycles if max_cycles is not None else 64 + 300 * (len(requests) + 4)
    sent = 0
    while (any(len(v) < len(requests) for v in log.outputs.values())
           and log.cycles < limit):
        await FallingEdge(dut.clk)
        offer = sent < len(requests) and rng.random() < p_valid
        dut.req__valid.value = int(offer)
        if offer:
            dut.req__payload.value = requests[sent]
        for o in outputs:
            getattr(dut, f"{o}__ready").value = int(rng.random() < p_ready)
        await ReadOnly()
        if offer and int(dut.req__ready.value):
            log.sent_cycles.append(log.cycles)
            sent += 1
        for o in outputs:
            if int(getattr(dut, f"{o}__valid").value) and int(getattr(dut, f"{o}__ready").value):
                log.outputs[o].append(getattr(dut, f"{o}__payload").value.to_unsigned())
                log.output_cycles[o].append(log.cycles)
        log.cycles += 1
    await FallingEdge(dut.clk)
    dut.req__valid.value = 0
    return log


def latency_and_ii(log: StreamLog) -> dict[str, float]:
    """Measured figures of a back-pressure-free run: min/max latency and mean interval."""
    lat = [r - s for s, r in zip(log.sent_cycles, log.received_cycles, strict=True)]
    gaps = [b - a for a, b in zip(log.sent_cycles, log.sent_cycles[1:], strict=False)]
    return {"latency_min": min(lat), "latency_max": max(lat),
            "initiation_interval": sum(gaps) / len(gaps) if gaps else float("nan"),
            "transfers": len(lat)}


def replay_vectors_from_env(model, *, mode: str) -> list:
    """`model.trace_vector` of every step of the trace file named by ``$TRACE_FILE`` (the
    runner writes a preset's trace there; [] when none is given)."""
    import os

    path = os.environ.get("TRACE_FILE")
    if not path:
        return []
    from specaccel.schema.trace_io import read_trace

    trace = read_trace(path)
    assert trace.verification == mode, (trace.verification, mode)
    return [model.trace_vector(trace.step(s)) for s in range(trace.n_steps)]


@dataclass
class StreamsLog:
    """Transfers observed by :func:`drive_streams`: the cycle of every input word's
    transfer per input stream, and every output stream's words and their cycles."""

    sent_cycles: dict[str, list[int]]
    outputs: dict[str, list[int]]
    output_cycles: dict[str, list[int]]
    cycles: int = 0


async def drive_streams(dut, inputs: dict[str, list[int]], expect: dict[str, int], *,
                        rng: random.Random, p_valid: float = 1.0, p_ready: float = 1.0,
                        max_cycles: int) -> StreamsLog:
    """Send each input stream's words (in order, each stream on its own) and collect
    ``expect[name]`` words from every output stream, with random valid/ready back-pressure.

    For units with several input streams (a core's node headers and logit beats): each
    input has its own producer, which keeps the stream rule (a word once offered stays
    offered, unchanged, until it is taken); ``p_valid`` is the chance that an idle producer
    offers its next word in a cycle, ``p_ready`` that an output is ready.
    """
    log = StreamsLog(sent_cycles={n: [] for n in inputs}, outputs={o: [] for o in expect},
                     output_cycles={o: [] for o in expect})
    sent = {n: 0 for n in inputs}
    offer = {n: False for n in inputs}
    while (any(len(log.outputs[o]) < k for o, k in expect.items())
           and log.cycles < max_cycles):
        await FallingEdge(dut.clk)
        for n, words in inputs.items():
            offer[n] = offer[n] or (sent[n] < len(words) and rng.random() < p_valid)
            getattr(dut, f"{n}__valid").value = int(offer[n])
            if offer[n]:
                getattr(dut, f"{n}__payload").value = words[sent[n]]
        for o in expect:
            getattr(dut, f"{o}__ready").value = int(rng.random() < p_ready)
        await ReadOnly()
        for n in inputs:
            if offer[n] and int(getattr(dut, f"{n}__ready").value):
                log.sent_cycles[n].append(log.cycles)
                sent[n] += 1
                offer[n] = False
        for o in expect:
            if int(getattr(dut, f"{o}__valid").value) and int(getattr(dut, f"{o}__ready").value):
                log.outputs[o].append(getattr(dut, f"{o}__payload").value.to_unsigned())
                log.output_cycles[o].append(log.cycles)
        log.cycles += 1
    await FallingEdge(dut.clk)
    for n in inputs:
        getattr(dut, f"{n}__valid").value = 0
    return log
