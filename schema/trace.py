"""The decode-trace schema (docs/trace-schema.md), as a typed, columnar in-memory object.

A trace is a list of requests; a request has a prompt length and decode steps; a step is
one draft tree.  A tree is stored in topological order: node 0 is the root (the last
committed token) and ``parent[i] < i`` for every other node, ``parent[0] == -1``.
A chain is a tree whose nodes each have one child.

Per node:

``token``
    The draft token at this node (the root's token is the last committed token).
``draft_prob``
    q(token): the draft's probability of this token given its parent (1.0 at the root).
``target_prob``
    p(token): the target's probability of this token under the parent's target
    distribution (1.0 at the root).  In stochastic *tree* traces the k-th sibling's
    p and q are those of the residual distributions after siblings 0..k-1 were rejected
    (SpecInfer multi-step sampling), so verification of each node is the chain rule.
``target_token``
    The target's token after this node: its argmax (greedy) or the token it sampled
    from the (residual) distribution there (stochastic).  It is the correction or
    bonus token when verification stops at this node.
``uniform``
    Optional pre-drawn U(0,1) used to accept or reject this node in stochastic
    verification (NaN where absent), for reproducible replays.

Per step, ``recorded_accepted`` holds the accepted length that an imported real log
recorded (−1 when the step was generated, not imported); outcomes are otherwise always
*computed* by :mod:`specaccel.models.golden`.

The storage is columnar (flat node arrays with offsets), so that a trace of millions of
nodes costs a few arrays and maps one to one onto Parquet list columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
"""Version of the trace schema written by this package.  Readers reject others."""

VERIFICATION_MODES = ("greedy", "stochastic")

MAX_ARRIVAL_S = 1e9
"""The latest arrival time (seconds, about 32 years) of a request, in a trace or drawn
from Poisson arrivals.  The simulator's clock is a float64 of seconds since the first
possible arrival: at 1e9 s it still resolves 0.12 us, so latencies of microseconds keep
their digits; at 1e300 s a whole request's latency is below one step of the clock and
every percentile came out 0."""

NODE_FIELDS = ("parent", "token", "draft_prob", "target_prob", "target_token", "uniform")
NODE_DTYPES: dict[str, Any] = {
    "parent": np.int32,
    "token": np.int64,
    "draft_prob": np.float64,
    "target_prob": np.float64,
    "target_token": np.int64,
    "uniform": np.float64,
}

STEP_METADATA = ("exit_layer", "tokens_per_step", "step_seconds")
"""Metadata lists that hold one value per step of the trace (the exit layer of an
early-exit or self-drafting step, ...).  A trace of some of the requests keeps the values
of the steps it keeps (:func:`metadata_of_steps`)."""


def metadata_of_steps(metadata: dict[str, Any], steps: np.ndarray, n_steps: int
                      ) -> dict[str, Any]:
    """`metadata` of a trace of `n_steps` steps, for a trace of its steps `steps` (global
    indices, in order): each :data:`STEP_METADATA` list of one value per step is indexed,
    everything else kept.  `metadata` itself when it holds no such list."""
    keys = [k for k in STEP_METADATA
            if isinstance(metadata.get(k), list) and len(metadata[k]) == n_steps]
    if not keys:
        return metadata
    out = dict(metadata)
    for k in keys:
        out[k] = np.asarray(metadata[k])[np.asarray(steps, dtype=np.int64)].tolist()
    return out


@dataclass(frozen=True)
class DraftTree:
    """One decode step: a draft tree and what the target said about it (views, no copies)."""

    parent: np.ndarray
    token: np.ndarray
    draft_prob: np.ndarray
    target_prob: np.ndarray
    target_token: np.ndarray
    uniform: np.ndarray
    recorded_accepted: int = -1

    @property
    def n_nodes(self) -> int:
        """Number of nodes including the root."""
        return int(self.parent.shape[0])

    @property
    def depth(self) -> int:
        """Depth of the deepest node (the root has depth 0)."""
        return int(node_depths(self.parent).max()) if self.n_nodes else 0

    @classmethod
    def build(
        cls,
        parent: Any,
        token: Any,
        target_token: Any,
        *,
        draft_prob: Any = None,
        target_prob: Any = None,
        uniform: Any = None,
        recorded_accepted: int = -1,
    ) -> DraftTree:
        """Make a tree from sequences; probabilities default to 1.0 and uniforms to NaN."""
        p = np.asarray(parent, dtype=np.int32)
        n = p.shape[0]

        def col(x: Any, name: str, default: float) -> np.ndarray:
            if x is None:
                return np.full(n, default, dtype=NODE_DTYPES[name])
            return np.asarray(x, dtype=NODE_DTYPES[name])

        return cls(
            parent=p,
            token=np.asarray(token, dtype=np.int64),
            draft_prob=col(draft_prob, "draft_prob", 1.0),
            target_prob=col(target_prob, "target_prob", 1.0),
            target_token=np.asarray(target_token, dtype=np.int64),
            uniform=col(uniform, "uniform", np.nan),
            recorded_accepted=int(recorded_accepted),
        )


def metadata_json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for trace metadata: NumPy scalars and arrays as Python."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"metadata value of type {type(obj).__name__} is not JSON-serialisable")


def node_depths(parent: np.ndarray) -> np.ndarray:
    """Depth of every node from its parent pointers (root depth 0); needs parent[i] < i."""
    depth = np.zeros(parent.shape[0], dtype=np.int32)
    for i in range(1, parent.shape[0]):
        depth[i] = depth[parent[i]] + 1
    return depth


@dataclass
class Trace:
    """A decode trace: requests → steps → draft-tree nodes, stored columnar.

    Attributes
    ----------
    request_id:
        One string per request.
    prompt_len:
        Prompt length in tokens per request (int64, shape ``(R,)``).
    arrival_s:
        Arrival time in seconds per request (float64, ``(R,)``; 0 for closed-loop replay).
    request_step_offsets:
        Steps of request r are ``request_step_offsets[r]:request_step_offsets[r+1]``.
    step_node_offsets:
        Nodes of step s are ``step_node_offsets[s]:step_node_offsets[s+1]``.
    nodes:
        The node columns of :data:`NODE_FIELDS`, flat over all steps.
    recorded_accepted:
        Per step, the accepted length recorded by an imported log, or −1.
    verification:
        ``"greedy"`` or ``"stochastic"``: which rule decides acceptance.
    metadata:
        Provenance (generator, preset, seed, model names, source file) and the settings
        the simulator reads; a closed set of keys (:mod:`.trace_metadata`).
    """

    request_id: list[str]
    prompt_len: np.ndarray
    arrival_s: np.ndarray
    request_step_offsets: np.ndarray
    step_node_offsets: np.ndarray
    nodes: dict[str, np.ndarray]
    recorded_accepted: np.ndarray
    verification: str = "greedy"
    metadata: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    # ------------------------------------------------------------------ sizes
    @property
    def n_requests(self) -> int:
        return len(self.request_id)

    @property
    def n_steps(self) -> int:
        return int(self.step_node_offsets.shape[0] - 1)

    @property
    def n_nodes(self) -> int:
        return int(self.step_node_offsets[-1])

    def nodes_per_step(self) -> np.ndarray:
        return np.diff(self.step_node_offsets)

    def steps_per_request(self) -> np.ndarray:
        return np.diff(self.request_step_offsets)

    def step_request(self) -> np.ndarray:
        """Index of the request that each step belongs to (``(S,)``)."""
        return np.repeat(np.arange(self.n_requests), self.steps_per_request())

    # ------------------------------------------------------------------ access
    def step(self, s: int) -> DraftTree:
        """The tree of global step `s` (views into the columns)."""
        a, b = int(self.step_node_offsets[s]), int(self.step_node_offsets[s + 1])
        n = self.nodes
        return DraftTree(
            parent=n["parent"][a:b],
            token=n["token"][a:b],
            draft_prob=n["draft_prob"][a:b],
            target_prob=n["target_prob"][a:b],
            target_token=n["target_token"][a:b],
            uniform=n["uniform"][a:b],
            recorded_accepted=int(self.recorded_accepted[s]),
        )

    def request_steps(self, r: int) -> range:
        """Global step indices of request `r`."""
        return range(int(self.request_step_offsets[r]), int(self.request_step_offsets[r + 1]))

    def iter_steps(self) -> Iterator[tuple[int, int, DraftTree]]:
        """Yield ``(request index, step index within the request, tree)``."""
        for r in range(self.n_requests):
            for k, s in enumerate(self.request_steps(r)):
                yield r, k, self.step(s)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_trees(
        cls,
        requests: list[tuple[str, int, list[DraftTree]]],
        *,
        verification: str = "greedy",
        arrival_s: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> Trace:
        """Assemble a trace from ``(request_id, prompt_len, [trees])`` tuples."""
        trees = [t for _, _, ts in requests for t in ts]
        step_sizes = np.array([t.n_nodes for t in trees], dtype=np.int64)
        step_off = np.zeros(len(trees) + 1, dtype=np.int64)
        np.cumsum(step_sizes, out=step_off[1:])
        req_off = np.zeros(len(requests) + 1, dtype=np.int64)
        np.cumsum([len(ts) for _, _, ts in requests], out=req_off[1:])
        nodes = {
            f: (np.concatenate([getattr(t, f) for t in trees]).astype(NODE_DTYPES[f], copy=False)
                if trees else np.zeros(0, dtype=NODE_DTYPES[f]))
            for f in NODE_FIELDS
        }
        return cls(
            request_id=[str(rid) for rid, _, _ in requests],
            prompt_len=np.array([p for _, p, _ in requests], dtype=np.int64),
            arrival_s=(np.zeros(len(requests)) if arrival_s is None
                       else np.asarray(arrival_s, dtype=np.float64)),
            request_step_offsets=req_off,
            step_node_offsets=step_off,
            nodes=nodes,
            recorded_accepted=np.array([t.recorded_accepted for t in trees], dtype=np.int32),
            verification=verification,
            metadata=dict(metadata or {}),
        )

    def select_requests(self, idx: Any) -> Trace:
        """A new trace holding the requests `idx` (in that order)."""
        idx = [int(i) for i in np.atleast_1d(idx)]
        parts = []
        for r in idx:
            parts.append((self.request_id[r], int(self.prompt_len[r]),
                          [self.step(s) for s in self.request_steps(r)]))
        steps = np.array([s for r in idx for s in self.request_steps(r)], dtype=np.int64)
        return Trace.from_trees(parts, verification=self.verification,
                                arrival_s=self.arrival_s[idx],
                                metadata=metadata_of_steps(self.metadata, steps, self.n_steps))

    def equals(self, other: Trace) -> bool:
        """Exact equality of contents (NaN uniforms compare equal)."""
        if (self.request_id != other.request_id or self.verification != other.verification
                or self.schema_version != other.schema_version):
            return False
        pairs = [
            (self.prompt_len, other.prompt_len),
            (self.arrival_s, other.arrival_s),
            (self.request_step_offsets, other.request_step_offsets),
            (self.step_node_offsets, other.step_node_offsets),
            (self.recorded_accepted, other.recorded_accepted),
        ] + [(self.nodes[f], other.nodes[f]) for f in NODE_FIELDS]
        return all(
            a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
            for a, b in pairs
        )
