"""Sensitivity of each metric to each swept axis.

For a metric ``y`` and an axis ``x`` with levels ``x_1..x_L``, over the points of a sweep:

* **main effect** -- the mean of ``y`` at each level (averaging over every other axis);
  its range ``max - min``, also relative to ``|mean(y)|``;
* **first-order index** ``eta^2 = Var_level(E[y | x]) / Var(y)`` -- the share of the
  metric's variance explained by the axis alone (the first-order Sobol index of a full
  grid; between 0 and 1);
* **Spearman rank correlation** of ``y`` with ``x`` for numeric axes (monotone
  direction: +1 rises with the axis, -1 falls), NaN for categorical axes.

Rows with a NaN metric are left out of that metric's figures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def _spearman(x: pd.Series, y: pd.Series) -> float:
    rx = x.rank(method="average").to_numpy(dtype=np.float64)
    ry = y.rank(method="average").to_numpy(dtype=np.float64)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def sensitivity_table(df: pd.DataFrame, axes: Sequence[str], metrics: Sequence[str]
                      ) -> pd.DataFrame:
    """One row per (metric, axis): ``levels``, ``main_effect_range``, ``relative_range``,
    ``first_order_index``, ``spearman`` (see the module docstring)."""
    rows = []
    for m in metrics:
        y_all = pd.to_numeric(df[m], errors="coerce")
        for a in axes:
            sub = pd.DataFrame({"x": df[a], "y": y_all}).dropna()
            levels = sub["x"].nunique()
            row = {"metric": m, "axis": a, "levels": int(levels),
                   "main_effect_range": np.nan, "relative_range": np.nan,
                   "first_order_index": np.nan, "spearman": np.nan}
            if len(sub) >= 2 and levels >= 1:
                means = sub.groupby("x", sort=True)["y"].mean()
                counts = sub.groupby("x", sort=True)["y"].size()
                mean = float(sub["y"].mean())
                rng = float(means.max() - means.min())
                var = float(((sub["y"] - mean) ** 2).mean())
                between = float((counts * (means - mean) ** 2).sum() / counts.sum())
                row["main_effect_range"] = rng
                row["relative_range"] = rng / abs(mean) if mean != 0 else np.nan
                row["first_order_index"] = between / var if var > 0 else 0.0
                if pd.api.types.is_numeric_dtype(sub["x"]):
                    row["spearman"] = _spearman(sub["x"], sub["y"])
            rows.append(row)
    return pd.DataFrame(rows, columns=["metric", "axis", "levels", "main_effect_range",
                                       "relative_range", "first_order_index", "spearman"])
