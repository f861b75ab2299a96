"""Draft-tree shapes: which nodes a drafter proposes in each decode step.

A shape is the topology only (parent pointers in topological order, node 0 = root) plus
each node's *sibling rank*: the rank of its token in the draft's top-k list after its
parent (0 = the draft's most confident token).  Siblings are stored in increasing rank,
so the lowest-index tie-break of the golden walk is also "the most confident".

Constructors: :func:`chain` (a γ-token chain), :func:`k_ary` (a complete k-ary tree),
:func:`k_by_depth` (SpecInfer's k×d trees: k ranked branches at the root, each a chain),
:func:`from_parents` (an explicit parent list), :func:`from_choices` (the path lists of
Medusa and EAGLE, e.g. ``[[0], [1], [0, 0], ...]``), :func:`eagle_default_tree`
(EAGLE-1's static 25-token tree) and :func:`medusa_default_tree` (Medusa-1's 63 tokens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from specaccel.schema.errors import InputError

EAGLE_DEFAULT_CHOICES: tuple[tuple[int, ...], ...] = (
    (0,), (1,), (2,), (3,),
    (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0),
    (0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0), (0, 1, 1), (0, 2, 0), (0, 2, 1), (1, 0, 0),
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 0, 2),
    (0, 0, 0, 0, 0), (0, 0, 0, 0, 1),
)
"""EAGLE-1's default static tree (``mc_sim_7b_63`` in EAGLE's ``choices.py``; the name is
inherited from Medusa, but EAGLE's list has 25 entries): each entry is the path of
top-k ranks from the root to one draft token.  25 draft tokens + the root = 26 nodes,
depth 5 — the "25-node static tree" of EAGLE's Tables 2 and 7."""

MEDUSA_DEFAULT_CHOICES: tuple[tuple[int, ...], ...] = (
    (0,), (0, 0), (1,), (0, 1), (2,), (0, 0, 0), (1, 0), (0, 2), (3,), (0, 3), (4,), (0, 4),
    (2, 0), (0, 5), (0, 0, 1), (5,), (0, 6), (6,), (0, 7), (0, 1, 0), (1, 1), (7,), (0, 8),
    (0, 0, 2), (3, 0), (0, 9), (8,), (9,), (1, 0, 0), (0, 2, 0), (1, 2), (0, 0, 3), (4, 0),
    (2, 1), (0, 0, 4), (0, 0, 5), (0, 0, 0, 0), (0, 1, 1), (0, 0, 6), (0, 3, 0), (5, 0), (1, 3),
    (0, 0, 7), (0, 0, 8), (0, 0, 9), (6, 0), (0, 4, 0), (1, 4), (7, 0), (0, 1, 2), (2, 0, 0),
    (3, 1), (2, 2), (8, 0), (0, 5, 0), (1, 5), (1, 0, 1), (0, 2, 1), (9, 0), (0, 6, 0),
    (0, 0, 0, 1), (1, 6), (0, 7, 0),
)
"""Medusa-1's sparse tree for Vicuna-7B (``mc_sim_7b_63`` in Medusa's ``medusa_choices.py``,
listed there in order of decreasing estimated acceptance): 63 draft tokens, 64 nodes with
the root, depth 4."""


@dataclass(frozen=True, eq=False)
class TreeShape:
    """A draft-tree topology with sibling ranks (compared by identity: arrays inside).

    Attributes
    ----------
    name:
        A short description ("chain-5", "eagle-25", ...).
    parent:
        Parent pointers (int32), ``parent[0] == -1`` and ``0 <= parent[i] < i``.
    rank:
        Sibling rank of each node in its parent's top-k list (int32, root 0); strictly
        increasing among the children of a node, not necessarily contiguous.
    """

    name: str
    parent: np.ndarray
    rank: np.ndarray
    depth: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parent = np.ascontiguousarray(self.parent, dtype=np.int32)
        rank = np.ascontiguousarray(self.rank, dtype=np.int32)
        _check_shape(parent, rank)
        depth = np.zeros(parent.shape[0], dtype=np.int32)
        for i in range(1, parent.shape[0]):
            depth[i] = depth[parent[i]] + 1
        for name, arr in (("parent", parent), ("rank", rank), ("depth", depth)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)

    @property
    def n_nodes(self) -> int:
        """Nodes including the root."""
        return int(self.parent.shape[0])

    @property
    def n_draft_tokens(self) -> int:
        """Draft tokens (nodes other than the root)."""
        return self.n_nodes - 1

    @property
    def max_depth(self) -> int:
        """Depth of the deepest node (root 0)."""
        return int(self.depth.max())

    def n_children(self) -> np.ndarray:
        """Number of children of every node."""
        return np.bincount(self.parent[1:], minlength=self.n_nodes).astype(np.int32)

    def level_sizes(self) -> np.ndarray:
        """Nodes per depth, root level first."""
        return np.bincount(self.depth).astype(np.int32)

    def describe(self) -> dict[str, object]:
        """A JSON-friendly summary (name, nodes, depth, nodes per level)."""
        return {
            "name": self.name,
            "nodes": self.n_nodes,
            "draft_tokens": self.n_draft_tokens,
            "depth": self.max_depth,
            "level_sizes": self.level_sizes().tolist(),
        }


