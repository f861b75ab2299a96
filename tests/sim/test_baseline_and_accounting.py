"""Baseline = same simulator with drafting off; energy, KV and utilisation accounting."""

import numpy as np
import pytest

from specaccel.models.golden import committed_tokens, verify_trace
from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import (
    StepInput,
    autoregressive_trace,
    committed_token_stream,
    compute_step_costs,
    simulate,
)
from specaccel.sim.simpy_replay import replay


def random_trace(seed: int, n_requests: int = 4, max_steps: int = 12, vocab: int = 3):
    """Random trees with a small vocabulary, so that many drafts are accepted."""
    rng = np.random.default_rng(seed)
    reqs = []
    for r in range(n_requests):
        trees = []
        for _ in range(int(rng.integers(1, max_steps))):
            n = int(rng.integers(1, 14))
            parent = [-1] + [int(rng.integers(0, i)) for i in range(1, n)]
            trees.append(DraftTree.build(parent, rng.integers(0, vocab, n),
                                         rng.integers(0, vocab, n)))
        reqs.append((f"r{r}", int(rng.integers(1, 300)), trees))
    arrival = np.sort(rng.uniform(0, 0.05, n_requests))
    return Trace.from_trees(reqs, arrival_s=arrival, metadata={"drafting": "per-level"})


@pytest.mark.parametrize("seed", range(12))
def test_committed_stream_is_the_golden_commits_in_order(seed):
    trace = random_trace(seed)
    outcome = verify_trace(trace)
    expected = np.concatenate([
        committed_tokens(trace.step(s), _outcome_of(trace, s)) for s in range(trace.n_steps)])
    assert committed_token_stream(trace, outcome).tolist() == expected.tolist()


def _outcome_of(trace, s):
    from specaccel.models.golden import verify_tree
    return verify_tree(trace.step(s), mode=trace.verification)


@pytest.mark.parametrize("seed", range(12))
def test_autoregressive_trace_commits_the_same_tokens_one_per_step(seed):
    trace = random_trace(seed)
    outcome = verify_trace(trace)
    ar = autoregressive_trace(trace, outcome)
    ar_out = verify_trace(ar)
    assert np.all(ar_out.accepted == 0)
    assert ar_out.bonus_token.tolist() == committed_token_stream(trace, outcome).tolist()
    spec_per_req = np.add.reduceat(outcome.accepted + 1, trace.request_step_offsets[:-1])
    assert ar.steps_per_request().tolist() == spec_per_req.tolist()
    # Each AR root is the token committed before it (the spec step's root at a start).
    starts = ar.request_step_offsets[:-1]
    for r, a in enumerate(starts):
        first_root = trace.nodes["token"][trace.step_node_offsets[trace.request_step_offsets[r]]]
        assert ar.nodes["token"][a] == first_root
    inner = np.setdiff1d(np.arange(ar.n_steps), starts)
    assert np.array_equal(ar.nodes["token"][inner], ar.nodes["target_token"][inner - 1])
    assert ar.metadata["drafting"] == "none"


@pytest.mark.parametrize("seed", range(6))
def test_baseline_is_the_same_simulator_with_drafting_off(seed, toy_hw, target_model,
                                                          draft_model, cost):
    trace = random_trace(seed)
    res = simulate(trace, hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost)
    direct = simulate(autoregressive_trace(trace), hw=toy_hw, target=target_model,
                      draft=draft_model, drafting="none", baseline=False, cost_fn=cost)
    assert res.baseline.to_dict() == direct.to_dict()
    assert res.baseline.tokens == res.tokens
    assert res.baseline.role_busy_fraction["draft"] == 0.0
    assert res.baseline.mean_committed_per_step == 1.0
    # AR decode of request r: one target pass per token at contexts prompt .. prompt+T-1.
    base_costs = compute_step_costs(autoregressive_trace(trace), target_model=target_model,
                                    draft_model=None, hw=toy_hw, drafting="none",
                                    cost_fn=cost)
    off = trace.request_step_offsets
    spec_out = verify_trace(trace)
    for r in range(trace.n_requests):
        n_tok = int((spec_out.accepted[off[r]:off[r + 1]] + 1).sum())
        ctx = trace.prompt_len[r] + np.arange(n_tok)
        a, b = base_costs.request_step_offsets[r:r + 2]
        assert base_costs.context[a:b].tolist() == ctx.tolist()


