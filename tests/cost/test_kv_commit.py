"""Committing the accepted path's KV / SSM state after verification."""

import numpy as np
import pytest

from specaccel.models.cost import get_hardware, get_model, kv_commit_cost
from specaccel.schema.errors import InputError


def test_gpu_gathers_accepted_kv_in_hbm():
    m, hw = get_model("llama-2-7b"), get_hardware("a100-80gb")
    c = kv_commit_cost(m, hw, tokens=np.array([0, 1, 4]), batch=2)
    per_token = m.kv_bytes_per_token
    np.testing.assert_allclose(c["dram_bytes"], [0, 2 * 2 * per_token, 2 * 2 * 4 * per_token])
    assert c["latency_s"][0] == 0
    assert c["latency_s"][2] == pytest.approx(
        c["dram_bytes"][2] / (hw.mem_bw_bytes_s * hw.bw_efficiency) + hw.kernel_launch_s)


def test_accelerator_writes_tree_kv_back_once_and_shards_by_tp():
    m, hw = get_model("llama-2-70b"), get_hardware("specaccel-default")
    one = kv_commit_cost(m, hw, tokens=3)
    assert one["dram_bytes"] == pytest.approx(3 * m.kv_bytes_per_token)
    assert one["bytes"] == pytest.approx(2 * 3 * m.kv_bytes_per_token)  # SRAM read + HBM write
    eight = kv_commit_cost(m, hw, tokens=3, tp=8)  # 8 KV heads: one per device
    assert eight["dram_bytes"] == pytest.approx(one["dram_bytes"] / 8)


def test_ssm_commits_one_state_per_row():
    m, hw = get_model("mamba-2.8b"), get_hardware("a100-80gb")
    c1 = kv_commit_cost(m, hw, tokens=1)
    c5 = kv_commit_cost(m, hw, tokens=5)
    assert c1["dram_bytes"] == c5["dram_bytes"] > 0  # no KV: the last accepted state only
    state = m.n_ssm_layers * m.ssm_state_elems * 4
    assert c1["dram_bytes"] == pytest.approx(2 * state)
    with pytest.raises(InputError):
        kv_commit_cost(m, hw, tokens=-1)
