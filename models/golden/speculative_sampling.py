"""Stochastic verification on explicit distributions: speculative sampling, chain and tree.

This module computes the *distributions* of speculative sampling — residuals, the per-node
``(target_prob, draft_prob)`` pairs of the trace schema, and the correction/bonus token —
while the accept/reject decision of every node is made by the single golden rule,
:func:`specaccel.models.golden.verify_tree` / :func:`~specaccel.models.golden.verify_trace`
in ``"stochastic"`` mode (``uniform * draft_prob < target_prob``).  Nothing here decides
acceptance on its own.

Notation, per tree node ``i`` (node 0 is the root, the last committed token):

``target_dist[i]``
    the target's next-token distribution after the prefix that ends at node ``i``;
``draft_dist[i]``
    the draft's next-token distribution there, from which the children of ``i`` were
    drafted (unused for ``draft_sampling="deterministic"``).

**Multi-step speculative sampling** (SpecInfer; Sequoia's without-replacement variant;
EAGLE-2's deterministic top-k drafts).  At a node with target distribution ``P`` and
draft distribution ``Q``, the children ``c_1, c_2, ...`` are tried in node-index order.
Child ``c_k`` is verified with ``target_prob = P_k(x)`` and ``draft_prob = Q_k(x)``
(``x`` its token) where ``P_1 = P``, ``Q_1 = Q`` and, after ``c_k`` is rejected,

* ``P_{k+1} = norm(max(0, P_k - Q_k))`` (the residual);
* ``Q_{k+1} = Q_k`` for ``"with_replacement"`` (children drawn i.i.d. from ``Q``);
* ``Q_{k+1} = norm(Q_k`` with ``x`` set to 0) for ``"without_replacement"`` (children
  drawn from ``Q`` without replacement);
* for ``"deterministic"`` drafts (the top-k of the draft, chosen without randomness)
  ``Q_k`` is the point mass on ``x``: ``draft_prob = 1``, accept with probability
  ``P_k(x)``, and ``P_{k+1}`` is ``P_k`` with ``x`` removed and renormalised.

These are exactly the residual-adjusted columns that :mod:`specaccel.schema.trace`
defines for stochastic tree traces.  When every child of a node is rejected (or it has
none), the correction/bonus token is sampled from the final residual ``P_{K+1}`` of that
node; :func:`tree_to_trace_columns` writes that sample into ``target_token[i]`` for every
node, so the golden walk's ``target_token[path[-1]]`` is the committed extra token.  In
each case the committed token is distributed exactly as the target ``P``, whatever
``Q`` is.

A chain is the special case of one child per node: ``P_1 = p_i``, ``Q_1 = q_i``, the
residual at the first rejection is ``norm(max(0, p_i - q_i))``, and after ``γ`` accepted
drafts the bonus token is sampled from ``p_γ``.

**Sampling convention** (same as :func:`specaccel.models.golden.token_selection`):
with a uniform ``v`` in ``[0, 1)``, the token is the first index whose cumulative
probability exceeds ``v * total``; zero-probability tokens are never chosen.

**Degenerate residual:** ``max(0, P - Q)`` has zero mass only when ``P == Q``, in which
case the rejection that would use it has probability zero; the residual is then left
equal to ``P_k`` (a documented convention, never reached with positive probability).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from specaccel.models.golden.tree_verify import verify_trace, verify_tree
from specaccel.schema.trace import NODE_DTYPES, NODE_FIELDS, DraftTree, Trace

DRAFT_SAMPLING = ("with_replacement", "without_replacement", "deterministic")
"""Ways the siblings of a draft tree were drawn (see the module docstring)."""

_MASS_EPS = 1e-15


def _draft_sampling_code(draft_sampling: str) -> int:
    try:
        return DRAFT_SAMPLING.index(draft_sampling)
    except ValueError:
        raise ValueError(
            f"draft_sampling must be one of {', '.join(DRAFT_SAMPLING)}, not {draft_sampling!r}"
        ) from None


# ---------------------------------------------------------------------------- kernels
@numba.njit(cache=True, nogil=True)
def _sample_index(dist, v):
    """First index whose cumulative weight exceeds ``v * sum(dist)`` (-1 if all zero)."""
    total = 0.0
    for j in range(dist.shape[0]):
        total += dist[j]
    if total <= 0.0:
        return -1
    threshold = v * total
    cum = 0.0
    last_positive = -1
    for j in range(dist.shape[0]):
        if dist[j] > 0.0:
            cum += dist[j]
            last_positive = j
            if cum > threshold:
                return j
    return last_positive  # rounding: v * total >= the float sum


@numba.njit(cache=True, nogil=True)
def _residual_inplace(p, q):
    """``p <- norm(max(0, p - q))``; left unchanged when that has (numerically) no mass."""
    mass = 0.0
    for j in range(p.shape[0]):
        d = p[j] - q[j]
        if d > 0.0:
            mass += d
    if mass <= _MASS_EPS:
        return
    for j in range(p.shape[0]):
        d = p[j] - q[j]
        p[j] = d / mass if d > 0.0 else 0.0


@numba.njit(cache=True, nogil=True)
def _remove_and_renormalise(dist, x):
    """``dist[x] <- 0`` then renormalise (all zeros stay zeros)."""
    dist[x] = 0.0
    mass = 0.0
    for j in range(dist.shape[0]):
        mass += dist[j]
    if mass > _MASS_EPS:
        for j in range(dist.shape[0]):
            dist[j] = dist[j] / mass


@numba.njit(cache=True, nogil=True)
def _tree_columns_kernel(step_off, parent, token, residual, qstate, sample_u, mode,
                         target_prob, draft_prob, target_token):
    """Fill the residual-adjusted columns of every step (see the module docstring).

    ``residual`` enters as ``target_dist`` and leaves as each node's final residual;
    ``qstate`` enters as ``draft_dist`` and is consumed.  One pass in node order visits
    the siblings of every node in index order, because ``parent[c] < c``.
    """
    n_steps = step_off.shape[0] - 1
    for s in range(n_steps):
        a = step_off[s]
        b = step_off[s + 1]
        target_prob[a] = 1.0
        draft_prob[a] = 1.0
        for c in range(a + 1, b):
            par = a + parent[c]
            x = token[c]
            target_prob[c] = residual[par, x]
            if mode == 2:  # deterministic draft: Q_k is the point mass on x
                draft_prob[c] = 1.0
                _remove_and_renormalise(residual[par], x)
            else:
                draft_prob[c] = qstate[par, x]
                _residual_inplace(residual[par], qstate[par])
                if mode == 1:
                    _remove_and_renormalise(qstate[par], x)
        for i in range(a, b):
            target_token[i] = _sample_index(residual[i], sample_u[i])


# ---------------------------------------------------------------------------- helpers
def residual_distribution(p, q) -> np.ndarray:
    """``norm(max(0, p - q))`` over the last axis; where it has no mass, ``p`` itself.

    Parameters
    ----------
    p, q:
        Target and draft distributions, shape ``(..., V)``.
    """
    p = np.asarray(p, dtype=np.float64)
    d = np.maximum(p - np.asarray(q, dtype=np.float64), 0.0)
    mass = d.sum(axis=-1, keepdims=True)
    ok = mass > _MASS_EPS
    return np.where(ok, d / np.where(ok, mass, 1.0), p)


def acceptance_rate(p, q) -> np.ndarray:
    """Probability that one token drafted from ``q`` is accepted against ``p``: ``Σ min(p, q)``."""
    return np.minimum(np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)).sum(-1)


def sample_tokens(dist, v) -> np.ndarray:
    """Inverse-CDF samples from each row of ``dist`` (``(..., V)``) with uniforms ``v`` (``(...)``).

    The token is the first index whose cumulative probability exceeds ``v * row_sum``.
    """
    dist = np.asarray(dist, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    cum = np.cumsum(dist, axis=-1)
    thr = v * cum[..., -1]
    idx = (cum <= thr[..., None]).sum(axis=-1)
    # rounding can push idx past the last positive entry: take the last positive one
    last_pos = dist.shape[-1] - 1 - np.argmax((dist > 0)[..., ::-1], axis=-1)
    return np.minimum(idx, last_pos).astype(np.int64)


def _check_dists(name: str, d: np.ndarray, n: int) -> None:
    if d.ndim != 2 or d.shape[0] != n:
        raise ValueError(f"{name} must have shape (n_nodes={n}, V), not {d.shape}")
    if np.any(d < 0) or not np.all(np.isfinite(d)):
        raise ValueError(f"{name} must be finite and non-negative")
    sums = d.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > 1e-6):
        i = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"{name}[{i}] sums to {sums[i]:.9g}, not 1")


# ---------------------------------------------------------------------------- trees
@dataclass(frozen=True)
class TreeColumns:
    """Trace node columns for stochastic trees, plus each node's final residual.

    Attributes
    ----------
    nodes:
        The :data:`~specaccel.schema.trace.NODE_FIELDS` columns, flat over all steps.
    residual:
        ``(n_nodes, V)``: the distribution ``target_token[i]`` was sampled from (the
        residual after all children of ``i`` were rejected; ``target_dist[i]`` at leaves).
    step_node_offsets:
        Nodes of step ``s`` are ``step_node_offsets[s]:step_node_offsets[s+1]``.
    """

    nodes: dict[str, np.ndarray]
    residual: np.ndarray
    step_node_offsets: np.ndarray

    @property
    def n_steps(self) -> int:
        return int(self.step_node_offsets.shape[0] - 1)

    def tree(self, s: int = 0) -> DraftTree:
        """The :class:`DraftTree` of step ``s`` (views)."""
        a, b = int(self.step_node_offsets[s]), int(self.step_node_offsets[s + 1])
        return DraftTree(**{f: self.nodes[f][a:b] for f in NODE_FIELDS})

    def to_trace(self, *, request_id: str = "r0", prompt_len: int = 0,
                 metadata: dict | None = None) -> Trace:
        """All steps as one request of a ``"stochastic"`` :class:`Trace` (no copies)."""
        n_steps = self.n_steps
        return Trace(
            request_id=[request_id],
            prompt_len=np.array([prompt_len], dtype=np.int64),
            arrival_s=np.zeros(1),
            request_step_offsets=np.array([0, n_steps], dtype=np.int64),
            step_node_offsets=self.step_node_offsets,
            nodes=self.nodes,
            recorded_accepted=np.full(n_steps, -1, dtype=np.int32),
            verification="stochastic",
            metadata=dict(metadata or {"generator": "speculative_sampling"}),
        )


def tree_to_trace_columns(
    parent,
    token,
    target_dist,
    draft_dist,
    node_uniform,
    sample_uniform,
    *,
    draft_sampling: str = "with_replacement",
    step_node_offsets=None,
) -> TreeColumns:
    """Residual-adjusted trace columns of one or many stochastic draft trees.

    Parameters
    ----------
    parent, token:
        Per node, flat over all steps; ``parent`` is local to each step (root ``-1``,
        ``parent[i] < i``).  Siblings are tried in index order.
    target_dist, draft_dist:
        ``(n_nodes, V)`` distributions at every node (see the module docstring);
        ``draft_dist`` may be ``None`` for ``draft_sampling="deterministic"``.
    node_uniform:
        U(0,1) per node deciding its acceptance (the root's entry is ignored; NaN is
        written there).
    sample_uniform:
        U(0,1) per node used to sample ``target_token`` from the node's final residual.
    draft_sampling:
        One of :data:`DRAFT_SAMPLING`.
    step_node_offsets:
        Step boundaries (``(S+1,)``); default: one step holding every node.

    Returns
    -------
    TreeColumns
        Columns whose golden verification is multi-step speculative sampling.
    """
    mode = _draft_sampling_code(draft_sampling)
    parent = np.ascontiguousarray(parent, dtype=np.int32)
    token = np.ascontiguousarray(token, dtype=np.int64)
    n = parent.shape[0]
    off = (np.array([0, n], dtype=np.int64) if step_node_offsets is None
           else np.ascontiguousarray(step_node_offsets, dtype=np.int64))
    if off[0] != 0 or off[-1] != n or np.any(np.diff(off) < 1):
        raise ValueError("step_node_offsets must rise from 0 to n_nodes, >= 1 node per step")
    residual = np.array(target_dist, dtype=np.float64, order="C", copy=True)
    _check_dists("target_dist", residual, n)
    vocab = residual.shape[1]
    if mode == 2 and draft_dist is None:
        qstate = np.zeros((n, vocab))
    else:
        qstate = np.array(draft_dist, dtype=np.float64, order="C", copy=True)
        if qstate.shape != residual.shape:
            raise ValueError(f"draft_dist must have shape {residual.shape}, not {qstate.shape}")
        if np.any(qstate < 0) or not np.all(np.isfinite(qstate)):
            raise ValueError("draft_dist must be finite and non-negative")
    local = np.arange(n) - np.repeat(off[:-1], np.diff(off))
    roots = local == 0
    if np.any(parent[roots] != -1) or np.any(
        (parent[~roots] < 0) | (parent[~roots] >= local[~roots])
    ):
        raise ValueError("parents must be -1 at each step's root and in [0, i) elsewhere")
    if np.any((token < 0) | (token >= vocab)):
        raise ValueError(f"tokens must be in [0, {vocab})")
    node_uniform = np.asarray(node_uniform, dtype=np.float64)
    sample_uniform = np.ascontiguousarray(sample_uniform, dtype=np.float64)
    if node_uniform.shape != (n,) or sample_uniform.shape != (n,):
        raise ValueError(f"node_uniform and sample_uniform need shape ({n},)")

    target_prob = np.empty(n, dtype=np.float64)
    draft_prob = np.empty(n, dtype=np.float64)
    target_token = np.empty(n, dtype=np.int64)
    _tree_columns_kernel(off, parent, token, residual, qstate, sample_uniform, mode,
                         target_prob, draft_prob, target_token)
    uniform = np.where(roots, np.nan, node_uniform)
    nodes = {
        "parent": parent, "token": token, "draft_prob": draft_prob,
        "target_prob": target_prob, "target_token": target_token, "uniform": uniform,
    }
    nodes = {f: nodes[f].astype(NODE_DTYPES[f], copy=False) for f in NODE_FIELDS}
    return TreeColumns(nodes=nodes, residual=residual, step_node_offsets=off)


@dataclass(frozen=True)
class TreeSamplingOutcome:
    """Outcome of stochastic verification of one tree.

    Attributes
    ----------
    path:
        Accepted node indices, root first (from :func:`verify_tree`).
    bonus_token:
        The committed extra token (correction, or bonus after a fully accepted branch).
    residual:
        The distribution ``bonus_token`` was sampled from.
    tree:
        The residual-adjusted :class:`DraftTree` that was verified.
    """

    path: np.ndarray
    bonus_token: int
    residual: np.ndarray
    tree: DraftTree

    @property
    def accepted(self) -> int:
        return int(self.path.shape[0]) - 1

    @property
    def committed(self) -> np.ndarray:
        """Accepted draft tokens then the bonus token."""
        return np.append(self.tree.token[self.path[1:]], self.bonus_token).astype(np.int64)


def speculative_tree(parent, token, target_dist, draft_dist, node_uniform, sample_uniform, *,
                     draft_sampling: str = "with_replacement") -> TreeSamplingOutcome:
    """Multi-step speculative sampling of one draft tree, decided by :func:`verify_tree`."""
    cols = tree_to_trace_columns(parent, token, target_dist, draft_dist, node_uniform,
                                 sample_uniform, draft_sampling=draft_sampling)
    tree = cols.tree(0)
    out = verify_tree(tree, "stochastic")
    last = int(out.path[-1])
    return TreeSamplingOutcome(path=out.path, bonus_token=out.bonus_token,
                               residual=cols.residual[last], tree=tree)


@dataclass(frozen=True)
class BatchSamplingOutcome:
    """Outcomes of many stochastic steps (columnar).

    Attributes
    ----------
    accepted:
        Accepted draft tokens per step ``(S,)``.
    bonus_token:
        Correction/bonus token per step ``(S,)``.
    residual:
        ``(S, V)``: the distribution each bonus token was sampled from.
    last_node:
        ``(S,)``: local index of the last accepted node of each step.
    columns:
        The verified :class:`TreeColumns`.
    path_flat:
        Accepted paths in each step's node slots (see :class:`TraceOutcome`).
    """

    accepted: np.ndarray
    bonus_token: np.ndarray
    residual: np.ndarray
    last_node: np.ndarray
    columns: TreeColumns
    path_flat: np.ndarray

    def path(self, s: int) -> np.ndarray:
        a = int(self.columns.step_node_offsets[s])
        return self.path_flat[a: a + int(self.accepted[s]) + 1]


def speculative_trees(parent, token, target_dist, draft_dist, node_uniform, sample_uniform, *,
                      step_node_offsets, draft_sampling: str = "with_replacement"
                      ) -> BatchSamplingOutcome:
    """Many steps at once: columns by :func:`tree_to_trace_columns`, verdicts by
    :func:`verify_trace` (the compiled golden walk)."""
    cols = tree_to_trace_columns(parent, token, target_dist, draft_dist, node_uniform,
                                 sample_uniform, draft_sampling=draft_sampling,
                                 step_node_offsets=step_node_offsets)
    out = verify_trace(cols.to_trace())
    off = cols.step_node_offsets
    last_local = out.path_flat[off[:-1] + out.accepted].astype(np.int64)
    return BatchSamplingOutcome(
        accepted=out.accepted, bonus_token=out.bonus_token,
        residual=cols.residual[off[:-1] + last_local], last_node=last_local,
        columns=cols, path_flat=out.path_flat,
    )


# ---------------------------------------------------------------------------- chains
@dataclass(frozen=True)
class ChainOutcome:
    """Outcome(s) of speculative sampling of chains (scalars, or arrays for a batch).

    Attributes
    ----------
    accepted:
        Accepted drafts (``0..γ``).
    token:
        Correction token (sampled from the residual at the first rejection) or bonus
        token (sampled from ``p_γ`` when all drafts were accepted).
    residual:
        The distribution ``token`` was sampled from, ``(..., V)``.
    """

    accepted: np.ndarray | int
    token: np.ndarray | int
    residual: np.ndarray


def speculative_chains(target_dists, draft_dists, drafts, uniforms, sample_uniform
                       ) -> ChainOutcome:
    """Speculative sampling (Leviathan et al. / Chen et al.) of a batch of chains.

    Parameters
    ----------
    target_dists:
        ``(N, γ+1, V)``: ``p_i``, the target distribution after prefix + ``i`` drafts.
    draft_dists:
        ``(N, γ, V)``: ``q_i``, the draft distribution that drafted token ``i``.
    drafts:
        ``(N, γ)`` drafted tokens.
    uniforms:
        ``(N, γ)`` U(0,1) deciding each draft (``u·q(x) < p(x)`` through the golden rule).
    sample_uniform:
        ``(N,)`` U(0,1) used to sample the correction/bonus token.

    Returns
    -------
    ChainOutcome
        Arrays ``accepted (N,)``, ``token (N,)``, ``residual (N, V)``.
    """
    p = np.asarray(target_dists, dtype=np.float64)
    q = np.asarray(draft_dists, dtype=np.float64)
    x = np.asarray(drafts, dtype=np.int64)
    u = np.asarray(uniforms, dtype=np.float64)
    v = np.asarray(sample_uniform, dtype=np.float64)
    if p.ndim != 3:
        raise ValueError(f"target_dists must be (N, γ+1, V), not {p.shape}")
    n_chains, g1, vocab = p.shape
    gamma = g1 - 1
    if q.shape != (n_chains, gamma, vocab) or x.shape != (n_chains, gamma) or u.shape != x.shape:
        raise ValueError("draft_dists (N, γ, V), drafts and uniforms (N, γ) must match "
                         f"target_dists {p.shape}")
    if v.shape != (n_chains,):
        raise ValueError(f"sample_uniform must have shape ({n_chains},)")
    # a chain is a tree with one child per node: node i is "after i drafts"
    parent = np.tile(np.arange(-1, gamma, dtype=np.int32), n_chains)
    token = np.concatenate([np.zeros((n_chains, 1), dtype=np.int64), x], axis=1).ravel()
    qfull = np.concatenate([q, np.zeros((n_chains, 1, vocab))], axis=1).reshape(-1, vocab)
    node_u = np.concatenate([np.full((n_chains, 1), np.nan), u], axis=1).ravel()
    out = speculative_trees(
        parent, token, p.reshape(-1, vocab), qfull, node_u, np.repeat(v, g1),
        step_node_offsets=np.arange(0, n_chains * g1 + 1, g1, dtype=np.int64),
    )
    return ChainOutcome(accepted=out.accepted, token=out.bonus_token, residual=out.residual)


def speculative_chain(target_dists, draft_dists, drafts, uniforms, sample_uniform: float
                      ) -> ChainOutcome:
    """One chain: ``target_dists (γ+1, V)``, ``draft_dists (γ, V)``, ``drafts``/``uniforms (γ,)``.

    Returns a :class:`ChainOutcome` of Python ints and the ``(V,)`` residual.
    """
    out = speculative_chains(np.asarray(target_dists)[None], np.asarray(draft_dists)[None],
                             np.asarray(drafts)[None], np.asarray(uniforms)[None],
                             np.array([sample_uniform], dtype=np.float64))
    return ChainOutcome(accepted=int(out.accepted[0]), token=int(out.token[0]),
                        residual=out.residual[0])
