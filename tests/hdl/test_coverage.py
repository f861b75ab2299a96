"""Functional coverage of both verify units, closed by steering (docs/hdl.md, "Functional
coverage").

Each configuration starts with random trees under random back-pressure; whenever the unit
has answered everything sent so far, the bins still unhit (sampled from the unit's own
responses and handshakes) get vectors aimed at them, until every bin is hit or the round
budget runs out.  The test fails below 100 %; the report is written by the
``coverage_report`` fixture (tests/hdl/coverage_report.py), merged over the xdist workers."""

import numpy as np
import pytest

from specaccel.hdl.amaranth_stream_driver import Gap
from specaccel.hdl.coverage import Coverage, sample, sample_stalls, steer, verify_bins

CONFIGS = [
    ("tree_verify", dict(nodes=16, token_width=8), 150),
    ("tree_verify", dict(nodes=16, token_width=8, prob_width=12, mode="stochastic"), 150),
    ("tree_verify", dict(nodes=64, token_width=8), 60),
    ("tree_verify_serial", dict(nodes=16, token_width=8), 150),
    ("tree_verify_serial", dict(nodes=16, token_width=8, prob_width=12, mode="stochastic"), 150),
    ("tree_verify_serial", dict(nodes=64, token_width=8), 60),
    ("tree_verify_serial", dict(nodes=64, token_width=8, prob_width=12, mode="stochastic"), 60),
]
ROUNDS = 6


def _name(unit, cfg):
    return f"{unit} N={cfg['nodes']} {cfg.get('mode', 'greedy')}"


def close_coverage(unit_name: str, cfg: dict, random_trees: int, *, seed: int = 1):
    """Run the closed loop; returns the Coverage and the number of vectors sent."""
    serial = unit_name == "tree_verify_serial"
    if serial:
        from specaccel.hdl.node_stream_driver import run_node_stream as run
        from specaccel.hdl.units.tree_verify_serial.gateware import TreeVerifySerialUnit as Unit
        from specaccel.hdl.units.tree_verify_serial.model import (
            SerialVerifyVectorModel as Model,
        )
    else:
        from specaccel.hdl.amaranth_stream_driver import run_stream as run
        from specaccel.hdl.units.tree_verify.gateware import TreeVerifyUnit as Unit
        from specaccel.hdl.units.tree_verify.model import VerifyVectorModel as Model
    model, unit = Model(**cfg), Unit(**cfg)
    coverage = Coverage(_name(unit_name, cfg), {b: 0 for b in verify_bins(
        nodes=cfg["nodes"], mode=cfg.get("mode", "greedy"), latency=unit.latency,
        serial=serial)})
    rng = np.random.default_rng(seed)
    sent = [model.random_invalid_vector(rng) if k % 50 == 49 else model.random_tree_vector(rng)
            for k in range(random_trees)]
    state = {"sampled": 0, "rounds": 0}

    def word(v):
        return v.records if serial else v.request

    def more(run_so_far):
        got = run_so_far.responses
        for k in range(state["sampled"], len(got)):
            assert got[k] == sent[k].response, (k, model.unpack_response(got[k]),
                                                model.unpack_response(sent[k].response))
            sample(coverage, sent[k], model.unpack_response(got[k]))
        state["sampled"] = len(got)
        stalled = {f"stall@stage={p}" for p in list(run_so_far.stall_positions)}
        unhit = [b for b in coverage.unhit() if b not in stalled]
        if state["rounds"] == 0:
            coverage.notes["random_phase_hit"] = len(coverage.bins) - len(unhit)
        if not unhit or state["rounds"] == ROUNDS:
            return []
        state["rounds"] += 1
        new = steer(rng, model, unhit, serial=serial, latency=unit.latency)
        sent.extend(v for v in new if not isinstance(v, Gap))
        return [v if isinstance(v, Gap) else word(v) for v in new]

    result = run(unit, [word(v) for v in sent], seed=seed, p_valid=0.5, p_ready=0.5, more=more)
    assert len(result.responses) == len(sent)
    sample_stalls(coverage, result.stall_positions)
    coverage.notes.update(vectors=len(sent), steering_rounds=state["rounds"])
    return coverage, len(sent), state["rounds"]


@pytest.mark.parametrize("unit, cfg, random_trees", CONFIGS,
                         ids=[_name(u, c).replace(" ", "-") for u, c, _ in CONFIGS])
def test_coverage_closes(unit, cfg, random_trees, coverage_report):
    coverage, vectors, rounds = close_coverage(unit, cfg, random_trees)
    coverage_report(coverage)
    print(coverage.summary())
    assert coverage.percent == 100.0, f"unhit: {coverage.unhit()}"


def test_random_stimulus_alone_leaves_bins_unhit():
    """Why steering exists: at N = 64 random trees reach few long accept lengths."""
    from specaccel.hdl.units.tree_verify.model import VerifyVectorModel

    model = VerifyVectorModel(nodes=64, token_width=8)
    rng = np.random.default_rng(1)
    lengths = {model.random_tree_vector(rng).accepted for _ in range(200)}
    assert len(lengths) < 40 and max(lengths) < 63
