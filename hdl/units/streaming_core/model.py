"""Vector model of ``streaming_core`` (:class:`.gateware.StreamingSpecDecodeCore`): a decode
step as node headers and logit beats, the ``commit`` word the golden model expects, and an
Amaranth-simulator driver that measures cycles.

Expectations are composed only from the golden model, through the vector models of the
three units inside the core:

* each node's target token: the sampling unit's expectation
  (:meth:`~specaccel.hdl.units.sampling.model.SamplingRequest.expected`, i.e.
  :func:`~specaccel.models.golden.token_selection.select_token` with ``top_k`` clamped to
  ``[1, max_top_k]``);
* the verify response: :func:`~specaccel.models.golden.verify_tree` on the tree with those
  target tokens (:class:`~specaccel.hdl.units.tree_verify_serial.model.
  SerialVerifyVectorModel`), or its error response for a tree the golden model rejects;
* the compaction response: :func:`~specaccel.models.golden.kv_compaction` of the accepted
  path at the root's ``kv_base`` (:class:`~specaccel.hdl.units.kv_compact.model.
  CompactVectorModel`; the error response when a slot is past ``slot_width`` bits, and
  the compaction of the empty path ``[0]`` after a verify error, as the units define it);
* the flags: ``nan`` when any node's logits hold a NaN, ``sample_error`` when any node has
  more logits than ``2**token_width`` (then the sampled tokens, and so the verify and
  compaction fields, are not specified: :attr:`CoreVector.care` leaves them out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Shape

from specaccel.hdl.layouts import pack
from specaccel.hdl.tree_vectors import SHAPES, random_parents
from specaccel.hdl.units.kv_compact.model import CompactVectorModel
from specaccel.hdl.units.sampling.model import SamplingRequest, random_logits
from specaccel.hdl.units.tree_verify_serial.model import SerialVerifyVectorModel
from specaccel.models.golden import bf16
from specaccel.models.golden.token_selection import INV_TEMP_WIDTH, UNIFORM_WIDTH
from specaccel.schema.trace import DraftTree

__all__ = ["CoreNode", "CoreStep", "CoreVector", "CoreRun", "StreamingCoreVectorModel",
           "measure_cycles", "run_core"]

#: trees of the cycle measurement
CYCLE_TREES = 8


@dataclass(frozen=True)
class CoreNode:
    """One node of a step: draft ``token``, ``parent`` (the root's is ignored), its bf16
    logits and sampling fields."""

    token: int
    parent: int
    logits: np.ndarray
    top_k: int = 1
    inv_temp: int = 0
    uniform: int = 0


@dataclass(frozen=True)
class CoreStep:
    """A decode step: its nodes, root first, and the root's KV slot."""

    nodes: tuple[CoreNode, ...]
    kv_base: int


@dataclass(frozen=True)
class CoreVector:
    """A step as the core's input words, and the commit word the golden model expects.

    ``headers`` has one word per node (``last`` on the final one); ``beats[i]`` are node
    i's logit beats.  Only the bits set in ``care`` of a commit are specified."""

    headers: list[int]
    beats: list[list[int]]
    commit: int
    care: int
    features: frozenset = frozenset()

    def matches(self, word: int) -> bool:
        return (word ^ self.commit) & self.care == 0


class StreamingCoreVectorModel:
    """Vectors for a :class:`.gateware.StreamingSpecDecodeCore` of these parameters."""

    def __init__(self, *, nodes: int, lanes: int = 4, max_top_k: int = 8,
                 token_width: int = 18, slot_width: int = 16) -> None:
        from .gateware import commit_layout, logit_beat_layout, node_header_layout

        self.nodes, self.lanes, self.max_top_k = nodes, lanes, max_top_k
        self.token_width, self.slot_width = token_width, slot_width
        self.vocab = 1 << token_width
        self.header_layout = node_header_layout(nodes=nodes, token_width=token_width,
                                                slot_width=slot_width)
        self.beat_layout = logit_beat_layout(lanes=lanes)
        self.commit_layout = commit_layout(nodes=nodes, token_width=token_width,
                                           slot_width=slot_width)
        self.verify = SerialVerifyVectorModel(nodes=nodes, token_width=token_width)
        self.compact = CompactVectorModel(nodes=nodes, slot_width=slot_width)

    # -- packing ---------------------------------------------------------------------------

    def headers(self, step: CoreStep) -> list[int]:
        last = len(step.nodes) - 1
        return [pack(self.header_layout, {
            "token": nd.token, "parent": nd.parent if i else 0, "last": int(i == last),
            "top_k": nd.top_k, "inv_temp": nd.inv_temp, "uniform": nd.uniform,
            "kv_base": step.kv_base}) for i, nd in enumerate(step.nodes)]

    def beats(self, logits: np.ndarray) -> list[int]:
        """A node's logit beats: full beats of W lanes and a short last one."""
        w = self.lanes
        v = len(logits)
        counts = [w] * (v // w) + ([v % w] if v % w or not v else [])
        words, pos = [], 0
        for b, count in enumerate(counts):
            lanes = [int(x) for x in logits[pos:pos + count]] + [0] * (w - count)
            pos += count
            words.append(pack(self.beat_layout, {"lanes": lanes, "count": count,
                                                 "last": int(b == len(counts) - 1)}))
        return words

    # -- expectations ----------------------------------------------------------------------

    def selections(self, step: CoreStep) -> list[tuple[int, int, int, int]]:
        """(token, found, nan, error) of every node, as the sampling unit must answer."""
        return [SamplingRequest(nd.logits, nd.top_k, nd.inv_temp, nd.uniform).expected(
            max_top_k=self.max_top_k, vocab=self.vocab) for nd in step.nodes]

    def vector(self, step: CoreStep) -> CoreVector:
        """The step's input words and expected commit (see the module docstring)."""
        n = len(step.nodes)
        if not 1 <= n <= self.nodes:
            raise ValueError(f"a step has 1 .. {self.nodes} nodes, not {n}")
        sels = self.selections(step)
        sample_error = any(s[3] == 1 for s in sels)
        nan = any(s[2] == 1 for s in sels)
        parents = [-1] + [nd.parent for nd in step.nodes[1:]]
        tokens = [nd.token for nd in step.nodes]
        targets = [max(s[0], 0) for s in sels]
        features = set()
        if any(not 0 <= p < i for i, p in enumerate(parents) if i):
            vv = self.verify.invalid_vector(n, [max(p, 0) for p in parents], tokens, targets)
            path = [0]
            features.add("error:bad_parent")
        else:
            vv = self.verify.vector(DraftTree.build(parents, tokens, targets))
            path = [int(p) for p in self.verify.unpack_response(vv.response)["path"]
                    ][:vv.accepted + 1]
            features.add(f"accepted:{vv.accepted}")
        if step.kv_base + path[-1] >= 1 << self.slot_width:
            _, compact = self.compact.overflow_vector(path, step.kv_base)
            features.add("error:slot_overflow")
        else:
            _, compact = self.compact.vector(path, step.kv_base)
        commit = pack(self.commit_layout, {"verify": vv.response, "compact": compact,
                                           "nan": int(nan), "sample_error": int(sample_error)})
        care = (1 << self.commit_layout.size) - 1
        if sample_error:  # the tokens are not specified: only the flags are
            care = 0
            for name in ("nan", "sample_error"):
                field = self.commit_layout[name]
                care |= ((1 << Shape.cast(field.shape).width) - 1) << field.offset
            features.add("sample_error")
        if nan:
            features.add("nan")
        if any(min(max(nd.top_k, 1), self.max_top_k) > 1 for nd in step.nodes):
            features.add("sampled")
        return CoreVector(self.headers(step), [self.beats(nd.logits) for nd in step.nodes],
                          commit, care, frozenset(features))

    # -- stimulus --------------------------------------------------------------------------

    def random_step(self, rng: np.random.Generator, *, n: int | None = None,
                    max_vocab: int | None = None, greedy: bool = False) -> CoreStep:
        """A random step of `n` nodes (random when None) over a small vocabulary: most
        nodes' logits peak at one token (a later tie sometimes), which the children's draft
        tokens copy often enough for long accepted paths; some nodes get raw bf16 patterns
        (NaN, infinities, ties) or (unless `greedy`) are sampled with top-k at a
        temperature; KV bases reach the top of the slot range."""
        n = int(rng.integers(1, self.nodes + 1)) if n is None else n
        top_v = min(self.vocab, max_vocab or 3 * self.lanes + 3)
        v = int(rng.integers(1, top_v + 1))
        parent = random_parents(rng, n, SHAPES[int(rng.integers(0, len(SHAPES)))])
        rate = float(rng.uniform(0.3, 1.0))
        targets, nodes = [], []
        for i in range(n):
            kind = rng.random()
            if kind < 0.1:
                x = random_logits(rng, v)
            else:
                f = rng.normal(0.0, 2.0, v).astype(np.float32)
                peak = int(rng.integers(0, v))
                f[peak] = float(f.max()) + float(rng.uniform(0.0, 2.0))
                later = np.arange(peak + 1, v)
                if later.size and rng.random() < 0.3:
                    f[int(rng.choice(later))] = f[peak]  # a tie: the lower index wins
                x = bf16.from_float(f)
            sampled = not greedy and rng.random() < 0.25
            node = CoreNode(token=0, parent=0, logits=x,
                            top_k=int(rng.integers(0, self.max_top_k + 2)) if sampled else 1,
                            inv_temp=int(rng.integers(0, 1 << INV_TEMP_WIDTH)) if sampled
                            else 0,
                            uniform=int(rng.integers(0, 1 << UNIFORM_WIDTH)) if sampled
                            else 0)
            targets.append(max(SamplingRequest(x, node.top_k, node.inv_temp, node.uniform)
                               .expected(max_top_k=self.max_top_k, vocab=self.vocab)[0], 0))
            if i:
                p = int(parent[i])
                token = (targets[p] if rng.random() < rate
                         else int(rng.integers(0, min(self.vocab, v + 2))))
                node = CoreNode(token, p, x, node.top_k, node.inv_temp, node.uniform)
            nodes.append(node)
        top = 1 << self.slot_width
        base = (int(rng.integers(max(0, top - 2 * self.nodes), top)) if rng.random() < 0.2
                else int(rng.integers(0, max(1, top - self.nodes))))
        return CoreStep(tuple(nodes), base)

    def edge_case_steps(self) -> list[CoreStep]:
        """Directed steps: the root alone; a chain of N nodes all accepted (the longest
        path, also a KV base at the last slot that still fits and one past it); a star
        where no draft is accepted; a tie at a later index that the draft must not take;
        a NaN node; a bad parent pointer; a vocabulary past the index width (only when the
        core's vocabulary is small enough to simulate); logits not a multiple of the
        lanes; top-k sampled nodes with uniform 0 and the largest."""
        f = bf16.from_float
        w, n_max = self.lanes, self.nodes
        v = min(2 * w + 1, self.vocab)
        top_slot = (1 << self.slot_width) - 1

        def base(b: int) -> int:  # a KV base at which an N-node path still fits
            return max(0, min(b, top_slot + 1 - n_max))

        def peaked(at: int, size: int = v) -> np.ndarray:
            x = np.full(size, f([-1.0])[0], np.uint16)
            x[at % size] = f([3.0])[0]
            return x

        chain = tuple(CoreNode(token=(i * 5) % v if i else 0, parent=i - 1,
                               logits=peaked(((i + 1) * 5) % v)) for i in range(n_max))
        steps = [
            CoreStep((CoreNode(0, 0, peaked(3)),), 0),
            CoreStep(chain, 0),
            CoreStep(chain, top_slot - (n_max - 1)),  # the last slot that fits
            CoreStep(chain, top_slot - (n_max - 2)),  # one past it: compaction error
            CoreStep(tuple(CoreNode(token=(1 if i else 0), parent=0, logits=peaked(2))
                           for i in range(n_max)), base(7)),
        ]
        # a tie at the peak and a later index: the lower index is the target
        tie = peaked(1)
        tie[v - 1] = tie[1]
        steps.append(CoreStep((CoreNode(0, 0, tie), CoreNode(v - 1, 0, peaked(0)),
                               CoreNode(1, 0, peaked(0))), base(100)))
        # a NaN among the root's logits (the flag), its children still verified
        nan = peaked(2)
        nan[0] = 0x7FC0
        steps.append(CoreStep((CoreNode(0, 0, nan), CoreNode(2, 0, peaked(4))), base(9)))
        if n_max >= 3:  # node 2's parent is not below it
            steps.append(CoreStep((CoreNode(0, 0, peaked(1)), CoreNode(1, 0, peaked(1)),
                                   CoreNode(1, 2, peaked(1))), base(5)))
        # one logit per node, and W - 1 logits (a single short beat)
        steps.append(CoreStep((CoreNode(0, 0, f([0.5])), CoreNode(0, 0, f([0.25]))), base(3)))
        steps.append(CoreStep((CoreNode(0, 0, peaked(0, max(w - 1, 1))),), base(3)))
        # top-k sampled nodes at both ends of the uniform
        x = f(np.arange(v, dtype=np.float32) * 0.125)
        for u in (0, (1 << UNIFORM_WIDTH) - 1):
            steps.append(CoreStep((CoreNode(0, 0, x, self.max_top_k, 1 << 12, u),
                                   CoreNode(v - 1, 0, x, self.max_top_k, 1 << 12, u)), base(11)))
        if self.vocab < 4 * w + 64:  # past the index width: the sampling error flag
            steps.append(CoreStep((CoreNode(0, 0, peaked(0, self.vocab + 1)),), base(1)))
        return steps


@dataclass
class CoreRun:
    """Commit words in order, and the cycles of every transfer."""

    commits: list[int]
    commit_cycles: list[int]
    first_header_cycles: list[int]
    last_beat_cycles: list[int]
    cycles: int


def run_core(core, vectors: list[CoreVector], *, seed: int = 0, p_valid: float = 1.0,
             p_ready: float = 1.0, max_cycles: int | None = None) -> CoreRun:
    """Stream `vectors` through `core` in the Amaranth simulator: headers and logit beats
    by two producers of their own (each keeps the stream rule), ``commit`` with random
    back-pressure and a :class:`~specaccel.hdl.stream_protocol.StreamMonitor`."""
    from amaranth.sim import Simulator

    from specaccel.hdl.stream_protocol import StreamMonitor

    rng = np.random.default_rng(seed)
    headers = [(h, i == 0) for v in vectors for i, h in enumerate(v.headers)]
    beats = [(b, i == len(v.beats) - 1 and k == len(bs) - 1) for v in vectors
             for i, bs in enumerate(v.beats) for k, b in enumerate(bs)]
    limit = max_cycles or 1000 + 250 * len(headers) + 4 * len(beats)
    run = CoreRun([], [], [], [], 0)
    monitor = StreamMonitor("commit")

    async def bench(ctx):
        sent = {"node": 0, "logits": 0}
        offer = {"node": False, "logits": False}
        words = {"node": headers, "logits": beats}
        ports = {"node": core.node, "logits": core.logits}
        cycle = 0
        while len(run.commits) < len(vectors) and cycle < limit:
            for name, port in ports.items():
                offer[name] = offer[name] or (sent[name] < len(words[name])
                                              and rng.random() < p_valid)
                ctx.set(port.valid, int(offer[name]))
                if offer[name]:
                    ctx.set(port.payload.as_value(), words[name][sent[name]][0])
            ready = rng.random() < p_ready
            ctx.set(core.commit.ready, int(ready))
            valid = ctx.get(core.commit.valid)
            monitor.observe(cycle, valid, ready,
                            ctx.get(core.commit.payload.as_value()) if valid else 0)
            for name, port in ports.items():
                if offer[name] and ctx.get(port.ready):
                    word, marked = words[name][sent[name]]
                    if marked:
                        (run.first_header_cycles if name == "node"
                         else run.last_beat_cycles).append(cycle)
                    sent[name] += 1
                    offer[name] = False
            if ready and valid:
                run.commits.append(ctx.get(core.commit.payload.as_value()))
                run.commit_cycles.append(cycle)
            await ctx.tick()
            cycle += 1
        run.cycles = cycle

    sim = Simulator(core)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return run


def measure_cycles(unit, rng: np.random.Generator) -> tuple[int, float]:
    """(latency, II) of `unit` as the registry characterises it: full-size greedy steps
    (N nodes) of one-beat nodes (W logits each) back to back, commit always ready; latency
    from a tree's last logit beat to its commit, II the steady interval between commits
    (nodes this short are paced by the sampling unit's two credits, not by the stream: a
    long node takes a header cycle and its ``ceil(V / W)`` beats)."""
    from specaccel.hdl.amaranth_stream_driver import steady_interval

    model = StreamingCoreVectorModel(nodes=unit.nodes, lanes=unit.lanes,
                                     max_top_k=unit.max_top_k, token_width=unit.token_width,
                                     slot_width=unit.slot_width)
    vectors = []
    for _ in range(CYCLE_TREES):
        step = model.random_step(rng, n=unit.nodes, max_vocab=unit.lanes, greedy=True)
        nodes = tuple(CoreNode(nd.token, nd.parent,
                               bf16.from_float(rng.normal(0, 3, unit.lanes)))
                      for nd in step.nodes)
        vectors.append(model.vector(CoreStep(nodes, step.kv_base)))
    run = run_core(unit, vectors)
    if not all(v.matches(c) for v, c in zip(vectors, run.commits, strict=True)):
        raise RuntimeError("streaming core: a commit differs from the golden model's")
    lat = {c - b for c, b in zip(run.commit_cycles, run.last_beat_cycles, strict=True)}
    if len(lat) != 1:
        raise RuntimeError(f"streaming core: latency varies between trees: {sorted(lat)}")
    return lat.pop(), steady_interval(run.commit_cycles)