@pytest.mark.parametrize("seed", range(8))
def test_uncontended_replay_equals_the_sum_of_step_times(seed, toy_hw, target_model,
                                                         draft_model, cost):
    trace = random_trace(seed)
    inp = StepInput.of(trace, hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost)
    costs = inp.costs
    log = replay(inp)
    # Fast path: request r starts at max(arrival, previous end) and takes its step sum.
    t = 0.0
    step_t = costs.step_time_s()
    for r in range(trace.n_requests):
        a, b = costs.request_step_offsets[r:r + 2]
        t = max(t, float(trace.arrival_s[r]))
        assert log.request_start_s[r] == pytest.approx(t, rel=1e-12, abs=1e-15)
        t += float(step_t[a:b].sum())
        assert log.request_end_s[r] == pytest.approx(t, rel=1e-12)
    assert log.makespan_s == pytest.approx(t, rel=1e-12)


@pytest.mark.parametrize("kind", ["toy_hw", "toy_gpu"])
def test_energy_kv_and_utilisation_accounting(kind, request, target_model, draft_model, cost):
    hw = request.getfixturevalue(kind)
    trace = random_trace(99, n_requests=5)
    res = simulate(trace, hw=hw, target=target_model, draft=draft_model, cost_fn=cost,
                   baseline=False)
    t_call, d_call = cost.calls[0], cost.calls[1]
    e_target = (3.0 * (40 + 2 * t_call[1] + t_call[2]) * 2.0 ** -12 + 0.5 * t_call[1]).sum()
    e_draft = (3.0 * (5 + d_call[1]) * 2.0 ** -12 + 0.5 * d_call[1]).sum()
    assert res.energy_j["target"] == pytest.approx(e_target, rel=1e-12)
    assert res.energy_j["draft"] == pytest.approx(e_draft, rel=1e-12)
    assert res.energy_j["static"] == pytest.approx(hw.static_power_w * res.makespan_s)
    assert res.energy_j["total"] == pytest.approx(
        res.energy_j["draft"] + res.energy_j["target"] + res.energy_j["static"], rel=1e-12)
    for k, v in res.energy_j.items():
        assert res.energy_per_token_j[k] == pytest.approx(v / res.tokens)
    # HBM bytes: every draft and target pass's DRAM bytes (not its SRAM traffic).
    assert res.hbm_bytes["target"] == pytest.approx((4096.0 + 16.0 * t_call[2]).sum())
    assert res.hbm_bytes["draft"] == pytest.approx((4096.0 + 16.0 * d_call[2]).sum())
    assert res.hbm_bytes["tree"] == 0 and res.hbm_bytes["verify"] == 0
    # KV: prompts and every tree node written; rejected nodes rolled back.
    out = verify_trace(trace)
    assert res.kv_cache["written_tokens"] == trace.prompt_len.sum() + trace.n_nodes
    assert res.kv_cache["rolled_back_tokens"] == int(
        (trace.nodes_per_step() - out.accepted - 1).sum())
    assert res.kv_cache["peak_bytes"] == res.kv_cache["peak_tokens"] * 1024.0
    # Busy fractions: roles add up to the units' busy time.
    role = res.role_busy_fraction
    if hw.kind == "gpu":
        assert res.utilisation["gpu"] == pytest.approx(sum(role.values()))
    else:
        assert res.utilisation["array"] == pytest.approx(role["draft"] + role["target"])
        assert res.utilisation["verify_unit"] == pytest.approx(role["verify"])
        assert res.utilisation["tree_unit"] == pytest.approx(role["tree"])
    busy = sum(v for k, v in res.utilisation.items() if k != "hbm_bandwidth")
    assert 0 < busy <= 1 + 1e-12 if hw.kind == "gpu" else busy > 0
    assert res.utilisation["hbm_bandwidth"] == pytest.approx(
        res.hbm_bytes["total"] / (hw.hbm_bandwidth_bps * res.makespan_s))
    step_sum = sum(res.step_time_s[k] for k in ("draft", "tree", "target", "verify"))
    assert step_sum * res.n_steps <= res.makespan_s * (1 + 1e-12)  # idle gaps: arrivals


