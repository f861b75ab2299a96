"""The whole board design in simulation: a host sends a preset trace over the simulated UART
and every commit the board sends back equals the golden model's.

The design is the board's top (:class:`HostLinkTop`) with a UART divisor of 4 clock cycles
per bit.  The default run uses an N = 8 core (the Amaranth simulator runs the N = 64 board
core at about 100 cycles a second); the slow tests (``pytest -m slow``) replay the board's
own N = 64 core.
"""

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


def _first_nodes(tree: DraftTree, n: int | None) -> DraftTree:
    """The tree's first `n` nodes (parents come before their children, so this is a tree
    of the same shape near the root); all of it for None."""
    if n is None or n >= tree.n_nodes:
        return tree
    return DraftTree.build(tree.parent[:n], tree.token[:n], tree.target_token[:n])


def _trace_trees(preset, *, steps, vocab, seed, p_sampled, max_nodes=None):
    trace = generate_trace(preset, n_requests=1, steps_per_request=steps, seed=seed)
    rng = np.random.default_rng(seed)
    return [hd.tree_requests(_first_nodes(trace.step(s), max_nodes), vocab=vocab,
                             kv_base=int(rng.integers(0, 4000)), rng=rng,
                             p_sampled=p_sampled) for s in range(trace.n_steps)]


SMALL_CORE = dict(BOARD_CORE, nodes=8, token_width=12)


@pytest.mark.parametrize("core, steps", [
    (SMALL_CORE, 4), pytest.param(BOARD_CORE, 3, marks=pytest.mark.slow)])
def test_preset_trace_over_the_uart_equals_golden(core, steps):
    """Steps of a chain preset (6-node trees), one node in four sampled with top-k."""
    top = HostLinkTop(divisor=4, **core)
    trees = _trace_trees("eagle-vicuna-7b-chain5-mtbench", steps=steps, vocab=12, seed=3,
                         p_sampled=0.25)
    _replay(top, trees, 12)


@pytest.mark.parametrize("core, max_nodes", [
    (SMALL_CORE, 8), pytest.param(BOARD_CORE, None, marks=pytest.mark.slow)])
def test_tree_preset_over_the_uart_equals_golden(core, max_nodes):
    """EAGLE's 26-node trees, two steps: whole on the board's N = 64 core (slow), their
    first 8 nodes (still branching) on the N = 8 core in the default run."""
    top = HostLinkTop(divisor=4, **core)
    trees = _trace_trees("eagle-vicuna-7b-mtbench", steps=2, vocab=48, seed=5,
                         p_sampled=0.1, max_nodes=max_nodes)
    parents = [[n.parent for n in t.nodes[1:]] for t in trees]
    assert any(len(set(p)) < len(p) for p in parents)  # a node with two children
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
