"""The token-selection tail over the verified nodes' logits, on GPU stacks and the accelerator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from specaccel.models.cost import get_hardware
from specaccel.models.cost.sampling_tail import _sampling_unit_latency_cycles, sampling_tail
from specaccel.models.cost.software_stack import get_stack

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


def test_accelerator_streams_the_vocabulary_through_the_vector_lanes():
    acc = get_hardware("specaccel-default")
    lanes = math.floor(acc.vec_flops / (2 * acc.clock_hz))
    tail = sampling_tail(acc, np.array([64.0]), 32000)
    cycles = 64 * math.ceil(32000 / lanes) + _sampling_unit_latency_cycles()
    assert tail["gpu_s"][0] == pytest.approx(cycles / acc.clock_hz)
    assert tail["dram_bytes"][0] == 0.0 and tail["host_s"][0] == 0.0
    assert _sampling_unit_latency_cycles() == 6.0  # the characterised argmax_sample unit
