"""Synthetic decode traces: a tree shape plus an acceptance model, sampled with numpy.

All steps of a trace share one :class:`~specaccel.workloads.tree_shapes.TreeShape`, so
the generator works on ``(steps, nodes)`` arrays and loops in Python only over sibling
positions and ranks (a handful), never over steps or nodes.

What is drawn, per step (see :mod:`.acceptance_model` for the model):

1. a draft confidence ``c_v`` for every node ``v`` that has children
   (:meth:`~specaccel.workloads.acceptance_model.AcceptanceModel.sample_confidence`);
2. for every non-root node ``i`` (parent ``v``, rank ``r``): its calibrated draft
   probability ``q_i = P(R_v = r | c_v)`` and its hazard given that no earlier-listed
   sibling was chosen, ``h_i = q_i / (1 − Σ_{earlier siblings j} q_j)``;
3. a uniform ``u_i``; the node is *the target's choice* when ``u_i < h_i`` and no earlier
   sibling was, so the target chooses the rank-r child with probability ``P(R_v = r)``
   and none of the listed children with the remaining probability;
4. tokens: the children of ``v`` get distinct tokens, and ``target_token[v]`` is the token
   of the chosen child, or a token distinct from all children when none was chosen
   (a leaf's target token is a random bonus token).

Greedy traces store ``draft_prob = q``, ``target_prob`` = the target's one-hot
distribution at temperature 0 (1.0 for its argmax child, 0.0 for the others) and NaN
uniforms.  Stochastic traces store SpecInfer residuals: ``draft_prob = h`` (the
calibrated draft's residual after the earlier siblings), ``target_prob = h · draft_prob``
(so the acceptance probability ``min(1, p/q)`` is ``h``) and the uniforms ``u``.

Outcomes (accepted paths) are never stored: :func:`specaccel.models.golden.verify_trace`
computes them, and by construction it accepts exactly the chosen children.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from specaccel.models.golden.tree_verify import greedy_accepts, stochastic_accepts
from specaccel.schema.errors import InputError
from specaccel.schema.trace import NODE_DTYPES, Trace
from specaccel.workloads.acceptance_model import AcceptanceModel
from specaccel.workloads.tree_shapes import TreeShape

VOCAB_SIZE = 32000
#: Most nodes a synthetic trace may have (2**26: about 3 GB of node columns); a larger
#: request is almost surely a typo, and would die of MemoryError halfway.
MAX_TRACE_NODES = 1 << 26
"""Token ids are drawn from ``[0, VOCAB_SIZE)`` (the Llama/Vicuna vocabulary size)."""

_C_MIN = 1e-6  # confidences are clipped into [_C_MIN, 1 - _C_MIN] so q > 0 and sums < 1


@dataclass(frozen=True)
class PromptLengths:
    """Prompt-length distribution: log-normal with a median and σ, clipped to [low, high].

    ``sigma == 0`` gives a constant prompt length equal to the median.
    """

    median: float
    sigma: float = 0.0
    low: int = 1
    high: int = 1 << 20

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """`n` prompt lengths (int64)."""
        if self.sigma == 0.0:
            x = np.full(n, self.median)
        else:
            x = np.exp(rng.normal(math.log(self.median), self.sigma, size=n))
        return np.clip(np.rint(x), self.low, self.high).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": "lognormal" if self.sigma else "constant",
                "median": self.median, "sigma": self.sigma, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class _ShapePlan:
    """Static index sets of a shape that the vectorised sampler needs."""

    internal: np.ndarray  # nodes with children
    child_depth_of_internal: np.ndarray
    n_children: np.ndarray  # per node
    position: np.ndarray  # sibling position of each node (root 0)
    by_position: list[np.ndarray]  # non-root nodes at sibling position k
    prev_sibling: np.ndarray  # previous sibling of each node, or -1
    rank_levels: list[np.ndarray]  # rank_levels[t]: non-root nodes with rank > t


def _plan(shape: TreeShape) -> _ShapePlan:
    parent = shape.parent
    n = shape.n_nodes
    n_children = shape.n_children()
    position = np.zeros(n, dtype=np.int32)
    prev_sibling = np.full(n, -1, dtype=np.int64)
    last_child = np.full(n, -1, dtype=np.int64)
    for i in range(1, n):
        p = parent[i]
        prev_sibling[i] = last_child[p]
        position[i] = 0 if last_child[p] < 0 else position[last_child[p]] + 1
        last_child[p] = i
    nonroot = np.arange(1, n)
    by_position = [nonroot[position[1:] == k] for k in range(int(position.max()) + 1)] \
        if n > 1 else []
    max_rank = int(shape.rank.max())
    rank_levels = [nonroot[shape.rank[1:] > t] for t in range(max_rank)]
    internal = np.flatnonzero(n_children > 0)
    return _ShapePlan(
        internal=internal,
        child_depth_of_internal=shape.depth[internal] + 1,
        n_children=n_children,
        position=position,
        by_position=by_position,
        prev_sibling=prev_sibling,
        rank_levels=rank_levels,
    )


CHUNK_STEPS = 4096
"""Steps sampled per chunk: small enough that a chunk's arrays stay in cache, large enough
that the per-chunk Python overhead is negligible.  Part of the seed → trace mapping."""


def sample_steps(shape: TreeShape, model: AcceptanceModel, n_steps: int,
                 rng: np.random.Generator, *,
                 verification: str = "greedy") -> dict[str, np.ndarray]:
    """Sample `n_steps` draft trees of `shape`; returns flat node columns (NODE_FIELDS).

    Each column has ``n_steps * shape.n_nodes`` entries, step-major.  Steps are sampled in
    chunks of :data:`CHUNK_STEPS`; within a chunk the arrays are node-major
    ``(nodes, steps)``, so that every gather over parents or siblings moves whole
    contiguous rows.
    """
    if verification not in ("greedy", "stochastic"):
        raise ValueError(f"verification must be 'greedy' or 'stochastic', not {verification!r}")
    plan = _plan(shape)
    s, n = int(n_steps), shape.n_nodes
    out = {name: np.empty(s * n, dtype=NODE_DTYPES[name]) for name in NODE_DTYPES}
    out["parent"] = np.tile(shape.parent, s).astype(NODE_DTYPES["parent"], copy=False)
    for a in range(0, s, CHUNK_STEPS):
        b = min(s, a + CHUNK_STEPS)
        views = {name: col[a * n:b * n].reshape(b - a, n).T for name, col in out.items()}
        _sample_chunk(shape, plan, model, b - a, rng, verification, views)
    return out


def _sample_chunk(shape: TreeShape, plan: _ShapePlan, model: AcceptanceModel, s: int,
                  rng: np.random.Generator, verification: str,
                  out: dict[str, np.ndarray]) -> None:
    """Sample `s` steps into the node-major views `out[name]` (shape ``(nodes, s)``)."""
    n = shape.n_nodes
    parent = shape.parent.astype(np.int64)
    kids = parent[1:]

    # 1. draft confidence of every node with children (rows of `conf`, via `row_of`)
    row_of = np.zeros(n, dtype=np.int64)
    row_of[plan.internal] = np.arange(plan.internal.size)
    mean = model.alpha_at(plan.child_depth_of_internal)[:, None]
    conf = model.sample_confidence(mean, rng.random((plan.internal.size, s)))
    np.clip(conf, _C_MIN, 1.0 - _C_MIN, out=conf)
    c_par = conf[row_of[kids]]  # (n-1, s): confidence of each non-root node's parent

    # 2. calibrated draft probability q and sibling hazard h of every non-root node
    g = model.rank_weight(np.arange(int(shape.rank.max()) + 1))
    q = np.empty((n, s), dtype=np.float64)
    q[0] = 1.0
    np.multiply(c_par, g[shape.rank[1:]][:, None], out=q[1:])
    for t, nodes in enumerate(plan.rank_levels):  # ∏_{j < r} (1 - c g_j)
        q[nodes] *= 1.0 - c_par[nodes - 1] * g[t]
    cum = np.zeros((n, s), dtype=np.float64)
    for nodes in plan.by_position[1:]:
        prev = plan.prev_sibling[nodes]
        cum[nodes] = cum[prev] + q[prev]
    hazard = cum  # reuse the buffer: h = min(q / (1 - cum), 1)
    np.subtract(1.0, cum, out=hazard)
    np.divide(q, hazard, out=hazard)
    np.minimum(hazard, 1.0, out=hazard)
    hazard[0] = 1.0

    # 3. uniforms and the target's choice
    u = rng.random((n, s))
    u[0] = np.nan
    if verification == "greedy":
        out["draft_prob"][:] = q
        chosen = u[1:] < hazard[1:]
        out["uniform"][:] = np.nan
    else:
        out["draft_prob"][:] = hazard
        target_prob = hazard * hazard
        target_prob[0] = 1.0
        out["target_prob"][:] = target_prob
        chosen = stochastic_accepts(u[1:], hazard[1:], target_prob[1:])
        out["uniform"][:] = u

    # 4. tokens: the children of v are base_v + 1 .. base_v + k_v; "none chosen" is a token
    #    f outside that block (f + k_v when f > base_v)
    k = plan.n_children.astype(np.int64)[:, None]
    kmax = int(k.max())
    base = rng.integers(0, VOCAB_SIZE - kmax - 1, size=(n, s), dtype=np.int64)
    fresh = rng.integers(0, VOCAB_SIZE - kmax, size=(n, s), dtype=np.int64)
    fresh += k * (fresh > base)
    token = np.empty((n, s), dtype=np.int64)
    token[0] = rng.integers(0, VOCAB_SIZE, size=s)
    np.add(base[kids], (1 + plan.position[1:])[:, None], out=token[1:])
    target_token = fresh
    for nodes in reversed(plan.by_position):  # lowest position written last: it wins
        par = parent[nodes]
        target_token[par] = np.where(chosen[nodes - 1], token[nodes], target_token[par])
    out["token"][:] = token
    out["target_token"][:] = target_token
    if verification == "greedy":  # temperature 0: p is the target's one-hot distribution
        tp = out["target_prob"]
        tp[0] = 1.0
        tp[1:] = greedy_accepts(token[1:], target_token[kids])


def check_trace_size(n_requests: int, steps_per_request: int, nodes_per_step: int) -> None:
    """Raise InputError if the trace would exceed `MAX_TRACE_NODES`: field ``steps`` when
    one request's steps alone exceed it, else ``requests``."""
    total = n_requests * steps_per_request * nodes_per_step
    if total > MAX_TRACE_NODES:
        one_request = steps_per_request * nodes_per_step > MAX_TRACE_NODES
        raise InputError(f"{n_requests} requests x {steps_per_request} steps x "
                         f"{nodes_per_step} nodes = {total} nodes is more than the "
                         f"{MAX_TRACE_NODES} a trace may hold",
                         field="steps" if one_request else "requests")


