"""cocotb bench: ``spec_decode_core`` (mask | verify -> compaction) end to end vs the golden
model.

Random steps and a replayed workload trace go in; both output streams (``mask`` and
``commit``) get random back-pressure of their own; every word equals the golden model's.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np

from specaccel.hdl.cocotb_runner import BenchConfig, record_measured


@cocotb.test()
async def spec_decode_core_matches_golden(dut):
    from specaccel.hdl.cocotb_stream import drive, reset
    from specaccel.hdl.units.spec_decode_core.model import CoreVectorModel
    from specaccel.schema.trace_io import read_trace

    nodes = int(os.environ["NODES"])
    rng = np.random.default_rng(int(os.environ["SEED"]))
    model = CoreVectorModel(nodes=nodes, token_width=int(os.environ["TOKEN_WIDTH"]),
                            position_width=int(os.environ["POSITION_WIDTH"]),
                            slot_width=int(os.environ["SLOT_WIDTH"]))
    vecs = [model.random_vector(rng) for _ in range(int(os.environ["N_RANDOM"]))]
    trace = read_trace(os.environ["TRACE_FILE"])
    vecs += [model.random_vector(rng, trace.step(s)) for s in range(trace.n_steps)]
    await reset(dut)
    log = await drive(dut, [r for r, _, _ in vecs], rng=random.Random(3), p_valid=0.8,
                      p_ready=0.7, outputs=("mask", "commit"))
    for name, k in (("mask", 1), ("commit", 2)):
        bad = [i for i, (g, v) in enumerate(zip(log.outputs[name], vecs, strict=True))
               if g != v[k]]
        assert not bad, f"{name}: {len(bad)} mismatches, first at {bad[:5]}"
    record_measured({"steps": len(vecs), "trace_steps": trace.n_steps, "cycles": log.cycles})


CONFIGS = [BenchConfig(dict(nodes=8, token_width=16, position_width=16, slot_width=20),
                       dict(n_random=300, seed=8,
                            trace=("eagle-vicuna-7b-chain5-mtbench", 2, 40)),
                       small=dict(n_random=150))]


def check(measured: dict, settings: dict, unit) -> None:
    assert measured["steps"] == settings["n_random"] + measured["trace_steps"]
    assert measured["trace_steps"] == settings["trace"][1] * settings["trace"][2]
