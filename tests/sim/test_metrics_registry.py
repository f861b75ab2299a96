"""The metrics registry: one declaration per metric, read by JSON, reports and sweeps."""

from __future__ import annotations

import json

import pytest

from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import simulate
from specaccel.sim.metrics import DIRECTIONS, METRICS, Metric
from specaccel.sim.options import ServingConfig

Q = 2.0 ** -12


def two_requests() -> Trace:
    chain = DraftTree.build([-1, 0, 1], [4, 5, 7], [5, 6, 8])
    return Trace.from_trees([("A", 10, [chain, chain]), ("B", 5, [chain])],
                            metadata={"drafting": "per-level"})


def test_every_metric_is_in_the_json_and_reads_the_result(toy_hw, target_model, draft_model,
                                                          cost):
    res = simulate(two_requests(), hw=toy_hw, target=target_model, draft=draft_model,
                   cost_fn=cost)
    out = json.loads(json.dumps(res.to_dict()))        # plain JSON: no NaN, no arrays
    assert list(out["metrics"]) == list(METRICS)
    m = out["metrics"]
    assert m["tokens_per_s"] == res.tokens_per_s and m["speedup"] == res.speedup
    assert m["baseline_tokens_per_s"] == res.baseline.tokens_per_s
    assert m["power_w"] == pytest.approx(res.energy_j["total"] / res.makespan_s)
    assert m["accepted_histogram"] == res.accepted_histogram
    assert m["ttft_p50_s"] is None and m["area_mm2"] is None   # batch 1; toy has no area
    assert out["baseline"]["metrics"]["speedup"] is None
    # the mean verify pass is priced by the run's own cost function
    assert m["verify_pass_s"] == pytest.approx((40 + 2 * 3 + res.kv_cache["mean_tokens"]) * Q)


def test_serving_metrics_are_defined_for_a_serving_run(toy_hw, target_model, draft_model,
                                                       batch_cost):
    res = simulate(two_requests(), hw=toy_hw, target=target_model, draft=draft_model,
                   cost_fn=batch_cost, serving=ServingConfig(max_batch=2))
    m = res.metrics()
    assert m["ttft_p50_s"] == res.serving["ttft_s"]["p50"]
    assert m["tpot_p99_s"] == res.serving["tpot_s"]["p99"]


def test_declarations_are_complete_and_sweeps_read_them():
    from specaccel.analysis import design_point as dp
    from specaccel.analysis.report import SUMMARY_FIELDS

    assert all(m.direction in DIRECTIONS and m.help for m in METRICS.values())
    assert dp.METRICS == {name: m.help for name, m in METRICS.items()}
    assert dp.DEFAULT_METRICS == tuple(n for n, m in METRICS.items() if m.sweep_default)
    assert [dp.metric_is_numeric(n) for n in METRICS] == [m.numeric for m in METRICS.values()]
    assert SUMMARY_FIELDS == ("tokens_per_s", "baseline_tokens_per_s", "speedup",
                              "mean_committed_per_step", "mean_accepted_per_step",
                              "energy_per_token_j", "baseline_energy_per_token_j")
    with pytest.raises(ValueError, match="direction"):
        Metric("x", "", "up", "help", lambda r: 0.0)
