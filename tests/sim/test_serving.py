"""The serving loop: hand-computed batch steps, token budget, KV admission and pre-emption,
prefill, agreement with the batch-1 replay and the fast path, reproducibility.

Toy costs (conftest.BatchCost), in quanta Q: target pass 40 + 2·tokens·batch +
context·batch, draft pass 5 + tokens·batch, tree unit 3, verify unit 2 + nodes (per row,
rows one after another on the accelerator).
"""

import numpy as np
import pytest

from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import StepInput, compute_step_costs, simulate
from specaccel.sim.accelerator_model import UNIT_MAPS
from specaccel.sim.fast_path import closed_loop_makespans, fast_replay
from specaccel.sim.serving import ServingConfig, poisson_arrivals, serve
from specaccel.sim.simpy_replay import replay
from specaccel.sim.simulation import fast_path_applicable

Q = 2.0 ** -12


def two_requests(b_steps: int = 1, arrival_b: float = 0.0) -> Trace:
    """Request A (prompt 10): a chain step (accepts 1) and a 4-node tree (accepts 1);
    request B (prompt 5): `b_steps` chain steps (each accepts 1)."""
    chain = DraftTree.build([-1, 0, 1], [4, 5, 7], [5, 6, 8])
    wide = DraftTree.build([-1, 0, 0, 1], [6, 9, 3, 4], [3, 4, 1, 2])
    return Trace.from_trees([("A", 10, [chain, wide]), ("B", 5, [chain] * b_steps)],
                            arrival_s=[0.0, arrival_b], metadata={"drafting": "per-level"})


def run(trace, toy_hw, target_model, draft_model, cost, **cfg):
    cfg.setdefault("prefill", False)
    inp = StepInput.of(trace, hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost,
                       serving=ServingConfig(**cfg), record_timeline=True)
    return inp.costs, serve(inp)


def test_one_batch_step_serves_both_requests_with_padded_batched_passes(
        toy_hw, target_model, draft_model, batch_cost):
    costs, log = run(two_requests(), toy_hw, target_model, draft_model, batch_cost,
                     max_batch=2)
    # Batch step 1, rows A0 (3 nodes, ctx 10) and B0 (3 nodes, ctx 5): draft levels
    # 5 + 1·2 = 7 each (14); tree units 3 + 3; target 40 + 2·3·2 + 7.5·2 = 67;
    # verify units 5 + 5.  Batch step 2: A1 alone, its batch-1 costs 13, 3, 60, 6.
    got = [(role, unit, a / Q, b / Q) for role, unit, _, _, a, b in log.timeline]
    assert got == [("draft", "array", 0, 14), ("tree", "tree_unit", 14, 20),
                   ("target", "array", 20, 87), ("verify", "verify_unit", 87, 97),
                   ("draft", "array", 97, 110), ("tree", "tree_unit", 110, 113),
                   ("target", "array", 113, 173), ("verify", "verify_unit", 173, 179)]
    assert log.makespan_s == 179 * Q
    assert (log.request_end_s / Q).tolist() == [179, 97]
    draft_calls = [c for c in batch_cost.calls if c[0] == "toy-draft"][-1:]
    assert draft_calls[0][3].tolist() == [2, 2]          # both levels batch 2
    target_call = [c for c in batch_cost.calls if c[0] == "toy-target"][-1]
    assert target_call[1].tolist() == [3] and target_call[2].tolist() == [7.5]
    assert log.serving["batch_steps"] == 2 and log.serving["max_batch_rows"] == 2
    # KV: 15 prompt tokens, +6 tree nodes, -2 rejected, B frees 7; +4, -2, A frees 14.
    assert log.kv_peak_tokens == 21
    assert log.kv_rolled_back_tokens == 4 and log.kv_written_tokens == 15 + 6 + 4


def test_the_token_budget_holds_back_rows_in_admission_order(
        toy_hw, target_model, draft_model, batch_cost):
    _, log = run(two_requests(), toy_hw, target_model, draft_model, batch_cost,
                 max_batch=2, token_budget=4)
    # A0 (3 nodes) leaves 1 token: B0 waits; A1 (4) fills the budget; then B0 alone at
    # context 5: 12 + 3 + 51 + 5.
    assert log.makespan_s == (76 + 82 + 71) * Q
    assert (log.request_end_s / Q).tolist() == [158, 229]
    assert log.serving["mean_batch_rows"] == 1.0
    with pytest.raises(InputError, match="largest tree"):
        run(two_requests(), toy_hw, target_model, draft_model, batch_cost, token_budget=3)
    # the capacity given is too small (not the memory left after the weights)
    with pytest.raises(InputError, match="needs 10 tokens of KV cache, more than a capacity "
                                         "of 9 holds"):
        run(Trace.from_trees([("p", 10, [])]), toy_hw, target_model, draft_model,
            batch_cost, kv_capacity_tokens=9)


