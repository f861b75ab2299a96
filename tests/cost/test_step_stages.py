"""Deployments and the stages of a step: the ideal deployment is the kernel model, stacks
and placements add their physical terms."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model, pass_costs
from specaccel.models.cost.deployment import Deployment
from specaccel.models.cost.drafting import StepTrees, drafting_mode
from specaccel.models.cost.placement import Placement
from specaccel.models.cost.sampling_tail import sampling_tail
from specaccel.models.cost.software_stack import IDEAL, get_stack
from specaccel.models.cost.stack_cost import pass_kernel_count
from specaccel.models.cost.step_stages import step_stages
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.sim.autoregressive import autoregressive_trace
from specaccel.sim.deployment_pricing import DeploymentStages
from specaccel.sim.pricing import StepPricer
from specaccel.sim.step_costs import step_contexts, unit_latencies
from specaccel.workloads import generate_trace

A100 = get_hardware("a100-80gb")
V7B = get_model("vicuna-7b")


def draft_pass_shapes(trace, committed, context, drafting):
    trees = StepTrees.of_trace(trace, committed)
    return drafting_mode(drafting).draft_passes(trees).flat(context)


def _stages(trace, dep, target, draft, drafting):
    out = verify_trace(trace)
    committed = out.committed.astype(np.int64)
    ctx = step_contexts(trace, committed)
    n = np.diff(trace.step_node_offsets).astype(np.int64)
    so, dt, dc = draft_pass_shapes(trace, committed, ctx, drafting)
    return step_stages(dep, target=target, draft=draft, speculative=drafting != "none",
                       n_nodes=n, target_tokens=n, context=ctx.astype(float),
                       accepted=out.accepted, draft_step_of=so, draft_tokens=dt,
                       draft_context=dc)


ALL_STAGE_FIELDS = ("draft_s", "draft_j", "draft_flops", "draft_hbm_bytes", "tree_s",
                    "target_s", "target_j", "target_flops", "target_hbm_bytes", "verify_s")


def _both_paths(hw, trace, target, draft, drafting):
    """The same steps priced by the simulator's own stages and by the deployment's
    `step_stages` on the ideal deployment (the door with `DeploymentStages`)."""
    mode = drafting_mode(drafting)
    own = StepPricer.build(hw, target, draft, mode)
    dep = replace(own, stages=DeploymentStages(Deployment(hw)))
    return own, dep


@pytest.mark.parametrize("hw_name", ["a100-80gb", "specaccel-default"])
@pytest.mark.parametrize("preset,draft_name,drafting", [
    ("eagle-vicuna-7b-mtbench", "eagle-head-vicuna-7b", "per-level"),
    ("medusa2-vicuna-7b-mtbench", "medusa-vicuna-7b", "single-pass"),
])
def test_both_pricing_paths_charge_the_same_work_on_a_tree_and_a_plain_step(
        hw_name, preset, draft_name, drafting):
    hw = get_hardware(hw_name)
    trace = generate_trace(preset, n_requests=2, steps_per_request=8, seed=1)
    own, dep = _both_paths(hw, trace, V7B, get_model(draft_name), drafting)
    for a, b in ((own, dep), (own.baseline(), dep.baseline())):
        if a.drafting.verifies_tree:
            t = trace
        else:  # plain decoding of the same committed tokens
            t = autoregressive_trace(trace, verify_trace(trace))
        ca, cb = a.step_costs(t), b.step_costs(t)
        for f in ALL_STAGE_FIELDS:
            assert np.allclose(getattr(ca, f), getattr(cb, f), rtol=1e-12, atol=0), \
                (a.drafting.name, f)


def test_every_pass_pays_its_own_token_selection():
    """A draft selects its tokens (a Medusa pass once per head), the target one token per
    verified node, plain decoding one a step: each charged once, where it is needed (the
    accelerator's sampling unit here; on a GPU the stack's kernels, below)."""
    hw = get_hardware("specaccel-default")
    trace = generate_trace("medusa2-vicuna-7b-mtbench", n_requests=2, steps_per_request=8,
                           seed=1)
    heads = get_model("medusa-vicuna-7b")
    pricer = StepPricer.build(hw, V7B, heads, "single-pass")
    free = StepPricer.build(hw, V7B, heads, "single-pass",
                            cost_fn=lambda *a, **k: _zero_tail_kernel(*a, **k))
    c = pricer.step_costs(trace)
    n = np.diff(trace.step_node_offsets).astype(float)
    v_sel = sampling_tail(hw, n, V7B.vocab_size)["gpu_s"]
    d_sel = sampling_tail(hw, np.full(n.shape, float(heads.medusa_heads)),
                          heads.vocab_size)["gpu_s"]
    assert np.all(v_sel > 0) and np.all(d_sel > 0)
    base = free.step_costs(trace)  # the same steps with passes that cost nothing
    assert np.allclose(base.draft_s, d_sel, rtol=1e-12)
    assert np.allclose(c.verify_s - unit_latencies(hw.verify_unit_latency_s, c.n_nodes),
                       v_sel, rtol=1e-9)
    ar = pricer.baseline().step_costs(autoregressive_trace(trace, verify_trace(trace)))
    one = sampling_tail(hw, 1.0, V7B.vocab_size)["gpu_s"]
    assert np.allclose(ar.verify_s, one, rtol=1e-12) and np.all(ar.draft_s == 0)


def test_on_a_gpu_stack_the_selection_is_the_stacks_kernels_for_every_pass():
    hf = get_stack("hf-static-kv")
    heads = get_model("medusa-vicuna-7b")
    dep = Deployment(A100, hf)
    n = np.array([64.0])
    st = step_stages(dep, target=V7B, draft=heads, speculative=True, n_nodes=n.astype(int),
                     target_tokens=n, context=np.array([300.0]), accepted=np.array([2]),
                     draft_step_of=np.zeros(1, dtype=np.int64), draft_tokens=np.ones(1),
                     draft_context=np.array([300.0]))
    no_tail = step_stages(Deployment(A100, hf.with_values(tail_ops=0, logits_bytes=2.0)),
                          target=V7B, draft=heads, speculative=True, n_nodes=n.astype(int),
                          target_tokens=n, context=np.array([300.0]),
                          accepted=np.array([2]), draft_step_of=np.zeros(1, dtype=np.int64),
                          draft_tokens=np.ones(1), draft_context=np.array([300.0]))
    assert st["verify_s"][0] > no_tail["verify_s"][0]   # the target's 64 selections
    assert st["draft_s"][0] > no_tail["draft_s"][0]     # the heads' own selections
    assert Deployment(A100).selection(n, V7B.vocab_size)["gpu_s"][0] == 0.0


def _zero_tail_kernel(model, device, *, tokens, **_):
    n = np.asarray(tokens).shape[0]
    return {f: np.zeros(n) for f in ("latency_s", "energy_j", "flops", "bytes")}


def test_a_stack_on_an_accelerator_or_a_pipeline_there_is_an_input_error():
    acc = get_hardware("specaccel-default")
    with pytest.raises(InputError) as exc:
        Deployment(acc, get_stack("hf-eager"))
    assert exc.value.field == "stack"
    with pytest.raises(InputError) as exc:
        Deployment(acc, IDEAL, Placement(pp=2))
    assert exc.value.field == "pp"
    Deployment(acc, IDEAL, Placement(tp=2))


def test_plain_decoding_on_a_stack_pays_the_loop_and_its_synchronisation():
    hf = get_stack("hf-eager")
    dep = Deployment(A100, hf)
    st = step_stages(dep, target=V7B, draft=None, speculative=False,
                     n_nodes=np.ones(1, dtype=np.int64), target_tokens=np.ones(1),
                     context=np.array([300.0]), accepted=np.zeros(1))
    host = (hf.ar_step_ops + hf.tail_ops + 1) * hf.host_op_s
    assert st["verify_s"][0] >= (host + hf.sync_s) * (1 - 1e-12)
    kernels = pass_kernel_count(hf, V7B)
    assert st["target_s"][0] == pytest.approx(kernels * hf.host_op_s)  # host-bound
    assert st["tree_s"][0] == 0.0


def test_a_layer_by_layer_kv_commit_costs_host_ops_per_layer_and_accepted_token():
    """LADE copies every accepted token's K and V layer by layer from Python: the verify
    stage grows by layers x commit_token_ops host operations per accepted token."""
    lade = get_stack("lade")
    assert (lade.commit_layer_ops, lade.commit_token_ops) == (2, 6)
    dep = Deployment(A100, lade)
    args = dict(target=V7B, draft=None, speculative=True, n_nodes=np.array([36, 36]),
                target_tokens=np.array([36.0, 36.0]), context=np.array([300.0, 300.0]),
                accepted=np.array([0, 3]))
    st = step_stages(dep, **args)
    per_token = V7B.n_layers * lade.commit_token_ops * lade.host_op_s
    assert st["verify_s"][1] - st["verify_s"][0] == pytest.approx(3 * per_token)
    flat = step_stages(Deployment(A100, lade.with_values(commit_layer_ops=0,
                                                          commit_token_ops=0)), **args)
    assert st["verify_s"][0] - flat["verify_s"][0] == pytest.approx(
        V7B.n_layers * lade.commit_layer_ops * lade.host_op_s)


def test_a_tree_rebuilt_on_the_host_costs_cpu_ops_per_step_and_per_drafted_node():
    """EAGLE-2 rebuilds its re-ranked tree's mask row by row on CPU tensors: the tree
    stage grows by tree_node_cpu_ops x cpu_op_s per drafted node, plus tree_cpu_ops per
    step, on top of its GPU operations (host-bound: the GPU has only small kernels)."""
    eagle2 = get_stack("eagle2")
    assert (eagle2.tree_cpu_ops, eagle2.tree_node_cpu_ops) == (20, 3)
    assert eagle2.cpu_op_s == pytest.approx(2.4e-6)
    dep = Deployment(A100, eagle2)
    args = dict(target=V7B, draft=None, speculative=True, n_nodes=np.array([11, 61]),
                target_tokens=np.array([11.0, 61.0]), context=np.array([300.0, 300.0]),
                accepted=np.array([2, 2]))
    st = step_stages(dep, **args)
    per_node = eagle2.tree_node_cpu_ops * eagle2.cpu_op_s
    assert st["tree_s"][1] - st["tree_s"][0] == pytest.approx(50 * per_node)
    gpu_only = eagle2.with_values(tree_cpu_ops=0, tree_node_cpu_ops=0)
    flat = step_stages(Deployment(A100, gpu_only), **args)
    assert flat["tree_s"][0] == pytest.approx(eagle2.tree_ops * eagle2.host_op_s)
    assert st["tree_s"][0] - flat["tree_s"][0] == pytest.approx(
        (eagle2.tree_cpu_ops + 10 * eagle2.tree_node_cpu_ops) * eagle2.cpu_op_s)
    # the stack of the other repositories builds no tree on the host
    hf = get_stack("hf-static-kv")
    assert (hf.tree_cpu_ops, hf.tree_node_cpu_ops, hf.cpu_op_s) == (0, 0, 0.0)


def test_synchronised_draft_passes_cost_more_than_overlapped_ones():
    hf = get_stack("hf-static-kv")
    draft = get_model("vicuna-68m")
    args = dict(target=V7B, draft=draft, speculative=True, n_nodes=np.array([6]),
                target_tokens=np.array([6.0]), context=np.array([300.0]),
                accepted=np.array([2]), draft_step_of=np.zeros(5, dtype=np.int64),
                draft_tokens=np.ones(5), draft_context=300.0 + np.arange(5))
    overlapped_stack = hf.with_values(draft_pass_syncs=0)
    overlapped = step_stages(Deployment(A100, overlapped_stack), **args)["draft_s"][0]
    synced = step_stages(Deployment(A100, hf), **args)["draft_s"][0]  # a sync per pass
    assert synced >= overlapped + 5 * hf.sync_s - 1e-12
    graphs = step_stages(Deployment(A100, hf, draft_stack=get_stack("hf-static-kv-graphs")),
                         **args)["draft_s"][0]
    assert graphs < overlapped / 2  # a graphed 68M draft does not wait for the host


def test_tensor_parallel_pipeline_and_offload_reach_the_pass():
    l70 = get_model("llama-2-70b")
    gf = get_stack("gpt-fast")
    t, s = np.ones(3), np.full(3, 500.0)
    tp4 = Deployment(A100, gf, Placement(tp=4)).pass_costs(l70, role="target", tokens=t,
                                                             context=s)
    ref = pass_costs(l70, A100, tokens=t, context=s, tp=4)
    assert np.allclose(tp4["kernel_s"], ref["latency_s"])
    pp4 = Deployment(A100, gf, Placement(pp=4)).pass_costs(l70, role="target", tokens=t,
                                                             context=s)
    one = Deployment(A100, gf, Placement(pp=1)).pass_costs(l70, role="target", tokens=t,
                                                             context=s)
    assert np.all(pp4["latency_s"] > one["latency_s"])  # the hops
    off = Deployment(A100, gf, Placement(offload=True)).pass_costs(
        l70, role="target", tokens=t, context=s)
    assert np.all(off["latency_s"] > 10 * one["latency_s"])  # ~60 GB over PCIe every pass


def test_energy_keeps_static_power_over_the_wall_time():
    hf = get_stack("hf-static-kv")
    r = Deployment(A100, hf).pass_costs(V7B, role="target", tokens=np.ones(1),
                                       context=np.array([100.0]))
    k = pass_costs(V7B, A100, tokens=1, context=100.0)
    assert r["energy_j"][0] > k["energy_j"][0]
    dyn_kernel = k["energy_j"][0] - A100.static_power_w * k["latency_s"][0]
    dyn_stack = r["energy_j"][0] - A100.static_power_w * r["latency_s"][0]
    assert dyn_stack >= dyn_kernel  # only extra traffic adds dynamic energy
    assert replace(hf, name="x") != hf


def test_deployment_options_build_deployments_and_name_bad_values():
    from specaccel.models.cost.deployment_config import DeploymentConfig
    from specaccel.schema.config_fields import from_mapping

    cfg = from_mapping(DeploymentConfig, {"stack": "hf-eager", "tp": 4})
    dep = cfg.build(A100)
    assert dep.stack.name == "hf-eager" and dep.target_placement == Placement(tp=4)
    assert DeploymentConfig().build(A100, trace={"stack": "gpt-fast"}).stack.name == "gpt-fast"
    assert DeploymentConfig().build(A100).stack.name == "ideal"
    meta = {"stack": "hf-static-kv", "draft_stack": "hf-static-kv-graphs",
            "baseline_stack": "hf-eager"}
    assert DeploymentConfig().build(A100, trace=meta).draft_stack.name == "hf-static-kv-graphs"
    base = DeploymentConfig().build(A100, trace=meta, baseline=True)
    assert base.stack.name == "hf-eager" and base.draft_stack is None
    assert DeploymentConfig(stack="vllm").build(A100, trace=meta,
                                                baseline=True).stack.name == "vllm"
    assert DeploymentConfig(stack="vllm").build(A100, trace=meta).draft_stack is None
    acc = get_hardware("specaccel-default")
    assert DeploymentConfig().build(acc, trace=meta).stack.name == "ideal"
    for bad, field in (({"stack": "tensorrt"}, "stack"), ({"tp": 0}, "tp"),
                       ({"pp": 1.5}, "pp"), ({"stacks": "x"}, "stacks")):
        with pytest.raises(InputError) as exc:
            from_mapping(DeploymentConfig, bad)
        assert exc.value.field == field
    with pytest.raises(InputError) as exc:
        DeploymentConfig(stack="hf-eager").build(get_hardware("specaccel-default"))
    assert exc.value.field == "stack"
