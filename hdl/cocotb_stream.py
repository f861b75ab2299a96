"""cocotb driver (bench side) of a unit's streams: one input stream and one or more output
streams (Amaranth port names ``<name>__valid``, ``<name>__ready``, ``<name>__payload``).

Inputs change on the falling clock edge; handshakes and outputs are sampled after
``ReadOnly()`` of that half cycle, i.e. exactly what the next rising edge will see.
Every transfer is stamped with its cycle number so that the bench measures latency and
initiation interval instead of assuming them.  The driver keeps the stream rule (a word
once offered stays offered, unchanged, until it is taken) and a
:class:`~specaccel.hdl.stream_protocol.StreamMonitor` on every stream, input and outputs,
fails the test at the first cycle that breaks it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

from specaccel.hdl.stream_protocol import StreamMonitor


@dataclass
class StreamLog:
    """Transfers observed by :func:`drive` (``responses``/``received_cycles``: the first
    output stream; ``outputs``/``output_cycles``: every output stream by name;
    ``sent_cycles``: the cycle of every input word's transfer)."""

    outputs: dict[str, list[int]] = field(default_factory=dict)
    sent_cycles: list[int] = field(default_factory=list)
    output_cycles: dict[str, list[int]] = field(default_factory=dict)
    cycles: int = 0
    first: str = "resp"
    monitors: dict[str, StreamMonitor] = field(default_factory=dict)

    @property
    def responses(self) -> list[int]:
        return self.outputs[self.first]

    @property
    def received_cycles(self) -> list[int]:
        return self.output_cycles[self.first]


async def reset(dut, cycles: int = 2, *, inp: str | tuple[str, ...] = "req",
                out: tuple[str, ...] = ()) -> None:
    """Start a 100 MHz clock and hold the synchronous reset for `cycles` cycles: the input
    stream(s) `inp` idle, the output stream(s) `out` not ready."""
    Clock(dut.clk, 10, unit="ns").start(start_high=False)
    dut.rst.value = 1
    for name in (inp,) if isinstance(inp, str) else inp:
        getattr(dut, f"{name}__valid").value = 0
    for name in out:
        getattr(dut, f"{name}__ready").value = 0
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


async def drive(dut, words: list[int], *, rng: random.Random, p_valid: float = 1.0,
                p_ready: float = 1.0, max_cycles: int | None = None,
                outputs: tuple[str, ...] = ("resp",), inp: str = "req",
                expect: int | None = None) -> StreamLog:
    """Send `words` through input stream `inp` and collect `expect` words (default: one per
    input word) from every output stream, with random valid/ready back-pressure."""
    expect = len(words) if expect is None else expect
    log = StreamLog(outputs={o: [] for o in outputs}, output_cycles={o: [] for o in outputs},
                    first=outputs[0],
                    monitors={name: StreamMonitor(name) for name in (inp, *outputs)})
    limit = max_cycles if max_cycles is not None else 64 + 300 * (expect + 4) + 4 * len(words)
    ports = {name: (getattr(dut, f"{name}__valid"), getattr(dut, f"{name}__ready"),
                    getattr(dut, f"{name}__payload")) for name in (inp, *outputs)}
    in_valid, in_ready, in_payload = ports[inp]
    sent = 0
    offer = False
    while (any(len(v) < expect for v in log.outputs.values())
           and log.cycles < limit):
        await FallingEdge(dut.clk)
        # an offered word stays offered until taken (the stream rule)
        offer = offer or (sent < len(words) and rng.random() < p_valid)
        in_valid.value = int(offer)
        if offer:
            in_payload.value = words[sent]
        for o in outputs:
            ports[o][1].value = int(rng.random() < p_ready)
        await ReadOnly()
        for name, (valid, ready, payload) in ports.items():
            v = bool(int(valid.value))
            log.monitors[name].observe(log.cycles, v, bool(int(ready.value)),
                                       payload.value.to_unsigned() if v else 0)
        if offer and int(in_ready.value):
            log.sent_cycles.append(log.cycles)
            sent += 1
            offer = False
        for o in outputs:
            valid, ready, payload = ports[o]
            if int(valid.value) and int(ready.value):
                log.outputs[o].append(payload.value.to_unsigned())
                log.output_cycles[o].append(log.cycles)
        log.cycles += 1
    await FallingEdge(dut.clk)
    in_valid.value = 0
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
