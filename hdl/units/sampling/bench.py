"""cocotb bench: ``sampling``'s generated Verilog against the golden token selection.

The cocotb test reads the unit's parameters from the environment, takes its requests from
:mod:`.model` (directed edge cases and random requests; expectations from
:func:`specaccel.models.golden.token_selection.select_token` only), packs the beats with the
unit's own layout and streams them under random valid/ready back-pressure.  Before that, a
burst without back-pressure measures the greedy latency after a request's last beat and the
interval between beats, and a long request (``long_vocab`` logits) checks one beat a cycle
over a real vocabulary.
"""

from __future__ import annotations

import os
import random

import cocotb
import numpy as np

from specaccel.hdl.cocotb_runner import BenchConfig, record_measured

_INT = ("lanes", "vocab", "max_top_k", "n_random", "max_random_vocab", "long_vocab", "seed")


def _settings() -> dict:
    cfg = {k: int(os.environ[k.upper()]) for k in _INT}
    cfg["mode"] = os.environ["MODE"]
    cfg["p_valid"] = float(os.environ["P_VALID"])
    cfg["p_ready"] = float(os.environ["P_READY"])
    return cfg


@cocotb.test()
async def sampling_matches_golden(dut):
    """Burst (latency, one beat a cycle), a long request, then directed and random requests
    with random back-pressure; every result equals the golden model's."""
    from specaccel.hdl.cocotb_stream import drive_streams
    from specaccel.hdl.units.sampling import model
    from specaccel.hdl.units.sampling.gateware import (
        sampling_beat_layout,
        sampling_result_layout,
    )
    from specaccel.hdl.units.sampling.model import SamplingRequest
    from specaccel.models.golden import bf16

    cfg = _settings()
    lanes = cfg["lanes"]
    kmax = 1 if cfg["mode"] == "greedy" else cfg["max_top_k"]
    vocab = cfg["vocab"]
    beat_l = sampling_beat_layout(lanes=lanes, max_top_k=kmax)
    res_l = sampling_result_layout(token_width=max(1, (vocab - 1).bit_length()))
    nprng = np.random.default_rng(cfg["seed"])
    rng = random.Random(cfg["seed"])

    def beats(reqs: list[SamplingRequest]) -> list[int]:
        return [w for r in reqs for w in r.beats(beat_l, lanes)]

    def check(reqs: list[SamplingRequest], got: list[int], what: str) -> None:
        assert len(got) == len(reqs), f"{what}: {len(got)} results for {len(reqs)} requests"
        bad = []
        for k, (word, r) in enumerate(zip(got, reqs, strict=True)):
            v = res_l.from_bits(word)
            g = (int(v.token), int(v.found), int(v.nan), int(v.error))
            want = r.expected(max_top_k=kmax, vocab=vocab)
            if not model.matches(g, want):
                bad.append((k, g, want, len(r.logits), r.top_k))
        assert not bad, f"{what}: {len(bad)} mismatches, first: {bad[:3]}"

    async def run(reqs, *, p_valid, p_ready):
        words = beats(reqs)
        log = await drive_streams(dut, {"inp": words}, {"out": len(reqs)}, rng=rng,
                                  p_valid=p_valid, p_ready=p_ready,
                                  max_cycles=400 + 2 * len(words) + 300 * len(reqs))
        check(reqs, log.outputs["out"], "run")
        return log

    from specaccel.hdl.cocotb_stream import reset

    await reset(dut, inp="inp", out=("out",))

    # burst: greedy requests of several beats back to back, nothing stalls
    burst = [SamplingRequest(bf16.from_float(nprng.normal(0, 3, 8 * lanes + 1)), 1)
             for _ in range(6)]
    log = await run(burst, p_valid=1.0, p_ready=1.0)
    ends = np.cumsum([len(r.beat_counts(lanes)) for r in burst]) - 1
    last_beats = [log.sent_cycles["inp"][e] for e in ends]
    latency = {r - b for r, b in zip(log.output_cycles["out"], last_beats, strict=True)}
    sent = log.sent_cycles["inp"]

    # a real vocabulary: one beat a cycle, the selection over the whole request
    long = [SamplingRequest(bf16.from_float(nprng.normal(0, 3, cfg["long_vocab"])), kmax,
                            int(nprng.integers(1 << 10, 1 << 14)),
                            int(nprng.integers(0, 1 << 16)))]
    long_log = await run(long, p_valid=1.0, p_ready=1.0)
    long_sent = long_log.sent_cycles["inp"]

    # directed corners, then random requests under back-pressure
    reqs = (model.edge_case_requests(lanes=lanes, max_top_k=kmax)
            + model.random_requests(nprng, cfg["n_random"], lanes=lanes, max_top_k=kmax,
                                    max_vocab=cfg["max_random_vocab"]))
    mixed = await run(reqs, p_valid=cfg["p_valid"], p_ready=cfg["p_ready"])
    want = [r.expected(max_top_k=kmax, vocab=vocab) for r in reqs]
    record_measured({
        "latency": sorted(latency), "beat_interval": (sent[-1] - sent[0]) / (len(sent) - 1),
        "long_beats": len(long_sent), "long_cycles": long_sent[-1] - long_sent[0] + 1,
        "requests": len(reqs), "beats": len(beats(reqs)), "cycles": mixed.cycles,
        "nan_results": sum(w[2] == 1 for w in want),
        "empty_results": sum(w[1] == 0 for w in want),
        "errors": sum(w[3] == 1 for w in want),
        "not_argmax": sum(r.expected(max_top_k=1, vocab=vocab)[0] != w[0]
                          for r, w in zip(reqs, want, strict=True)),
    })