def test_kv_capacity_makes_a_request_wait(toy_hw, target_model, draft_model, batch_cost):
    # 10 + 3 (A) + 5 + 3 (B) = 21 tokens: with 20, B waits until A is done.
    _, log = run(two_requests(), toy_hw, target_model, draft_model, batch_cost,
                 max_batch=2, kv_capacity_tokens=20)
    assert (log.request_start_s / Q).tolist() == [0, 158]
    assert log.makespan_s == 229 * Q
    assert log.serving["queue_s"]["p50"] == pytest.approx(79 * Q)   # 0 and 158
    assert log.kv_peak_tokens <= 20 and log.serving["preemptions"] == 0


@pytest.mark.parametrize("prefill", [False, True])
def test_kv_growth_pre_empts_the_newest_request_which_is_recomputed(
        prefill, toy_hw, target_model, draft_model, batch_cost):
    trace = two_requests(b_steps=2)
    costs, log = run(trace, toy_hw, target_model, draft_model, batch_cost, max_batch=2,
                     kv_capacity_tokens=21, prefill=prefill)
    # Both admitted (21 tokens with their trees); after step 1 A holds 12, B 7, and the
    # next trees (4 + 3) do not fit 21: B (newest) is pre-empted, A finishes, and B
    # comes back with prompt + its 2 committed tokens to recompute.
    assert log.serving["preemptions"] == 1 and log.serving["preempted_requests"] == 1
    assert log.serving["recomputed_tokens"] == (7 if prefill else 0)
    assert log.kv_peak_tokens <= 21
    assert np.all(np.isfinite(log.request_end_s))
    assert log.request_end_s[1] > log.request_end_s[0]
    assert int(costs.committed.sum()) == 2 + 2 + 2 + 2


def test_prefill_gives_the_first_token_and_chunks_share_the_budget(
        toy_hw, target_model, draft_model, batch_cost):
    one = two_requests().select_requests([0])
    _, log = run(one, toy_hw, target_model, draft_model, batch_cost, prefill=True)
    # prefill pass over 10 tokens at context 0: 40 + 2·10 = 60; then 76 + 82.
    assert log.serving["ttft_s"]["p50"] == 60 * Q
    assert log.makespan_s == (60 + 76 + 82) * Q
    assert log.serving["tpot_s"]["p50"] == (76 + 82) * Q / 4
    prefill_calls = [c for c in batch_cost.calls if c[4] == "prefill"]
    assert [c[1].tolist() for c in prefill_calls] == [[10]]
    assert [(role, a / Q, b / Q) for role, _, _, _, a, b in log.timeline[:2]] == [
        ("prefill", 0, 60), ("draft", 60, 72)]
    # a budget of 4 cuts the prompt into chunks 4, 4, 2 at contexts 0, 4, 8
    batch_cost.calls.clear()
    _, log = run(one, toy_hw, target_model, draft_model, batch_cost, prefill=True,
                 token_budget=4)
    chunks = [(c[1].tolist(), c[2].tolist()) for c in batch_cost.calls if c[4] == "prefill"]
    assert chunks == [([4], [0.0]), ([4], [4.0]), ([2], [8.0])]
    assert log.serving["ttft_s"]["p50"] == (48 + (48 + 4) + (44 + 8)) * Q   # + context
    assert log.serving["prefill_tokens"] == 10


