"""Drafting mode "draft-free": the tree comes from a lookup that runs no model.

A draft-free step is the tree-mask unit, the target's verify pass over the tree (plus the
trace's ``extra_query_tokens_per_step``) and the verify unit; no draft pass, no draft
energy, no draft weights.  Toy costs (tests/sim/conftest.py): target pass
40 + 2·tokens + context quanta, draft pass 5 + tokens, tree unit 3, verify unit 2 + nodes.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from specaccel.cli import main
from specaccel.models.cost import get_hardware, get_model
from specaccel.models.cost.drafting import DRAFTING_MODES
from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import StepInput, compute_step_costs, fast_replay, simulate
from specaccel.sim.config_check import check_config
from specaccel.sim.pipelined import pipelined_replay
from specaccel.sim.serving import ServingConfig, serve
from specaccel.sim.simpy_replay import replay
from specaccel.sim.simulation import resolve_specs, simulate_named
from specaccel.workloads import generate_trace, get_preset, list_presets, write_trace

Q = 2.0 ** -12
DRAFT_FREE_PRESETS = ("prompt-lookup-vicuna-7b-specbench", "lookahead-vicuna-7b-specbench",
                      "rest-vicuna-7b-specbench", "token-recycling-vicuna-7b-specbench")


def hand_trace(drafting: str = "draft-free", extra: int = 0, arrival_b: float = 0.0) -> Trace:
    """Request A: a 3-chain then a 4-node tree (prompt 10); request B: a 3-chain (prompt 5)."""
    t1a = DraftTree.build([-1, 0, 1], [4, 5, 7], [5, 6, 8])
    t2 = DraftTree.build([-1, 0, 0, 1], [6, 9, 3, 4], [3, 4, 1, 2])
    t1b = DraftTree.build([-1, 0, 1], [4, 5, 7], [5, 6, 8])
    meta: dict = {"drafting": drafting}
    if extra:
        meta["extra_query_tokens_per_step"] = extra
    return Trace.from_trees([("A", 10, [t1a, t2]), ("B", 5, [t1b])],
                            arrival_s=[0.0, arrival_b], metadata=meta)


def random_trace(rng: np.random.Generator, drafting: str) -> Trace:
    reqs = []
    for r in range(int(rng.integers(1, 6))):
        trees = []
        for _ in range(int(rng.integers(1, 7))):
            n = int(rng.integers(1, 12))
            parent = [-1] + [int(rng.integers(0, i)) for i in range(1, n)]
            tok = rng.integers(0, 4, n).tolist()
            tgt = rng.integers(0, 4, n).tolist()
            trees.append(DraftTree.build(parent, tok, tgt))
        reqs.append((f"r{r}", int(rng.integers(1, 41)), trees))
    return Trace.from_trees(reqs, metadata={"drafting": drafting})


# ---------------------------------------------------------------------------- modes
def test_the_mode_table():
    assert "draft-free" in DRAFTING_MODES
    free, none = DRAFTING_MODES["draft-free"], DRAFTING_MODES["none"]
    assert free.verifies_tree and not free.runs_draft_model
    assert not none.verifies_tree and not none.runs_draft_model
    # besides plain decoding, only the modes that commit without a verified tree
    assert [m.name for m in DRAFTING_MODES.values() if not m.verifies_tree] == [
        "early-exit", "block-diffusion", "none"]


# ---------------------------------------------------------------------------- step costs
@pytest.mark.parametrize("extra", [0, 5])
def test_a_draft_free_step_is_tree_plus_target_verify_plus_verify_unit(
        toy_hw, target_model, cost, extra):
    trace = hand_trace(extra=extra)
    costs = compute_step_costs(trace, target_model=target_model, draft_model=None, hw=toy_hw,
                               cost_fn=cost)
    assert costs.drafting.name == "draft-free"
    assert [c[0] for c in cost.calls] == ["toy-target"]          # no draft pass at all
    _, t_tok, t_ctx, _ = cost.calls[0]
    assert t_tok.tolist() == [3 + extra, 4 + extra, 3 + extra]    # tree + riders
    assert t_ctx.tolist() == [10, 12, 5]
    assert costs.draft_passes.tolist() == [0, 0, 0]
    for f in (costs.draft_s, costs.draft_j, costs.draft_flops, costs.draft_hbm_bytes):
        assert np.all(f == 0)
    # target 40 + 2 tokens + context; tree 3; verify 2 + nodes
    target_q = [40 + 2 * (3 + extra) + 10, 40 + 2 * (4 + extra) + 12, 40 + 2 * (3 + extra) + 5]
    assert (costs.target_s / Q).tolist() == target_q
    assert (costs.tree_s / Q).tolist() == [3, 3, 3]
    assert (costs.verify_s / Q).tolist() == [5, 6, 5]
    assert (costs.step_time_s() / Q).tolist() == [t + 3 + v for t, v in
                                                  zip(target_q, [5, 6, 5], strict=True)]
    # the target's energy is the cost function's, less static power
    lat = costs.target_s
    assert costs.target_j == pytest.approx(3.0 * lat + 0.5 * t_tok, rel=1e-12)


def test_a_given_draft_model_is_not_run(toy_hw, target_model, draft_model, cost):
    with_draft = compute_step_costs(hand_trace(), target_model=target_model,
                                    draft_model=draft_model, hw=toy_hw, cost_fn=cost)
    assert [c[0] for c in cost.calls] == ["toy-target"]
    without = compute_step_costs(hand_trace(), target_model=target_model, draft_model=None,
                                 hw=toy_hw, cost_fn=cost)
    assert np.array_equal(with_draft.step_time_s(), without.step_time_s())


def test_single_pass_costs_exactly_one_draft_pass_more_per_step(
        toy_hw, target_model, draft_model, cost):
    free = compute_step_costs(hand_trace(), target_model=target_model, draft_model=None,
                              hw=toy_hw, cost_fn=cost)
    one = compute_step_costs(hand_trace(), target_model=target_model, draft_model=draft_model,
                             hw=toy_hw, drafting="single-pass", cost_fn=cost)
    assert (one.draft_s / Q).tolist() == [6, 6, 6]              # 5 + 1 token
    assert np.array_equal(one.step_time_s() - free.step_time_s(), one.draft_s)
    for f in ("target_s", "tree_s", "verify_s", "target_j", "n_nodes", "committed"):
        assert np.array_equal(getattr(one, f), getattr(free, f)), f


# ---------------------------------------------------------------------------- replays
def test_hand_timeline_has_no_draft_stage(toy_hw, target_model, cost):
    # A: 0-3 tree, 3-59 target (3 tok, ctx 10), 59-64 verify; step 1: 64-67, 67-127
    # (4 tok, ctx 12), 127-133.  B arrives at 200: 200-203, 203-254, 254-259.
    res = simulate(hand_trace(arrival_b=200 * Q), hw=toy_hw, target=target_model, draft=None,
                   cost_fn=cost, record_timeline=True, baseline=False)
    got = [(role, r, s, a / Q, b / Q) for role, _, r, s, a, b in res.timeline]
    assert got == [("tree", 0, 0, 0, 3), ("target", 0, 0, 3, 59), ("verify", 0, 0, 59, 64),
                   ("tree", 0, 1, 64, 67), ("target", 0, 1, 67, 127),
                   ("verify", 0, 1, 127, 133),
                   ("tree", 1, 2, 200, 203), ("target", 1, 2, 203, 254),
                   ("verify", 1, 2, 254, 259)]
    assert res.makespan_s == 259 * Q
    assert res.draft == "none" and res.drafting == "draft-free"
    assert res.energy_j["draft"] == 0.0 and res.mean_draft_passes_per_step == 0.0
    assert res.role_busy_fraction["draft"] == 0.0


def test_single_pass_with_the_68m_draft_is_slower_by_exactly_the_draft_cost():
    trace = generate_trace("prompt-lookup-vicuna-7b-specbench", n_requests=4,
                           steps_per_request=12, seed=5)
    assert np.all(trace.arrival_s == 0)                  # closed loop: nothing waits
    hw, target, d68 = get_hardware("a100-80gb"), get_model("vicuna-7b"), get_model("vicuna-68m")
    free = simulate(trace, hw=hw, target=target, draft=None)
    sp = simulate(trace, hw=hw, target=target, draft=d68, drafting="single-pass")
    sp_costs = compute_step_costs(trace, target_model=target, draft_model=d68, hw=hw,
                                  drafting="single-pass")
    draft_total = float(sp_costs.draft_s.sum())
    assert draft_total > 0
    assert sp.makespan_s - free.makespan_s == pytest.approx(draft_total, rel=1e-9)
    assert sp.tokens == free.tokens
    assert sp.energy_j["draft"] == pytest.approx(float(sp_costs.draft_j.sum()), rel=1e-12)
    assert free.energy_j["draft"] == 0.0
    static = hw.static_power_w * draft_total             # static power over the extra time
    assert sp.energy_j["total"] - free.energy_j["total"] == pytest.approx(
        float(sp_costs.draft_j.sum()) + static, rel=1e-9)
    # the 68M weights no longer occupy memory; the baseline is the same run both ways
    assert (sp.memory_footprint["weights_bytes"] - free.memory_footprint["weights_bytes"]
            == pytest.approx(d68.weight_bytes))
    assert free.memory_footprint["weights_bytes"] == pytest.approx(target.weight_bytes)
    assert sp.baseline.makespan_s == free.baseline.makespan_s
    assert free.speedup > sp.speedup


@pytest.mark.parametrize("seed", range(12))
def test_fast_path_and_batch_1_serving_equal_the_event_replay(seed, toy_hw, toy_gpu,
                                                              target_model, batch_cost):
    rng = np.random.default_rng(seed)
    trace = random_trace(rng, "draft-free")
    hw = toy_gpu if seed % 2 else toy_hw
    inp = StepInput.of(trace, hw=hw, target=target_model, draft=None, cost_fn=batch_cost,
                       serving=ServingConfig(max_batch=1, prefill=False))
    inp = replace(inp, arrival_s=np.sort(rng.uniform(0, 300 * Q, inp.costs.n_requests)))
    costs = inp.costs
    ref = replay(inp)
    fast = fast_replay(inp)
    srv = serve(inp)
    for log in (fast, srv):
        assert log.makespan_s == pytest.approx(ref.makespan_s, rel=1e-9)
        np.testing.assert_allclose(log.request_end_s, ref.request_end_s, rtol=1e-9)
        assert log.kv_peak_tokens == ref.kv_peak_tokens
        assert log.kv_written_tokens == ref.kv_written_tokens
        assert log.role_busy_s["draft"] == 0.0
    assert ref.makespan_s >= float(costs.step_time_s().sum())


@pytest.mark.parametrize("seed", range(12))
def test_batched_serving_has_no_draft_stage_and_overlap_changes_nothing(
        seed, toy_hw, target_model, batch_cost):
    from specaccel.sim.pipelined import SEPARATE_DRAFT_ENGINE

    rng = np.random.default_rng(100 + seed)
    trace = random_trace(rng, "draft-free")
    cfg = ServingConfig(max_batch=int(rng.integers(2, 6)), token_budget=64,
                        prefill=bool(seed % 2))
    kw = dict(hw=toy_hw, target=target_model, draft=None, cost_fn=batch_cost)
    plain_inp = StepInput.of(trace, serving=cfg, record_timeline=True, **kw)
    costs = plain_inp.costs
    plain = serve(plain_inp)
    assert all(role != "draft" for role, *_ in plain.timeline)
    assert plain.role_busy_s["draft"] == 0.0 and plain.hbm_bytes_by_role["draft"] == 0.0
    assert np.all(np.isfinite(plain.request_end_s))
    assert plain.kv_rolled_back_tokens == int((costs.n_nodes - costs.committed).sum())
    overlapped = serve(StepInput.of(trace, serving=replace(cfg, overlap_draft=True),
                                    unit_map=SEPARATE_DRAFT_ENGINE, **kw))
    assert overlapped.makespan_s == plain.makespan_s


@pytest.mark.parametrize("hw_name", ["specaccel-default", "a100-80gb"])
def test_static_batch_fast_path_equals_the_serving_loop_for_a_draft_free_preset(hw_name):
    full = generate_trace("rest-vicuna-7b-specbench", n_requests=5,
                          steps_per_request=8, seed=4)
    parts = [(full.request_id[r], int(full.prompt_len[r]),
              [full.step(s) for s in range(a, a + 3 + r)])
             for r, a in enumerate(full.request_step_offsets[:-1].tolist())]
    trace = Trace.from_trees(parts, metadata=full.metadata)
    cfg = ServingConfig(max_batch=8, prefill=False)
    ev = simulate_named(trace, hw_name, serving=cfg, engine="event")
    fa = simulate_named(trace, hw_name, serving=cfg, engine="fast")
    assert (ev.engine, fa.engine) == ("simpy-serving", "fast-static-batch")
    assert ev.draft == fa.draft == "none"
    assert fa.makespan_s == pytest.approx(ev.makespan_s, rel=1e-3)
    assert fa.energy_j["total"] == pytest.approx(ev.energy_j["total"], rel=1e-3)
    assert fa.kv_cache["peak_tokens"] == ev.kv_cache["peak_tokens"]
    assert ev.energy_j["draft"] == fa.energy_j["draft"] == 0.0


def test_pipelined_speculation_has_nothing_to_pre_draft(toy_hw, target_model, draft_model,
                                                         cost):
    trace = hand_trace()
    plain = simulate(trace, hw=toy_hw, target=target_model, draft=None, cost_fn=cost)
    piped = simulate(trace, hw=toy_hw, target=target_model, draft=draft_model, cost_fn=cost,
                     pipelined=True)
    assert piped.pipeline is None and piped.makespan_s == plain.makespan_s
    assert piped.engine == "simpy"
    with pytest.raises(InputError, match="needs a draft model"):
        pipelined_replay(StepInput.of(trace, hw=toy_hw, target=target_model, draft=None,
                                      cost_fn=cost, pipelined=True))


# ---------------------------------------------------------------------------- checks
def test_draft_weights_do_not_count_but_the_tree_must_fit(toy_hw, target_model):
    class HugeDraft:
        name = "huge-draft"
        weight_bytes = 1e15          # 1 PB: fits no device

    a100, target = get_hardware("a100-80gb"), get_model("vicuna-7b")
    check_config(hand_trace(), a100, target, HugeDraft(), drafting="draft-free")
    with pytest.raises(InputError, match="do not fit"):
        check_config(hand_trace(), a100, target, HugeDraft(), drafting="single-pass")
    with pytest.raises(InputError, match="verify unit"):      # the 4-node tree vs 3
        check_config(hand_trace(), toy_hw, target_model, None, drafting="draft-free",
                     verify_nodes=3)
    check_config(hand_trace(), toy_hw, target_model, None, drafting="draft-free",
                 verify_nodes=4)


def test_resolve_specs_needs_no_draft_and_ignores_a_named_one():
    trace = generate_trace("rest-vicuna-7b-specbench", n_requests=1, steps_per_request=2)
    assert "draft_model" not in trace.metadata
    hw, target, draft, drafting = resolve_specs(trace, "a100-80gb")
    assert (target.name, draft, drafting) == ("vicuna-7b", None, DRAFTING_MODES["draft-free"])
    trace.metadata["draft_model"] = "vicuna-68m"        # friendlier than rejecting it
    assert resolve_specs(trace, "a100-80gb", draft="no-such-model")[2:] == (
        None, DRAFTING_MODES["draft-free"])
    trace.metadata["drafting"] = "single-pass"
    trace.metadata.pop("draft_model")
    with pytest.raises(InputError, match="names no draft model") as err:
        resolve_specs(trace, "a100-80gb")
    assert err.value.field == "draft"
    trace.metadata["drafting"] = "lookup"
    with pytest.raises(InputError, match="draft-free"):
        resolve_specs(trace, "a100-80gb")


# ---------------------------------------------------------------------------- presets, CLI
def test_draft_free_presets_have_no_draft_model():
    free = [n for n in list_presets() if get_preset(n).drafting == "draft-free"]
    assert set(DRAFT_FREE_PRESETS) <= set(free)  # new draft-free methods join without edits here
    for name in free:
        p = get_preset(name)
        assert p.draft_model is None
        if name in DRAFT_FREE_PRESETS:  # lookup methods say the lookup is not charged
            assert any("drafting 'draft-free'" in a for a in p.assumptions)
        meta = p.trace_metadata(0)
        assert meta["drafting"] == "draft-free" and "draft_model" not in meta


def test_a_draft_free_preset_simulates_without_draft_on_the_cli(tmp_path, capsys):
    path = tmp_path / "pl.parquet"
    write_trace(generate_trace("lookahead-vicuna-7b-specbench", n_requests=2,
                               steps_per_request=6, seed=1), path)
    assert main(["simulate", "--trace", str(path), "--hw", "a100-80gb", "--baseline",
                 "--engine", "fast", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["drafting"], out["draft"]) == ("draft-free", "none")
    assert out["mean_draft_passes_per_step"] == 0 and out["speedup"] > 1.0
    assert out["energy_j"]["draft"] == 0.0
    # the options only a draft uses are refused, each by name, before the run starts
    for extra, flag in ((["--draft", "vicuna-68m"], "--draft"), (["--pipelined"], "--pipelined"),
                        (["--draft-stack", "vllm"], "--draft-stack"),
                        (["--draft-tp", "2"], "--draft-tp"),
                        (["--overlap-draft", "--batch", "2"], "--overlap-draft")):
        assert main(["simulate", "--trace", str(path), "--hw", "a100-80gb",
                     *extra]) == 2, flag
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"field '{flag}'" in err
        assert "runs no draft model" in err


def test_real_text_draft_free_recordings_say_so():
    from specaccel.workloads.real_text_presets import record_preset
    from specaccel.workloads.recorder_ngram import RecordConfig, train_models

    models = train_models(vocab_size=1024, max_files=20)
    cfg = RecordConfig(n_requests=2, prompt_len=32, max_new_tokens=30)
    for name in ("prompt-lookup", "lookahead-w7n5g7", "token-recycling-k8"):
        tr = record_preset(models, name, cfg)
        assert tr.metadata["drafting"] == "draft-free", name
    look = record_preset(models, "lookahead-w7n5g7", cfg)
    assert look.metadata["extra_query_tokens_per_step"] == 7 * 4 - 1
    chain = record_preset(models, "chain-g5", cfg)
    assert chain.metadata["drafting"] == "per-level"   # its method's mode: a draft model runs
    # the recorded draft-free trace simulates with a target alone
    res = simulate_named(look, "a100-80gb", target="vicuna-7b", engine="fast",
                         baseline=False)
    assert res.drafting == "draft-free" and res.draft == "none"


def test_a_sweep_point_of_a_draft_free_preset_needs_no_draft():
    from specaccel.analysis.design_point import EvalSettings, evaluate_point

    got = evaluate_point({"preset": "prompt-lookup-vicuna-7b-specbench", "requests": 2,
                          "steps": 6, "hardware": "a100-80gb", "workload": "w",
                          "stack": "ideal"},  # the kernels alone, as `ref` below
                         EvalSettings(metrics=("tokens_per_s", "speedup")))
    trace = generate_trace("prompt-lookup-vicuna-7b-specbench", n_requests=2,
                           steps_per_request=6)
    ref = simulate(trace, hw=get_hardware("a100-80gb"), target=get_model("vicuna-7b"),
                   draft=None, engine="fast")
    assert got["tokens_per_s"] == ref.tokens_per_s and got["speedup"] == ref.speedup