# Thousands of random requests under `pytest -m slow`; the default test command runs each
# configuration with a few hundred.  Icarus time grows with the lanes (the merge tree), so
# wide configurations get fewer requests.
CONFIGS = [
    BenchConfig(dict(lanes=4, vocab=32000),
                dict(n_random=3000, max_random_vocab=29, long_vocab=32000, p_valid=0.7,
                     p_ready=0.6, seed=4),
                small=dict(n_random=120, long_vocab=600)),
    BenchConfig(dict(lanes=16, vocab=128256),
                dict(n_random=2000, max_random_vocab=101, long_vocab=128256, p_valid=0.8,
                     p_ready=0.5, seed=16),
                small=dict(n_random=50, long_vocab=2000)),
    BenchConfig(dict(lanes=8, vocab=200, mode="greedy"),
                dict(n_random=2000, max_random_vocab=210, long_vocab=200, p_valid=0.6,
                     p_ready=0.7, seed=8),
                small=dict(n_random=100)),
    BenchConfig(dict(lanes=2, vocab=20, max_top_k=3),
                dict(n_random=2000, max_random_vocab=26, long_vocab=20, p_valid=0.9,
                     p_ready=0.9, seed=2),
                small=dict(n_random=150)),
]


def check(measured: dict, settings: dict, unit) -> None:
    """The greedy latency is the declared law; one beat of W logits a cycle, also over a
    whole vocabulary; the random requests reach the corners (NaN, empty, past the
    vocabulary, sampled picks that are not the argmax)."""
    assert measured["latency"] == [unit.latency_greedy]
    assert measured["beat_interval"] == 1.0
    assert measured["long_beats"] == -(-settings["long_vocab"] // settings["lanes"])
    assert measured["long_cycles"] == measured["long_beats"]
    assert measured["requests"] >= settings["n_random"]
    assert measured["nan_results"] > 0 and measured["empty_results"] > 0
    if settings["max_random_vocab"] > settings["vocab"]:
        assert measured["errors"] > 0
    if unit.max_top_k > 1:
        assert measured["not_argmax"] > settings["n_random"] // 20
