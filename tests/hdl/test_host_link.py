"""The whole board design in simulation: a host sends a preset trace over the simulated UART
and every commit the board sends back equals the golden model's.

The design is the board's top (:class:`HostLinkTop`) with a UART divisor of 4 clock cycles
per bit.  The default run uses an N = 8 core (the Amaranth simulator runs the N = 64 board
core at about 100 cycles a second); the slow tests replay the board's own N = 64 core.
"""

import os

import numpy as np
import pytest

from specaccel.hdl import host_driver as hd
from specaccel.hdl.board import BOARD_CORE
from specaccel.hdl.host_link import ID_VALUE, REGISTERS, HostLinkTop
from specaccel.schema.trace import DraftTree
from specaccel.workloads.presets import generate_trace


def _replay(top, trees, vocab):
    setup = hd.encode_write(REGISTERS["VOCAB"], vocab) + hd.IDENTIFY
    after = (hd.encode_write(REGISTERS["SCRATCH"], 0xA5A5F00D)
             + hd.encode_read(REGISTERS["SCRATCH"]) + hd.encode_read(REGISTERS["TREES"])
             + hd.encode_read(REGISTERS["NODES"]) + hd.encode_read(REGISTERS["VOCAB"]))
    run = hd.simulate_link(top, setup=setup, trees=[hd.encode_tree(top.core, t) for t in trees],
                           reads_after=after, max_cycles=20_000_000)
    want = [hd.expected_commit(top.core, t) for t in trees]
    assert len(run.commits) == len(trees)
    bad = [(i, top.core.commit_layout.from_bits(g), top.core.commit_layout.from_bits(w))
           for i, (g, w) in enumerate(zip(run.commits, want, strict=True)) if g != w]
    assert not bad, bad[:1]
    params = (top.core.nodes | top.core.lanes << 8 | top.core.max_top_k << 16
              | top.core.token_width << 24)
    n_nodes = sum(len(t.nodes) for t in trees)
    assert run.reads == [ID_VALUE, params, 0xA5A5F00D, len(trees), n_nodes, vocab]
    return run


def _trace_trees(preset, *, steps, vocab, seed, p_sampled):
    trace = generate_trace(preset, n_requests=1, steps_per_request=steps, seed=seed)
    rng = np.random.default_rng(seed)
    return [hd.tree_requests(trace.step(s), vocab=vocab, kv_base=int(rng.integers(0, 4000)),
                             rng=rng, p_sampled=p_sampled) for s in range(trace.n_steps)]


SMALL_CORE = dict(BOARD_CORE, nodes=8, token_width=12)


#: opt-in: the N = 64 board core runs at about 100 simulated cycles a second
LONG = pytest.mark.skipif(not os.environ.get("SPECACCEL_LONG_HDL"),
                          reason="set SPECACCEL_LONG_HDL=1 for the N = 64 replays (minutes each)")


@pytest.mark.parametrize("core, steps", [
    (SMALL_CORE, 4), pytest.param(BOARD_CORE, 3, marks=[pytest.mark.slow, LONG])])
def test_preset_trace_over_the_uart_equals_golden(core, steps):
    """Steps of a chain preset (6-node trees), one node in four sampled with top-k."""
    top = HostLinkTop(divisor=4, **core)
    trees = _trace_trees("eagle-vicuna-7b-chain5-mtbench", steps=steps, vocab=12, seed=3,
                         p_sampled=0.25)
    _replay(top, trees, 12)


@pytest.mark.slow
@LONG
def test_tree_preset_over_the_uart_equals_golden():
    """EAGLE's 26-node trees (two steps; the default run replays the chain preset)."""
    top = HostLinkTop(divisor=4, **BOARD_CORE)
    trees = _trace_trees("eagle-vicuna-7b-mtbench", steps=2, vocab=48, seed=5,
                         p_sampled=0.1)
    _replay(top, trees, 48)


def test_malformed_trees_and_edge_logits():
    """An all-NaN node (its token is the lowest index, and the tree's NaN flag is set) in a
    small core with 3-bit tokens and two lanes."""
    top = HostLinkTop(divisor=4, nodes=4, lanes=2, max_top_k=3, token_width=3)
    rng = np.random.default_rng(1)
    t = hd.tree_requests(DraftTree.build([0, 0, 1], [0, 2, 3], [2, 3, 1]), vocab=8,
                         kv_base=5, rng=rng)
    nan_node = hd.HostNode(2, 0, np.array([0x7FC0] * 8, np.uint16))
    trees = [t, hd.HostTree((t.nodes[0], nan_node), 9)]
    _replay(top, trees, 8)
