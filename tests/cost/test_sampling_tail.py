"""The token-selection tail over the verified nodes' logits, on GPU stacks and the accelerator."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from specaccel.models.cost import get_hardware
from specaccel.models.cost import sampling_unit_table as sut
from specaccel.models.cost.accelerator import AcceleratorConfig
from specaccel.models.cost.sampling_tail import sampling_tail
from specaccel.models.cost.software_stack import get_stack
from specaccel.schema.errors import InputError

A100 = get_hardware("a100-80gb")


def test_fp32_stack_upcasts_then_reads_every_logit():
    hf = get_stack("hf-eager")
    tail = sampling_tail(A100, np.array([64.0, 1.0, 0.0]), 32000, hf)
    assert tail["dram_bytes"][0] == 64 * 32000 * (2 + 4 + 4)
    kernels = hf.tail_ops + 1  # the upcast and the selection
    assert tail["kernels"].tolist() == [kernels, kernels, 0]
    bw = A100.mem_bw_bytes_s * A100.bw_efficiency
    assert tail["gpu_s"][0] == pytest.approx(64 * 32000 * 10 / bw
                                             + kernels * A100.gpu.kernel_latency_s)
    assert tail["host_s"][0] == pytest.approx(kernels * hf.host_op_s)
    assert tail["gpu_s"][2] == 0.0 and tail["host_s"][2] == 0.0


def test_a_large_vocabulary_and_tree_costs_more_than_a_small_one():
    hf = get_stack("hf-static-kv")
    small = sampling_tail(A100, 8.0, 32000, hf)["gpu_s"]
    large = sampling_tail(A100, 64.0, 128256, hf)["gpu_s"]
    assert large > 4 * small  # 32x the logits, over the fixed per-kernel cost


def test_bf16_selection_inside_a_graph_reads_the_logits_once():
    gf = get_stack("gpt-fast")
    tail = sampling_tail(A100, 4.0, 32000, gf)
    assert tail["dram_bytes"] == 4 * 32000 * 2 and tail["kernels"] == 0 and tail["host_s"] == 0


def test_accelerator_streams_the_vocabulary_through_its_sampling_unit():
    acc = get_hardware("specaccel-default")
    t = sut.sampling_timing(acc.sampling_lanes)
    tail = sampling_tail(acc, np.array([64.0, 0.0]), 32000)
    cycles = 64 * math.ceil(32000 / acc.sampling_lanes) + t.latency_cycles
    assert tail["gpu_s"][0] == pytest.approx(cycles / acc.clock_hz)
    assert tail["gpu_s"][1] == 0.0
    assert tail["dram_bytes"][0] == 0.0 and tail["host_s"][0] == 0.0
    # without a sampling unit the vector unit streams the logits
    bare = dataclasses.replace(acc, sampling_lanes=None)
    lanes = math.floor(bare.vec_flops / (2 * bare.clock_hz))
    assert sampling_tail(bare, 64.0, 32000)["gpu_s"] == pytest.approx(
        (64 * math.ceil(32000 / lanes) + sut.sampling_timing(4).latency_cycles)
        / bare.clock_hz)


def test_law_reproduces_the_simulated_requests():
    """Greedy rows exactly; sampled rows within the scan's data-dependent length (the law
    charges the longest tail, the scan to the last candidate)."""
    rows = sut.load_sampling_table()
    cyc = [r for r in rows if r["kind"] == "cycles"]
    assert {r["vocab"] for r in cyc} == {32000, 128256}
    assert {r["lanes"] for r in cyc} == {4, 8, 16, 32, 64}
    for r in cyc:
        t = sut.sampling_timing(r["lanes"])
        law = sut.sampling_cycles(t, n_nodes=r["nodes"], vocab=r["vocab"],
                                 sampled=r["top_k"] > 1)
        if r["top_k"] == 1:
            assert law == r["cycles"], r
        else:
            assert 0 <= law - r["cycles"] <= 2 * t.max_top_k, r


def test_cycles_scale_with_vocabulary_over_lanes():
    t4, t64 = sut.sampling_timing(4), sut.sampling_timing(64)
    assert sut.sampling_cycles(t4, n_nodes=26, vocab=32000) == 26 * 8000 + t4.latency_cycles
    assert sut.sampling_cycles(t64, n_nodes=26, vocab=128256) == \
        26 * math.ceil(128256 / 64) + t64.latency_cycles
    # a small vocabulary at many lanes is bound by the sampled tail, not the stream
    assert sut.sampling_cycles(t64, n_nodes=3, vocab=640, sampled=True) == \
        3 * t64.tail_cycles + t64.latency_cycles + t64.tail_cycles
    assert sut.sampling_cycles(t4, n_nodes=0, vocab=10) == 0.0


def test_lane_count_sets_the_verify_step_on_the_accelerator():
    slow = AcceleratorConfig(sampling_lanes=4).build()
    assert slow.sampling_lanes == 4
    s = sampling_tail(slow, 26.0, 32000)["gpu_s"]
    assert s == pytest.approx((26 * 8000 + 7) / slow.clock_hz)


def test_uncharacterised_lanes_are_an_input_error():
    with pytest.raises(InputError, match="sampling_lanes"):
        AcceleratorConfig(sampling_lanes=12)
    with pytest.raises(InputError, match="missing columns"):
        sut.parse_sampling_table("kind,lanes\nunit,4\n", "x.csv")
    with pytest.raises(InputError, match="kind"):
        sut.parse_sampling_table(",".join(sut.COLUMNS) + "\nfoo" + "," * (len(sut.COLUMNS) - 1)
                                + "\n", "x.csv")
