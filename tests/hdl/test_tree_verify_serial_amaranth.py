"""TreeVerifySerialUnit in the Amaranth simulator against the golden model (fast, always run).

Expected responses come only from :func:`specaccel.models.golden.verify_tree` (through
:class:`~specaccel.hdl.serial_verify_vectors.SerialVerifyVectorModel`).  The >= 5,000-tree
random sets of issue 3 run here (faster than in cocotb), with every directed case, an
exhaustive set of small trees, the cycle behaviour and the stall; the cocotb bench
(``test_tree_verify_serial_cocotb.py``) runs the generated Verilog on Icarus with random
trees and replayed workload traces.
"""

import numpy as np
import pytest

from specaccel.hdl.layouts import verify_response_layout
from specaccel.hdl.node_stream_driver import run_node_stream
from specaccel.hdl.tree_vectors import random_greedy_tree
from specaccel.hdl.units.tree_verify.gateware import TreeVerifyUnit
from specaccel.hdl.units.tree_verify_serial.gateware import TreeVerifySerialUnit
from specaccel.hdl.units.tree_verify_serial.model import SerialVerifyVectorModel
from specaccel.models.golden import verify_tree
from specaccel.schema.trace import DraftTree


def _check(model, vectors, run):
    assert len(run.responses) == len(vectors), f"{len(run.responses)} of {len(vectors)}"
    bad = [(k, model.unpack_response(got), model.unpack_response(vec.response))
           for k, (vec, got) in enumerate(zip(vectors, run.responses, strict=True))
           if got != vec.response]
    assert not bad, f"{len(bad)} mismatches, first: {bad[:2]}"


def _run(cfg, vectors, **kw):
    return run_node_stream(TreeVerifySerialUnit(**cfg), [v.records for v in vectors], **kw)


# The three configurations of issue 3 with >= 5,000 random trees each, random valid/ready
# back-pressure and one invalid tree in 50.  They run here rather than in cocotb because the
# Amaranth simulator streams these small units' node records faster than cocotb + Icarus
# (measured: about 5k vs under 1k cycles per second on this machine).
BIG = [
    dict(nodes=8, token_width=18),
    dict(nodes=16, token_width=16),
    dict(nodes=16, token_width=16, prob_width=12, mode="stochastic", uniform_source="request"),
]


