"""A hand-built trace whose whole timeline is worked out by hand (in quanta Q = 2**-12 s).

Toy costs (tests/sim/conftest.py): target pass 40 + 2·tokens + context, draft pass
5 + tokens, tree unit 3, verify unit 2 + nodes.

Request A (prompt 10, arrives at 0):
  step 0: chain root→1→2, tokens 4,5,7, target says 5,6,8 → node 1 accepted, node 2 not.
          context 10; draft passes (1 tok, ctx 10) = 6 and (1 tok, ctx 11) = 6;
          tree 3; target (3 tok, ctx 10) = 56; verify 5.     0–12–15–71–76
  step 1: root 6 with children 9 (its child 4) and 3; target says 3 after the root →
          node 2 accepted.  context 12; draft (2 toks = last step's commits, ctx 12) = 7
          and (1 expanded node, ctx 13) = 6; tree 3; target (4, 12) = 60; verify 6.
                                                             76–89–92–152–158
Request B (prompt 5, arrives at 200): step 0 as A's step 0 at context 5:
          draft 6 + 6, tree 3, target 51, verify 5.          200–212–215–266–271
"""

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import StepInput, compute_step_costs, simulate
from specaccel.sim.simpy_replay import replay

Q = 2.0 ** -12


def hand_trace():
    t1a = DraftTree.build([-1, 0, 1], [4, 5, 7], [5, 6, 8])
    t2 = DraftTree.build([-1, 0, 0, 1], [6, 9, 3, 4], [3, 4, 1, 2])
    t1b = DraftTree.build([-1, 0, 1], [4, 5, 7], [5, 6, 8])
    return Trace.from_trees([("A", 10, [t1a, t2]), ("B", 5, [t1b])],
                            arrival_s=[0.0, 200 * Q],
                            metadata={"drafting": "per-level"})


EXPECTED_TIMELINE = [  # (role, unit, request, step, start, end) in quanta
    ("draft", "array", 0, 0, 0, 12), ("tree", "tree_unit", 0, 0, 12, 15),
    ("target", "array", 0, 0, 15, 71), ("verify", "verify_unit", 0, 0, 71, 76),
    ("draft", "array", 0, 1, 76, 89), ("tree", "tree_unit", 0, 1, 89, 92),
    ("target", "array", 0, 1, 92, 152), ("verify", "verify_unit", 0, 1, 152, 158),
    ("draft", "array", 1, 2, 200, 212), ("tree", "tree_unit", 1, 2, 212, 215),
    ("target", "array", 1, 2, 215, 266), ("verify", "verify_unit", 1, 2, 266, 271),
]


def test_cost_model_called_once_per_model_with_the_hand_derived_shapes(
        toy_hw, target_model, draft_model, cost):
    costs = compute_step_costs(hand_trace(), target_model=target_model,
                               draft_model=draft_model, hw=toy_hw, cost_fn=cost)
    assert [c[0] for c in cost.calls] == ["toy-target", "toy-draft"]
    _, t_tok, t_ctx, _ = cost.calls[0]
    _, d_tok, d_ctx, _ = cost.calls[1]
    assert t_tok.tolist() == [3, 4, 3] and t_ctx.tolist() == [10, 12, 5]
    assert d_tok.tolist() == [1, 1, 2, 1, 1, 1]
    assert d_ctx.tolist() == [10, 11, 12, 13, 5, 6]
    assert (costs.draft_s / Q).tolist() == [12, 13, 12]
    assert (costs.target_s / Q).tolist() == [56, 60, 51]
    assert costs.accepted.tolist() == [1, 1, 1]
    assert costs.draft_passes.tolist() == [2, 2, 2]


def test_simpy_timeline_equals_the_hand_computed_one(toy_hw, target_model, draft_model, cost):
    log = replay(StepInput.of(hand_trace(), hw=toy_hw, target=target_model,
                              draft=draft_model, cost_fn=cost, record_timeline=True))
    got = [(r, u, q, s, a / Q, b / Q) for r, u, q, s, a, b in log.timeline]
    assert got == EXPECTED_TIMELINE
    assert log.makespan_s == 271 * Q
    assert (log.request_start_s / Q).tolist() == [0, 200]
    assert (log.request_end_s / Q).tolist() == [158, 271]
    assert log.unit_busy_s == {"array": 204 * Q, "tree_unit": 9 * Q, "verify_unit": 16 * Q}
    assert log.unit_jobs == {"array": 6, "tree_unit": 3, "verify_unit": 3}
    # KV: prompt 10, +3 at 15, -1 at 76, +4 at 92, -2 at 158, freed; B: +5, +3 at 215, -1.
    assert log.kv_peak_tokens == 16
    assert log.kv_written_tokens == 25
    assert log.kv_rolled_back_tokens == 4
    assert log.kv_mean_tokens == pytest.approx(2714 / 271, rel=1e-12)


