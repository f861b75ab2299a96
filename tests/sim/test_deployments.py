"""Deployments (software stack + placement) reach every engine through the step-cost door."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model
from specaccel.models.cost.deployment import Deployment
from specaccel.models.cost.placement import Placement
from specaccel.models.cost.software_stack import get_stack
from specaccel.schema.errors import InputError
from specaccel.sim import simulate
from specaccel.sim.options import ServingConfig
from specaccel.workloads import generate_trace

A100 = get_hardware("a100-80gb")
V7B, EAGLE7 = get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b")


@pytest.fixture(scope="module")
def trace():
    return generate_trace("eagle-vicuna-7b-mtbench", n_requests=3, steps_per_request=12, seed=2)


def _run(trace, dep=None, **kw):
    return simulate(trace, hw=A100, target=V7B, draft=EAGLE7, deployment=dep, **kw)


def test_the_ideal_deployment_changes_nothing(trace):
    plain = _run(trace, engine="fast")
    ideal = _run(trace, Deployment(A100), engine="fast")
    assert ideal.tokens_per_s == plain.tokens_per_s
    assert ideal.baseline.tokens_per_s == plain.baseline.tokens_per_s


def test_every_engine_sees_the_stack(trace):
    dep = Deployment(A100, get_stack("hf-static-kv"))
    ideal = _run(trace, engine="fast")
    event = _run(trace, dep, engine="event")
    fast = _run(trace, dep, engine="fast")
    assert fast.tokens_per_s == pytest.approx(event.tokens_per_s, rel=1e-9)
    assert fast.tokens_per_s < 0.8 * ideal.tokens_per_s  # host-bound eager 7B
    served = _run(trace, dep, engine="event", baseline=False,
                  serving=ServingConfig(max_batch=1, prefill=False))
    assert served.tokens_per_s == pytest.approx(event.tokens_per_s, rel=1e-6)
    batched = _run(trace, dep, engine="event", baseline=False,
                   serving=ServingConfig(max_batch=4, prefill=True))
    ideal_batched = _run(trace, engine="event", baseline=False,
                         serving=ServingConfig(max_batch=4, prefill=True))
    assert batched.tokens_per_s < ideal_batched.tokens_per_s


def test_the_baseline_runs_on_its_own_stack(trace):
    dep = Deployment(A100, get_stack("hf-static-kv"))
    same = _run(trace, dep, engine="fast")
    slower_base = _run(trace, dep, baseline_deployment=dep.with_stack("hf-eager"),
                       engine="fast")
    assert slower_base.tokens_per_s == same.tokens_per_s
    assert slower_base.baseline.tokens_per_s != same.baseline.tokens_per_s


def test_a_70b_target_across_four_gpus_tensor_parallel_or_in_sequence():
    trace = generate_trace("eagle-vicuna-7b-mtbench", n_requests=2, steps_per_request=6)
    l70, head = get_model("llama-2-70b"), get_model("eagle-head-llama-2-70b")
    with pytest.raises(InputError) as exc:
        simulate(trace, hw=A100, target=l70, draft=head, engine="fast",
                 deployment=Deployment(A100, get_stack("hf-static-kv")))
    assert exc.value.field == "placement" and "a100-80gb #0" in str(exc.value)
    runs = {}
    for name, placement in (("tp4", Placement(tp=4)), ("pp4", Placement(pp=4))):
        dep = Deployment(A100, get_stack("hf-static-kv"), placement)
        runs[name] = simulate(trace, hw=A100, target=l70, draft=head, engine="fast",
                              deployment=dep)
    # tensor parallel splits the weights; layers in sequence read them all one by one
    assert runs["tp4"].baseline.tokens_per_s > runs["pp4"].baseline.tokens_per_s
    assert np.isfinite(runs["pp4"].speedup) and runs["pp4"].speedup > 1
    # memory is reported for the busiest device of the placement, not the whole model on one
    for name, run in runs.items():
        fp = run.memory_footprint
        assert fp["devices"] == 4 and fp["fits"] is True, name
        assert fp["weights_bytes"] > A100.mem_bytes > fp["peak_bytes"], name
    tp = runs["tp4"].memory_footprint
    quarter = (l70.weight_bytes + l70.kv_bytes_per_token
               * runs["tp4"].kv_cache["peak_tokens"]) / 4
    # device 0 holds a quarter of the target and the head (whose LM head is the target's)
    assert quarter < tp["peak_bytes"] < quarter + head.weight_bytes
    assert runs["pp4"].memory_footprint["busiest_device"] == 0  # the embedding's stage


def test_a_head_for_another_target_is_rejected(trace):
    with pytest.raises(InputError) as exc:
        simulate(trace, hw=A100, target=get_model("vicuna-13b"), draft=EAGLE7, engine="fast")
    assert exc.value.field == "draft" and "hidden size 4096" in str(exc.value)


def test_a_serving_run_pays_the_stacks_host_time_per_request_once_each(trace):
    """On vLLM's stack every request's first prefill chunk carries the engine's host
    time per request: one request at a time, the run lasts that time per request longer
    than on the same stack without it, and a run without prefill does not pay it."""
    vllm = get_stack("vllm")
    assert vllm.request_host_s > 0
    bare = vllm.with_values(request_host_s=0.0)
    cfg = ServingConfig(max_batch=1, prefill=True)
    with_req = _run(trace, Deployment(A100, vllm), engine="event", baseline=False,
                    serving=cfg)
    without = _run(trace, Deployment(A100, bare), engine="event", baseline=False,
                   serving=cfg)
    assert with_req.makespan_s - without.makespan_s == pytest.approx(
        trace.n_requests * vllm.request_host_s, rel=1e-9)
    cfg = ServingConfig(max_batch=1, prefill=False)
    assert _run(trace, Deployment(A100, vllm), engine="event", baseline=False,
                serving=cfg).makespan_s == _run(trace, Deployment(A100, bare),
                                                 engine="event", baseline=False,
                                                 serving=cfg).makespan_s


def test_the_prefill_chunks_of_one_step_are_one_pass():
    """A batching engine runs a step's prefill chunks in one pass: the weights are read
    once, not once per chunk.  Eight 2-token prompts cost about one pass of 16 tokens
    (far less than eight passes), plus vLLM's host time per request for each; a chunk
    at a later position (context > 0) starts no request."""
    from specaccel.sim.deployment_pricing import deployment_pricer

    L13 = get_model("llama-2-13b")
    vllm = get_stack("vllm")
    pricer = deployment_pricer(Deployment(A100, vllm), L13, None, "none")
    eight = pricer.prefill(np.full(8, 2), np.zeros(8))
    one = pricer.prefill(np.array([2]), np.zeros(1))
    assert eight.latency_s.shape == (1,)
    req = vllm.request_host_s
    assert float(eight.latency_s[0]) - 8 * req < 1.05 * (float(one.latency_s[0]) - req)
    assert float(eight.latency_s[0]) < 0.25 * 8 * float(one.latency_s[0])
    later = pricer.prefill(np.full(8, 2), np.full(8, 64.0))
    assert float(eight.latency_s[0]) - float(later.latency_s[0]) == pytest.approx(
        8 * req, rel=0.02)
    # the kernel model alone (no stack): the same one pass, no request time
    bare = deployment_pricer(Deployment(A100), L13, None, "none")
    assert float(bare.prefill(np.full(8, 2), np.zeros(8)).latency_s[0]) < 1.05 * float(
        bare.prefill(np.array([2]), np.zeros(1)).latency_s[0])


def test_a_preempted_request_does_not_start_again():
    """Pre-emption frees a request's KV and prefills it again from context 0; the engine
    does not tokenise or admit it again, so the host time per request is paid once per
    request however often it is pre-empted -- also when a request was pre-empted before
    any chunk of it ran (a token budget the decode rows use up)."""
    from specaccel.analysis.stack_calibration import plain_trace

    vllm = get_stack("vllm")
    bare = vllm.with_values(request_host_s=0.0)
    L13 = get_model("llama-2-13b")
    for prompt, steps, cfg in ((40, 24, ServingConfig(max_batch=8, kv_capacity_tokens=400)),
                               (40, 24, ServingConfig(max_batch=8, kv_capacity_tokens=330,
                                                      token_budget=9))):
        trace = plain_trace(8, prompt, steps)

        def run(stack, trace=trace, cfg=cfg):
            return simulate(trace, hw=A100, target=L13, draft=None, engine="event",
                            deployment=Deployment(A100, stack), baseline=False, serving=cfg)

        with_req, without = run(vllm), run(bare)
        assert with_req.serving["preemptions"] > 0
        assert with_req.serving["preemptions"] == without.serving["preemptions"]
        assert with_req.makespan_s - without.makespan_s == pytest.approx(
            8 * vllm.request_host_s, rel=1e-6)


def test_a_steps_prefill_chunks_are_one_pass_at_their_mean():
    """Chunks of one step run as one pass: a row per chunk at their mean tokens
    (rounded) and mean context, the weights read once; the chunks that start a request
    pay its host time."""
    from specaccel.sim.deployment_pricing import deployment_pricer

    L13 = get_model("llama-2-13b")
    dep = Deployment(A100, get_stack("vllm"))
    pricer = deployment_pricer(dep, L13, None, "none")
    mixed = pricer.prefill(np.array([4000, 8, 8, 8]), np.array([12000.0, 0, 0, 0]))
    assert mixed.latency_s.shape == (1,)
    one = dep.pass_costs(L13, role="target", tokens=np.array([1006.0]),
                         context=np.array([3000.0]), batch=np.array([4.0]),
                         phase="prefill", requests=np.array([3.0]))
    assert float(mixed.latency_s[0]) == pytest.approx(float(one["latency_s"][0]), rel=1e-9)
    assert float(one["request_s"][0]) == pytest.approx(3 * get_stack("vllm").request_host_s)
