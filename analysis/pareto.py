"""Pareto fronts over 2-3 (or more) metrics, and the best design under constraints.

A point is on the front when no other point is at least as good in every objective and
strictly better in one.  Objectives are given as ``{"metric": "max" | "min"}``.  Points
with a NaN in any objective are never on the front.  Two metrics use an
``O(n log n)`` sort-and-sweep; more use blocked pairwise comparison (``O(n^2)`` work in
NumPy, fine for the ~10^4-10^5 points of a sweep).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from specaccel.schema.errors import InputError

SENSES = ("max", "min")


def _objectives(df: pd.DataFrame, objectives: Mapping[str, str]) -> np.ndarray:
    if not 2 <= len(objectives) <= 8:
        raise InputError(f"a Pareto front needs 2 or more metrics, not {len(objectives)}",
                         field="metrics")
    cols = []
    for m, sense in objectives.items():
        if m not in df.columns:
            raise InputError(f"no metric {m!r} in the results", field="metrics")
        if sense not in SENSES:
            raise InputError(f"sense of {m!r} must be 'max' or 'min', not {sense!r}",
                             field="metrics")
        v = pd.to_numeric(df[m], errors="coerce").to_numpy(dtype=np.float64)
        cols.append(-v if sense == "max" else v)      # everything minimised below
    return np.column_stack(cols) if cols else np.empty((len(df), 0))


def pareto_mask(df: pd.DataFrame, objectives: Mapping[str, str]) -> np.ndarray:
    """Boolean mask of the rows of `df` on the Pareto front of `objectives`.

    Duplicate optimal points (equal in every objective) are all on the front.
    """
    x = _objectives(df, objectives)
    n = x.shape[0]
    ok = np.all(np.isfinite(x), axis=1)
    mask = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return mask
    pts = x[idx]
    if pts.shape[1] == 2:
        mask[idx[_front_2d(pts)]] = True
    else:
        mask[idx[_front_nd(pts)]] = True
    return mask


def _front_2d(pts: np.ndarray) -> np.ndarray:
    # Sort by f0; a point is dominated iff a point with a smaller f0 has f1 <= its f1,
    # or a point with the same f0 has a smaller f1.
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    f0, f1 = pts[order, 0], pts[order, 1]
    starts = np.flatnonzero(np.r_[True, f0[1:] != f0[:-1]])
    group_min = np.minimum.reduceat(f1, starts)
    # min f1 over all strictly earlier groups
    prev = np.r_[np.inf, np.minimum.accumulate(group_min)[:-1]]
    sizes = np.diff(np.r_[starts, len(f0)])
    dominated = (np.repeat(prev, sizes) <= f1) | (f1 > np.repeat(group_min, sizes))
    return np.sort(order[~dominated])


def _front_nd(pts: np.ndarray, block: int = 1024) -> np.ndarray:
    n = len(pts)
    dominated = np.zeros(n, dtype=bool)
    for s in range(0, n, block):
        a = pts[s:s + block][:, None, :]          # (b, 1, d) candidates
        le = np.all(pts[None, :, :] <= a, axis=2)  # others at least as good
        lt = np.any(pts[None, :, :] < a, axis=2)   # and strictly better somewhere
        dominated[s:s + block] = np.any(le & lt, axis=1)
    return np.flatnonzero(~dominated)


def feasible_mask(df: pd.DataFrame, constraints: Sequence[Any]) -> np.ndarray:
    """Rows meeting every constraint (objects with ``metric``, ``min``, ``max``); a NaN
    in a constrained metric is infeasible."""
    ok = np.ones(len(df), dtype=bool)
    for c in constraints:
        if c.metric not in df.columns:
            raise InputError(f"no metric {c.metric!r} in the results", field="constraints")
        v = pd.to_numeric(df[c.metric], errors="coerce").to_numpy(dtype=np.float64)
        good = np.isfinite(v)
        if c.max is not None:
            good &= v <= c.max
        if c.min is not None:
            good &= v >= c.min
        ok &= good
    return ok


def best_design(df: pd.DataFrame, objective: str, *, maximize: bool = True,
                constraints: Sequence[Any] = ()) -> pd.Series | None:
    """The feasible row with the best `objective` (ties: the first row, i.e. the smallest
    key in a loaded results table), or ``None`` if no row is feasible."""
    if objective not in df.columns:
        raise InputError(f"no metric {objective!r} in the results", field="objective")
    v = pd.to_numeric(df[objective], errors="coerce").to_numpy(dtype=np.float64)
    ok = feasible_mask(df, constraints) & np.isfinite(v)
    if not ok.any():
        return None
    score = np.where(ok, v if maximize else -v, -np.inf)
    return df.iloc[int(np.argmax(score))]


def pareto_mask_by(df: pd.DataFrame, objectives: Mapping[str, str],
                   group: str | None) -> np.ndarray:
    """:func:`pareto_mask` within each value of column `group` (e.g. the workload): designs
    are compared only with designs run on the same workload; no column, one front."""
    if group is None or group not in df.columns:
        return pareto_mask(df, objectives)
    mask = np.zeros(len(df), dtype=bool)
    for _, idx in df.groupby(group, sort=False).indices.items():
        mask[idx] = pareto_mask(df.iloc[idx], objectives)
    return mask
