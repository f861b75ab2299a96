"""cocotb bench: ``tree_mask``'s generated Verilog against the golden mask and position ids.

A burst per tree size (no back-pressure) measures latency and initiation interval as a
function of the node count; then random trees with random back-pressure.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np

from specaccel.hdl.cocotb_runner import BenchConfig, record_measured


@cocotb.test()
async def tree_mask_matches_golden(dut):
    from specaccel.hdl.cocotb_stream import drive, latency_and_ii, reset
    from specaccel.hdl.tree_vectors import SHAPES, random_parents
    from specaccel.hdl.units.tree_mask.model import MaskVectorModel

    nodes, pw = int(os.environ["NODES"]), int(os.environ["POSITION_WIDTH"])
    rng = np.random.default_rng(int(os.environ["SEED"]))
    model = MaskVectorModel(nodes=nodes, position_width=pw)
    await reset(dut)
    prng = random.Random(1)
    measured: dict = {"per_n": {}}
    for n in sorted({1, 2, nodes // 2, nodes}):
        vecs = [model.vector(random_parents(rng, n, "random"), int(rng.integers(0, 1 << 10)))
                for _ in range(8)]
        log = await drive(dut, [r for r, _ in vecs], rng=prng)
        assert log.responses == [e for _, e in vecs]
        measured["per_n"][n] = latency_and_ii(log)
    vecs = []
    for _ in range(int(os.environ["N_RANDOM"])):
        n = int(rng.integers(1, nodes + 1))
        shape = SHAPES[int(rng.integers(0, len(SHAPES)))]
        vecs.append(model.vector(random_parents(rng, n, shape), int(rng.integers(0, 1 << 10))))
    bad = random_parents(rng, nodes)
    bad[-1] = nodes - 1
    vecs += [model.invalid_vector(nodes, bad, 0), model.invalid_vector(nodes + 1, bad, 0),
             model.vector(random_parents(rng, nodes, "chain"), 5)]
    log = await drive(dut, [r for r, _ in vecs], rng=prng, p_valid=0.7, p_ready=0.6)
    mism = [k for k, (g, (_, e)) in enumerate(zip(log.responses, vecs, strict=True)) if g != e]
    assert not mism, f"{len(mism)} mismatches, first at {mism[:5]}"
    measured["random_trees"] = len(vecs)
    record_measured(measured)


CONFIGS = [BenchConfig(dict(nodes=16, position_width=12), dict(n_random=200))]


def check(measured: dict, settings: dict, unit) -> None:
    """Node-serial: an n-node tree is answered after the declared law's cycles (n)."""
    from specaccel.hdl.units import get_unit

    law = get_unit("tree_mask").law()
    for n, m in measured["per_n"].items():
        assert m["latency_min"] == m["latency_max"] == \
            law.cycles(nodes=settings["nodes"], n=int(n)), (n, m)
