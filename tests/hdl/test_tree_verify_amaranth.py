"""TreeVerifyUnit in the Amaranth simulator against the golden model (fast, always run)."""

import numpy as np
import pytest

from specaccel.hdl.amaranth_stream_driver import run_stream
from specaccel.hdl.units.tree_verify.gateware import TreeVerifyUnit
from specaccel.hdl.units.tree_verify.model import VerifyVectorModel

CONFIGS = [
    dict(nodes=4, token_width=4),
    dict(nodes=8, token_width=18),
    dict(nodes=16, token_width=8),
    dict(nodes=8, token_width=6, prob_width=8, mode="stochastic", uniform_source="request"),
    dict(nodes=8, token_width=6, prob_width=16, mode="stochastic", uniform_source="lfsr"),
]


def _check(model, vectors, run):
    assert len(run.responses) == len(vectors)
    for k, (vec, got) in enumerate(zip(vectors, run.responses, strict=True)):
        assert got == vec.response, (k, model.unpack_response(got),
                                     model.unpack_response(vec.response))


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_random_and_directed_trees_match_golden(cfg):
    rng = np.random.default_rng(7 + cfg["nodes"])
    model = VerifyVectorModel(**cfg)
    vectors = [v for _, v in model.directed_vectors(rng)]
    for k in range(300):
        if k % 10 == 9:
            vectors.append(model.random_invalid_vector(rng))
        else:
            vectors.append(model.random_tree_vector(rng))
    assert any(v.error for v in vectors) and max(v.accepted for v in vectors) >= 3
    run = run_stream(TreeVerifyUnit(**cfg), [v.request for v in vectors], seed=1,
                     p_valid=0.8, p_ready=0.7)
    _check(model, vectors, run)


@pytest.mark.parametrize("nodes", [2, 4, 5, 16])
def test_initiation_interval_one_and_latency(nodes):
    """Without back-pressure a tree enters every cycle; latency is measured per transfer."""
    rng = np.random.default_rng(nodes)
    model = VerifyVectorModel(nodes=nodes, token_width=3)
    vectors = [model.random_tree_vector(rng) for _ in range(40)]
    unit = TreeVerifyUnit(nodes=nodes, token_width=3)
    run = run_stream(unit, [v.request for v in vectors])
    _check(model, vectors, run)
    assert np.all(np.diff(run.sent_cycles) == 1)
    latencies = set(np.subtract(run.received_cycles, run.sent_cycles).tolist())
    assert latencies == {unit.latency}
    assert unit.latency <= int(np.ceil(np.log2(nodes))) + 3


@pytest.mark.parametrize("bad", [dict(nodes=1), dict(nodes=129), dict(nodes=8.0),
                                 dict(nodes=8, token_width=19), dict(nodes=8, prob_width=7),
                                 dict(nodes=8, mode="typical"),
                                 dict(nodes=8, uniform_source="dice")])
def test_parameters_are_validated(bad):
    with pytest.raises(TypeError, match=next(iter(bad)) if len(bad) == 1 else None):
        TreeVerifyUnit(**bad)
