"""Token selection from a node's logits: the single definition of greedy and sampled picks.

Two rules live here.

**The sampling unit's rule** (bf16 logits; :func:`select_token`), which the streaming
sampling RTL (:mod:`specaccel.hdl.sampling_unit`) reproduces bit for bit and is checked
against on the same inputs.  Logits are bf16 bit patterns, ordered and converted to fixed
point as :mod:`.bf16` defines (NaN below ``-inf``, ``-0 == +0``).  A request carries
``top_k`` (1 ..  ``MAX_TOP_K``), ``inv_temp`` and ``uniform``:

1. *Candidates*: the ``m = min(top_k, V)`` largest logits, ranked by value, **lower index
   first among equal values** (:func:`top_k_candidates`).  ``top_k = 1`` is greedy argmax:
   the first maximum, whatever the other fields say.
2. *Weights* (:func:`candidate_weights`): with ``x_i`` the Q8.8 fixed-point logit of
   candidate ``i`` and ``d_i = x_0 - x_i >= 0``, the exponent ``e_i = d_i * inv_temp`` is
   exact integer arithmetic in units of ``2**-(FIXED_FRAC + INV_TEMP_FRAC)``;
   ``inv_temp`` is ``log2(e) / T`` in ``INV_TEMP_FRAC``-bit fixed point
   (:func:`inv_temp_fixed`).  The weight is ``2**-e_i`` scaled to ``2**WEIGHT_FRAC``, from a
   table of ``2**EXP_TABLE_BITS`` entries on the fraction and a right shift by the integer
   part: ``w_i = EXP2_TABLE[frac6(e_i)] >> int(e_i)`` (0 once the shift passes the table's
   width).  ``w_0 = 2**WEIGHT_FRAC`` always, so the total is positive.  ``inv_temp = 0``
   (infinite temperature) gives every candidate the same weight.
3. *Inverse CDF* with the request's ``UNIFORM_WIDTH``-bit uniform ``u``: the threshold is
   ``t = (u * total) >> UNIFORM_WIDTH`` (exact, so ``t < total``), and the token is the
   first candidate **in rank order** whose cumulative weight exceeds ``t``.  ``u = 0``
   picks the top candidate; the largest ``u`` picks the last candidate of non-zero weight.

Full-vocabulary sampling at a temperature (``top_k = V``) needs a second pass over the
logits (the total is known only at the end); the unit does not do it.

**The integer-weight rule** (:func:`greedy_token`, :func:`sample_token`): the first maximum
of integer or float logits, and inverse-CDF sampling over non-negative integer weights
``w`` (fixed-point probabilities; exp-free, so any upstream quantised softmax can feed it)
with a uniform ``u`` in ``[0, 1)``:

* ``total = sum(w)`` and the *threshold* ``t = floor(u * total)``, computed exactly
  (:func:`sample_threshold`);
* the token is the **first index i whose cumulative weight** ``w[0] + ... + w[i]``
  **exceeds t** (:func:`sample_token_at`).

Because cumulative weights are integers, ``cum > floor(u * total)`` is the same as
``cum > u * total``: index ``i`` is chosen for exactly ``w[i]`` of every ``total``
equally spaced ``u``, so ``P(i) = w[i] / total`` and a zero-weight index is never chosen.
If ``t >= total`` no index qualifies and the result is "no token" (``-1``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np

from specaccel.models.golden import bf16

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


# ---- the sampling unit's rule: bf16 logits, top-k, temperature, a given uniform ----------

#: the largest ``top_k`` the rule (and the unit) supports
MAX_TOP_K = 8
#: fraction bits of ``inv_temp`` (``log2(e) / T``); its width is ``INV_TEMP_WIDTH``
INV_TEMP_FRAC = 12
INV_TEMP_WIDTH = 16
#: bits of the request's uniform (``u / 2**UNIFORM_WIDTH`` in ``[0, 1)``)
UNIFORM_WIDTH = 16
#: a weight of 1.0 is ``2**WEIGHT_FRAC``
WEIGHT_FRAC = 16
#: fraction bits of the exponent that index the ``2**-f`` table
EXP_TABLE_BITS = 6
#: ``EXP2_TABLE[j] = round(2**WEIGHT_FRAC * 2**(-j / 2**EXP_TABLE_BITS))``
EXP2_TABLE = tuple(int(np.floor(2.0 ** WEIGHT_FRAC * 2.0 ** (-j / (1 << EXP_TABLE_BITS)) + 0.5))
                   for j in range(1 << EXP_TABLE_BITS))
#: units of the exponent ``e = d * inv_temp``: ``2**-EXP_FRAC``
EXP_FRAC = bf16.FIXED_FRAC + INV_TEMP_FRAC


class TokenSelection(NamedTuple):
    """The result of :func:`select_token`.

    ``token`` is the chosen vocabulary index (``NO_TOKEN`` for an empty vocabulary);
    ``nan`` is True when any logit was a NaN; ``candidates`` are the top-k indices in rank
    order and ``weights`` their weights (``weights[0] == 2**WEIGHT_FRAC``); ``threshold`` is
    ``(u * total) >> UNIFORM_WIDTH``.
    """

    token: int
    nan: bool
    candidates: tuple[int, ...]
    weights: tuple[int, ...]
    threshold: int


def _check_field(name: str, value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], not {value!r}")
    return int(value)


def inv_temp_fixed(temperature: float) -> int:
    """``inv_temp`` for a temperature ``T > 0``: ``round(log2(e) / T * 2**INV_TEMP_FRAC)``,
    saturated to ``INV_TEMP_WIDTH`` bits (``T`` below about 0.09 saturates)."""
    t = float(temperature)
    if not (t > 0 and np.isfinite(t)):
        raise ValueError(f"temperature must be a positive finite number, not {temperature!r}")
    v = int(np.floor(np.log2(np.e) / t * (1 << INV_TEMP_FRAC) + 0.5))
    return min(v, (1 << INV_TEMP_WIDTH) - 1)


def uniform_fixed(u: float) -> int:
    """The ``UNIFORM_WIDTH``-bit uniform for ``u`` in ``[0, 1)``: ``floor(u * 2**16)``."""
    fu = float(u)
    if not 0.0 <= fu < 1.0:
        raise ValueError(f"u must be in [0, 1), not {u!r}")
    return int(fu * (1 << UNIFORM_WIDTH))


def top_k_candidates(logits_bf16, k: int) -> tuple[int, ...]:
    """The indices of the ``min(k, V)`` largest bf16 logits, in rank order: larger value
    first (the :func:`~.bf16.order_key` order), lower index first among equal values."""
    k = _check_field("top_k", k, 1, MAX_TOP_K)
    keys = bf16.order_key(logits_bf16)
    if keys.ndim != 1:
        raise ValueError(f"logits must be a 1-D sequence, not shape {keys.shape!r}")
    if keys.size <= 4 * k:
        order = np.lexsort((np.arange(keys.size), -keys))
    else:  # only the top k matter: partition first, then rank the survivors exactly
        kth = np.partition(keys, keys.size - k)[keys.size - k]
        idx = np.nonzero(keys >= kth)[0]
        order = idx[np.lexsort((idx, -keys[idx]))]
    return tuple(int(i) for i in order[:k])


def exp2_weight(exponent: int) -> int:
    """``2**-e`` as a weight (``2**WEIGHT_FRAC`` = 1.0) for an exponent ``e >= 0`` in units of
    ``2**-EXP_FRAC``: table entry of the top ``EXP_TABLE_BITS`` fraction bits, shifted right by
    the integer part."""
    if exponent < 0:
        raise ValueError(f"exponent must be >= 0, not {exponent!r}")
    whole = exponent >> EXP_FRAC
    frac = (exponent >> (EXP_FRAC - EXP_TABLE_BITS)) & ((1 << EXP_TABLE_BITS) - 1)
    if whole > WEIGHT_FRAC:
        return 0
    return EXP2_TABLE[frac] >> whole


def candidate_weights(candidate_bf16, inv_temp: int) -> tuple[int, ...]:
    """Weights of candidates given in rank order (bf16 patterns), at ``inv_temp``."""
    inv_temp = _check_field("inv_temp", inv_temp, 0, (1 << INV_TEMP_WIDTH) - 1)
    fx = bf16.to_fixed(candidate_bf16)
    if fx.size == 0:
        return ()
    return tuple(exp2_weight(int(fx[0] - x) * inv_temp) for x in fx)


def select_token(logits_bf16, *, top_k: int = 1, inv_temp: int = 0,
                 uniform: int = 0) -> TokenSelection:
    """The sampling unit's pick from one node's bf16 logits (see the module docstring).

    Parameters
    ----------
    logits_bf16 : sequence of int
        bf16 bit patterns over the vocabulary (may be empty: no token).
    top_k : int
        1 (greedy) .. ``MAX_TOP_K``.
    inv_temp : int
        ``log2(e) / T`` in ``INV_TEMP_FRAC``-bit fixed point (:func:`inv_temp_fixed`).
    uniform : int
        ``UNIFORM_WIDTH``-bit uniform (:func:`uniform_fixed`).
    """
    top_k = _check_field("top_k", top_k, 1, MAX_TOP_K)
    uniform = _check_field("uniform", uniform, 0, (1 << UNIFORM_WIDTH) - 1)
    bits = np.asarray(logits_bf16)
    nan = bool(bf16.is_nan(bits).any()) if bits.size else False
    if bits.size == 0:
        _check_field("inv_temp", inv_temp, 0, (1 << INV_TEMP_WIDTH) - 1)
        return TokenSelection(NO_TOKEN, False, (), (), 0)
    cands = top_k_candidates(bits, top_k)
    weights = candidate_weights(bits[list(cands)], inv_temp)
    threshold = (uniform * sum(weights)) >> UNIFORM_WIDTH
    token = cands[sample_token_at(list(weights), threshold)]
    return TokenSelection(token, nan, cands, weights, threshold)