def _check_shape(parent: np.ndarray, rank: np.ndarray) -> None:
    n = parent.shape[0]
    if n == 0:
        raise InputError("a tree has at least the root node", field="parent")
    if rank.shape != parent.shape:
        raise InputError(f"rank has {rank.shape[0]} entries, parent has {n}", field="rank")
    if parent[0] != -1:
        raise InputError(f"parent[0] must be -1 (the root), not {int(parent[0])}", field="parent")
    idx = np.arange(1, n)
    bad = np.flatnonzero((parent[1:] < 0) | (parent[1:] >= idx))
    if bad.size:
        i = int(bad[0]) + 1
        raise InputError(f"parent[{i}] must be in [0, {i}), not {int(parent[i])}",
                         field="parent")
    if np.any(rank < 0):
        i = int(np.flatnonzero(rank < 0)[0])
        raise InputError(f"rank[{i}] must be >= 0, not {int(rank[i])}", field="rank")
    # ranks strictly increase among siblings (in node order)
    last_rank = np.full(n, -1, dtype=np.int64)
    for i in range(1, n):
        p = parent[i]
        if rank[i] <= last_rank[p]:
            raise InputError(
                f"rank[{i}] = {int(rank[i])} must exceed its previous sibling's rank "
                f"{int(last_rank[p])} (siblings are listed most confident first)",
                field="rank",
            )
        last_rank[p] = rank[i]


def _sibling_positions(parent: np.ndarray) -> np.ndarray:
    seen = np.zeros(parent.shape[0], dtype=np.int32)
    rank = np.zeros(parent.shape[0], dtype=np.int32)
    for i in range(1, parent.shape[0]):
        rank[i] = seen[parent[i]]
        seen[parent[i]] += 1
    return rank


def from_parents(parent: Sequence[int] | np.ndarray, *, rank: Sequence[int] | None = None,
                 name: str | None = None) -> TreeShape:
    """A shape from an explicit parent list (topological order, ``parent[0] == -1``).

    Without `rank`, each node's rank is its position among its parent's children.
    """
    p = np.asarray(parent, dtype=np.int32)
    r = _sibling_positions(p) if rank is None else np.asarray(rank, dtype=np.int32)
    return TreeShape(name=name or f"tree-{p.shape[0]}", parent=p, rank=r)


def chain(gamma: int) -> TreeShape:
    """A chain of `gamma` draft tokens (γ + 1 nodes)."""
    if gamma < 0:
        raise InputError(f"gamma must be >= 0, not {gamma}", field="gamma")
    parent = np.arange(-1, gamma, dtype=np.int32)
    return TreeShape(name=f"chain-{gamma}", parent=parent, rank=np.zeros(gamma + 1, np.int32))


def k_ary(k: int, depth: int) -> TreeShape:
    """A complete k-ary tree of the given depth: the top-k tokens after every node."""
    if k < 1 or depth < 0:
        raise InputError(f"k-ary tree needs k >= 1 and depth >= 0, not k={k}, depth={depth}",
                         field="k")
    parent = [-1]
    rank = [0]
    level = [0]
    for _ in range(depth):
        nxt = []
        for p in level:
            for r in range(k):
                parent.append(p)
                rank.append(r)
                nxt.append(len(parent) - 1)
        level = nxt
    return TreeShape(name=f"{k}-ary-depth{depth}", parent=np.array(parent, np.int32),
                     rank=np.array(rank, np.int32))


def k_by_depth(k: int, depth: int) -> TreeShape:
    """SpecInfer's k×d tree: the draft's top-k tokens at the root, each followed by a chain.

    Nodes are in breadth-first order, so siblings at the root are ranks 0..k-1 and every
    deeper node is its parent's rank-0 continuation.  ``1 + k * depth`` nodes.
    """
    if k < 1 or depth < 1:
        raise InputError(f"k x depth tree needs k >= 1 and depth >= 1, not {k}x{depth}",
                         field="k")
    parent = [-1] + [0] * k
    rank = [0] + list(range(k))
    for d in range(1, depth):
        start = 1 + (d - 1) * k
        parent += list(range(start, start + k))
        rank += [0] * k
    return TreeShape(name=f"{k}x{depth}", parent=np.array(parent, np.int32),
                     rank=np.array(rank, np.int32))


def from_choices(choices: Sequence[Sequence[int]], *, name: str | None = None) -> TreeShape:
    """A shape from Medusa/EAGLE-style choice paths (each a list of top-k ranks from the root).

    Nodes are ordered by depth, then lexicographically by path, which lists every node's
    children in increasing rank.  Every path's prefix must be in the list too.
    """
    paths = sorted({tuple(int(x) for x in c) for c in choices}, key=lambda c: (len(c), c))
    if len(paths) != len(choices):
        raise InputError("choices contain duplicate paths", field="choices")
    index: dict[tuple[int, ...], int] = {(): 0}
    parent = [-1]
    rank = [0]
    for path in paths:
        if not path or min(path) < 0:
            raise InputError(f"choice {list(path)} must be a non-empty list of ranks >= 0",
                             field="choices")
        if path[:-1] not in index:
            raise InputError(f"choice {list(path)} has no parent {list(path[:-1])} in the list",
                             field="choices")
        parent.append(index[path[:-1]])
        rank.append(path[-1])
        index[path] = len(parent) - 1
    return TreeShape(name=name or f"choices-{len(paths)}", parent=np.array(parent, np.int32),
                     rank=np.array(rank, np.int32))


def medusa_default_tree() -> TreeShape:
    """Medusa-1's 63-token sparse tree for Vicuna-7B (64 nodes with the root, depth 4)."""
    return from_choices(MEDUSA_DEFAULT_CHOICES, name="medusa-63")


def eagle_default_tree() -> TreeShape:
    """EAGLE-1's static 25-draft-token tree (26 nodes with the root, depth 5)."""
    return from_choices(EAGLE_DEFAULT_CHOICES, name="eagle-25")
