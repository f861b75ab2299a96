"""Tree attention and KV-cache bookkeeping derived from parent pointers.

* :func:`tree_attention_mask` — row ``i`` is True at every ancestor of node ``i`` and at
  ``i`` itself: the tokens node ``i`` may attend to inside the tree (the committed
  context before the root is visible to all nodes and is not part of this mask).
* :func:`position_ids` — a node's position is the root's position plus its depth.
* :func:`kv_compaction` — the verify pass writes the KV of tree node ``i`` into cache
  slot ``base + i``; after acceptance, the accepted path's KV must sit contiguously at
  ``base + 0 .. base + len(path) - 1``.  ``gather[k]`` is the slot to read for
  destination ``base + k``; slots after the path are rolled back (freed).
"""

from __future__ import annotations

import numpy as np


def _check_parents(parent: np.ndarray) -> None:
    n = parent.shape[0]
    if n == 0:
        raise ValueError("a draft tree has at least the root node")
    if parent[0] != -1:
        raise ValueError(f"parent[0] must be -1 (the root), not {int(parent[0])}")
    idx = np.arange(1, n)
    bad = np.nonzero((parent[1:] < 0) | (parent[1:] >= idx))[0]
    if bad.size:
        i = int(bad[0]) + 1
        raise ValueError(f"parent[{i}] must be in [0, {i}), not {int(parent[i])}")


def tree_attention_mask(parent) -> np.ndarray:
    """Ancestor-or-self mask, ``mask[i, j]`` is True iff j is i or an ancestor of i."""
    parent = np.asarray(parent, dtype=np.int64)
    _check_parents(parent)
    n = parent.shape[0]
    mask = np.zeros((n, n), dtype=bool)
    mask[0, 0] = True
    for i in range(1, n):
        mask[i] = mask[parent[i]]
        mask[i, i] = True
    return mask


def node_depth(parent) -> np.ndarray:
    """Depth of every node (root 0)."""
    parent = np.asarray(parent, dtype=np.int64)
    _check_parents(parent)
    depth = np.zeros(parent.shape[0], dtype=np.int64)
    for i in range(1, parent.shape[0]):
        depth[i] = depth[parent[i]] + 1
    return depth


def position_ids(parent, root_position: int = 0) -> np.ndarray:
    """Position id of every node: ``root_position + depth``."""
    return node_depth(parent) + int(root_position)


def kv_compaction(path, base: int = 0) -> np.ndarray:
    """Gather indices: destination slot ``base + k`` reads source slot ``gather[k]``."""
    path = np.asarray(path, dtype=np.int64)
    if path.shape[0] == 0 or path[0] != 0:
        raise ValueError("an accepted path starts at the root (node 0)")
    if np.any(np.diff(path) <= 0):
        raise ValueError("an accepted path is strictly increasing in node index")
    return path + int(base)


def kv_moves(path, base: int = 0) -> list[tuple[int, int]]:
    """The (source, destination) slot copies that compaction needs (src != dst only)."""
    gather = kv_compaction(path, base)
    return [(int(src), int(base + k)) for k, src in enumerate(gather) if src != base + k]
