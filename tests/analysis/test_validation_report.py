"""`specaccel validate`'s end-to-end rows: the speedup error read as time per step."""

from __future__ import annotations

import pytest

from specaccel.analysis import validation_report as vr


def test_implied_step_is_tokens_per_step_over_speedup_baseline_steps():
    # 4 tokens a step at 2x over a 50 tokens/s baseline: the step lasts 2 baseline steps
    assert vr.implied_step_s(2.0, 4.0, 50.0) == pytest.approx(0.04)
    assert vr.implied_step_s(4.0, 4.0, 50.0) == pytest.approx(0.02)


def test_a_row_reads_its_speedup_error_as_the_ratio_of_step_times():
    """simulated / published speedup == implied / simulated step: the two columns say the
    same as the error, in milliseconds of one step (a row pooled over decode steps; a
    replayed row's implied step is tested in test_specbench_protocol.py)."""
    (row,) = vr.end_to_end_rows(("eagle2-vicuna-7b-6task",))
    assert row["role"] == "prediction" and row["measured"] == 3.39
    assert row["prefill_share"] is None
    ratio = row["predicted"] / row["measured"]
    assert row["implied_step_ms"] / row["step_ms"] == pytest.approx(ratio, rel=1e-9)
    # an A100 step of a 7B target on the Hugging Face stack lasts tens of milliseconds
    assert 10.0 < row["step_ms"] < 100.0


def test_tau_off_rows_names_a_trace_that_misses_its_published_tau():
    rows = [{"id": "a", "tau": 1.90, "published_tau": 1.75},
            {"id": "b", "tau": 4.36, "published_tau": 4.34}]
    assert vr.tau_off_rows(rows) == ["a (trace 1.900 vs published 1.75)"]


def test_every_end_to_end_trace_commits_its_published_tau():
    """τ is an input of these rows: with the validation's trace size every preset's trace
    realises it, so a speedup error is not the trace's sampling error."""
    rows = vr.end_to_end_rows()
    assert len(rows) >= 17
    assert vr.tau_off_rows(rows) == []


def test_validate_exits_1_when_a_trace_is_too_short_to_realise_its_tau(monkeypatch, capsys):
    """8 x 64 steps: prompt lookup's trace commits 1.90 tokens a step, not its 1.75."""
    from specaccel.cli import main

    monkeypatch.setattr(vr, "E2E_REQUESTS", 8)
    assert main(["validate", "--section", "end-to-end"]) == 1
    out = capsys.readouterr().out
    assert "traces off their published tau: " in out
    assert "prompt-lookup-vicuna-7b-specbench (trace 1.896 vs published 1.75)" in out


def test_end_to_end_rows_are_summarised_by_source():
    rows = [{"role": "prediction", "error": e, "source": s} for e, s in (
        (0.30, "Spec-Bench leaderboard"), (-0.10, "Spec-Bench leaderboard (A100; 13B)"),
        (0.20, "Spec-Bench leaderboard"), (0.05, "EAGLE-2 Table 1"),
        (-0.07, "Medusa Table 2"))]
    rows.append({"role": "calibration", "error": 0.9, "source": "EAGLE-2 Table 1"})
    rows.append({"role": "prediction", "error": 0.12, "hardware": "rtx-3090",
                 "source": "Spec-Bench leaderboard (RTX 3090; Vicuna-7B-v1.3)"})
    got = {k: (n, med, worst) for k, n, med, worst in vr.by_source(rows)}
    assert got[vr.SPEC_BENCH_SOURCE + " on rtx-3090"] == (1, pytest.approx(0.12),
                                                          pytest.approx(0.12))
    assert got[vr.SPEC_BENCH_SOURCE] == (3, pytest.approx(0.20), pytest.approx(0.30))
    assert got["the methods' own papers"] == (2, pytest.approx(0.06), pytest.approx(0.07))
    lines = vr.by_source_lines({"name": "end-to-end", "rows": rows})
    assert lines[0] == "Spec-Bench leaderboard: 3 rows, median |error| 20.0%, worst 30.0%"
    assert vr.by_source_lines({"name": "kernels", "rows": rows}) == []


def _share(preset: str, stack: str) -> float:
    from specaccel.models.cost.deployment_config import DeploymentConfig
    from specaccel.sim import simulate_named
    from specaccel.workloads import generate_trace

    trace = generate_trace(preset, n_requests=8, steps_per_request=16, seed=0)
    config = DeploymentConfig(stack=stack, baseline_stack=stack)
    sim = simulate_named(trace, "a100-80gb", engine="fast", deployment=config)
    return vr.gpu_share(trace, "a100-80gb", config, sim.makespan_s / sim.n_steps)


def test_the_gpu_share_of_a_step_is_what_remains_with_an_instant_host():
    """On the ideal stack there is no host time: the share is exactly 1.  Medusa-1 on the
    Hugging Face stack is host-bound on a 7B target (the host's 49 operations a layer
    outlast the layer's kernels) and GPU-bound on a 33B one (60 layers of 6656-wide
    weights)."""
    assert _share("medusa1-vicuna-7b-specbench", "ideal") == 1.0
    small = _share("medusa1-vicuna-7b-specbench", "hf-static-kv")
    large = _share("medusa1-vicuna-33b-specbench", "hf-static-kv")
    assert 0.5 < small < vr.GPU_BOUND_SHARE <= large <= 1.0


def test_end_to_end_rows_are_summarised_by_regime():
    rows = [{"role": "prediction", "error": e, "gpu_share": g} for e, g in (
        (0.30, 0.99), (0.10, 0.95), (-0.20, 0.90), (0.02, 0.70), (-0.06, 0.89))]
    rows.append({"role": "calibration", "error": 0.5, "gpu_share": 0.99})
    got = {k: rest for k, *rest in vr.by_regime(rows)}
    assert got["GPU-bound"] == [3, pytest.approx(0.20), pytest.approx(0.30),
                                pytest.approx(0.10)]
    assert got["host-bound"] == [2, pytest.approx(0.04), pytest.approx(0.06),
                                 pytest.approx(-0.02)]
    lines = vr.by_source_lines({"name": "end-to-end", "rows": rows})
    assert ("GPU-bound steps (the GPU sets at least 90% of the simulated step): 3 rows, "
            "median |error| 20.0%, worst 30.0%, median signed error +10.0%") in lines
