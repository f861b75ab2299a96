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
    same as the error, in milliseconds of one step."""
    (row,) = vr.end_to_end_rows(("eagle2-vicuna-7b-mtbench",))
    assert row["role"] == "prediction" and row["measured"] == 3.62
    ratio = row["predicted"] / row["measured"]
    assert row["implied_step_ms"] / row["step_ms"] == pytest.approx(ratio, rel=1e-9)
    # an A100 step of a 7B target on the Hugging Face stack lasts tens of milliseconds
    assert 10.0 < row["step_ms"] < 100.0
