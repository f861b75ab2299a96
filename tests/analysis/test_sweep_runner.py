"""Sweep runner with the injected toy evaluator: runs, resume, crash, strategies."""

from __future__ import annotations

import math

import pytest
import sweep_helpers
from sweep_helpers import TOY_SPEC, toy_evaluate, write_spec

from specaccel.analysis.html_report import analyse_sweep
from specaccel.analysis.results_store import load_results
from specaccel.analysis.sweep_runner import run_sweep, rung_steps
from specaccel.analysis.sweep_spec import load_spec, point_key
from specaccel.schema.errors import InputError


def test_grid_sweep_stores_every_point_once_with_its_values(tmp_path, toy_spec):
    out = tmp_path / "out"
    summary = run_sweep(toy_spec, out, workers=1, evaluate=toy_evaluate)
    assert (summary.total, summary.evaluated, summary.skipped) == (24, 24, 0)
    assert summary.evaluators == {"toy": 24}
    df = load_results(out).frame
    assert len(df) == 24 and df["key"].is_unique
    for _, row in df.iterrows():
        point = {k: row[k] for k in ("preset", "requests", "steps", "trace_seed", "workload",
                                     "array_rows", "sram_mib", "clock_hz")}
        point = {k: (v.item() if hasattr(v, "item") else v) for k, v in point.items()}
        assert row["key"] == point_key(point, toy_spec.settings)
        assert row["tokens_per_s"] == toy_evaluate(point, toy_spec.settings)["tokens_per_s"]
    assert (out / "sweep.toml").read_text() == toy_spec.text


def test_resume_skips_done_points_and_refuses_without_resume(tmp_path, toy_spec):
    out = tmp_path / "out"
    run_sweep(toy_spec, out, workers=1, evaluate=toy_evaluate)
    with pytest.raises(InputError, match="--resume"):
        run_sweep(toy_spec, out, workers=1, evaluate=toy_evaluate)
    again = run_sweep(toy_spec, out, workers=1, evaluate=toy_evaluate, resume=True)
    assert (again.evaluated, again.skipped) == (0, 24)
    # growing an axis only evaluates the new points
    bigger = load_spec(write_spec(tmp_path, TOY_SPEC.replace("[16, 32, 64, 128]",
                                                             "[16, 32, 64, 128, 256]"), "b.toml"))
    more = run_sweep(bigger, out, workers=1, evaluate=toy_evaluate, resume=True)
    assert (more.evaluated, more.skipped) == (6, 24)
    assert len(load_results(out).frame) == 30



def test_resume_refuses_a_spec_that_does_not_hold_the_stored_points(tmp_path, toy_spec):
    """A changed axis value would leave points of two sweeps under the new spec: refused,
    naming the stored spec, with the folder untouched."""
    out = tmp_path / "out"
    run_sweep(toy_spec, out, workers=1, evaluate=toy_evaluate)
    other = load_spec(write_spec(tmp_path, TOY_SPEC.replace("[16, 32, 64, 128]",
                                                            "[16, 32, 64, 256]"), "o.toml"))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(InputError, match="the spec differs") as err:
        run_sweep(other, out, workers=1, evaluate=toy_evaluate, resume=True)
    assert err.value.file == str(out / "sweep.toml")
    assert "6 of the 24 stored points" in str(err.value)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_successive_halving_resumes_only_with_its_own_spec(tmp_path):
    body = TOY_SPEC.replace("[constraints]\narea_mm2 = 60\n", "").replace(
        "clock_hz = [0.8e9, 1.2e9]", "clock_hz = { low = 0.8e9, high = 1.6e9 }")
    body += ('\n[search]\nstrategy = "successive-halving"\nsamples = 3\nseed = 1\n'
             'eta = 3\nmin_steps = 2\nobjective = "tokens_per_s"\n')
    spec = load_spec(write_spec(tmp_path, body))
    run_sweep(spec, tmp_path / "sh", workers=1, evaluate=toy_evaluate)
    # the same content, laid out otherwise, resumes
    same = load_spec(write_spec(tmp_path, "# again\n" + body, "same.toml"))
    assert run_sweep(same, tmp_path / "sh", workers=1, evaluate=toy_evaluate,
                     resume=True).evaluated == 0
    other = load_spec(write_spec(tmp_path, body.replace("seed = 1", "seed = 2"), "o.toml"))
    with pytest.raises(InputError, match="the spec differs"):
        run_sweep(other, tmp_path / "sh", workers=1, evaluate=toy_evaluate, resume=True)


_CALLS = {"n": 0}


def _crashing_evaluate(point, settings):
    _CALLS["n"] += 1
    if _CALLS["n"] == 13:
        raise RuntimeError("simulated crash")
    return toy_evaluate(point, settings)


def test_a_failed_run_keeps_finished_points_and_resume_completes(tmp_path, toy_spec):
    out = tmp_path / "out"
    _CALLS["n"] = 0
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_sweep(toy_spec, out, workers=1, evaluate=_crashing_evaluate, chunk_size=1)
    partial = load_results(out).frame
    assert len(partial) == 12
    rest = run_sweep(toy_spec, out, workers=1, evaluate=toy_evaluate, resume=True)
    assert (rest.evaluated, rest.skipped) == (12, 12)
    res = load_results(out)
    assert len(res.frame) == 24 and res.duplicates_dropped == 0


def _failing_evaluate(point, settings):
    raise RuntimeError("simulated failure")


