"""cocotb bench: ``streaming_core``'s generated Verilog against the golden model.

The cocotb test reads the core's parameters from the environment and takes its steps from
:mod:`.model` (directed edge cases, then random steps; every expected commit composed from
the golden model only).  A burst of full-size greedy steps without back-pressure measures
the latency from a tree's last logit beat to its commit; then every step goes in through
two producers of their own (node headers, logit beats) under random gaps, with random
back-pressure on ``commit``, and every commit must equal the golden model's.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np

from specaccel.hdl.cocotb_runner import BenchConfig, record_measured

_INT = ("nodes", "lanes", "max_top_k", "token_width", "slot_width", "n_random", "max_vocab",
        "seed")


def _settings() -> dict:
    cfg = {k: int(os.environ[k.upper()]) for k in _INT}
    cfg["p_valid"] = float(os.environ["P_VALID"])
    cfg["p_ready"] = float(os.environ["P_READY"])
    return cfg


@cocotb.test()
async def streaming_core_matches_golden(dut):
    """Burst (latency), then directed and random steps under back-pressure; every commit
    equals the golden model's."""
    from specaccel.hdl.cocotb_stream import drive_streams
    from specaccel.hdl.units.streaming_core.model import StreamingCoreVectorModel

    cfg = _settings()
    model = StreamingCoreVectorModel(nodes=cfg["nodes"], lanes=cfg["lanes"],
                                     max_top_k=cfg["max_top_k"],
                                     token_width=cfg["token_width"],
                                     slot_width=cfg["slot_width"])
    nprng = np.random.default_rng(cfg["seed"])
    rng = random.Random(cfg["seed"])

    async def run(vectors, *, p_valid, p_ready):
        headers = [h for v in vectors for h in v.headers]
        beats = [b for v in vectors for bs in v.beats for b in bs]
        log = await drive_streams(dut, {"node": headers, "logits": beats},
                                  {"commit": len(vectors)}, rng=rng, p_valid=p_valid,
                                  p_ready=p_ready,
                                  # a sampled node's tail is up to ~200 cycles
                                  max_cycles=1000 + 250 * len(headers) + 4 * len(beats))
        got = log.outputs["commit"]
        assert len(got) == len(vectors), f"{len(got)} commits for {len(vectors)} steps"
        bad = [(k, hex(g), hex(v.commit)) for k, (g, v) in enumerate(zip(got, vectors,
                                                                         strict=True))
               if not v.matches(g)]
        assert not bad, f"{len(bad)} commits differ from the golden model's, first: {bad[:2]}"
        return log

    from specaccel.hdl.cocotb_stream import reset

    await reset(dut, inp=("node", "logits"), out=("commit",))

    # burst: full-size greedy steps back to back, nothing stalls
    burst = [model.vector(model.random_step(nprng, n=cfg["nodes"], greedy=True))
             for _ in range(4)]
    log = await run(burst, p_valid=1.0, p_ready=1.0)
    ends = np.cumsum([sum(len(bs) for bs in v.beats) for v in burst]) - 1
    last_beats = [log.sent_cycles["logits"][e] for e in ends]
    latency = {c - b for c, b in zip(log.output_cycles["commit"], last_beats, strict=True)}

    # directed corners, then random steps under back-pressure
    vectors = ([model.vector(s) for s in model.edge_case_steps()]
               + [model.vector(model.random_step(nprng, max_vocab=cfg["max_vocab"]))
                  for _ in range(cfg["n_random"])])
    mixed = await run(vectors, p_valid=cfg["p_valid"], p_ready=cfg["p_ready"])
    features: dict[str, int] = {}
    for v in vectors:
        for f in v.features:
            features[f] = features.get(f, 0) + 1
    record_measured({"latency": sorted(latency), "steps": len(vectors),
                     "nodes": sum(len(v.headers) for v in vectors),
                     "beats": sum(len(bs) for v in vectors for bs in v.beats),
                     "cycles": mixed.cycles, "features": features})


# Thousands of random steps under `pytest -m slow`; the default test command runs the first
# configuration with a few dozen (plus every directed case), and the second (wider lanes,
# top-8, a vocabulary past its 6-bit indices) only under `-m slow`.
CONFIGS = [
    BenchConfig(dict(nodes=8, lanes=4, max_top_k=3, token_width=8, slot_width=8),
                dict(n_random=2000, max_vocab=19, p_valid=0.7, p_ready=0.6, seed=8),
                small=dict(n_random=40)),
    BenchConfig(dict(nodes=16, lanes=8, max_top_k=8, token_width=6, slot_width=10),
                dict(n_random=1000, max_vocab=40, p_valid=0.8, p_ready=0.5, seed=16),
                slow_only=True),
]


def check(measured: dict, settings: dict, unit) -> None:
    """The latency is the declared law; the steps reach the corners (every accept length
    but the longest few at random, NaN and sampled nodes, both error kinds, a slot
    overflow)."""
    from specaccel.hdl.units import get_unit

    law = get_unit("streaming_core").law(lanes=settings["lanes"])
    assert measured["latency"] == [law.cycles(nodes=settings["nodes"])], measured["latency"]
    assert measured["steps"] >= settings["n_random"]
    f = measured["features"]
    for kind in ("nan", "sampled", "error:bad_parent", "error:slot_overflow",
                 "accepted:0", f"accepted:{settings['nodes'] - 1}"):
        assert f.get(kind, 0) > 0, kind
    if (1 << settings["token_width"]) < 4 * settings["lanes"] + 64:
        assert f.get("sample_error", 0) > 0
