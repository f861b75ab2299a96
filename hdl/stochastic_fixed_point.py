"""The software side of stochastic verification: fixed-point p, q, u for the verify unit.

Division of labour (docs/hdl.md, "Stochastic verification"):

* **software** (the target model's host code) computes, per draft node, p(token) and
  q(token) — for the k-th sibling, of the *residual* distributions after siblings
  0..k-1 were rejected (SpecInfer multi-step sampling) — and the token the target samples
  after each node from its (residual) distribution (``target_token``).  It quantises p, q
  (and, when the uniforms come with the request, u) to ``w = prob_width`` bits here;
* **hardware** (:class:`~specaccel.hdl.units.tree_verify.gateware.TreeVerifyUnit`) compares
  ``u * q < p`` for every node at once and walks to the accepted path and the
  correction/bonus token.

Fixed point: a value x in [0, 1] becomes ``floor(x * 2**w)`` clipped to ``2**w - 1``
(1.0 is not representable; it becomes the largest fraction below 1).  The unit reads the
integers as fractions ``v / 2**w`` and accepts iff ``(u*q) >> w < p``, which equals
``u*q < p * 2**w``.  The golden model is handed the same quantised values as floats,
``v / 2**w`` — exact in float64 (w <= 16), and so is their product (<= 32 significant bits) —
so ``verify_tree`` on :func:`quantise_tree`'s tree is exactly what the unit computes.
Quantisation moves each comparison by less than ``2 * 2**-w``: only nodes with
``|u*q - p|`` that close can decide differently from the unquantised floats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from specaccel.schema.trace import DraftTree

__all__ = ["StochasticValues", "fixed_point_tree", "quantise_tree", "to_fixed"]


@dataclass(frozen=True)
class StochasticValues:
    """Integer (fixed-point) p, q and u of a tree's nodes, ``prob_width`` bits each."""

    target_prob: np.ndarray
    draft_prob: np.ndarray
    uniform: np.ndarray


def to_fixed(x, prob_width: int) -> np.ndarray:
    """``floor(x * 2**w)`` clipped to ``[0, 2**w - 1]``; NaN (no uniform) becomes 0."""
    scale = float(1 << prob_width)
    v = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0)
    return np.clip(np.floor(v * scale), 0, scale - 1).astype(np.int64)


def fixed_point_tree(parent, token, target_token, values: StochasticValues,
                     prob_width: int) -> DraftTree:
    """The DraftTree the golden model sees for integer p, q, u: each ``v / 2**w`` as a float."""
    scale = float(1 << prob_width)
    return DraftTree.build(parent, token, target_token,
                           draft_prob=np.asarray(values.draft_prob) / scale,
                           target_prob=np.asarray(values.target_prob) / scale,
                           uniform=np.asarray(values.uniform) / scale)


def quantise_tree(tree: DraftTree, prob_width: int,
                  uniform: np.ndarray | None = None) -> tuple[DraftTree, StochasticValues]:
    """Quantise a stochastic tree for the verify unit.

    Parameters
    ----------
    tree:
        A tree with float p, q and (unless `uniform` is given) pre-drawn uniforms.
    prob_width:
        w, the unit's probability width.
    uniform:
        Integer uniforms to use instead of the tree's (e.g. those the unit's LFSR draws).

    Returns
    -------
    (DraftTree, StochasticValues)
        The tree as the golden model must see it, and the integers to send to the unit.
    """
    values = StochasticValues(
        target_prob=to_fixed(tree.target_prob, prob_width),
        draft_prob=to_fixed(tree.draft_prob, prob_width),
        uniform=to_fixed(tree.uniform, prob_width) if uniform is None
        else np.asarray(uniform, dtype=np.int64))
    return fixed_point_tree(tree.parent, tree.token, tree.target_token, values,
                            prob_width), values
