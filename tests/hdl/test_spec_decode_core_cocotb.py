"""cocotb bench: SpecDecodeCore (mask | verify -> compaction) end to end vs the golden model.

Random steps and a replayed workload trace go in; both output streams (``mask`` and
``commit``) get random back-pressure of their own; every word equals the golden model's.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np

from specaccel.hdl.cocotb_runner import record_measured

TOPLEVEL = "spec_decode_core"


@cocotb.test()
async def spec_decode_core_matches_golden(dut):
    from cocotb_stream import drive, reset

    from specaccel.hdl.tree_vectors import CoreVectorModel
    from specaccel.workloads.presets import generate_trace

    nodes = int(os.environ["NODES"])
    rng = np.random.default_rng(int(os.environ["SEED"]))
    model = CoreVectorModel(nodes=nodes, token_width=16, position_width=16, slot_width=20)
    vecs = [model.random_vector(rng) for _ in range(int(os.environ["N_RANDOM"]))]
    trace = generate_trace(os.environ["TRACE_PRESET"], n_requests=2, steps_per_request=40,
                           seed=2)
    vecs += [model.random_vector(rng, trace.step(s)) for s in range(trace.n_steps)]
    await reset(dut)
    log = await drive(dut, [r for r, _, _ in vecs], rng=random.Random(3), p_valid=0.8,
                      p_ready=0.7, outputs=("mask", "commit"))
    for name, k in (("mask", 1), ("commit", 2)):
        bad = [i for i, (g, v) in enumerate(zip(log.outputs[name], vecs, strict=True))
               if g != v[k]]
        assert not bad, f"{name}: {len(bad)} mismatches, first at {bad[:5]}"
    record_measured({"steps": len(vecs), "trace_steps": trace.n_steps, "cycles": log.cycles})


def test_spec_decode_core_icarus(tmp_path):
    from specaccel.hdl.cocotb_runner import run_unit_bench
    from specaccel.hdl.units import build_unit

    nodes = 8
    unit = build_unit(TOPLEVEL, nodes=nodes, token_width=16, position_width=16, slot_width=20)
    m = run_unit_bench(unit, toplevel=TOPLEVEL, test_file=__file__, build_dir=tmp_path / "n8",
                       params={"nodes": nodes, "seed": 8, "n_random": 300,
                               "trace_preset": "eagle-vicuna-7b-chain5-mtbench"})
    print(f"spec_decode_core N={nodes}: {m['steps']} steps ({m['trace_steps']} from a trace) "
          f"in {m['cycles']} cycles")
    assert m["steps"] == 300 + 80