@pytest.mark.parametrize("cfg", BIG, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_5000_random_trees_match_golden(cfg):
    rng = np.random.default_rng(2026 + cfg["nodes"])
    model = SerialVerifyVectorModel(**cfg)
    vectors = [model.random_invalid_vector(rng) if k % 50 == 49 else
               model.random_tree_vector(rng) for k in range(5000)]
    # the set exercises what it claims: long accepted paths, errors, every size
    assert max(v.accepted for v in vectors) >= cfg["nodes"] // 2
    assert sum(v.error for v in vectors) == 100
    assert {v.n_nodes for v in vectors if not v.error} == set(range(1, cfg["nodes"] + 1))
    _check(model, vectors, _run(cfg, vectors, seed=3, p_valid=0.85, p_ready=0.8))


SMALL = [
    dict(nodes=2, token_width=1),
    dict(nodes=5, token_width=3),
    dict(nodes=8, token_width=6, prob_width=8, mode="stochastic", uniform_source="request"),
    dict(nodes=8, token_width=6, prob_width=16, mode="stochastic", uniform_source="lfsr"),
    dict(nodes=6, token_width=5, prob_width=9, mode="stochastic", uniform_source="request"),
    dict(nodes=128, token_width=4),
]


@pytest.mark.parametrize("cfg", SMALL, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_directed_edge_cases_match_golden(cfg):
    """Root only, all/none accepted, sibling ties, deepest chain, widest star, maximum N,
    too many nodes, a parent not below its node, and recovery on the next tree — under
    heavy back-pressure, then random trees."""
    rng = np.random.default_rng(11 + cfg["nodes"])
    model = SerialVerifyVectorModel(**cfg)
    named = list(model.directed_vectors(rng))
    names = [name for name, _ in named]
    assert {"root_only", "all_accepted_chain", "none_accepted_star", "sibling_ties",
            "deepest_chain", "widest_star", "maximum_n", "n_exceeded",
            "parent_not_below_node", "recovery_after_error"} <= set(names)
    vectors = [v for _, v in named]
    assert vectors[names.index("deepest_chain")].accepted == cfg["nodes"] - 1
    assert vectors[names.index("n_exceeded")].n_nodes > cfg["nodes"]
    count = 40 if cfg["nodes"] > 16 else 200
    vectors += [model.random_invalid_vector(rng) if k % 10 == 9 else
                model.random_tree_vector(rng) for k in range(count)]
    _check(model, vectors, _run(cfg, vectors, seed=5, p_valid=0.6, p_ready=0.4))


def test_sibling_tie_lowest_index_wins():
    """Three children of the root carry the target's token: the golden model (and the unit)
    take node 1, not 2 or 3, and then node 1's child 4 rather than node 2's child 5."""
    tree = DraftTree.build([-1, 0, 0, 0, 1, 2], [9, 7, 7, 7, 3, 3], [7, 3, 3, 3, 1, 1])
    assert list(verify_tree(tree).path) == [0, 1, 4]
    model = SerialVerifyVectorModel(nodes=8, token_width=4)
    vec = model.vector(tree)
    run = _run(dict(nodes=8, token_width=4), [vec])
    got = model.unpack_response(run.responses[0])
    assert got["path"][:3] == [0, 1, 4] and got["accepted"] == 2 and got["bonus_token"] == 1


def test_exhaustive_small_trees_equal_golden_walk():
    """Every tree shape with up to 5 nodes and every acceptance pattern of its non-root
    nodes (greedy, 1-bit tokens so ties are common): the scan equals the golden walk."""
    model = SerialVerifyVectorModel(nodes=5, token_width=1)
    vectors = []
    for n in range(1, 6):
        shapes = [[]]
        for i in range(1, n):
            shapes = [s + [p] for s in shapes for p in range(i)]
        for shape in shapes:
            parent = np.array([-1] + shape, dtype=np.int32)
            for bits in range(1 << (n - 1)):
                target = np.array([(i * 5 + n) % 2 for i in range(n)])
                token = np.zeros(n, dtype=np.int64)
                for i in range(1, n):
                    ok = (bits >> (i - 1)) & 1
                    token[i] = target[parent[i]] if ok else 1 - target[parent[i]]
                vectors.append(model.vector(DraftTree.build(parent, token, target)))
    assert len(vectors) == sum(np.prod(range(1, n)) * 2 ** (n - 1) for n in range(1, 6))
    _check(model, vectors, _run(dict(nodes=5, token_width=1), vectors))


@pytest.mark.parametrize("nodes, mode", [(2, "greedy"), (8, "greedy"), (64, "greedy"),
                                         (8, "stochastic"), (64, "stochastic")])
def test_one_node_per_cycle_and_constant_latency(nodes, mode):
    """Without back-pressure trees follow back to back: a tree of n nodes takes n cycles
    (the next root right after the last node) and the response comes a constant number of
    cycles after the tree's last node, whatever N and n (one more in stochastic mode, for
    the two-stage multiplier)."""
    rng = np.random.default_rng(nodes)
    cfg = dict(nodes=nodes, token_width=3, mode=mode)
    model = SerialVerifyVectorModel(**cfg)
    vectors = [model.random_tree_vector(rng) for _ in range(40)]
    unit = TreeVerifySerialUnit(**cfg)
    run = run_node_stream(unit, [v.records for v in vectors])
    _check(model, vectors, run)
    sizes = np.array([v.n_nodes for v in vectors])
    assert np.array_equal(np.diff(run.first_cycles), sizes[:-1])  # no bubble between trees
    assert np.array_equal(np.subtract(run.last_cycles, run.first_cycles), sizes - 1)
    latencies = set(np.subtract(run.received_cycles, run.last_cycles).tolist())
    assert latencies == {unit.latency} == {4 if mode == "greedy" else 5}
    assert run.cycles <= sizes.sum() + unit.latency + 1


def test_pending_response_stalls_and_loses_nothing():
    """With the response never taken for a while the input must stop (ready low) and
    every response must still arrive, in order, once it is taken."""
    from amaranth.sim import Simulator

    cfg = dict(nodes=4, token_width=4)
    model = SerialVerifyVectorModel(**cfg)
    rng = np.random.default_rng(0)
    vectors = [model.random_tree_vector(rng, n=1) for _ in range(6)]
    words = [w for v in vectors for w in v.records]
    dut = TreeVerifySerialUnit(**cfg)
    got, ready_seen = [], []

    async def bench(ctx):
        sent = 0
        for cycle in range(60):
            ctx.set(dut.req.valid, int(sent < len(words)))
            if sent < len(words):
                ctx.set(dut.req.payload.as_value(), words[sent])
            ctx.set(dut.resp.ready, int(cycle >= 30))
            ready_seen.append(ctx.get(dut.req.ready))
            if sent < len(words) and ctx.get(dut.req.ready):
                sent += 1
            if ctx.get(dut.resp.valid) and ctx.get(dut.resp.ready):
                got.append(ctx.get(dut.resp.payload.as_value()))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert ready_seen[10:30] == [0] * 20  # stalled while the response waits
    assert got == [v.response for v in vectors]


def test_response_layout_is_the_parallel_units():
    for nodes, tw in ((4, 3), (16, 16), (128, 18)):
        serial = TreeVerifySerialUnit(nodes=nodes, token_width=tw)
        parallel = TreeVerifyUnit(nodes=nodes, token_width=tw)
        assert serial.response_layout == parallel.response_layout == \
            verify_response_layout(nodes=nodes, token_width=tw)
        assert serial.resp.signature == parallel.resp.signature
        serial._MustUse__silence = parallel._MustUse__silence = True  # never elaborated


def test_lfsr_uniforms_are_drawn_per_record():
    """With the in-unit LFSR every record draws one uniform (a tree of n records uses n):
    the model, drawing the same way, predicts every response of a long mixed-size run."""
    cfg = dict(nodes=8, token_width=4, prob_width=12, mode="stochastic", uniform_source="lfsr")
    rng = np.random.default_rng(9)
    model = SerialVerifyVectorModel(**cfg)
    from specaccel.hdl.tree_vectors import random_stochastic_values

    vectors = []
    for _ in range(150):
        n = int(rng.integers(1, 9))
        tree = random_greedy_tree(rng, n, token_width=4)
        vectors.append(model.vector(tree, random_stochastic_values(rng, n, 12)))
    accepted = [v.accepted for v in vectors]
    assert 0 < sum(accepted) < sum(v.n_nodes - 1 for v in vectors)  # draws decide
    _check(model, vectors, _run(cfg, vectors, seed=2, p_valid=0.7, p_ready=0.6))


@pytest.mark.parametrize("bad", [dict(nodes=1), dict(nodes=129), dict(nodes=8.0),
                                 dict(nodes=8, token_width=19), dict(nodes=8, prob_width=7),
                                 dict(nodes=8, mode="typical"),
                                 dict(nodes=8, uniform_source="dice"),
                                 dict(nodes=8, lfsr_seed=0)])
def test_parameters_are_validated(bad):
    key = [k for k in bad if k != "nodes"] or ["nodes"]
    with pytest.raises(TypeError, match=key[0]):
        TreeVerifySerialUnit(**bad)


@pytest.mark.parametrize("nodes", [4, 16])
def test_characterisation_measures_full_tree_latency_and_interval(nodes):
    """`specaccel hdl characterise` records, for the serial unit, the cycles from a full
    tree's first record to its response and the interval between responses, both measured;
    here they are checked against the per-record timing measured above (N records, one a
    cycle, then the constant latency after the last)."""
    from specaccel.hdl.characterisation import measure_cycles

    latency, ii = measure_cycles("tree_verify_serial", nodes=nodes, token_width=8)
    unit = TreeVerifySerialUnit(nodes=nodes, token_width=8)
    unit._MustUse__silence = True
    assert (latency, ii) == (nodes - 1 + unit.latency, nodes)


def test_cli_generates_the_serial_unit(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "tvs.v"
    r = subprocess.run([sys.executable, "-m", "specaccel.cli", "hdl", "generate", "--unit",
                        "tree_verify_serial", "--nodes", "128", "--token-width", "18", "-o",
                        str(out), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["unit"] == "tree_verify_serial"
    text = out.read_text()
    assert "module tree_verify_serial" in text and str(tmp_path) not in text
