"""The systolic-array model against SCALE-Sim: run for real on small GEMMs, and against the
stored table of the full grid (``specaccel/data/array-scalesim.csv``)."""

import importlib.util
import statistics
import sys
from pathlib import Path

import pytest

from specaccel.models.cost.array_validation import (
    array_validation_rows,
    array_validation_summary,
)
from specaccel.models.cost.systolic_array import DATAFLOWS, gemm_cycles


def _reference():
    name = "scalesim_reference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("scalesim_reference.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


# (M, N, K, rows, cols): partial folds in every dimension, non-square arrays, M = 1
SMALL = [(1, 40, 24, 8, 8), (5, 33, 17, 8, 4), (13, 20, 50, 4, 8), (16, 16, 16, 16, 16)]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("m, n, k, rows, cols", SMALL)
def test_model_counts_scalesims_cycles(m, n, k, rows, cols, dataflow):
    res = _reference().run_scalesim(m, n, k, rows, cols, dataflow)
    ours = gemm_cycles(rows, cols, dataflow, m, n, k)
    assert res.stall_cycles == 0  # CALC bandwidth: ideal memory
    # SCALE-Sim prints the index of the last cycle: one less than the cycles counted
    assert ours.cycles == res.cycles + 1
    assert ours.mapping_efficiency * 100 == pytest.approx(res.mapping_efficiency_pct, rel=1e-9)


def test_fold_sampling_scales_exactly():
    ref = _reference()
    for dataflow in DATAFLOWS:
        whole = ref.reference_cycles(7, 90, 70, 8, 16, dataflow, budget=10**9)
        sampled = ref.reference_cycles(7, 90, 70, 8, 16, dataflow, budget=150)
        assert whole["run"] == "whole" and sampled["run"] == "fold-sampled"
        assert sampled["fold_ratio"] > 2
        assert sampled["scalesim_cycles"] == whole["scalesim_cycles"]


@pytest.mark.slow
def test_fold_sampling_scales_exactly_on_a_grid_sized_gemm():
    ref = _reference()
    for dataflow in DATAFLOWS:
        whole = ref.reference_cycles(9, 512, 512, 32, 32, dataflow, budget=10**9)
        sampled = ref.reference_cycles(9, 512, 512, 32, 32, dataflow)
        assert sampled["run"] == "fold-sampled"
        assert sampled["scalesim_cycles"] == whole["scalesim_cycles"]


def test_stored_table_covers_the_grid():
    rows = array_validation_rows()
    gemms = {(r["m"], r["n"], r["k"]) for r in rows}
    assert len(gemms) >= 30
    assert min(m for m, _, _ in gemms) == 1 and max(m for m, _, _ in gemms) == 512
    assert all(512 <= n <= 16384 and 512 <= k <= 16384 for _, n, k in gemms)
    arrays = {(r["rows"], r["cols"]) for r in rows}
    assert (32, 32) in arrays and (128, 128) in arrays
    assert all(32 <= a <= 128 and 32 <= b <= 128 for a, b in arrays)
    for g in gemms:  # every GEMM on every array in every dataflow
        assert {(r["rows"], r["cols"], r["dataflow"]) for r in rows
                if (r["m"], r["n"], r["k"]) == g} == {
            (a, b, df) for a, b in arrays for df in DATAFLOWS}
    assert all(r["scalesim_version"] for r in rows)
    assert all(r["kind"] == "prediction" for r in rows)


def test_model_within_goal_of_the_stored_scalesim_cycles():
    summary = array_validation_summary()
    for df in DATAFLOWS:
        assert summary[df]["rows"] > 0
        assert summary[df]["median_abs_error"] <= 0.03, df
        assert summary[df]["worst_abs_error"] <= 0.10, df


def test_stored_rows_match_a_scalesim_run_now():
    # the cheapest stored rows, re-run: the table is SCALE-Sim's, not a copy of the model
    ref = _reference()
    rows = sorted(array_validation_rows(), key=lambda r: r["scalesim_cycles"])[:2]
    for r in rows:
        again = ref.reference_cycles(r["m"], r["n"], r["k"], r["rows"], r["cols"],
                                     r["dataflow"])
        assert again["scalesim_cycles"] == r["scalesim_cycles"]


@pytest.mark.slow
def test_more_stored_rows_match_a_scalesim_run_now():
    # one fold-sampled row per dataflow, of the cheaper half (a few seconds each)
    ref = _reference()
    rows = sorted(array_validation_rows(), key=lambda r: r["scalesim_cycles"])
    picked = [next(r for r in rows[len(rows) // 4:] if r["dataflow"] == df
                   and r["run"] == "fold-sampled") for df in DATAFLOWS]
    for r in picked:
        again = ref.reference_cycles(r["m"], r["n"], r["k"], r["rows"], r["cols"],
                                     r["dataflow"])
        assert again["scalesim_cycles"] == r["scalesim_cycles"], r["label"]


def test_every_stored_row_is_one_cycle_apart():
    # the model counts cycles, SCALE-Sim prints the last cycle's index: ours is 1 more
    rows = array_validation_rows()
    assert {r["specaccel_cycles"] - r["scalesim_cycles"] for r in rows} == {1.0}
    for df in DATAFLOWS:
        assert statistics.median(r["error"] for r in rows if r["dataflow"] == df) > 0