def synthesize_trace(shape: TreeShape, model: AcceptanceModel, *, n_requests: int,
                     steps_per_request: int, seed: int = 0, verification: str = "greedy",
                     prompt_lengths: PromptLengths | None = None,
                     metadata: dict[str, Any] | None = None) -> Trace:
    """A seeded synthetic trace: `n_requests` requests of `steps_per_request` steps on `shape`.

    The same arguments always give the same trace (``np.random.default_rng(seed)``).
    """
    if n_requests < 1 or steps_per_request < 1:
        raise ValueError(f"need n_requests >= 1 and steps_per_request >= 1, "
                         f"not {n_requests} and {steps_per_request}")
    check_trace_size(n_requests, steps_per_request, shape.n_nodes)
    rng = np.random.default_rng(seed)
    prompts = (prompt_lengths or PromptLengths(median=128)).sample(rng, n_requests)
    n_steps = n_requests * steps_per_request
    nodes = sample_steps(shape, model, n_steps, rng, verification=verification)
    meta = {
        "generator": "specaccel.workloads.synthetic",
        "seed": int(seed),
        "tree": shape.describe(),
        "acceptance_model": model.to_dict(),
    }
    meta.update(metadata or {})
    return Trace(
        request_id=[f"r{r:05d}" for r in range(n_requests)],
        prompt_len=prompts,
        arrival_s=np.zeros(n_requests, dtype=np.float64),
        request_step_offsets=np.arange(n_requests + 1, dtype=np.int64) * steps_per_request,
        step_node_offsets=np.arange(n_steps + 1, dtype=np.int64) * shape.n_nodes,
        nodes=nodes,
        recorded_accepted=np.full(n_steps, -1, dtype=np.int32),
        verification=verification,
        metadata=meta,
    )