def test_gpu_time_shares_one_engine_with_the_same_timeline(toy_gpu, target_model, draft_model,
                                                           cost):
    log = replay(StepInput.of(hand_trace(), hw=toy_gpu, target=target_model,
                              draft=draft_model, cost_fn=cost, record_timeline=True))
    assert [(r, u) for r, u, *_ in log.timeline] == [(r, "gpu") for r, *_ in EXPECTED_TIMELINE]
    assert log.unit_busy_s == {"gpu": (204 + 9 + 16) * Q}
    assert log.makespan_s == 271 * Q


def test_metrics_of_the_hand_trace(toy_hw, target_model, draft_model, cost):
    res = simulate(hand_trace(), hw=toy_hw, target=target_model, draft=draft_model,
                   cost_fn=cost)
    assert res.tokens == 6 and res.n_steps == 3
    assert res.makespan_s == 271 * Q
    assert res.tokens_per_s == 6 / (271 * Q)
    assert res.mean_committed_per_step == 2.0 and res.mean_accepted_per_step == 1.0
    assert res.accepted_histogram == [0, 3]
    assert res.utilisation["array"] == pytest.approx(204 / 271)
    assert res.utilisation["verify_unit"] == pytest.approx(16 / 271)
    # Baseline: A decodes 4 tokens at contexts 10..13 (52+53+54+55 = 214), then B,
    # arrived at 200, decodes 2 at contexts 5, 6 (47 + 48): ends at 309.
    assert res.baseline.makespan_s == 309 * Q
    assert res.baseline.tokens == 6 and res.baseline.n_steps == 6
    assert res.speedup == pytest.approx(309 / 271)


def test_per_level_shapes_follow_expanded_nodes_of_a_wide_tree(toy_hw, target_model,
                                                               draft_model, cost):
    # depth 1: nodes 1, 2, 3 ; depth 2: 4 (of 1), 5 (of 1), 6 (of 3) ; depth 3: 7 (of 6)
    parent = [-1, 0, 0, 0, 1, 1, 3, 6]
    tree = DraftTree.build(parent, [0, 1, 2, 3, 4, 5, 6, 7], [9] * 8)
    trace = Trace.from_trees([("w", 7, [tree, tree])], metadata={"drafting": "per-level"})
    compute_step_costs(trace, target_model=target_model, draft_model=draft_model, hw=toy_hw,
                       cost_fn=cost)
    _, d_tok, d_ctx, _ = cost.calls[1]
    # pass 1: last step's commits (1 at the start, then 1: nothing accepted), pass 2:
    # expanded depth-1 nodes (1 and 3), pass 3: expanded depth-2 nodes (6).
    assert d_tok.tolist() == [1, 2, 1, 1, 2, 1]
    assert d_ctx.tolist() == [7, 8, 9, 8, 9, 10]
    assert verify_trace(trace).accepted.tolist() == [0, 0]


def test_single_pass_and_no_drafting(toy_hw, target_model, draft_model, cost):
    trace = hand_trace()
    costs = compute_step_costs(trace, target_model=target_model, draft_model=draft_model,
                               hw=toy_hw, drafting="single-pass", cost_fn=cost)
    _, d_tok, d_ctx, _ = cost.calls[1]
    assert d_tok.tolist() == [1, 1, 1] and d_ctx.tolist() == [10, 12, 5]
    assert (costs.draft_s / Q).tolist() == [6, 6, 6]
    cost.calls.clear()
    none = compute_step_costs(trace, target_model=target_model, draft_model=None, hw=toy_hw,
                              drafting="none", cost_fn=cost)
    assert [c[0] for c in cost.calls] == ["toy-target"]
    assert np.all(none.draft_s == 0) and np.all(none.tree_s == 0) and np.all(none.verify_s == 0)
    with pytest.raises(ValueError, match="drafting"):
        compute_step_costs(trace, target_model=target_model, draft_model=draft_model,
                           hw=toy_hw, drafting="bogus", cost_fn=cost)


