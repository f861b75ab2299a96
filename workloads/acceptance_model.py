"""The acceptance model of synthetic traces: which draft token the target chooses.

For every tree node ``v`` that has children, let ``R_v`` be the rank, in the draft's top-k
list after ``v``, of the token the target chooses after ``v`` (its argmax, or its sample).
The model gives ``R_v`` a distribution with three ingredients:

* **draft confidence** ``c_v`` — the draft's probability of its top-1 token after ``v``,
  drawn per node as ``c = (1 − w)·α_d + w·X`` with ``X ~ Beta(θ, 1)``,
  ``θ = α_d / (1 − α_d)`` (so ``E[X] = α_d``, and ``X = U ** (1/θ)`` samples it in one
  power).  The spread ``w`` (``confidence_spread``) runs from 0 (constant confidence α_d)
  to 1 (the J-shaped ``Beta(θ, 1)``: mostly confident drafts with a tail of unsure ones).
* **per-depth acceptance** ``α_d`` — the mean top-1 acceptance of a token at depth ``d``
  (the children of ``v`` are at depth ``d = depth(v) + 1``).  Beyond the listed depths
  the last value repeats.
* **sibling-rank decay** — the hazard of rank ``r`` (probability that the target chooses
  the rank-``r`` token, given that it chose none of ranks ``< r``) is ``c · g_r`` with
  ``g_r = (1 + r) ** −β``.  β is fitted to the top-k accuracies of Medusa heads on
  Vicuna-7B (:data:`MEDUSA_VICUNA_7B_TOPK_ACCURACY`, :func:`fit_rank_decay`).

Hence ``P(R_v = r | c) = c g_r ∏_{j<r} (1 − c g_j)``.  The draft is *calibrated*: the
synthetic draft probability of the rank-r token is exactly this number (the generator
stores it as ``draft_prob``).  ``R_v`` are independent across nodes, so the accepted
path reaches node ``i`` with probability ``∏ m(d_e, r_e)`` over the edges e from the root
to ``i``, with ``m(d, r) = E_c[P(R = r | c)]`` — a polynomial in c whose expectation
the moments ``E[X^j] = θ / (θ + j)`` give in closed form.  The expected tokens committed
per step is

    τ = 1 + Σ_{i ≥ 1} ∏_{e on root→i} m(d_e, r_e)        (:meth:`expected_committed`)

and :func:`calibrate` solves ``τ(s·α) = τ_published`` for one scale ``s`` of the whole
α profile by bisection.  For a chain (rank 0 only) this is Leviathan's
``1 + α_1 + α_1α_2 + ...``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from specaccel.workloads.tree_shapes import TreeShape

MEDUSA_VICUNA_7B_TOPK_ACCURACY: tuple[tuple[float, ...], ...] = (
    (0.5604, 0.6717, 0.7271, 0.7599, 0.7799),
    (0.3164, 0.4236, 0.4851, 0.5282, 0.5625),
    (0.2010, 0.2879, 0.3475, 0.3834, 0.4169),
    (0.1474, 0.2250, 0.2737, 0.3109, 0.3397),
    (0.1175, 0.1866, 0.2346, 0.2721, 0.2998),
)
"""Top-1..top-5 training accuracies of the 5 Medusa heads on Vicuna-7B v1.3 (rows: heads),
from FasterDecoding/Medusa ``assets/medusa_acc.csv`` (run "7b"), rounded to 4 digits."""


def fit_rank_decay(topk_accuracy: Sequence[Sequence[float]]) -> float:
    """Fit β of the rank hazard ``h_r = h_0 (1 + r) ** −β`` to top-k accuracy curves.

    Each row is one predictor's top-1..top-K accuracy ``A_k``.  The hazard of rank r is
    ``(A_{r+1} − A_r) / (1 − A_r)`` (``A_0 = 0``); β is the least-squares slope through the
    origin of ``log(h_r / h_0)`` against ``−log(1 + r)``, pooled over rows.
    """
    acc = np.asarray(topk_accuracy, dtype=np.float64)
    acc0 = np.concatenate([np.zeros((acc.shape[0], 1)), acc], axis=1)
    hazard = (acc0[:, 1:] - acc0[:, :-1]) / (1.0 - acc0[:, :-1])
    x = np.log(np.arange(2, acc.shape[1] + 1, dtype=np.float64))
    y = np.log(hazard[:, 1:] / hazard[:, :1])
    return float(-(y * x).sum() / (acc.shape[0] * (x * x).sum()))


RANK_DECAY: float = fit_rank_decay(MEDUSA_VICUNA_7B_TOPK_ACCURACY)
"""β fitted to :data:`MEDUSA_VICUNA_7B_TOPK_ACCURACY` (about 0.87)."""

DEFAULT_CONFIDENCE_SPREAD = 1.0
"""w of the draft confidence: 1 = the full ``Beta(θ, 1)`` spread.  An assumption: no
source in the bundled data pins it, and the calibration scale absorbs its effect on τ."""


@dataclass(frozen=True)
class AcceptanceModel:
    """Per-depth acceptance, sibling-rank decay and draft confidence (see module docstring).

    Attributes
    ----------
    alpha:
        Mean top-1 acceptance α_d for depths 1, 2, ...; the last value repeats deeper.
    rank_decay:
        β of the sibling-rank hazard ``g_r = (1 + r) ** −β``.
    confidence_spread:
        w in [0, 1]: 0 = constant confidence α_d, 1 = ``Beta(θ, 1)`` (module docstring).
    """

    alpha: tuple[float, ...]
    rank_decay: float = RANK_DECAY
    confidence_spread: float = DEFAULT_CONFIDENCE_SPREAD

    def __post_init__(self) -> None:
        alpha = tuple(float(a) for a in self.alpha)
        if not alpha or any(not (0.0 < a < 1.0) for a in alpha):
            raise ValueError(f"alpha values must lie in (0, 1), not {alpha}")
        if not self.rank_decay >= 0.0:
            raise ValueError(f"rank_decay must be >= 0, not {self.rank_decay}")
        if not 0.0 <= self.confidence_spread <= 1.0:
            raise ValueError(f"confidence_spread must be in [0, 1], not {self.confidence_spread}")
        object.__setattr__(self, "alpha", alpha)

    # ---------------------------------------------------------------- parameters
    def alpha_at(self, depth: np.ndarray | int) -> np.ndarray:
        """α_d for children at `depth` (>= 1); deeper than listed repeats the last value."""
        a = np.asarray(self.alpha, dtype=np.float64)
        d = np.clip(np.asarray(depth, dtype=np.int64) - 1, 0, a.shape[0] - 1)
        return a[d]

    def rank_weight(self, rank: np.ndarray | int) -> np.ndarray:
        """``g_r = (1 + r) ** −β``."""
        return (1.0 + np.asarray(rank, dtype=np.float64)) ** (-self.rank_decay)

    def scaled(self, scale: float) -> AcceptanceModel:
        """The same model with every α_d multiplied by `scale`."""
        return replace(self, alpha=tuple(scale * a for a in self.alpha))

    def to_dict(self) -> dict[str, object]:
        return {
            "alpha": list(self.alpha),
            "rank_decay": self.rank_decay,
            "confidence_spread": self.confidence_spread,
        }

    def sample_confidence(self, alpha: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Draft confidences from uniforms `u` (broadcast against per-row means `alpha`).

        ``c = (1 − w) α + w U ** ((1 − α) / α)``: the inverse CDF of ``Beta(α/(1−α), 1)``.
        """
        alpha = np.asarray(alpha, dtype=np.float64)
        w = self.confidence_spread
        x = np.power(u, (1.0 - alpha) / alpha)
        return x if w == 1.0 else (1.0 - w) * alpha + w * x

    # ---------------------------------------------------------------- closed forms
    def _confidence_moments(self, alpha: float, k: int) -> np.ndarray:
        """``E[c^j]`` for j = 0..k with ``c = (1 − w) α + w X``, ``X ~ Beta(θ, 1)``."""
        theta = alpha / (1.0 - alpha)
        w = self.confidence_spread
        j = np.arange(k + 1, dtype=np.float64)
        x_moments = theta / (theta + j)  # E[X^j]; j = 0 gives 1
        if w == 1.0:
            return x_moments
        m = (1.0 - w) * alpha
        out = np.empty(k + 1)
        for n in range(k + 1):
            binom = np.array([math.comb(n, i) for i in range(n + 1)], dtype=np.float64)
            out[n] = np.sum(binom * m ** (n - j[: n + 1]) * w ** j[: n + 1] * x_moments[: n + 1])
        return out

    def choice_probability(self, depth: int, rank: int) -> float:
        """``m(d, r) = E_c[P(R = r | c)]``: the rank-r token at `depth` is the target's choice."""
        g = self.rank_weight(np.arange(rank + 1))
        poly = np.polynomial.Polynomial([0.0, g[rank]])  # c g_r
        for j in range(rank):
            poly = poly * np.polynomial.Polynomial([1.0, -g[j]])  # (1 - c g_j)
        coef = poly.coef
        moments = self._confidence_moments(float(self.alpha_at(depth)), coef.shape[0] - 1)
        return float(np.dot(coef, moments))

    def reach_probability(self, shape: TreeShape) -> np.ndarray:
        """Probability that the accepted path reaches each node of `shape` (root 1)."""
        cache: dict[tuple[int, int], float] = {}
        reach = np.ones(shape.n_nodes, dtype=np.float64)
        for i in range(1, shape.n_nodes):
            key = (int(shape.depth[i]), int(shape.rank[i]))
            if key not in cache:
                cache[key] = self.choice_probability(*key)
            reach[i] = reach[shape.parent[i]] * cache[key]
        return reach

    def expected_committed(self, shape: TreeShape) -> float:
        """Expected tokens committed per step (accepted drafts + 1) on `shape`: τ."""
        return float(self.reach_probability(shape).sum())


