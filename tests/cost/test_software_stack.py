"""Software stacks: the registry, kernel counts, extra traffic and the host/GPU overlap."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model, pass_costs
from specaccel.models.cost.deployment import Deployment
from specaccel.models.cost.software_stack import (
    EAGER_SCORE_BYTES,
    HF_LAYER_KERNELS,
    HF_PASS_KERNELS,
    HOST_TERMS,
    IDEAL,
    STACKS,
    SoftwareStack,
    get_stack,
    list_stacks,
)
from specaccel.models.cost.stack_cost import (
    gpu_kernel_s,
    ops_on_stack,
    pass_kernel_count,
    pass_on_stack,
    stack_extra_bytes,
    stage_time,
    unfused_token_bytes,
)
from specaccel.schema.errors import InputError

A100 = get_hardware("a100-80gb")
V7B = get_model("vicuna-7b")


def test_registry_names_the_paper_stacks_and_rejects_unknown_names():
    assert {"ideal", "hf-eager", "hf-static-kv", "gpt-fast", "vllm"} <= set(list_stacks())
    assert get_stack("hf-eager") is STACKS["hf-eager"]
    with pytest.raises(InputError) as exc:
        get_stack("tensorflow")
    assert exc.value.field == "stack" and "hf-eager" in str(exc.value)


def test_only_the_ideal_stack_adds_nothing():
    assert IDEAL.is_ideal
    assert not any(s.is_ideal for n, s in STACKS.items() if n != "ideal")
    assert IDEAL.with_values(sync_s=1e-6).is_ideal is False


@pytest.mark.parametrize("field,value", [("host_op_s", -1.0), ("layer_kernels", 1.5),
                                         ("attention", "magic"), ("kv_cache", "paged?"),
                                         ("logits_bytes", 3.0), ("sync_s", float("nan"))])
def test_bad_stack_terms_are_input_errors_naming_the_field(field, value):
    with pytest.raises(InputError) as exc:
        SoftwareStack(name="x", description="", **{field: value})
    assert exc.value.field == field


def test_kernel_counts_follow_the_model_kind_and_tensor_parallelism():
    hf = get_stack("hf-static-kv")
    assert pass_kernel_count(hf, V7B) == 32 * HF_LAYER_KERNELS + HF_PASS_KERNELS
    assert pass_kernel_count(hf, V7B, layers=8) == 8 * HF_LAYER_KERNELS + HF_PASS_KERNELS
    assert pass_kernel_count(hf, V7B, tp=2) == 32 * (HF_LAYER_KERNELS + 4) + HF_PASS_KERNELS
    medusa = get_model("medusa-vicuna-7b")
    assert pass_kernel_count(hf, medusa) == 5 * hf.head_kernels
    eagle = get_model("eagle-head-vicuna-7b")
    assert pass_kernel_count(hf, eagle) == HF_LAYER_KERNELS + HF_PASS_KERNELS + 1
    assert pass_kernel_count(get_stack("vllm"), V7B) < pass_kernel_count(hf, V7B) / 3


#: Bytes per token and layer of Vicuna-7B's unfused element-wise kernels, by hand: two
#: fp32 RMSNorms (32 each beyond a fused norm), two residual adds (6 each) and the layout
#: copy (4) over 4096 elements; the rotary embedding (20) over 32 + 32 heads of 128; the
#: separate SiLU (4) over 11008 intermediate elements.
V7B_UNFUSED_PER_LAYER = (2 * 32 + 2 * 6 + 4) * 4096 + 20 * 64 * 128 + 4 * 11008


def test_extra_bytes_eager_scores_and_concatenated_cache():
    t, s = np.array([64.0]), np.array([1000.0])
    eager_static = get_stack("hf-static-kv")
    scores = 32 * 32 * 64 * 1064 * EAGER_SCORE_BYTES  # layers x heads x tokens x keys
    unfused = 32 * 64 * V7B_UNFUSED_PER_LAYER  # layers x tokens x bytes
    assert stack_extra_bytes(eager_static, V7B, tokens=t, context=s)[0] == pytest.approx(
        scores + unfused)
    concat = get_stack("hf-eager")  # SDPA attention: no score traffic, but the cache is copied
    kv = 32 * 2.0 * 1064 * (2 * 32 * 128 * 2)
    assert stack_extra_bytes(concat, V7B, tokens=t, context=s)[0] == pytest.approx(
        kv + unfused)
    assert stack_extra_bytes(get_stack("gpt-fast"), V7B, tokens=t, context=s)[0] == 0.0


def test_unfused_element_wise_traffic_grows_with_the_tokens_and_splits_by_rank():
    """Hugging Face's layer runs its norms, rotary embedding, residual adds and SiLU as
    separate kernels, each reading and writing its tensor: bytes per query token that a
    fused stack does not move.  Tensor parallelism splits the heads and the intermediate
    width; every rank normalises the whole hidden state."""
    hf = get_stack("hf-static-kv")
    assert hf.elementwise == "unfused" and get_stack("vllm").elementwise == "fused"
    assert unfused_token_bytes(hf, V7B) == pytest.approx(32 * V7B_UNFUSED_PER_LAYER)
    assert unfused_token_bytes(hf, V7B, layers=8) == pytest.approx(8 * V7B_UNFUSED_PER_LAYER)
    tp2 = (2 * 32 + 2 * 6 + 4) * 4096 + 20 * 32 * 128 + 4 * 5504
    assert unfused_token_bytes(hf, V7B, tp=2) == pytest.approx(32 * tp2)
    assert unfused_token_bytes(hf, get_model("medusa-vicuna-7b")) == 0.0
    assert unfused_token_bytes(get_stack("gpt-fast"), V7B) == 0.0
    with pytest.raises(InputError, match="elementwise"):
        hf.with_values(elementwise="half")
    # the GPU time of a 64-token pass grows by those bytes at the achieved bandwidth
    dep = Deployment(A100, hf)
    fused = Deployment(A100, hf.with_values(elementwise="fused"))
    args = dict(role="target", tokens=np.array([64.0]), context=np.array([500.0]))
    extra_s = (dep.pass_costs(V7B, **args)["gpu_s"] - fused.pass_costs(V7B, **args)["gpu_s"])
    assert extra_s[0] == pytest.approx(64 * 32 * V7B_UNFUSED_PER_LAYER
                                       / (A100.mem_bw_bytes_s * A100.bw_efficiency))


def test_host_bound_and_gpu_bound_passes():
    hf = get_stack("hf-static-kv")
    t, s = np.array([1.0]), np.array([256.0])
    r7 = pass_costs(V7B, A100, tokens=1, context=256)
    k7, mk7 = r7["latency_s"], r7["kernels"]
    p7 = pass_on_stack(hf, V7B, A100, kernel_s=k7, tokens=t, context=s, model_kernels=mk7)
    n7 = pass_kernel_count(hf, V7B)
    assert p7["host_s"][0] == pytest.approx(n7 * hf.host_op_s)
    assert p7["host_s"][0] > p7["gpu_s"][0]  # eager 7B at batch 1 waits for the host
    assert p7["wall_s"][0] == p7["host_s"][0]
    big = get_model("vicuna-33b")
    r33 = pass_costs(big, A100, tokens=64, context=256)
    k33 = r33["latency_s"]
    p33 = pass_on_stack(hf, big, A100, kernel_s=k33, tokens=np.array([64.0]), context=s,
                        model_kernels=r33["kernels"])
    assert p33["gpu_s"][0] > p33["host_s"][0]  # the 33B tree pass keeps the GPU busy
    assert p33["gpu_s"][0] > k33[0]
    graphs = get_stack("gpt-fast")
    pg = pass_on_stack(graphs, V7B, A100, kernel_s=k7, tokens=t, context=s, model_kernels=mk7)
    assert pg["host_s"][0] == graphs.graph_launch_s
    assert pg["gpu_s"][0] == pytest.approx(k7[0])  # the kernel model's own kernels
    vllm = get_stack("vllm")
    pv = pass_on_stack(vllm, V7B, A100, kernel_s=k7, tokens=t, context=s, model_kernels=mk7)
    extra = max(pass_kernel_count(vllm, V7B) - mk7[0], 0)
    assert pv["gpu_s"][0] == pytest.approx(k7[0] + extra * gpu_kernel_s(A100))


@pytest.mark.parametrize("stack_name", ["hf-eager", "hf-static-kv", "hf-static-kv-graphs",
                                        "gpt-fast", "vllm"])
def test_a_kernels_fixed_time_and_its_launch_are_each_charged_once(stack_name):
    """The kernel model's kernels carry their fixed GPU time (fitted under CUDA graphs,
    where no host launch shows); a stack adds that time only for the kernels the model
    did not price, and the host's launches overlap the GPU's work (the longer side sets
    the pass), so nothing is counted twice."""
    stack = get_stack(stack_name)
    t, s = np.array([1.0, 26.0]), np.array([256.0, 600.0])
    raw = pass_costs(V7B, A100, tokens=t, context=s)
    p = pass_on_stack(stack, V7B, A100, kernel_s=raw["latency_s"], tokens=t, context=s,
                      model_kernels=raw["kernels"])
    n = pass_kernel_count(stack, V7B)
    unpriced = np.maximum(n - raw["kernels"], 0.0)
    extra_s = p["extra_dram_bytes"] / (A100.mem_bw_bytes_s * A100.bw_efficiency)
    assert np.allclose(p["gpu_s"], raw["latency_s"] + unpriced * gpu_kernel_s(A100) + extra_s,
                       rtol=1e-12)
    host = stack.graph_launch_s if stack.cuda_graphs else n * stack.host_op_s
    assert np.allclose(p["host_s"], host, rtol=1e-12)
    assert np.allclose(p["wall_s"], np.maximum(p["host_s"], p["gpu_s"]), rtol=1e-12)
    assert np.all(p["wall_s"] < p["host_s"] + p["gpu_s"])  # overlapped, never summed
    # the deployment path hands the kernel model's count over: the same pass
    dep = Deployment(A100, stack)
    got = dep.pass_costs(V7B, role="target", tokens=t, context=s)
    assert np.allclose(got["latency_s"], p["wall_s"], rtol=1e-12)


def test_a_cost_function_that_does_not_count_its_kernels_is_refused_on_a_stack():
    def no_count(model, hw, **kw):
        out = dict(pass_costs(model, hw, **kw))
        del out["kernels"]
        return out

    dep = Deployment(A100, get_stack("hf-eager"))
    with pytest.raises(ValueError, match="kernels"):
        dep.pass_costs(V7B, role="target", tokens=np.ones(1), context=np.ones(1),
                       cost_fn=no_count)


def test_ideal_stack_and_accelerators_are_the_kernel_model():
    k = np.array([1e-3, 2e-3])
    p = pass_on_stack(get_stack("hf-eager"), V7B, get_hardware("specaccel-default"),
                      kernel_s=k, tokens=np.ones(2), context=np.ones(2), model_kernels=0.0)
    assert np.array_equal(p["wall_s"], k)
    q = pass_on_stack(IDEAL, V7B, A100, kernel_s=k, tokens=np.ones(2), context=np.ones(2),
                      model_kernels=0.0)
    assert np.array_equal(q["wall_s"], k)


def test_stage_time_overlaps_host_and_gpu_then_synchronises():
    hf = get_stack("hf-eager")
    assert stage_time(np.array([3.0]), np.array([2.0]), 2, hf)[0] == 3.0 + 2 * hf.sync_s
    h, g = ops_on_stack(hf, A100, 10)
    assert h == pytest.approx(10 * hf.host_op_s)
    assert g == pytest.approx(10 * A100.gpu.kernel_latency_s) and g > 0


def test_an_infinitely_fast_host_keeps_the_gpu_work_and_drops_every_host_term():
    """`without_host` zeroes exactly the host terms of both roles' stacks: a host-bound
    pass shrinks to its GPU time, which is unchanged."""
    dep = Deployment(get_hardware("a100-80gb"), STACKS["hf-static-kv"],
                     draft_stack=STACKS["eagle2"])
    free = dep.without_host()
    for role in ("target", "draft"):
        stack, bare = dep.stack_of(role), free.stack_of(role)
        assert all(getattr(stack, t) > 0 for t in ("host_op_s", "sync_s"))
        assert all(getattr(bare, t) == 0.0 for t in HOST_TERMS)
        assert bare.with_values(**{t: getattr(stack, t) for t in HOST_TERMS}) == stack
    one = np.ones(1)
    real = dep.pass_costs(get_model("vicuna-7b"), role="target", tokens=one, context=one * 512)
    fast = free.pass_costs(get_model("vicuna-7b"), role="target", tokens=one, context=one * 512)
    assert real["host_s"][0] > real["gpu_s"][0]  # host-bound on the repository's code
    assert fast["host_s"][0] == 0.0 and fast["gpu_s"][0] == pytest.approx(real["gpu_s"][0])
    assert fast["latency_s"][0] == pytest.approx(real["gpu_s"][0])
