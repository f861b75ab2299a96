"""Closed forms of speculative decoding (Leviathan et al. 2023; Sequoia's tree form).

With per-token acceptance rate ``α`` (the probability that a drafted token is accepted,
``Σ_x min(p(x), q(x))`` for speculative sampling) and ``γ`` drafted tokens per step:

* expected tokens committed per step (accepted drafts plus the bonus token)
  ``E(α, γ) = (1 − α^(γ+1)) / (1 − α)``, and ``γ + 1`` at ``α = 1``;
* walltime speedup over plain autoregressive decoding, when one draft pass costs ``c``
  target passes: ``E(α, γ) / (γ c + 1)``;
* the optimal ``γ``: the integer in ``1..max_gamma`` that maximises the speedup
  (the smallest such ``γ`` on ties).

For a draft *tree* under the positional acceptance model (Sequoia), ``r_k`` is the
probability that the ``k``-th ranked child of an accepted node is the child that is
accepted; a node is then reached with the product of ``r_rank`` along its path, and the
expected tokens per step are ``Σ_nodes Π_path r`` (the root counts 1: the bonus token).
:func:`marginal_from_conditional` converts the conditional form (``p_k`` = probability
that the ``k``-th child is accepted given ranks ``1..k−1`` were rejected) into ``r``.
"""

from __future__ import annotations

import math

import numpy as np

from specaccel.schema.errors import InputError

MAX_GAMMA = 64
#: Largest ``max_gamma`` :func:`optimal_gamma` searches (it evaluates every γ up to it).
MAX_GAMMA_SEARCH = 1 << 20


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (0.0 <= alpha <= 1.0):  # also rejects NaN
        raise InputError(f"must be in [0, 1], not {alpha}", field="alpha")
    return alpha


def _check_gamma(gamma: int, field: str = "gamma") -> int:
    if isinstance(gamma, bool) or int(gamma) != gamma or gamma < 1:
        raise InputError(f"must be an integer >= 1, not {gamma}", field=field)
    return int(gamma)


def _check_cost_ratio(cost_ratio: float) -> float:
    c = float(cost_ratio)
    if not (c >= 0.0) or math.isinf(c):
        raise InputError(f"must be a finite number >= 0, not {cost_ratio}", field="cost_ratio")
    return c


def expected_tokens_per_step(alpha: float, gamma: int) -> float:
    """``E(α, γ) = (1 − α^(γ+1)) / (1 − α)``; ``γ + 1`` when ``α = 1``.

    Parameters
    ----------
    alpha:
        Per-token acceptance rate in ``[0, 1]``.
    gamma:
        Drafted tokens per step, an integer ``>= 1``.
    """
    alpha, gamma = _check_alpha(alpha), _check_gamma(gamma)
    if alpha == 1.0:
        return float(gamma + 1)
    return (1.0 - alpha ** (gamma + 1)) / (1.0 - alpha)


def speedup(alpha: float, gamma: int, cost_ratio: float) -> float:
    """Walltime speedup ``E(α, γ) / (γ c + 1)`` with draft/target cost ratio ``c``."""
    c = _check_cost_ratio(cost_ratio)
    return expected_tokens_per_step(alpha, gamma) / (gamma * c + 1.0)


def optimal_gamma(alpha: float, cost_ratio: float, max_gamma: int = MAX_GAMMA) -> int:
    """The ``γ`` in ``1..max_gamma`` with the largest :func:`speedup` (smallest on ties)."""
    alpha, c = _check_alpha(alpha), _check_cost_ratio(cost_ratio)
    max_gamma = _check_gamma(max_gamma, "max_gamma")
    if max_gamma > MAX_GAMMA_SEARCH:
        raise InputError(f"must be <= {MAX_GAMMA_SEARCH}, not {max_gamma}", field="max_gamma")
    gammas = np.arange(1, max_gamma + 1, dtype=np.float64)
    if alpha == 1.0:
        e = gammas + 1.0
    else:
        e = (1.0 - alpha ** (gammas + 1.0)) / (1.0 - alpha)
    return int(np.argmax(e / (gammas * c + 1.0))) + 1


def marginal_from_conditional(conditional) -> np.ndarray:
    """``r_k = p_k Π_{j<k} (1 − p_j)``: conditional per-rank acceptance to Sequoia's form."""
    p = np.asarray(conditional, dtype=np.float64)
    _check_rank_vector(p, "acceptance")
    survive = np.concatenate([[1.0], np.cumprod(1.0 - p)[:-1]])
    return p * survive


def conditional_from_marginal(marginal) -> np.ndarray:
    """Inverse of :func:`marginal_from_conditional` (ranks after a certain acceptance get 0)."""
    r = np.asarray(marginal, dtype=np.float64)
    _check_rank_vector(r, "acceptance")
    if r.sum() > 1.0 + 1e-9:
        raise InputError(f"per-rank probabilities sum to {r.sum():.6g} > 1", field="acceptance")
    left = np.concatenate([[1.0], 1.0 - np.cumsum(r)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(left > 1e-12, np.minimum(r / left, 1.0), 0.0)


def _check_rank_vector(v: np.ndarray, field: str) -> None:
    if v.ndim != 1 or v.size == 0:
        raise InputError("must be a non-empty list of probabilities", field=field)
    if not np.all((v >= 0.0) & (v <= 1.0)):
        bad = int(np.argmax(~((v >= 0.0) & (v <= 1.0))))
        raise InputError(f"entry {bad + 1} must be in [0, 1], not {v[bad]}", field=field)


def tree_expected_tokens(parent, rank_acceptance) -> float:
    """Expected tokens per step of a draft tree under positional acceptance.

    Parameters
    ----------
    parent:
        Parent pointers in topological order (root ``-1``); siblings rank by node index
        (the first child of a node is rank 1).
    rank_acceptance:
        Sequoia's vector ``r``: ``r[k-1]`` is the probability that the rank-``k`` child of
        an accepted node is the accepted one (``Σ r <= 1``); ranks past its end have 0.

    Returns
    -------
    float
        ``Σ_nodes Π_{path} r_rank`` with the root counted as 1 (so the bonus token is
        included: a chain of ``γ`` with ``r = [α]`` gives ``E(α, γ)``).
    """
    parent = np.asarray(parent, dtype=np.int64)
    r = np.asarray(rank_acceptance, dtype=np.float64)
    _check_rank_vector(r, "acceptance")
    n = parent.shape[0]
    if n == 0 or parent[0] != -1 or np.any((parent[1:] < 0) | (parent[1:] >= np.arange(1, n))):
        raise InputError("must start with -1 and have parent[i] in [0, i)", field="parent")
    reach = np.zeros(n)
    reach[0] = 1.0
    n_children = np.zeros(n, dtype=np.int64)
    for i in range(1, n):
        k = n_children[parent[i]]
        n_children[parent[i]] += 1
        reach[i] = reach[parent[i]] * (r[k] if k < r.shape[0] else 0.0)
    return float(reach.sum())