def calibrate(model: AcceptanceModel, shape: TreeShape, target_tau: float,
              *, tol: float = 1e-10) -> tuple[AcceptanceModel, float]:
    """Scale the α profile of `model` so that the expected τ on `shape` is `target_tau`.

    Solves ``expected_committed(shape) of model.scaled(s) == target_tau`` for s by
    bisection over ``(0, 1 / max α)``: τ is 1 at s = 0 and continuous in s, and the
    bisection keeps a bracket ``τ(lo) < target <= τ(hi)``, so it converges to a root.

    Returns
    -------
    (model, scale):
        The calibrated model and the scale factor s applied to the α profile.

    Raises
    ------
    ValueError
        If `target_tau` is not reachable on this shape (below 1 or above the τ at α → 1).
    """
    hi = (1.0 - 1e-9) / max(model.alpha)
    tau_hi = model.scaled(hi).expected_committed(shape)
    if not 1.0 < target_tau < tau_hi:
        raise ValueError(
            f"tau {target_tau} is not reachable on {shape.name}: it must lie in (1, {tau_hi:.4g})"
        )
    lo = 0.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if model.scaled(mid).expected_committed(shape) < target_tau:
            lo = mid
        else:
            hi = mid
    scale = 0.5 * (lo + hi)
    return model.scaled(scale), scale
