"""Pareto fronts against brute force; constraints; sensitivity on known functions."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from specaccel.analysis.pareto import best_design, feasible_mask, pareto_mask
from specaccel.analysis.sensitivity import sensitivity_table
from specaccel.schema.errors import InputError


def brute_front(x: np.ndarray) -> np.ndarray:
    """Minimisation front by the definition, point against point."""
    n = len(x)
    on = np.ones(n, dtype=bool)
    for i in range(n):
        if not np.all(np.isfinite(x[i])):
            on[i] = False
            continue
        for j in range(n):
            if i != j and np.all(np.isfinite(x[j])) and np.all(x[j] <= x[i]) \
                    and np.any(x[j] < x[i]):
                on[i] = False
                break
    return on


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("seed", range(12))
def test_front_matches_brute_force(dims, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 120))
    # Small integer grid: many ties and duplicates, the hard cases.
    x = rng.integers(0, 6, size=(n, dims)).astype(float)
    if seed % 3 == 0:
        x[rng.integers(0, n, 3), 0] = np.nan
    senses = ["min", "max", "min"][:dims]
    df = pd.DataFrame({f"m{i}": x[:, i] for i in range(dims)})
    signed = np.column_stack([-x[:, i] if s == "max" else x[:, i]
                              for i, s in enumerate(senses)])
    got = pareto_mask(df, dict(zip(df.columns, senses, strict=True)))
    assert np.array_equal(got, brute_front(signed))
    assert got.any() or not np.isfinite(signed).all(axis=1).any()


def test_front_on_a_known_set():
    df = pd.DataFrame({"tps": [10, 20, 30, 25, 5], "energy": [1, 2, 3, 4, 0.5]})
    mask = pareto_mask(df, {"tps": "max", "energy": "min"})
    assert mask.tolist() == [True, True, True, False, True]
    with pytest.raises(InputError, match="2 or more"):
        pareto_mask(df, {"tps": "max"})
    with pytest.raises(InputError, match="no metric"):
        pareto_mask(df, {"tps": "max", "area": "min"})


@dataclass
class C:
    metric: str
    min: float | None = None
    max: float | None = None


def test_best_design_under_constraints():
    df = pd.DataFrame({"key": list("abcde"), "tps": [10.0, 50.0, 40.0, 40.0, np.nan],
                       "area": [100.0, 500.0, 300.0, 200.0, 50.0],
                       "power": [5.0, 5.0, 5.0, 9.0, 1.0]})
    assert best_design(df, "tps")["key"] == "b"
    assert best_design(df, "tps", constraints=[C("area", max=350)])["key"] == "c"
    cons = [C("area", max=350), C("power", max=8)]
    assert feasible_mask(df, cons).tolist() == [True, False, True, False, True]
    assert best_design(df, "tps", constraints=cons)["key"] == "c"
    assert best_design(df, "area", maximize=False)["key"] == "e"   # NaN tps: still ranked on area
    assert best_design(df, "tps", constraints=[C("area", max=10)]) is None


def test_sensitivity_finds_the_axis_that_matters():
    grid = list(itertools.product([1, 2, 3, 4], [10, 20, 30], ["x", "y"]))
    df = pd.DataFrame(grid, columns=["a", "b", "kind"])
    df["m"] = 3.0 * df["a"]                       # only a matters, rising
    df["n"] = -df["b"] + np.where(df["kind"] == "x", 0.0, 5.0)   # b falling, kind shifts
    t = sensitivity_table(df, ["a", "b", "kind"], ["m", "n"]).set_index(["metric", "axis"])
    assert t.loc[("m", "a"), "first_order_index"] == pytest.approx(1.0)
    assert t.loc[("m", "b"), "first_order_index"] == pytest.approx(0.0)
    assert t.loc[("m", "a"), "main_effect_range"] == pytest.approx(9.0)
    assert t.loc[("m", "a"), "spearman"] == pytest.approx(1.0)
    assert t.loc[("n", "b"), "spearman"] < -0.8
    assert np.isnan(t.loc[("n", "kind"), "spearman"])
    assert t.loc[("n", "kind"), "main_effect_range"] == pytest.approx(5.0)
    # n = -b + 5*[kind=y]: Var(b) = 200/3 and Var(kind) = 6.25 split the variance
    total = 200 / 3 + 6.25
    assert t.loc[("n", "b"), "first_order_index"] == pytest.approx((200 / 3) / total)
    assert t.loc[("n", "kind"), "first_order_index"] == pytest.approx(6.25 / total)
    assert t.loc[("m", "a"), "levels"] == 4
