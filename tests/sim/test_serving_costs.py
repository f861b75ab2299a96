"""The serving loop's default cost function: the cost model without per-call checks,
its argument ranges checked once before the run -- the same numbers as `pass_costs`."""

from dataclasses import replace

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model, pass_costs
from specaccel.models.cost.drafting import DraftPasses, StepTrees
from specaccel.models.cost.pass_args import MAX_BATCH, MAX_ROW_TOKENS
from specaccel.schema.errors import InputError
from specaccel.sim import StepInput, compute_step_costs
from specaccel.sim.request_sampling import take_requests
from specaccel.sim.serving import ServingConfig, serve
from specaccel.sim.serving_costs import check_serving_pass_ranges
from specaccel.workloads import DEFAULT_PRESET, generate_trace


@pytest.fixture(scope="module")
def workload():
    base = generate_trace(DEFAULT_PRESET, n_requests=4, steps_per_request=12, seed=11)
    trace = take_requests(base, 20)
    target = get_model(base.metadata["target_model"])
    draft = get_model(base.metadata["draft_model"])
    return trace, target, draft


def _log_numbers(log):
    return {"makespan_s": log.makespan_s, "energy": log.dynamic_energy_j,
            "hbm": log.hbm_bytes_by_role, "busy": log.role_busy_s,
            "end": log.request_end_s.tolist(), "first": log.request_first_token_s.tolist(),
            "kv": (log.kv_peak_tokens, log.kv_mean_tokens, log.kv_written_tokens),
            "serving": log.serving, "timeline": log.timeline}


CONFIGS = {
    "poisson-batch-8-prefill": dict(max_batch=8, arrivals="poisson", rate_per_s=300.0,
                                    seed=3),
    "chunked-prefill": dict(max_batch=6, token_budget=200, arrivals="poisson",
                            rate_per_s=80.0, seed=1),
    "pre-emption": dict(max_batch=12, arrivals="poisson", rate_per_s=900.0, seed=2),
    "static-batch": dict(max_batch=32, prefill=False),
    "overlapped": dict(max_batch=8, arrivals="poisson", rate_per_s=300.0, seed=4,
                       overlap_draft=True),
}


@pytest.mark.parametrize(("hw_name", "name"), [
    (hw, name) for hw in ("specaccel-default", "a100-80gb") for name in CONFIGS
    if not (hw == "a100-80gb" and name == "overlapped")])   # a GPU has one engine
def test_default_serving_costs_equal_checked_pass_costs(workload, hw_name, name):
    trace, target, draft = workload
    hw = get_hardware(hw_name)
    costs = compute_step_costs(trace, target_model=target, draft_model=draft, hw=hw)
    cfg = ServingConfig(**CONFIGS[name])
    if name == "pre-emption":      # a cache for a few requests: rows get pre-empted
        need = int((costs.context + costs.n_nodes).max())
        cfg = replace(cfg, kv_capacity_tokens=need + 300)
    kw = dict(hw=hw, target=target, draft=draft, serving=cfg, record_timeline=True)
    checked = serve(StepInput.of(trace, cost_fn=pass_costs, **kw))
    fast = serve(StepInput.of(trace, **kw))
    assert _log_numbers(fast) == _log_numbers(checked)
    assert checked.serving["batch_steps"] < costs.n_steps     # batching happened
    if name == "pre-emption":
        assert checked.serving["preemptions"] > 0
    if name != "static-batch":
        assert checked.serving["prefill_tokens"] >= int(trace.prompt_len.sum())


def test_the_default_serving_loop_skips_the_per_call_checks(workload, monkeypatch):
    """Proof that the loop runs the unchecked entry point: with pass_costs's argument
    checking disabled (raising), the default run still works, a checked one does not."""
    import specaccel.models.cost.pass_evaluator as pe

    trace, target, draft = workload
    hw = get_hardware("specaccel-default")
    cfg = ServingConfig(max_batch=8, arrivals="poisson", rate_per_s=300.0, seed=3)
    kw = dict(hw=hw, target=target, draft=draft, serving=cfg)
    inp = StepInput.of(trace, **kw)           # the batch-1 step costs: checked calls
    checked_inp = StepInput.of(trace, cost_fn=pass_costs, **kw)
    want = serve(inp)

    def no_checks(*args, **kwargs):
        raise AssertionError("per-call argument checks ran")

    monkeypatch.setattr(pe, "_pass_arrays", no_checks)
    got = serve(inp)
    assert _log_numbers(got) == _log_numbers(want)
    with pytest.raises(AssertionError, match="per-call"):
        serve(checked_inp)


def test_out_of_range_passes_are_refused_before_the_run(workload):
    trace, target, draft = workload
    hw = get_hardware("specaccel-default")
    costs = compute_step_costs(trace, target_model=target, draft_model=draft, hw=hw)
    passes = costs.drafting.draft_passes(StepTrees.of_trace(trace, costs.committed))
    dtok, duse = passes.tokens, passes.used
    check_serving_pass_ranges(costs, passes, 32)                   # the real run is fine
    cfg = ServingConfig(max_batch=4, prefill=False, kv_capacity_tokens=10**9)
    # a context beyond the cost model's limit: refused up front, as pass_costs would
    huge = replace(costs, context=costs.context + MAX_ROW_TOKENS)
    for fn in (None, pass_costs):     # (mid-run, SimPy re-raises the error as its text)
        inp = StepInput.of(trace, hw=hw, target=target, draft=draft, serving=cfg, cost_fn=fn)
        with pytest.raises(InputError, match="field 'context'"):
            serve(replace(inp, stream=inp.stream.with_costs(huge)))
    # the draft passes reach context + levels - 1: one below the limit plus 2 levels fails
    edge = replace(costs, context=np.full_like(costs.context, MAX_ROW_TOKENS - 1.0))
    with pytest.raises(InputError, match="attend to") as e:
        check_serving_pass_ranges(edge, passes, 32)
    check_serving_pass_ranges(edge, DraftPasses(dtok[:, :2], duse[:, :2],
                                                passes.context_offset[:2]), 32)
    bad = {
        "n_nodes": (replace(costs, n_nodes=np.where(np.arange(costs.n_steps) == 3, 0,
                                                    costs.n_nodes)), passes, 32),
        "draft_tokens": (costs, replace(passes, tokens=np.where(duse, 0, dtok)), 32),
        "context": (replace(costs, context=np.full(costs.n_steps, np.nan)), passes, 32),
        "prompt_len": (replace(costs, prompt_len=-costs.prompt_len), passes, 32),
        "batch": (replace(costs, request_step_offsets=np.zeros(MAX_BATCH + 2, np.int64)),
                  passes, MAX_BATCH + 1),
    }
    for field, (c, d, mb) in bad.items():
        with pytest.raises(InputError) as e:
            check_serving_pass_ranges(c, d, mb)
        assert e.value.field == field
    # a batch limit above MAX_BATCH is fine while the requests are fewer
    check_serving_pass_ranges(costs, passes, MAX_BATCH + 1)