@pytest.mark.parametrize("seed", [0, 1])
def test_batch_1_serving_equals_the_replay_and_the_fast_path_on_real_models(seed):
    from specaccel.models.cost import get_hardware, get_model
    from specaccel.workloads import DEFAULT_PRESET, generate_trace

    trace = generate_trace(DEFAULT_PRESET, n_requests=6, steps_per_request=12, seed=seed)
    hw = get_hardware("specaccel-default")
    target, draft = get_model("vicuna-7b"), get_model("eagle-head-vicuna-7b")
    from dataclasses import replace

    inp = StepInput.of(trace, hw=hw, target=target, draft=draft,
                       serving=ServingConfig(max_batch=1, prefill=False))
    inp = replace(inp, arrival_s=poisson_arrivals(6, 30.0, seed))
    costs = inp.costs
    ref = replay(inp)
    fast = fast_replay(inp)
    srv = serve(inp)
    for log in (fast, srv):
        assert log.makespan_s == pytest.approx(ref.makespan_s, rel=1e-3)
        assert log.kv_mean_tokens == pytest.approx(ref.kv_mean_tokens, rel=1e-3)
        np.testing.assert_allclose(log.request_end_s, ref.request_end_s, rtol=1e-3)
        assert log.kv_peak_tokens == ref.kv_peak_tokens
        assert log.kv_written_tokens == ref.kv_written_tokens
    assert (ref.engine, fast.engine, srv.engine) == ("simpy", "fast", "simpy-serving")
    many = closed_loop_makespans(np.stack([costs.step_time_s(), 2 * costs.step_time_s()]),
                                 costs.request_step_offsets, inp.arrival_s)
    assert many[0] == pytest.approx(ref.makespan_s, rel=1e-9)


def test_simulate_picks_and_reports_its_engine(toy_hw, target_model, draft_model, cost):
    trace = two_requests()
    kw = dict(hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost)
    assert simulate(trace, engine="auto", **kw).engine == "fast"
    assert simulate(trace, **kw).engine == "simpy"
    one = ServingConfig(max_batch=1, prefill=False, arrivals="poisson", rate_per_s=100.0)
    assert fast_path_applicable(one)[0]
    a = simulate(trace, engine="fast", serving=one, **kw)
    b = simulate(trace, engine="event", serving=one, **kw)
    assert a.engine == "fast" and b.engine == "simpy-serving"
    assert a.makespan_s == pytest.approx(b.makespan_s, rel=1e-3)
    many = ServingConfig(max_batch=8)
    ok, why = fast_path_applicable(many)
    assert not ok and "prefill" in why
    with pytest.raises(ValueError, match="not exact"):
        simulate(trace, engine="fast", serving=many, **kw)
    poisson = ServingConfig(max_batch=8, prefill=False, arrivals="poisson", rate_per_s=9.0)
    ok, why = fast_path_applicable(poisson)
    assert not ok and "Poisson" in why
    ok, why = fast_path_applicable(ServingConfig(max_batch=8, prefill=False))
    assert ok and "static batch" in why


def test_same_seed_same_result_and_poisson_rate():
    gaps = np.diff(poisson_arrivals(20000, 50.0, 3), prepend=0.0)
    assert gaps.mean() == pytest.approx(1 / 50.0, rel=0.03)
    assert np.std(gaps) == pytest.approx(1 / 50.0, rel=0.05)     # exponential: sd = mean
    assert np.array_equal(poisson_arrivals(10, 5.0, 1), poisson_arrivals(10, 5.0, 1))
    assert not np.array_equal(poisson_arrivals(10, 5.0, 1), poisson_arrivals(10, 5.0, 2))


def test_real_serving_run_is_reproducible_and_batching_raises_throughput():
    from specaccel.sim import simulate_named
    from specaccel.sim.request_sampling import take_requests
    from specaccel.workloads import DEFAULT_PRESET, generate_trace

    trace = take_requests(generate_trace(DEFAULT_PRESET, n_requests=4, steps_per_request=16,
                                         seed=5), 24)
    cfg = ServingConfig(max_batch=8, arrivals="poisson", rate_per_s=400.0, seed=7)
    a = simulate_named(trace, "specaccel-default", serving=cfg, baseline=False).to_dict()
    b = simulate_named(trace, "specaccel-default", serving=cfg, baseline=False).to_dict()
    assert a == b
    one = simulate_named(trace, "specaccel-default", baseline=False,
                         serving=ServingConfig(max_batch=1, arrivals="poisson",
                                               rate_per_s=400.0, seed=7))
    assert a["tokens_per_s"] > 1.5 * one.tokens_per_s
    assert a["tokens"] == one.tokens
    s = a["serving"]
    assert s["ttft_s"]["p50"] <= s["ttft_s"]["p90"] <= s["ttft_s"]["p99"]
    assert 1 < s["mean_batch_rows"] <= 8
    assert a["engine"] == "simpy-serving"