def test_a_run_that_stores_no_point_leaves_nothing_that_blocks_the_next(tmp_path, toy_spec):
    """A failure before the first commit removes what the run made (the folder, or the
    store files in a folder the user made), so another sweep may use that --out."""
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="simulated failure"):
        run_sweep(toy_spec, out, workers=1, evaluate=_failing_evaluate)
    assert not out.exists()
    mine = tmp_path / "mine"
    (mine / "notes").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="simulated failure"):
        run_sweep(toy_spec, mine, workers=1, evaluate=_failing_evaluate)
    assert [p.name for p in mine.iterdir()] == ["notes"]
    other = load_spec(write_spec(tmp_path, TOY_SPEC.replace("clock_hz = [0.8e9, 1.2e9]\n", ""),
                                 "o.toml"))
    assert run_sweep(other, out, workers=1, evaluate=toy_evaluate).evaluated == 12
    assert run_sweep(other, mine, workers=1, evaluate=toy_evaluate).evaluated == 12


def test_process_pool_gives_the_serial_table(tmp_path, toy_spec):
    a = run_sweep(toy_spec, tmp_path / "serial", workers=1, evaluate=toy_evaluate)
    b = run_sweep(toy_spec, tmp_path / "pool", workers=2, evaluate=sweep_helpers.toy_evaluate,
                  chunk_size=3)
    assert a.evaluated == b.evaluated == 24 and b.backend == "processes (2)"
    fa, fb = load_results(tmp_path / "serial").frame, load_results(tmp_path / "pool").frame
    assert fa.equals(fb)


def test_rung_steps():
    assert rung_steps(100, 10, 3) == [10, 30, 90, 100]
    assert rung_steps(90, 10, 3) == [10, 30, 90]
    assert rung_steps(5, 10, 3) == [5]


def test_successive_halving_keeps_the_best_and_resumes_identically(tmp_path):
    body = TOY_SPEC.replace("[constraints]\narea_mm2 = 60\n", "").replace(
        "clock_hz = [0.8e9, 1.2e9]", "clock_hz = { low = 0.8e9, high = 1.6e9 }")
    body += ('\n[search]\nstrategy = "successive-halving"\nsamples = 9\nseed = 1\n'
             'eta = 3\nmin_steps = 2\nobjective = "tokens_per_s"\n')
    spec = load_spec(write_spec(tmp_path, body))
    s = run_sweep(spec, tmp_path / "sh", workers=1, evaluate=toy_evaluate)
    assert [r["candidates"] for r in s.rungs] == [9, 3, 1]
    assert [r["steps"] for r in s.rungs] == [2, 6, 10]
    df = load_results(tmp_path / "sh").frame
    assert len(df) == 13 and s.evaluated == 13
    first = df[df["steps"] == 2]
    best3 = first.nlargest(3, "tokens_per_s")
    second = df[df["steps"] == 6]
    key_cols = ["array_rows", "sram_mib", "clock_hz"]
    assert sorted(map(tuple, second[key_cols].values.tolist())) == \
        sorted(map(tuple, best3[key_cols].values.tolist()))
    final = df[df["steps"] == 10]
    top = second.loc[second["tokens_per_s"].idxmax(), key_cols].tolist()
    assert final[key_cols].values.tolist() == [top]
    analysis = analyse_sweep(tmp_path / "sh")          # full-length designs only
    assert len(analysis.frame) == 1 and analysis.short_rung_points == 12
    assert analysis.best["key"] == final["key"].iloc[0]
    again = run_sweep(spec, tmp_path / "sh", workers=1, evaluate=toy_evaluate, resume=True)
    assert again.evaluated == 0 and again.skipped == 13
    assert math.isfinite(final["tokens_per_s"].iloc[0])


def test_lock_and_empty_directory_rules(tmp_path, toy_spec):
    from specaccel.analysis.results_store import ResultsStore
    from specaccel.analysis.sweep_runner import _Lock

    out = tmp_path / "out"
    ResultsStore(out, columns=["key", "evaluator"])     # a store with no points yet
    held = _Lock(out)
    try:
        with pytest.raises(InputError, match="another sweep"):
            run_sweep(toy_spec, out, workers=1, evaluate=toy_evaluate)
    finally:
        held.release()
    # an empty store is not "results": a fresh run may use it, but its columns must fit
    with pytest.raises(InputError, match="other columns"):
        run_sweep(toy_spec, out, workers=1, evaluate=toy_evaluate)
    fresh = tmp_path / "fresh"
    (fresh / "parts").mkdir(parents=True)
    assert run_sweep(toy_spec, fresh, workers=1, evaluate=toy_evaluate).evaluated == 24


def test_every_part_file_has_the_same_schema(tmp_path):
    import duckdb
    import pyarrow.parquet as pq

    # The second workload has no 'requests' and no 'steps': all-null in its batches.
    body = TOY_SPEC.replace("batch_size = 5", "batch_size = 1") + (
        '\n[[workloads]]\nname = "defaults"\npreset = "specinfer-llama2-7b-c4"\n')
    spec = load_spec(write_spec(tmp_path, body))
    out = tmp_path / "out"
    run_sweep(spec, out, workers=1, evaluate=toy_evaluate, chunk_size=1)
    parts = sorted((out / "parts").glob("*.parquet"))
    assert len(parts) == 48
    schemas = {str(pq.read_schema(p)) for p in parts}
    assert len(schemas) == 1
    schema = pq.read_schema(parts[0])
    assert str(schema.field("requests").type) == "int64"
    assert str(schema.field("clock_hz").type) == "double"
    n, nulls = duckdb.sql(f"SELECT count(*), count(*) - count(requests) FROM "
                          f"read_parquet('{out}/parts/*.parquet')").fetchall()[0]
    assert (n, nulls) == (48, 24)
