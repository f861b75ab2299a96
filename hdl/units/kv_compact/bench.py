"""cocotb bench: ``kv_compact``'s generated Verilog against the golden gather indices."""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np

from specaccel.hdl.cocotb_runner import BenchConfig, record_measured


@cocotb.test()
async def kv_compact_matches_golden(dut):
    from specaccel.hdl.cocotb_stream import drive, latency_and_ii, reset
    from specaccel.hdl.units.kv_compact.model import CompactVectorModel

    nodes, sw = int(os.environ["NODES"]), int(os.environ["SLOT_WIDTH"])
    rng = np.random.default_rng(int(os.environ["SEED"]))
    model = CompactVectorModel(nodes=nodes, slot_width=sw)

    def random_path():
        k = int(rng.integers(1, nodes + 1))
        return [0] + sorted(rng.choice(np.arange(1, nodes), k - 1, replace=False).tolist())

    vecs = [model.vector(random_path(), int(rng.integers(0, (1 << sw) - nodes)))
            for _ in range(int(os.environ["N_RANDOM"]))]
    vecs += [model.vector([0], 0), model.vector(list(range(nodes)), 3),
             model.invalid_vector([2, 3], 1, 0), model.invalid_vector([0, 4, 4], 2, 0),
             model.vector([0, nodes - 1], (1 << sw) - nodes)]
    await reset(dut)
    prng = random.Random(2)
    burst = await drive(dut, [r for r, _ in vecs[:50]], rng=prng)
    log = await drive(dut, [r for r, _ in vecs], rng=prng, p_valid=0.7, p_ready=0.6)
    assert burst.responses == [e for _, e in vecs[:50]]
    mism = [k for k, (g, (_, e)) in enumerate(zip(log.responses, vecs, strict=True)) if g != e]
    assert not mism, f"{len(mism)} mismatches, first at {mism[:5]}"
    measured = latency_and_ii(burst)
    measured["paths"] = len(vecs)
    record_measured(measured)


CONFIGS = [BenchConfig(dict(nodes=16, slot_width=20), dict(n_random=1000),
                       small=dict(n_random=300))]


def check(measured: dict, settings: dict, unit) -> None:
    assert measured["initiation_interval"] == 1.0
    assert measured["latency_min"] == measured["latency_max"] == 1
    assert measured["paths"] >= settings["n_random"]
