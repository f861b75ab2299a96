"""Placement: tensor parallel, layers in sequence, offloading; memory fit per device."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model
from specaccel.models.cost.placement import (
    HOST_LINK_EFFICIENCY,
    OFFLOAD_STAGING_LAYERS,
    RESERVED_BYTES,
    Placement,
    check_fit,
    device_loads,
    device_memory,
    hop_time_s,
    layer_weight_bytes,
    offload_plan,
    offload_time_s,
    resident_fraction,
    staging_bytes,
    weight_bytes_by_stage,
)
from specaccel.schema.errors import InputError

A100 = get_hardware("a100-80gb")
L70 = get_model("llama-2-70b")


def test_a_tp_degree_that_does_not_divide_the_heads_is_rejected():
    with pytest.raises(InputError) as exc:
        Placement(tp=3).check_model(L70)
    assert exc.value.field == "tp" and "64 attention heads" in str(exc.value)
    Placement(tp=8).check_model(L70)  # 64 heads, 8 KV heads
    Placement(tp=16).check_model(L70)  # KV heads replicated: 16 is a multiple of 8
    with pytest.raises(InputError) as exc:
        Placement(pp=100).check_model(get_model("vicuna-7b"))
    assert exc.value.field == "pp"
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InputError):
            Placement(tp=bad)


def test_stages_hold_their_layers_and_the_embedding_and_head_at_the_ends():
    stages = weight_bytes_by_stage(L70, 4)
    assert sum(stages) == pytest.approx(L70.weight_bytes)
    embed = L70.vocab_size * L70.d_model * 2
    assert stages[0] - stages[1] == pytest.approx(embed)
    assert stages[3] - stages[1] == pytest.approx(embed + L70.d_model * 2)  # head + norm
    loads = device_loads(L70, Placement(tp=2, pp=2), kv_tokens=1000)
    assert [d for d, _, _ in loads] == [0, 1, 2, 3]
    assert sum(w for _, w, _ in loads) == pytest.approx(L70.weight_bytes)
    assert sum(kv for _, _, kv in loads) == pytest.approx(L70.kv_bytes_per_token * 1000)


def test_70b_does_not_fit_one_a100_and_the_error_names_device_and_bytes():
    with pytest.raises(InputError) as exc:
        check_fit(A100, L70, Placement(), kv_tokens=4096)
    msg = str(exc.value)
    assert exc.value.field == "placement"
    assert "a100-80gb #0" in msg and "llama-2-70b weights 128.48 GiB" in msg and "80.00 GiB" in msg
    check_fit(A100, L70, Placement(tp=2), kv_tokens=4096)
    check_fit(A100, L70, Placement(pp=4), kv_tokens=4096)
    check_fit(A100, L70, Placement(offload=True), kv_tokens=4096)  # weights stream


def test_a_draft_shares_device_zero_unless_it_has_its_own_placement():
    target, draft = get_model("vicuna-33b"), get_model("vicuna-7b")
    with pytest.raises(InputError) as exc:
        check_fit(A100, target, Placement(), kv_tokens=8192, draft=draft)
    assert "vicuna-7b weights" in str(exc.value) and "#0" in str(exc.value)
    check_fit(A100, target, Placement(), kv_tokens=8192, draft=draft,
              draft_placement=Placement())  # the draft on device 1


def test_pipeline_hops_and_offloaded_weights_cost_time():
    t = np.array([1.0, 64.0])
    hops = hop_time_s(A100, L70, Placement(pp=4), t)
    msg = t * L70.d_model * 2
    assert np.allclose(hops, 3 * (A100.link_step_latency_s + msg / A100.link_bw_bytes_s))
    assert hop_time_s(A100, L70, Placement(), t).tolist() == [0.0, 0.0]
    kept = resident_fraction(L70, A100, Placement(offload=True), kv_tokens=1000)
    off = offload_time_s(A100, L70, Placement(offload=True), kv_tokens=1000)
    bw = get_hardware("a100-80gb").host_link_bw_bytes_s * HOST_LINK_EFFICIENCY
    assert off == pytest.approx((1.0 - kept) * L70.weight_bytes / bw)
    assert offload_time_s(A100, L70, Placement(), kv_tokens=1000) == 0.0
    with pytest.raises(InputError) as exc:
        offload_time_s(get_hardware("tpuv4"), L70, Placement(offload=True), kv_tokens=1)
    assert exc.value.field == "offload"


def test_offloading_keeps_whole_layers_beside_the_kv_cache_and_two_staging_buffers():
    layer = layer_weight_bytes(L70)
    other = L70.weight_bytes - L70.n_layers * layer  # embedding, final norm, LM head
    assert layer == pytest.approx(L70.weight_bytes_per_param
                                  * (L70.attn_mixer_params + L70.mlp_params))
    kv = L70.kv_bytes_per_token * 1000
    room = A100.mem_bytes - kv - RESERVED_BYTES - OFFLOAD_STAGING_LAYERS * layer
    layers_kept = math.floor((room - other) / layer)
    assert 0 < layers_kept < L70.n_layers
    kept = resident_fraction(L70, A100, Placement(offload=True), kv_tokens=1000)
    assert kept * L70.weight_bytes == pytest.approx(other + layers_kept * layer)
    plan = offload_plan(L70, A100, Placement(offload=True), kv_tokens=1000)
    assert (plan.resident_layers, plan.layers) == (layers_kept, L70.n_layers)
    assert plan.staging_bytes == pytest.approx(OFFLOAD_STAGING_LAYERS * layer)
    assert plan.resident_bytes + plan.streamed_bytes == pytest.approx(L70.weight_bytes)
    # a device with room for one layer more keeps one layer more
    bigger = replace(A100, mem_bytes=A100.mem_bytes + layer)
    more = resident_fraction(L70, bigger, Placement(offload=True), kv_tokens=1000)
    assert (more - kept) * L70.weight_bytes == pytest.approx(layer)
    # a model that fits whole keeps everything and needs no staging buffers
    small = get_model("llama-2-7b")
    assert resident_fraction(small, A100, Placement(offload=True), kv_tokens=1000) == 1.0
    # the staging buffers hold memory: a device without room for them is rejected
    kv_tokens = (A100.mem_bytes - RESERVED_BYTES - layer) / L70.kv_bytes_per_token
    with pytest.raises(InputError) as exc:
        check_fit(A100, L70, Placement(offload=True), kv_tokens=kv_tokens)
    assert "offload staging" in str(exc.value) and exc.value.field == "placement"
    # tensor-parallel shards stage their shard of a layer
    assert staging_bytes(L70, Placement(tp=2, offload=True)) == pytest.approx(layer)
    assert staging_bytes(L70, Placement()) == 0.0


def test_an_offloaded_model_holds_its_weights_outside_the_layers_and_its_staging():
    layer = layer_weight_bytes(L70)
    other = L70.weight_bytes - L70.n_layers * layer
    held = dict(device_memory(L70, Placement(offload=True), kv_tokens=1000)[0])
    assert held["llama-2-70b weights"] == pytest.approx(other)
    assert held["llama-2-70b offload staging"] == pytest.approx(OFFLOAD_STAGING_LAYERS * layer)
    # with the device known, it holds what the plan keeps: a 13B fits whole, no staging
    l13 = get_model("llama-2-13b")
    fits = dict(device_memory(l13, Placement(offload=True), kv_tokens=1000, hw=A100)[0])
    assert fits["llama-2-13b weights"] == pytest.approx(l13.weight_bytes)
    assert "llama-2-13b offload staging" not in fits
    plan = offload_plan(L70, A100, Placement(offload=True), kv_tokens=1000)
    kept = dict(device_memory(L70, Placement(offload=True), kv_tokens=1000, hw=A100)[0])
    assert kept["llama-2-70b weights"] == pytest.approx(plan.resident_bytes)
    # a device without room for the weights outside the layers is refused, not emptied
    small = replace(A100, mem_bytes=RESERVED_BYTES + OFFLOAD_STAGING_LAYERS * layer + other / 2)
    assert offload_plan(L70, small, Placement(offload=True), kv_tokens=1).resident_bytes == 0
    with pytest.raises(InputError) as exc:
        check_fit(small, L70, Placement(offload=True), kv_tokens=1)
    assert "weights" in str(exc.value) and "an offloaded model still holds" in str(exc.value)


def test_a_draft_beside_an_offloaded_target_leaves_it_less_room_and_the_slowest_shard_copies():
    from specaccel.models.cost.deployment import Deployment
    from specaccel.models.cost.placement import draft_on_target_device
    from specaccel.models.cost.step_stages import step_stages

    draft = get_model("llama-2-7b")
    shared, per_token = draft_on_target_device(draft, None)
    assert (shared, per_token) == (draft.weight_bytes, draft.kv_bytes_per_token)
    assert draft_on_target_device(draft, Placement()) == (0.0, 0.0)  # on its own device
    alone = offload_plan(L70, A100, Placement(offload=True), kv_tokens=1000)
    beside = offload_plan(L70, A100, Placement(offload=True), kv_tokens=1000,
                          shared_bytes=shared + per_token * 1000)  # its weights and KV
    assert beside.resident_layers < alone.resident_layers
    # the step prices the target with the draft on its device
    dep = Deployment(A100, target_placement=Placement(offload=True))
    one = np.ones(1)

    def target_s(d):
        return step_stages(dep, target=L70, draft=d, speculative=False,
                           n_nodes=np.ones(1, dtype=np.int64), target_tokens=one,
                           context=np.array([999.0]), accepted=np.zeros(1))["target_s"][0]

    bw = get_hardware("a100-80gb").host_link_bw_bytes_s * HOST_LINK_EFFICIENCY
    assert target_s(draft) - target_s(None) == pytest.approx(
        (beside.copy_bytes - alone.copy_bytes) / bw, rel=1e-6)
    # tensor-parallel shards copy in parallel: device 0, sharing with the draft, is slowest
    tp2 = offload_plan(L70, A100, Placement(tp=2, offload=True), kv_tokens=1000,
                       shared_bytes=30e9)
    streamed = [x for _, x, _ in tp2.per_device]
    assert streamed[0] > streamed[1] and tp2.copy_bytes == pytest.approx(streamed[0])


def test_a_hybrid_stages_its_largest_layer():
    hybrid = get_model("mamba2-hybrid-8b")
    assert 0 < hybrid.n_ssm_layers < hybrid.n_layers
    wb = hybrid.weight_bytes_per_param
    attn = (hybrid.attn_mixer_params + hybrid.mlp_params) * wb
    ssm = (hybrid.ssm_mixer_params + (hybrid.mlp_params if hybrid.ssm_has_mlp else 0)) * wb
    assert attn != ssm
    assert staging_bytes(hybrid, Placement(offload=True)) == pytest.approx(
        OFFLOAD_STAGING_LAYERS * max(attn, ssm))
    assert max(attn, ssm) > layer_weight_bytes(hybrid)  # above the mean layer
