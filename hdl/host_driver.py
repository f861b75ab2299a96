"""Host side of the board link: a trace's steps as UART bytes, the answers the golden model
expects, and a bit-level simulation of the link.

A trace step is a draft tree with, per node, the draft token and the target's token.  The
board needs each node's *logits*, which a trace does not carry; :func:`tree_requests`
makes them: per step the distinct tokens are renumbered into a vocabulary of ``vocab``
entries (verification depends only on which tokens are equal, so the golden outcome is the
trace's own), and each node gets random bf16 logits whose maximum sits at the target's
token, sometimes tied with a later index (the lower index must win).  A sampled node
(``top_k > 1``) keeps its logits but its target token is whatever the golden
:func:`~specaccel.models.golden.token_selection.select_token` picks from them.

Expectations come from :mod:`specaccel.models.golden` only: ``select_token`` per node,
``verify_tree`` on the tree with those target tokens, ``kv_compaction`` of the path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specaccel.models.golden import bf16, kv_compaction, kv_moves, verify_tree
from specaccel.models.golden.token_selection import NO_TOKEN, select_token
from specaccel.schema.trace import DraftTree

from .host_link import REGISTERS
from .layouts import pack

__all__ = ["HostNode", "HostTree", "decode_commit", "encode_read", "encode_tree",
           "encode_write", "expected_commit", "simulate_link", "tree_requests"]


@dataclass(frozen=True)
class HostNode:
    token: int
    parent: int
    logits: np.ndarray
    top_k: int = 1
    inv_temp: int = 0
    uniform: int = 0


@dataclass(frozen=True)
class HostTree:
    nodes: tuple[HostNode, ...]
    kv_base: int


def encode_write(addr: int, value: int) -> bytes:
    return b"W" + bytes([addr]) + int(value).to_bytes(4, "little")


def encode_read(addr: int) -> bytes:
    return b"R" + bytes([addr])


def encode_tree(core, tree: HostTree) -> bytes:
    """The 'N' commands of every node of `tree` for a core's header layout."""
    hb = -(-core.header_layout.size // 8)
    out = bytearray()
    for i, nd in enumerate(tree.nodes):
        word = pack(core.header_layout, {
            "token": nd.token, "parent": nd.parent, "last": int(i == len(tree.nodes) - 1),
            "top_k": nd.top_k, "inv_temp": nd.inv_temp, "uniform": nd.uniform,
            "kv_base": tree.kv_base})
        out += b"N" + word.to_bytes(hb, "little")
        out += np.asarray(nd.logits, dtype="<u2").tobytes()
    return bytes(out)


def expected_commit(core, tree: HostTree) -> int:
    """The packed commit word the golden model expects for `tree`."""
    sels = [select_token(nd.logits, top_k=nd.top_k, inv_temp=nd.inv_temp,
                         uniform=nd.uniform) for nd in tree.nodes]
    targets = [0 if s.token == NO_TOKEN else s.token for s in sels]
    dt = DraftTree.build([nd.parent for nd in tree.nodes], [nd.token for nd in tree.nodes],
                         targets)
    out = verify_tree(dt)
    path = [int(p) for p in out.path]
    n = core.nodes
    pad = [0] * (n - len(path))
    gather = [int(g) for g in kv_compaction(path, tree.kv_base)]
    moves = sum(1 << (dst - tree.kv_base) for _, dst in kv_moves(path, tree.kv_base))
    vocab = len(tree.nodes[0].logits)
    return pack(core.commit_layout, {
        "verify": {"path": path + pad, "accepted": len(path) - 1,
                   "bonus_token": out.bonus_token, "error": 0},
        "compact": {"gather": gather + pad, "count": len(path), "moves": moves, "error": 0},
        "nan": int(any(s.nan for s in sels)),
        "sample_error": int(vocab > 1 << core.token_width),
    })


def decode_commit(core, data: bytes) -> int:
    return int.from_bytes(data, "little")


def tree_requests(tree: DraftTree, *, vocab: int, kv_base: int, rng: np.random.Generator,
                  p_sampled: float = 0.0) -> HostTree:
    """A trace step as board requests (see the module docstring)."""
    toks = np.concatenate([np.asarray(tree.token[1:]), np.asarray(tree.target_token)])
    distinct = sorted({int(t) for t in toks})
    if len(distinct) > vocab:
        raise ValueError(f"step has {len(distinct)} distinct tokens, more than vocab {vocab}")
    order = rng.permutation(vocab)[:len(distinct)]
    remap = {t: int(order[i]) for i, t in enumerate(distinct)}
    nodes = []
    for i in range(tree.n_nodes):
        target = remap[int(tree.target_token[i])]
        x = rng.normal(0.0, 2.0, vocab).astype(np.float32)
        top = float(x.max()) + float(rng.uniform(0.05, 2.0))
        x[target] = top
        later = np.arange(target + 1, vocab)
        if later.size and rng.random() < 0.3:
            x[rng.choice(later)] = top  # a tie at a higher index: the target must win
        logits = bf16.from_float(x)
        sampled = rng.random() < p_sampled
        nodes.append(HostNode(
            token=remap[int(tree.token[i])] if i else 0,
            parent=int(tree.parent[i]) if i else 0, logits=logits,
            top_k=int(rng.integers(2, 9)) if sampled else 1,
            inv_temp=int(rng.integers(1 << 10, 1 << 14)) if sampled else 0,
            uniform=int(rng.integers(0, 1 << 16)) if sampled else 0))
    return HostTree(tuple(nodes), kv_base)


@dataclass
class LinkRun:
    """What the simulated host received: register values and commit words, in order."""

    reads: list[int]
    commits: list[int]
    cycles: int


def simulate_link(top, *, setup: bytes, trees: list[bytes], reads_after: bytes = b"",
                  max_cycles: int = 50_000_000) -> LinkRun:
    """Drive `top`'s ``rx`` pin with `setup`, then each tree's bytes (waiting for that tree's
    commit before sending the next, as a host on a UART would), then `reads_after`; decode
    what comes back on ``tx``."""
    from amaranth.sim import Simulator

    d = top.receiver.divisor
    cb = top.commit_bytes
    run = LinkRun([], [], 0)
    state = {"done": False, "cycle": 0}

    async def send_byte(ctx, value: int):
        for bit in [0, *[(value >> i) & 1 for i in range(8)], 1]:
            ctx.set(top.rx, bit)
            await ctx.tick().repeat(d)

    async def host(ctx):
        ctx.set(top.rx, 1)
        await ctx.tick().repeat(4 * d)
        for b in setup:
            await send_byte(ctx, b)
        for n, tb in enumerate(trees):
            for b in tb:
                await send_byte(ctx, b)
            while len(run.commits) < n + 1 and state["cycle"] < max_cycles:
                await ctx.tick().repeat(4 * d)
        for b in reads_after:
            await send_byte(ctx, b)
        want_reads = setup.count(b"R") + reads_after.count(b"R")
        while len(run.reads) < want_reads and state["cycle"] < max_cycles:
            await ctx.tick().repeat(4 * d)
        state["done"] = True

    async def receive_byte(ctx) -> int:
        await ctx.negedge(top.tx)
        await ctx.tick().repeat(d + d // 2)
        v = 0
        for i in range(8):
            v |= ctx.get(top.tx) << i
            await ctx.tick().repeat(d)
        return v

    async def listener(ctx):
        while True:
            tag = await receive_byte(ctx)
            if tag == ord("r"):
                data = bytes([await receive_byte(ctx) for _ in range(4)])
                run.reads.append(int.from_bytes(data, "little"))
            elif tag == ord("T"):
                data = bytes([await receive_byte(ctx) for _ in range(cb)])
                run.commits.append(int.from_bytes(data, "little"))
            else:
                raise AssertionError(f"unexpected byte {tag:#x} from the board")

    async def clock_watch(ctx):
        while not state["done"] and state["cycle"] < max_cycles:
            await ctx.tick().repeat(1000)
            state["cycle"] += 1000

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(host)
    sim.add_testbench(listener, background=True)
    sim.add_testbench(clock_watch)
    sim.run()
    run.cycles = state["cycle"]
    return run


#: registers a host reads to identify the board
IDENTIFY = encode_read(REGISTERS["ID"]) + encode_read(REGISTERS["PARAMS"])
