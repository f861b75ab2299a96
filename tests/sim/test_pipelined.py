"""Pipelined speculation: the hit rule against the golden outcome, HBM sharing, and a
hand-computed timeline (toy costs, quanta Q; see conftest and test_hand_timeline)."""

import numpy as np
import pytest

from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import simulate
from specaccel.sim.pipelined import contended_pair, draft_progress, pipeline_hits
from specaccel.sim.serving import ServingConfig
from specaccel.sim.simulation import fast_path_applicable
from specaccel.workloads import DEFAULT_PRESET, generate_trace

Q = 2.0 ** -12
FULL = DraftTree.build([-1, 0, 1], [4, 5, 7], [5, 7, 8])      # chain fully accepted
PARTIAL = DraftTree.build([-1, 0, 1], [4, 5, 7], [5, 6, 8])   # accepts node 1 only


def test_hits_are_steps_whose_accepted_path_is_the_first_child_chain():
    second_child = DraftTree.build([-1, 0, 0], [4, 5, 6], [6, 9, 9])   # accepts node 2
    star_first = DraftTree.build([-1, 0, 0], [4, 5, 6], [5, 9, 9])     # node 1, a leaf
    trace = Trace.from_trees([("a", 3, [FULL, PARTIAL, second_child, star_first])])
    out = verify_trace(trace)
    assert out.accepted.tolist() == [2, 1, 1, 1]
    assert pipeline_hits(trace, out).tolist() == [True, False, False, True]


def test_hits_match_a_per_tree_walk_on_generated_traces():
    trace = generate_trace(DEFAULT_PRESET, n_requests=3, steps_per_request=40, seed=9)
    out = verify_trace(trace)
    got = pipeline_hits(trace, out)
    for s in range(trace.n_steps):
        tree = trace.step(s)
        chain = [0]
        while True:
            kids = [i for i in range(tree.n_nodes) if tree.parent[i] == chain[-1]]
            if not kids:
                break
            chain.append(min(kids))
        assert got[s] == (out.path(s).tolist() == chain), s
    assert 0 < got.mean() < 1


def test_contended_pair_shares_bandwidth_in_proportion():
    # target alone 10 s at rate B, draft alone 4 s at B/2: together f = 1.5
    t_end, d_end, f = contended_pair(10.0, 10.0 * 8, 4.0, 4.0 * 4, 8.0)
    assert (t_end, d_end, f) == (12.0, 6.0, 1.5)
    assert draft_progress(3.0, t_end, f, 4.0, d_end) == pytest.approx(0.5)
    # a draft longer than the target finishes alone after it
    assert contended_pair(2.0, 16.0, 4.0, 16.0, 8.0) == (3.0, 5.0, 1.5)
    assert contended_pair(2.0, 1.0, 4.0, 1.0, 8.0) == (2.0, 4.0, 1.0)   # no contention


def test_pipelined_timeline_by_hand(toy_hw, target_model, draft_model, cost):
    # prompt 10; steps FULL (hit), PARTIAL (miss), FULL.  Costs: D = 12, 14, 13;
    # tree 3; target 56, 59, 61; verify 5 each.  Serial: 76 + 81 + 82 = 239.
    # Pipelined: step 1's draft (14) runs during step 0's target and is used; step 2's
    # pre-draft (13) runs during step 1's target and is wasted:
    #   draft 0-12, tree 12-15, target 15-71 | draft(1) 15-29, verify 71-76;
    #   tree 76-79, target 79-138 | draft(2, wasted) 79-92, verify 138-143;
    #   draft 143-156, tree 156-159, target 159-220, verify 220-225.
    trace = Trace.from_trees([("A", 10, [FULL, PARTIAL, FULL])],
                             metadata={"drafting": "per-level"})
    kw = dict(hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost,
              baseline=False)
    serial = simulate(trace, **kw)
    assert serial.makespan_s == 239 * Q
    res = simulate(trace, pipelined=True, record_timeline=True, **kw)
    got = [(role, unit, s, a / Q, b / Q) for role, unit, _, s, a, b in res.timeline]
    assert got == [
        ("draft", "draft_engine", 0, 0, 12), ("tree", "tree_unit", 0, 12, 15),
        ("target", "array", 0, 15, 71), ("verify", "verify_unit", 0, 71, 76),
        ("draft", "draft_engine", 1, 15, 29),
        ("tree", "tree_unit", 1, 76, 79), ("target", "array", 1, 79, 138),
        ("verify", "verify_unit", 1, 138, 143), ("draft", "draft_engine", 2, 79, 92),
        ("draft", "draft_engine", 2, 143, 156), ("tree", "tree_unit", 2, 156, 159),
        ("target", "array", 2, 159, 220), ("verify", "verify_unit", 2, 220, 225)]
    assert res.makespan_s == 225 * Q and res.engine == "simpy-pipelined"
    p = res.pipeline
    assert p["hit_rate"] == pytest.approx(2 / 3) and p["hidden_draft_steps"] == 1
    assert p["wasted_draft_s"] == 13 * Q and p["contention_stretch_s"] == 0.0
    # the wasted pre-draft costs its energy on top of the serial run's draft energy
    d2 = res.energy_j["draft"] - serial.energy_j["draft"]
    assert d2 == pytest.approx(3.0 * 13 * Q + 0.5 * 3)   # toy: 3 J/s + 0.5 J/token
    assert res.tokens == serial.tokens and res.kv_cache["peak_tokens"] == \
        serial.kv_cache["peak_tokens"]


def test_contention_makes_overlap_pay_less_on_real_hardware():
    trace = generate_trace(DEFAULT_PRESET, n_requests=2, steps_per_request=24, seed=1)
    from specaccel.sim.simulation import resolve_specs

    hw, target, draft, _ = resolve_specs(trace, "specaccel-default")
    res = simulate(trace, hw=hw, target=target, draft=draft, baseline=False, pipelined=True)
    p = res.pipeline
    assert p["contention_stretch_s"] > 0            # both passes stream from HBM
    assert p["wasted_draft_s"] > 0 and 0 < p["hit_rate"] < 1
    assert np.isfinite(res.tokens_per_s)


def test_pipelining_needs_a_separate_engine_and_is_never_the_fast_path(toy_gpu, toy_hw,
                                                                        target_model,
                                                                        draft_model, cost):
    trace = Trace.from_trees([("A", 10, [FULL, FULL])], metadata={"drafting": "per-level"})
    with pytest.raises(InputError, match="separate draft engine"):
        simulate(trace, hw=toy_gpu, target=target_model, draft=draft_model, cost_fn=cost,
                 pipelined=True)
    with pytest.raises(InputError, match="batch-1 replay only"):
        simulate(trace, hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost,
                 pipelined=True, serving=ServingConfig(max_batch=2))
    assert not fast_path_applicable(None, pipelined=True)[0]
