"""Token selection from a node's logits: the single definition of greedy and sampled picks.

This is the rule that the argmax/sampling RTL unit (:mod:`specaccel.hdl.argmax_sample_unit`)
reproduces bit for bit; the testbenches compare against these functions.

**Greedy** — :func:`greedy_token`: the index of the largest logit.  *Tie-break:* the
lowest index wins (the same "lowest index wins" rule as the tree-verification walk in
:mod:`.tree_verify`).

**Sampling** — inverse CDF over non-negative integer weights ``w`` (fixed-point
probabilities; exp-free, so any upstream quantised softmax can feed it) with a uniform
``u`` in ``[0, 1)``:

* ``total = sum(w)`` and the *threshold* ``t = floor(u * total)``, computed exactly
  (:func:`sample_threshold`);
* the token is the **first index i whose cumulative weight** ``w[0] + ... + w[i]``
  **exceeds t** (:func:`sample_token_at`).

Because cumulative weights are integers, ``cum > floor(u * total)`` is the same as
``cum > u * total``: index ``i`` is chosen for exactly ``w[i]`` of every ``total``
equally spaced ``u``, so ``P(i) = w[i] / total`` and a zero-weight index is never chosen.
The hardware streams the weights and so cannot know ``total`` before the end; it takes
the threshold ``t`` with the request.  When the weights are probabilities quantised to a
known sum ``2**F`` (the usual case), ``t`` is just the top ``F`` bits of a random integer,
so no multiplier is needed anywhere.  If ``t >= total`` no index qualifies and the result
is "no token" (``-1`` here; ``found = 0`` in the RTL).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

NO_TOKEN = -1


def _as_int_list(values, name: str) -> list[int]:
    if isinstance(values, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        return values
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence, not shape {arr.shape!r}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, not {arr.dtype!r}")
    return [int(v) for v in arr]


def greedy_token(logits) -> int:
    """The greedy pick: index of the largest logit, lowest index on ties.

    Parameters
    ----------
    logits : sequence of int or float
        One node's logits over the vocabulary (non-empty).

    Returns
    -------
    int
        The chosen index.
    """
    arr = np.asarray(logits)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"logits must be a non-empty 1-D sequence, not shape {arr.shape!r}")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"logits must be numbers, not {arr.dtype!r}")
    if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
        raise ValueError("logits must not contain NaN")
    return int(np.argmax(arr))  # numpy returns the first maximal index: lowest index wins


def sample_threshold(total: int, u: float | Fraction) -> int:
    """The threshold ``floor(u * total)`` computed exactly (no rounding of ``u * total``).

    Parameters
    ----------
    total : int
        Sum of the weights (> 0).
    u : float or Fraction
        Uniform in ``[0, 1)``; a float is taken at its exact binary value.
    """
    if isinstance(total, bool) or not isinstance(total, (int, np.integer)) or total <= 0:
        raise ValueError(f"total must be a positive integer, not {total!r}")
    fu = Fraction(u)
    if not 0 <= fu < 1:
        raise ValueError(f"u must be in [0, 1), not {u!r}")
    return int(fu * int(total))  # Fraction -> int truncates; non-negative, so floor


def sample_token_at(weights, threshold: int) -> int:
    """The first index whose cumulative weight exceeds `threshold`, or ``-1`` if none does.

    Parameters
    ----------
    weights : sequence of int
        Non-negative integer weights over the vocabulary.
    threshold : int
        Non-negative integer threshold (``floor(u * total)`` for a uniform ``u``).
    """
    w = _as_int_list(weights, "weights")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, np.integer)):
        raise TypeError(f"threshold must be an integer, not {threshold!r}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, not {threshold!r}")
    if w and min(w) < 0:
        raise ValueError("weights must be non-negative")
    cum = 0
    for i, wi in enumerate(w):
        cum += wi
        if cum > threshold:
            return i
    return NO_TOKEN


def sample_token(weights, u: float | Fraction) -> int:
    """The sampled index for uniform `u`: :func:`sample_token_at` at ``floor(u * sum(w))``.

    Parameters
    ----------
    weights : sequence of int
        Non-negative integer weights, not all zero.
    u : float or Fraction
        Uniform in ``[0, 1)``.
    """
    w = _as_int_list(weights, "weights")
    total = sum(w)
    if w and min(w) < 0:
        raise ValueError("weights must be non-negative")
    if total <= 0:
        raise ValueError("weights must have a positive sum")
    return sample_token_at(w, sample_threshold(total, u))