def random_trace(rng: np.random.Generator, n_req: int) -> Trace:
    """Random requests: prompts 1-40, 0-6 steps of random trees of 1-7 nodes."""
    reqs = []
    for r in range(n_req):
        trees = []
        for _ in range(int(rng.integers(0, 7))):
            n = int(rng.integers(1, 8))
            parent = [-1] + [int(rng.integers(0, i)) for i in range(1, n)]
            tok = rng.integers(0, 4, n).tolist()
            tgt = rng.integers(0, 4, n).tolist()
            trees.append(DraftTree.build(parent, tok, tgt))
        reqs.append((f"r{r}", int(rng.integers(1, 41)), trees))
    return Trace.from_trees(reqs, arrival_s=np.sort(rng.uniform(0, 400 * Q, n_req)),
                            metadata={"drafting": "per-level"})


@pytest.mark.parametrize("seed", range(40))
def test_serving_invariants_on_random_workloads(seed, toy_hw, toy_gpu, target_model,
                                                draft_model, batch_cost):
    rng = np.random.default_rng(seed)
    trace = random_trace(rng, int(rng.integers(1, 12)))
    hw = toy_gpu if seed % 3 == 0 else toy_hw
    costs = compute_step_costs(trace, target_model=target_model, draft_model=draft_model,
                               hw=hw, cost_fn=batch_cost)
    need = max(int((costs.context + costs.n_nodes).max(initial=0)),
               int(trace.prompt_len.max()))
    cfg = ServingConfig(max_batch=int(rng.integers(1, 6)),
                        token_budget=int(rng.integers(7, 40)),
                        prefill=bool(seed % 2),
                        kv_capacity_tokens=int(need + rng.integers(0, 60)),
                        overlap_draft=hw is toy_hw and seed % 4 == 1)
    log = serve(StepInput.of(trace, hw=hw, target=target_model, draft=draft_model,
                             cost_fn=batch_cost, serving=cfg, record_timeline=True))
    assert np.all(np.isfinite(log.request_end_s))               # nobody is dropped
    assert np.all(log.request_end_s >= trace.arrival_s)
    assert np.all(log.request_start_s >= trace.arrival_s)
    assert log.kv_peak_tokens <= cfg.kv_capacity_tokens
    assert log.kv_rolled_back_tokens == int((costs.n_nodes - costs.committed).sum())
    spans: dict[str, list[tuple[float, float]]] = {}
    for _, unit, _, _, a, b in log.timeline:
        spans.setdefault(unit, []).append((a, b))
    for v in spans.values():                                    # a unit serves one at a time
        v.sort()
        assert all(b <= a2 + 1e-15 for (_, b), (a2, _) in zip(v, v[1:], strict=False))
    busy = sum(log.unit_busy_s.values())
    assert busy == pytest.approx(sum(b - a for _, _, _, _, a, b in log.timeline))
    assert log.serving["prefill_tokens"] >= (int(trace.prompt_len.sum()) if cfg.prefill
                                             else 0)


def test_overlapped_micro_batches_by_hand_with_and_without_hbm_contention(
        toy_hw, target_model, draft_model, batch_cost):
    from dataclasses import replace

    from specaccel.sim.pipelined import SEPARATE_DRAFT_ENGINE

    def go(hw, unit_map=SEPARATE_DRAFT_ENGINE):
        return serve(StepInput.of(
            two_requests(), hw=hw, target=target_model, draft=draft_model,
            cost_fn=batch_cost, unit_map=unit_map, record_timeline=True,
            serving=ServingConfig(max_batch=2, prefill=False, overlap_draft=True)))

    # micro-batch 0 = A0, 1 = B0: draft(A0) 0-12, tree 12-15, target(A0) 15-71 while
    # draft(B0) 15-27; verify(A0) 71-76; tree(B0) 27-30; target(B0) 71-122; verify
    # 122-127.  Then A1 alone (82): 209.  (Batched without overlap: 97 + 82 = 179.)
    log = go(toy_hw)
    first = sorted((a / Q, b / Q, role) for role, _, _, s, a, b in log.timeline if s == 0)
    assert first == [(0, 12, "draft"), (12, 15, "tree"), (15, 27, "draft"),
                     (15, 71, "target"), (27, 30, "tree"), (71, 76, "verify"),
                     (71, 122, "target"), (122, 127, "verify")]
    assert log.makespan_s == 209 * Q and log.serving["contention_stretch_s"] == 0.0
    # HBM at half the two passes' joint demand (4096 bytes over 56 quanta; two draft
    # passes of 4096 over 12): both run at half speed until draft(B0) ends at 15 + 24,
    # target(A0) then finishes alone at 15 + 68.
    bw = (4096 / (56 * Q) + 8192 / (12 * Q)) / 2
    log = go(replace(toy_hw, hbm_bandwidth_bps=bw))
    first = sorted((a / Q, b / Q, role) for role, _, _, s, a, b in log.timeline if s == 0)
    assert first == [(0, 12, "draft"), (12, 15, "tree"), (15, 39, "draft"),
                     (15, 83, "target"), (39, 42, "tree"), (83, 88, "verify"),
                     (83, 134, "target"), (134, 139, "verify")]
    assert log.serving["contention_stretch_s"] == pytest.approx(12 * Q)
    with pytest.raises(InputError, match="separate draft engine"):
        go(toy_hw, unit_map=UNIT_MAPS["accelerator"])


