"""Stimulus shared by the tree units' vector models: random and shaped draft trees,
stochastic fixed-point values, and the check that an "invalid" vector really is invalid.

The vector models themselves live with their units (``specaccel.hdl.units.<name>.model``);
none of them decides an outcome: expected outputs come from :mod:`specaccel.models.golden`.
"""

from __future__ import annotations

import numpy as np

from specaccel.hdl.stochastic_fixed_point import StochasticValues
from specaccel.models.golden import tree_attention_mask
from specaccel.schema.trace import DraftTree

SHAPES = ("random", "chain", "star", "bushy", "deep")


def random_parents(rng: np.random.Generator, n: int, shape: str = "random") -> np.ndarray:
    """Parent pointers of an `n`-node tree in topological order (``parent[0] == -1``)."""
    parent = np.full(n, -1, dtype=np.int32)
    for i in range(1, n):
        if shape == "chain":
            parent[i] = i - 1
        elif shape == "star":
            parent[i] = 0
        elif shape == "bushy":
            parent[i] = int(rng.integers(max(0, i // 3 - 1), i)) if i > 1 else 0
        elif shape == "deep":
            parent[i] = i - 1 if rng.random() < 0.8 else int(rng.integers(0, i))
        else:
            parent[i] = int(rng.integers(0, i))
    return parent


def random_greedy_tree(rng: np.random.Generator, n: int, *, token_width: int,
                       shape: str = "random", accept_rate: float | None = None) -> DraftTree:
    """A greedy draft tree whose tokens match the parent's target token with probability
    `accept_rate` (random when None), with sibling duplicates so that ties occur."""
    parent = random_parents(rng, n, shape)
    vocab = 1 << token_width
    small = min(vocab, 4)
    target = rng.integers(0, small, n) if rng.random() < 0.5 else rng.integers(0, vocab, n)
    token = rng.integers(0, vocab, n)
    rate = float(rng.random()) if accept_rate is None else accept_rate
    for i in range(1, n):
        if rng.random() < rate:
            token[i] = target[parent[i]]
    return DraftTree.build(parent, token, target)


def random_stochastic_values(rng: np.random.Generator, n: int, prob_width: int,
                             uniform: np.ndarray | None = None) -> StochasticValues:
    """Random integer p, q (and u unless given) with acceptance near a random rate."""
    top = 1 << prob_width
    q = rng.integers(1, top, n)
    ratio = rng.uniform(0.2, 1.6)
    p = np.clip((q * ratio * rng.uniform(0.5, 1.5, n)).astype(np.int64), 0, top - 1)
    u = rng.integers(0, top, n) if uniform is None else np.asarray(uniform, dtype=np.int64)
    return StochasticValues(target_prob=p.astype(np.int64), draft_prob=q.astype(np.int64),
                            uniform=u)


def require_golden_rejects(parent, n_nodes: int) -> None:
    """Raise ``ValueError`` unless the golden model rejects the first `n_nodes` parent
    pointers, so an "invalid" test vector really is one."""
    try:
        tree_attention_mask(np.asarray(parent[:n_nodes]))
    except ValueError:
        return
    raise ValueError("invalid_vector() needs a tree the golden model rejects")
