"""SSM tree verification: one state copy per branch, or one state per node (tree scan)."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model, pass_cost
from specaccel.models.cost.ssm_tree_state import (
    TreeBranches,
    ssm_state_bytes,
    ssm_state_copy_costs,
    ssm_tree_needs,
    ssm_tree_verify_costs,
    tree_scan_saving,
)
from specaccel.schema.errors import InputError

A100 = get_hardware("a100-80gb")
MAMBA2 = get_model("mamba2-2.7b")
# EAGLE's 25-token tree (workloads.tree_shapes.eagle_default_tree): depth 5, 15 leaves
EAGLE_PARENT = [-1, 0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 5, 5, 6, 6, 7, 7, 8, 13, 13, 13,
                21, 21]


def test_branch_counts_from_parent_pointers():
    assert TreeBranches.from_parent([-1]) == TreeBranches(1, 1, 0)
    assert TreeBranches.from_parent([-1, 0, 1, 2, 3]) == TreeBranches(5, 1, 4)   # chain
    assert TreeBranches.from_parent([-1, 0, 0, 0]) == TreeBranches(4, 3, 1)      # star
    assert TreeBranches.from_parent(EAGLE_PARENT) == TreeBranches(26, 15, 5)
    rng = np.random.default_rng(7)
    for _ in range(200):  # random trees: leaves and depth against a direct count
        n = int(rng.integers(1, 40))
        parent = np.array([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
        depth = [0] * n
        for i in range(1, n):
            depth[i] = depth[parent[i]] + 1
        leaves = sum(1 for i in range(n) if i not in set(parent[1:].tolist()))
        assert TreeBranches.from_parent(parent) == TreeBranches(n, leaves, max(depth))


def test_state_bytes_by_hand_and_copies_are_branches_times_state():
    # Mamba-2 2.7B: d_inner 5120, N 128, one B/C group, conv width 4, 64 layers, fp32
    d_inner, n, conv = 2 * 2560, 128, 4
    elems = d_inner * n + (d_inner + 2 * n) * (conv - 1)
    assert ssm_state_bytes(MAMBA2) == 64 * elems * 4 == 171_900_928
    for parent in ([-1, 0, 1, 2, 3], [-1, 0, 0, 0], EAGLE_PARENT):
        tree = TreeBranches.from_parent(parent)
        needs = ssm_tree_needs(MAMBA2, tree)
        assert needs["per_branch_state_copies"] == tree.leaves
        assert needs["per_branch_copy_bytes"] == 2 * tree.leaves * 171_900_928
        assert needs["tree_scan_states_written"] == tree.nodes
        assert needs["per_branch_query_tokens"] == tree.leaves * (tree.depth + 1)


def test_copy_is_one_bandwidth_bound_kernel():
    copy = ssm_state_copy_costs(MAMBA2, A100, 15)
    nbytes = 2 * 15 * 171_900_928
    # A100-80GB HBM at its achieved fraction, plus one kernel's latency
    secs = nbytes / (2039e9 * A100.gpu.dram_efficiency) + A100.gpu.kernel_latency_s
    assert copy["latency_s"] == pytest.approx(secs, rel=1e-12)
    assert copy["dram_bytes"] == nbytes
    assert copy["energy_j"] == pytest.approx(
        nbytes * A100.e_dram_byte_j + A100.static_power_w * secs, rel=1e-12)
    assert ssm_state_copy_costs(MAMBA2, A100, 0)["latency_s"] == 0.0


def test_per_branch_is_a_batch_of_paths_plus_the_copies():
    tree = TreeBranches.from_parent(EAGLE_PARENT)
    got = ssm_tree_verify_costs(MAMBA2, A100, tree, [512.0, 4096.0], "per-branch")
    paths = pass_cost(MAMBA2, A100, tokens=6, context=512.0, batch=15, phase="verify",
                      tree=False)
    copy = ssm_state_copy_costs(MAMBA2, A100, 15)
    assert got["latency_s"][0] == pytest.approx(paths.latency_s + copy["latency_s"], rel=1e-9)
    assert got["energy_j"][0] == pytest.approx(paths.energy_j + copy["energy_j"], rel=1e-9)
    assert got["latency_s"][1] == got["latency_s"][0]  # a pure SSM ignores the context
    scan = ssm_tree_verify_costs(MAMBA2, A100, tree, 512.0, "tree-scan")
    ref = pass_cost(MAMBA2, A100, tokens=26, context=512.0, phase="verify", tree=True)
    assert scan["latency_s"][0] == pytest.approx(ref.latency_s, rel=1e-9)


def test_tree_scan_saving_grows_with_branches():
    hybrid = get_model("mamba2-hybrid-8b")
    ctx = np.array([256.0, 2048.0])
    saving = [tree_scan_saving(hybrid, A100, TreeBranches.from_parent(p), ctx)
              for p in ([-1, 0, 1, 2], [-1, 0, 0, 1, 2], [-1, 0, 0, 0, 1, 2, 3], EAGLE_PARENT)]
    assert np.all(saving[0] > 1.0)  # a chain: the same pass plus one state copy
    for a, b in zip(saving, saving[1:], strict=False):
        assert np.all(b > a)


def test_bad_inputs():
    with pytest.raises(InputError, match="no SSM layers"):
        ssm_tree_needs(get_model("llama-2-7b"), TreeBranches(3, 1, 2))
    with pytest.raises(InputError, match="strategy"):
        ssm_tree_verify_costs(MAMBA2, A100, TreeBranches(3, 1, 2), 64.0, "magic")
    with pytest.raises(InputError) as err:
        TreeBranches.from_parent([-1, 0, 3, 1])
    assert err.value.field == "parent"
    with pytest.raises(InputError) as err:
        TreeBranches(4, 3, 2)  # a depth-2 path leaves room for only 2 leaves in 4 nodes
    assert err.value.field == "depth"
    with pytest.raises(InputError):
        ssm_state_copy_costs(MAMBA2, A100, -1)