@pytest.mark.parametrize("hw_name", ["specaccel-default", "a100-80gb"])
def test_static_batch_fast_path_equals_the_serving_loop_on_real_models(hw_name):
    from specaccel.sim import simulate_named
    from specaccel.workloads import DEFAULT_PRESET, generate_trace

    full = generate_trace(DEFAULT_PRESET, n_requests=6, steps_per_request=10, seed=2)
    # ragged request lengths (3..8 steps): requests leave the static batch one by one
    parts = [(full.request_id[r], int(full.prompt_len[r]),
              [full.step(s) for s in range(a, a + 3 + r)])
             for r, a in enumerate(full.request_step_offsets[:-1].tolist())]
    trace = Trace.from_trees(parts, metadata=full.metadata)
    assert np.diff(trace.request_step_offsets).tolist() == [3, 4, 5, 6, 7, 8]
    cfg = ServingConfig(max_batch=8, prefill=False)
    ev = simulate_named(trace, hw_name, serving=cfg, engine="event")
    fa = simulate_named(trace, hw_name, serving=cfg, engine="fast")
    au = simulate_named(trace, hw_name, serving=cfg, engine="auto")
    assert (ev.engine, fa.engine, au.engine) == ("simpy-serving", "fast-static-batch",
                                                 "fast-static-batch")
    assert fa.makespan_s == pytest.approx(ev.makespan_s, rel=1e-3)
    assert fa.energy_j["total"] == pytest.approx(ev.energy_j["total"], rel=1e-3)
    assert fa.kv_cache["mean_tokens"] == pytest.approx(ev.kv_cache["mean_tokens"], rel=1e-3)
    assert fa.kv_cache["peak_tokens"] == ev.kv_cache["peak_tokens"]
    assert fa.hbm_bytes["total"] == pytest.approx(ev.hbm_bytes["total"], rel=1e-3)
    for key in ("ttft_s", "tpot_s", "e2e_s"):
        for q in ("p50", "p99"):
            assert fa.serving[key][q] == pytest.approx(ev.serving[key][q], rel=1e-3)
    assert fa.utilisation == pytest.approx(ev.utilisation, rel=1e-3)
    assert fa.baseline.tokens_per_s == pytest.approx(ev.baseline.tokens_per_s, rel=1e-3)
    # a Poisson run is never a static batch; a too-small batch is not either
    with pytest.raises(ValueError, match="not exact"):
        simulate_named(trace, hw_name, engine="fast",
                       serving=ServingConfig(max_batch=4, prefill=False))
    assert simulate_named(trace, hw_name, engine="auto", baseline=False,
                          serving=ServingConfig(max_batch=4, prefill=False)
                          ).engine == "simpy-serving"


def test_a_wait_below_the_clocks_rounding_is_no_wait():
    """An admission a few units in the last place after its arrival (the clock adding a
    timeout) is reported as no queueing, not as 3.6e-13 s; a real wait is kept."""
    from specaccel.sim.serving import waited

    arrival = np.array([1000.0, 1000.0, 5.0])
    admit = np.array([np.nextafter(np.nextafter(1000.0, 2e3), 2e3), 1000.5, 5.0])
    assert waited(admit, arrival).tolist() == [0.0, 0.5, 0.0]