def test_chrome_trace_export_of_the_hand_timeline(toy_hw, target_model, draft_model, cost):
    from specaccel.sim.timeline_export import chrome_trace

    res = simulate(hand_trace(), hw=toy_hw, target=target_model, draft=draft_model,
                   cost_fn=cost, baseline=False, record_timeline=True)
    doc = chrome_trace(res.timeline, hardware="toy-accel")
    slices = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    names = {e["args"]["name"]: e["tid"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert set(names) == {"array", "tree_unit", "verify_unit"}
    assert len(slices) == len(EXPECTED_TIMELINE)
    for e, (role, unit, r, s, a, b) in zip(slices, EXPECTED_TIMELINE, strict=True):
        assert (e["name"], e["tid"], e["args"]) == (role, names[unit], {"request": r, "step": s})
        assert e["ts"] == pytest.approx(a * Q * 1e6)
        assert e["dur"] == pytest.approx((b - a) * Q * 1e6)
    assert "timeline" not in res.to_dict()


def test_unit_maps_give_the_hardware_its_engines(toy_hw, toy_gpu):
    import simpy

    from specaccel.sim.accelerator_model import (
        Accelerator,
        ComputeEngine,
        TreeUnit,
        VerifyUnit,
    )

    gpu = Accelerator.build(simpy.Environment(), toy_gpu, 1.0)
    assert gpu.draft_engine is gpu.target_engine is gpu.verify_unit is gpu.tree_unit
    assert isinstance(gpu.target_engine, ComputeEngine) and list(gpu.units) == ["gpu"]
    acc = Accelerator.build(simpy.Environment(), toy_hw, 1.0)
    assert acc.draft_engine is acc.target_engine
    assert isinstance(acc.tree_unit, TreeUnit) and isinstance(acc.verify_unit, VerifyUnit)
    own = Accelerator.build(simpy.Environment(), toy_hw, 1.0, unit_map={
        "draft": "draft_engine", "tree": "tree_unit", "target": "array",
        "verify": "verify_unit"})
    assert own.draft_engine is not own.target_engine
    with pytest.raises(ValueError, match="roles"):
        Accelerator.build(simpy.Environment(), toy_hw, 1.0, unit_map={"draft": "array"})


def test_a_separate_draft_engine_does_not_change_a_batch_1_timeline(toy_hw, target_model,
                                                                    draft_model, cost):
    # Stages of one request depend on each other, so at batch 1 a second engine only
    # moves busy time between units; the timeline is the hand-computed one.
    log = replay(StepInput.of(hand_trace(), hw=toy_hw, target=target_model,
                              draft=draft_model, cost_fn=cost, record_timeline=True,
                              unit_map={"draft": "draft_engine", "tree": "tree_unit",
                                        "target": "array", "verify": "verify_unit"}))
    assert [(a / Q, b / Q) for *_, a, b in log.timeline] == [
        (a, b) for *_, a, b in EXPECTED_TIMELINE]
    assert log.unit_busy_s["draft_engine"] == 37 * Q and log.unit_busy_s["array"] == 167 * Q


def test_requests_sharing_the_machine_never_overlap_on_a_unit(toy_hw, target_model,
                                                              draft_model, cost):
    import simpy

    from specaccel.sim.accelerator_model import Accelerator
    from specaccel.sim.simpy_replay import TraceReplay

    inp = StepInput.of(hand_trace(), hw=toy_hw, target=target_model, draft=draft_model,
                       cost_fn=cost, record_timeline=True)
    env = simpy.Environment()
    acc = Accelerator.build(env, toy_hw, inp.costs.kv_bytes_per_token)
    rep = TraceReplay(inp, acc)
    for r in range(inp.costs.n_requests):    # both requests at once, per-stage acquires
        env.process(rep.request(r))
    env.run()
    log = rep.log()
    by_unit: dict[str, list[tuple[float, float]]] = {}
    for _, unit, _, _, a, b in log.timeline:
        by_unit.setdefault(unit, []).append((a, b))
    for spans in by_unit.values():
        spans.sort()
        assert all(b <= a2 for (_, b), (a2, _) in zip(spans, spans[1:], strict=False))
    serial = replay(inp)
    assert log.unit_busy_s == serial.unit_busy_s
    # B's stages fill the array while A waits on its tree/verify units: shorter than
    # the two requests back to back (158 + 113 quanta)
    assert log.makespan_s < (158 + 113) * Q
    assert log.kv_written_tokens == serial.kv_written_tokens
