"""cocotb bench: ``tree_verify``'s generated Verilog against the golden model.

The cocotb test reads the unit's parameters from the environment, takes vectors from
:mod:`.model` (golden model + packing) and drives them with
:mod:`specaccel.hdl.cocotb_stream`: a burst without back-pressure (measures latency and
II), the directed cases, random trees (one invalid in 50) and a replayed trace with random
back-pressure.  :data:`CONFIGS` are the configurations the test command runs
(``tests/hdl/test_benches.py``); :func:`check` judges what the bench measured.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np

from specaccel.hdl.cocotb_runner import BenchConfig, record_measured

PARAMS = ("nodes", "token_width", "prob_width", "mode", "uniform_source")


@cocotb.test()
async def tree_verify_matches_golden(dut):
    from specaccel.hdl.cocotb_stream import drive, latency_and_ii, replay_vectors_from_env, reset
    from specaccel.hdl.units.tree_verify.model import VerifyVectorModel

    cfg = {k: os.environ[k.upper()] for k in PARAMS}
    cfg.update({k: int(cfg[k]) for k in ("nodes", "token_width", "prob_width")})
    n_random = int(os.environ["N_RANDOM"])
    seed = int(os.environ["SEED"])
    nprng = np.random.default_rng(seed)
    model = VerifyVectorModel(**cfg)
    burst = [model.random_tree_vector(nprng) for _ in range(64)]
    directed = list(model.directed_vectors(nprng))
    rand = [model.random_invalid_vector(nprng) if k % 50 == 49 else
            model.random_tree_vector(nprng) for k in range(n_random)]
    replay = replay_vectors_from_env(model, mode=cfg["mode"])

    await reset(dut)
    rng = random.Random(seed)
    burst_log = await drive(dut, [v.request for v in burst], rng=rng)
    mixed = [v for _, v in directed] + rand + replay
    mixed_log = await drive(dut, [v.request for v in mixed], rng=rng, p_valid=0.75,
                            p_ready=0.6)

    names = ([f"burst{k}" for k in range(len(burst))] + [n for n, _ in directed]
             + [f"random{k}" for k in range(len(rand))] + [f"step{k}" for k in range(len(replay))])
    got = burst_log.responses + mixed_log.responses
    vectors = burst + mixed
    assert len(got) == len(vectors), f"{len(got)} responses for {len(vectors)} requests"
    mismatches = [(name, model.unpack_response(g), model.unpack_response(v.response))
                  for name, g, v in zip(names, got, vectors, strict=True) if g != v.response]
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"

    measured = latency_and_ii(burst_log)
    measured.update({
        "config": cfg, "random_trees": len(rand), "directed": len(directed),
        "trace_steps": len(replay), "burst": len(burst),
        "errors_flagged": sum(v.error for v in vectors),
        "max_accepted": max(v.accepted for v in vectors),
        "backpressure_cycles": mixed_log.cycles, "backpressure_transfers": len(mixed),
    })
    record_measured(measured)


# >= 5,000 random trees in three configurations and whole workload traces (SpecInfer's
# trees have up to 41 nodes, EAGLE's 26) under `pytest -m slow`; the default test command
# runs each configuration with fewer trees and shorter traces.  N = 32 / 64 get fewer
# trees: Icarus time per cycle grows about as N^2 log N.
CONFIGS = [
    BenchConfig(dict(nodes=8, token_width=18),
                dict(n_random=5000, trace=("eagle-vicuna-7b-chain5-mtbench", 4, 50)),
                small=dict(n_random=400, trace=("eagle-vicuna-7b-chain5-mtbench", 1, 20))),
    BenchConfig(dict(nodes=16, token_width=16),
                dict(n_random=5000,
                     trace=("speculative-sampling-vicuna-7b-68m-specbench", 4, 50)),
                small=dict(n_random=300,
                           trace=("speculative-sampling-vicuna-7b-68m-specbench", 1, 20))),
    BenchConfig(dict(nodes=16, token_width=16, prob_width=12, mode="stochastic"),
                dict(n_random=5000), small=dict(n_random=300)),
    # N = 64: Icarus compiles the 94k-LUT unit for most of a minute before the first
    # vector, so it runs under -m slow only; N = 64 is covered by default by the Amaranth
    # coverage closure (tests/hdl/test_coverage.py) and the serial unit's N = 64 bench
    BenchConfig(dict(nodes=64, token_width=16),
                dict(n_random=200, trace=("specinfer-llama2-7b-c4", 4, 50)),
                slow_only=True),
    BenchConfig(dict(nodes=32, token_width=16, prob_width=12, mode="stochastic"),
                dict(n_random=300, trace=("eagle-vicuna-7b-mtbench-t1", 4, 50)),
                small=dict(n_random=40, trace=("eagle-vicuna-7b-mtbench-t1", 1, 10))),
    BenchConfig(dict(nodes=8, token_width=16, prob_width=16, mode="stochastic",
                     uniform_source="lfsr"), dict(n_random=1000), small=dict(n_random=200)),
    BenchConfig(dict(nodes=4, token_width=8), dict(n_random=600), simulator="verilator"),
]


def check(measured: dict, settings: dict, unit) -> None:
    """One tree per cycle, the latency of the declared law, every vector sent."""
    assert measured["random_trees"] >= 1
    assert measured["initiation_interval"] == 1.0
    assert measured["latency_min"] == measured["latency_max"] == unit.latency
