"""SSM tree speculation: one state copy per branch, or one state per node with a tree scan."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model
from specaccel.models.cost.ssm_tree_state import (
    TreeBranches,
    ssm_state_bytes,
    ssm_tree_needs,
    ssm_tree_verify_costs,
    tree_scan_saving,
)
from specaccel.models.cost.stack_cost import gpu_kernel_s
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads import get_preset, validate_trace
from specaccel.workloads.tree_shapes import TreeShape, chain, eagle_default_tree, k_by_depth

A100 = get_hardware("a100-80gb")


def branches(shape: TreeShape) -> TreeBranches:
    return TreeBranches.from_parent(shape.parent)


def verify_seconds(model, shape: TreeShape, context: float, strategy: str) -> float:
    return float(ssm_tree_verify_costs(model, A100, branches(shape), context,
                                       strategy)["latency_s"][0])


def test_needs_count_one_state_copy_per_branch():
    m = get_model("mamba2-2.7b")
    state = ssm_state_bytes(m)
    assert state == pytest.approx(m.to_dict()["ssm_state_bytes_per_seq"])
    for shape, leaves in ((chain(5), 1), (k_by_depth(4, 5), 4), (eagle_default_tree(), 15)):
        needs = ssm_tree_needs(m, branches(shape))
        kids = np.bincount(shape.parent[1:], minlength=shape.n_nodes)
        assert needs["per_branch_state_copies"] == leaves == int((kids == 0).sum())
        assert needs["tree_scan_states_written"] == shape.n_nodes
        assert needs["per_branch_copy_bytes"] == pytest.approx(2 * leaves * state)
        assert needs["per_branch_query_tokens"] == leaves * (shape.max_depth + 1)


def test_tree_scan_beats_per_branch_copies_and_the_gap_grows_with_branches():
    m = get_model("mamba2-2.7b")
    hw = get_hardware("a100-80gb")
    # a chain has one branch: the schemes differ by exactly one state copy, a kernel that
    # reads and writes the state once and costs the device's time per kernel
    gap = (verify_seconds(m, chain(5), 512, "per-branch")
           - verify_seconds(m, chain(5), 512, "tree-scan"))
    copy_s = 2 * ssm_state_bytes(m) / (hw.mem_bw_bytes_s * hw.bw_efficiency)
    assert gap == pytest.approx(copy_s + gpu_kernel_s(hw), rel=1e-9)
    ctx = np.array([256.0, 2048.0])
    bushy = tree_scan_saving(m, A100, branches(eagle_default_tree()), ctx)
    narrow = tree_scan_saving(m, A100, branches(k_by_depth(2, 5)), ctx)
    assert np.all(bushy > narrow) and np.all(narrow > 1.0) and np.all(bushy > 2.0)


def test_preset_trace_records_what_the_cost_model_needs():
    preset = get_preset("stree-hybrid-8b-eagle25")
    trace = preset.generate(n_requests=8, steps_per_request=32, seed=1)
    validate_trace(trace)
    needs = trace.metadata["ssm"]
    assert needs["nodes"] == 26 and needs["leaves"] == 15
    assert np.all(trace.nodes_per_step() == needs["nodes"])
    out = verify_trace(trace)
    assert 1.5 < out.committed.mean() < 5.0
    assert needs["state_bytes_per_seq"] == ssm_state_bytes(get_model("mamba2-hybrid-8b"))


def test_bad_inputs():
    with pytest.raises(InputError, match="no SSM layers"):
        ssm_tree_needs(get_model("llama-2-7b"), branches(chain(3)))
    with pytest.raises(InputError, match="strategy"):
        verify_seconds(get_model("mamba-130m"), chain(3), 64, "magic")
