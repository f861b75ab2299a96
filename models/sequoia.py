"""Sequoia tree search: the draft tree that maximises expected tokens per step.

Positional acceptance model (Sequoia, Chen et al. 2024): ``r_k`` is the probability that
the rank-``k`` child of an accepted node is the child that gets accepted (ranks are the
draft's confidence order, which is the node-index order the golden walk uses; see
:func:`specaccel.models.theory.marginal_from_conditional` for the conditional form).  A
tree's value is ``F(T) = Σ_nodes Π_path r`` — expected tokens committed per step,
including the bonus token (:func:`specaccel.models.theory.tree_expected_tokens`).

Dynamic program (exact sizes, height bound; ``V`` the subtree value):

* ``G[m, l]`` — best value of a subtree of exactly ``m`` nodes whose leaves are at most
  ``l`` levels below its root; ``G[1, l] = 1``;
* ``H[m, l, b]`` — the same with exactly ``b`` children at the root, ranks ``1..b``:
  ``H[1, l, 0] = 1`` and
  ``H[m, l, b] = max_s H[m − s, l, b − 1] + r_b · G[s, l − 1]`` (the rank-``b`` child's
  subtree has ``s`` nodes);
* ``G[m, l] = max_b H[m, l, b]``, ``b <= len(r)``.

It costs ``O(N² · D · len(r))`` for ``N`` nodes and depth ``D``.  The best tree within a
node *budget* is the best over exact sizes ``<= budget`` (``F`` grows with size, so it is
the exact size whenever that is feasible under the depth and width bounds).

**Node budget** counts every node of the verify pass *including the root* (the last
committed token, whose target output gives the first new token): a budget of ``B`` is a
target forward pass over ``B`` query tokens.  **Depth** ``d`` is the height of the tree
below the root, which is the number of draft forward passes needed to grow it level by
level.

Hardware-aware choice (:func:`choose_tree`): over budgets ``B`` with measured or modelled
verify times ``t_verify(B)`` and depths ``d``, minimise the time per committed token
``(d · t_draft + t_verify(B)) / F_best(B, d)``; the speedup is the plain autoregressive
time per token (one target pass over one token, ``t_baseline``) over that time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numba
import numpy as np

from specaccel.schema.errors import InputError

_NEG = -np.inf


#: Largest node budget of the dynamic program: 4096 nodes with 3 ranks need ~0.4 GB of
#: tables and minutes of search (published Sequoia trees have a few hundred nodes).
MAX_NODES = 4096

@numba.njit(cache=True, nogil=True)
def _sequoia_dp(r, max_nodes, max_depth, best, branch, split):
    """Fill ``best[m, l]`` (= G), ``branch[m, l]`` (argmax b) and ``split[m, l, b]`` (s)."""
    w = r.shape[0]
    h = np.full((max_nodes + 1, w + 1), -np.inf)  # H[., l, .] for the current l
    for l in range(max_depth + 1):
        h[:, :] = -np.inf
        h[1, 0] = 1.0
        best[1, l] = 1.0
        branch[1, l] = 0
        for m in range(2, max_nodes + 1):
            if l == 0:
                continue
            for b in range(1, w + 1):
                top = -np.inf
                arg = -1
                for s in range(1, m):
                    left = h[m - s, b - 1]
                    sub = best[s, l - 1]
                    if left == -np.inf or sub == -np.inf:
                        continue
                    v = left + r[b - 1] * sub
                    if v > top:
                        top = v
                        arg = s
                h[m, b] = top
                split[m, l, b] = arg
            g = -np.inf
            gb = -1
            for b in range(1, w + 1):
                if h[m, b] > g:
                    g = h[m, b]
                    gb = b
            best[m, l] = g
            branch[m, l] = gb


@dataclass(frozen=True)
class SequoiaTable:
    """The solved dynamic program for one acceptance vector, up to a size and depth.

    Attributes
    ----------
    rank_acceptance:
        Sequoia's per-rank vector ``r`` (marginal form).
    best_exact:
        ``(N+1, D+1)``: best value with exactly ``m`` nodes and height ``<= l``
        (``-inf`` where no tree fits).
    """

    rank_acceptance: np.ndarray
    best_exact: np.ndarray
    branch: np.ndarray
    split: np.ndarray

    @property
    def max_nodes(self) -> int:
        return int(self.best_exact.shape[0] - 1)

    @property
    def max_depth(self) -> int:
        return int(self.best_exact.shape[1] - 1)

    def _check(self, budget: int, depth: int | None) -> tuple[int, int]:
        depth = self.max_depth if depth is None else int(depth)
        if not (1 <= budget <= self.max_nodes):
            raise InputError(f"must be in [1, {self.max_nodes}], not {budget}", field="budget")
        if not (0 <= depth <= self.max_depth):
            raise InputError(f"must be in [0, {self.max_depth}], not {depth}", field="depth")
        return int(budget), depth

    def best_size(self, budget: int, depth: int | None = None) -> int:
        """Size (``<= budget``) of the best tree of height ``<= depth`` (smallest on ties)."""
        budget, depth = self._check(budget, depth)
        col = self.best_exact[1: budget + 1, depth]
        return int(np.argmax(col)) + 1

    def expected_tokens(self, budget: int, depth: int | None = None) -> float:
        """Best expected tokens per step with ``<= budget`` nodes and height ``<= depth``."""
        budget, depth = self._check(budget, depth)
        return float(self.best_exact[1: budget + 1, depth].max())

    def tree(self, budget: int, depth: int | None = None) -> np.ndarray:
        """The best tree as a parent list: breadth first, siblings by rank (root ``-1``)."""
        budget, depth = self._check(budget, depth)
        m = self.best_size(budget, depth)
        parent = [-1]
        queue = deque([(0, m, depth)])
        while queue:
            node, size, lev = queue.popleft()
            sizes = []
            b = int(self.branch[size, lev]) if size > 1 else 0
            rest = size
            for k in range(b, 0, -1):
                s = int(self.split[rest, lev, k])
                sizes.append(s)
                rest -= s
            for s in reversed(sizes):  # rank 1 first
                parent.append(node)
                queue.append((len(parent) - 1, s, lev - 1))
        return np.asarray(parent, dtype=np.int64)


    def height(self, budget: int, depth: int | None = None) -> int:
        """Height of the best tree of :meth:`tree` (its deepest node; below `depth` when
        deeper nodes add nothing, e.g. the root alone under zero acceptance)."""
        parent = self.tree(budget, depth)
        level = np.zeros(parent.size, dtype=np.int64)
        for i in range(1, parent.size):  # breadth first: a parent precedes its children
            level[i] = level[parent[i]] + 1
        return int(level.max())


def sequoia_table(rank_acceptance, max_nodes: int, max_depth: int | None = None
                  ) -> SequoiaTable:
    """Solve the dynamic program for trees of up to `max_nodes` nodes and height `max_depth`.

    Parameters
    ----------
    rank_acceptance:
        Sequoia's marginal per-rank vector ``r`` (entries in ``[0, 1]``, ``Σ r <= 1``);
        its length is the largest number of children per node.
    max_nodes:
        Largest node budget (root included), ``>= 1``.
    max_depth:
        Largest height below the root (default ``max_nodes - 1``: unbounded).
    """
    r = np.ascontiguousarray(rank_acceptance, dtype=np.float64)
    if r.ndim != 1 or r.size == 0 or not np.all((r >= 0) & (r <= 1)):
        raise InputError("must be a non-empty list of probabilities in [0, 1]",
                         field="acceptance")
    if r.sum() > 1 + 1e-9:
        raise InputError(f"per-rank (marginal) probabilities sum to {r.sum():.6g} > 1",
                         field="acceptance")
    if isinstance(max_nodes, bool) or int(max_nodes) != max_nodes or max_nodes < 1:
        raise InputError(f"must be an integer >= 1, not {max_nodes}", field="max_nodes")
    max_nodes = int(max_nodes)
    if max_nodes > MAX_NODES:
        raise InputError(f"must be <= {MAX_NODES} (the table grows as nodes^2 and the "
                         f"search as nodes^3), not {max_nodes}", field="max_nodes")
    if max_depth is None:
        max_depth = max_nodes - 1
    if int(max_depth) != max_depth or max_depth < 0:
        raise InputError(f"must be an integer >= 0, not {max_depth}", field="max_depth")
    max_depth = min(int(max_depth), max_nodes - 1)
    best = np.full((max_nodes + 1, max_depth + 1), _NEG)
    branch = np.zeros((max_nodes + 1, max_depth + 1), dtype=np.int32)
    split = np.zeros((max_nodes + 1, max_depth + 1, r.size + 1), dtype=np.int32)
    _sequoia_dp(r, max_nodes, max_depth, best, branch, split)
    return SequoiaTable(rank_acceptance=r, best_exact=best, branch=branch, split=split)


@dataclass(frozen=True)
class TreeChoice:
    """One (budget, depth) candidate of the hardware-aware search."""

    budget: int
    depth: int
    nodes: int
    expected_tokens: float
    verify_time_s: float
    step_time_s: float
    time_per_token_s: float
    speedup: float


def choose_tree(table: SequoiaTable, budgets, verify_times_s, draft_time_s: float,
                baseline_time_s: float, max_depth: int | None = None
                ) -> tuple[TreeChoice, list[TreeChoice]]:
    """The (budget, depth) minimising ``(d · t_draft + t_verify(B)) / F_best(B, d)``.

    Parameters
    ----------
    table:
        The solved dynamic program (its ``max_nodes`` must cover every budget).
    budgets, verify_times_s:
        Node budgets and the target's verify-pass time for each.
    draft_time_s:
        Time of one draft forward pass (one tree level).
    baseline_time_s:
        Time of one plain autoregressive target pass (one token); speedup is this over
        the time per committed token.
    max_depth:
        Depths ``1..max_depth`` are searched (default: the table's).

    Returns
    -------
    (best, per_budget)
        The best candidate, and the best candidate of each budget (in input order).
        Ties go to the smaller budget, then the smaller depth.
    """
    budgets = [int(b) for b in budgets]
    times = [float(t) for t in verify_times_s]
    if len(budgets) != len(times) or not budgets:
        raise InputError(f"{len(times)} target times for {len(budgets)} budgets",
                         field="target_times")
    if any(not (t > 0 and np.isfinite(t)) for t in times):
        raise InputError("verify times must be finite and > 0", field="target_times")
    if not (draft_time_s >= 0 and np.isfinite(draft_time_s)):
        raise InputError(f"must be finite and >= 0, not {draft_time_s}", field="draft_time")
    if not (baseline_time_s > 0 and np.isfinite(baseline_time_s)):
        raise InputError(f"must be finite and > 0, not {baseline_time_s}",
                         field="baseline_time")
    d_max = table.max_depth if max_depth is None else min(int(max_depth), table.max_depth)
    per_budget: list[TreeChoice] = []
    for b, t in zip(budgets, times, strict=True):
        top: TreeChoice | None = None
        hi = min(d_max, b - 1)
        for d in range(min(1, hi), hi + 1):  # depth 0 only when nothing else fits
            f = table.expected_tokens(b, d)
            h = table.height(b, d)  # the tree's own height: one draft pass per level
            step = h * draft_time_s + t
            cand = TreeChoice(budget=b, depth=h, nodes=table.best_size(b, d), expected_tokens=f,
                              verify_time_s=t, step_time_s=step, time_per_token_s=step / f,
                              speedup=baseline_time_s * f / step)
            if top is None or cand.time_per_token_s < top.time_per_token_s:
                top = cand
        assert top is not None
        per_budget.append(top)
    best = min(per_budget, key=lambda c: (c.time_per_token_s, c.budget, c.depth))
    return best, per_budget