def _assert_logs_equal(a, b):
    for name in ("makespan_s", "kv_mean_tokens"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-9), name
    for name in ("request_start_s", "request_end_s"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-15)
    for name in ("unit_busy_s", "role_busy_s", "hbm_bytes_by_role"):
        da, db = getattr(a, name), getattr(b, name)
        assert list(da) == list(db), name
        assert all(da[k] == pytest.approx(db[k], rel=1e-9, abs=1e-15) for k in da), name
    for name in ("unit_jobs", "kv_peak_tokens", "kv_written_tokens", "kv_rolled_back_tokens",
                 "kv_bytes_per_token", "hbm_bandwidth_bps"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("kind", ["toy_hw", "toy_gpu"])
def test_fast_path_equals_the_simpy_replay(seed, kind, request, target_model, draft_model,
                                           cost):
    from specaccel.sim.fast_path import fast_replay

    hw = request.getfixturevalue(kind)
    trace = random_trace(1000 + seed, n_requests=int(seed % 5) + 1)
    for t, drafting in ((trace, None), (autoregressive_trace(trace), "none")):
        inp = StepInput.of(t, hw=hw, target=target_model, draft=draft_model,
                           drafting=drafting, cost_fn=cost)
        _assert_logs_equal(fast_replay(inp), replay(inp))


def test_fast_engine_gives_the_simpy_result(toy_hw, target_model, draft_model, cost):
    trace = random_trace(7)
    a = simulate(trace, hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost)
    b = simulate(trace, hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost,
                 engine="fast")
    assert b.tokens_per_s == pytest.approx(a.tokens_per_s, rel=1e-9)
    assert b.speedup == pytest.approx(a.speedup, rel=1e-9)
    assert b.energy_j == pytest.approx(a.energy_j, rel=1e-9)
    with pytest.raises(ValueError, match="engine"):
        simulate(trace, hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost,
                 engine="warp")


def test_memory_footprint_adds_weights_and_peak_kv():
    from types import SimpleNamespace as NS

    from specaccel.sim.result import memory_footprint

    hw = NS(mem_bytes=100.0)
    fp = memory_footprint(hw, NS(weight_bytes=60.0), NS(weight_bytes=5.0), 30.0)
    assert fp == {"weights_bytes": 65.0, "kv_peak_bytes": 30.0, "peak_bytes": 95.0,
                  "capacity_bytes": 100.0, "fits": True}
    assert memory_footprint(hw, NS(weight_bytes=60.0), None, 41.0)["fits"] is False
    unknown = memory_footprint(NS(), NS(), None, 1.0)
    assert unknown["fits"] is None and unknown["weights_bytes"] is None


@pytest.mark.parametrize("seed", range(5))
def test_level_stats_match_a_tree_by_tree_count(seed):
    from specaccel.models.cost.drafting import TreeLevels
    from specaccel.models.golden import node_depth

    trace = random_trace(500 + seed, n_requests=6)
    lv = TreeLevels.of(trace.step_node_offsets, trace.nodes["parent"])
    depth, nodes_at, expanded_at = lv.depth, lv.nodes_at, lv.expanded_at
    for s in range(trace.n_steps):
        parent = trace.step(s).parent
        d = node_depth(parent)
        has_child = np.isin(np.arange(parent.shape[0]), parent[1:])
        assert depth[s] == d.max()
        assert nodes_at[s].tolist() == np.bincount(d, minlength=nodes_at.shape[1]).tolist()
        assert expanded_at[s].tolist() == np.bincount(
            d[has_child], minlength=nodes_at.shape[1]).tolist()
