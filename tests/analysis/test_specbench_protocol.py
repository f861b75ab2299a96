"""Spec-Bench's speedup as the benchmark measures it: per question, prefill included."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from specaccel.analysis import specbench_protocol as sp
from specaccel.analysis import validation_report as vr
from specaccel.models.cost.deployment_config import DeploymentConfig
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.workloads import generate_trace
from specaccel.workloads.specbench_questions import specbench_turns, turn_acceptance


def _times(**changes: object) -> sp.ProtocolTimes:
    base = dict(question=np.array([0, 0, 1]), output_tokens=np.array([10.0, 20.0, 5.0]),
                baseline_tokens=np.array([10.0, 20.0, 5.0]), steps=np.array([3.0, 5.0, 2.0]),
                prefill_s=np.array([0.1, 0.2, 0.3]),
                decode_s=np.array([0.3, 0.5, 0.2]),
                baseline_prefill_s=np.array([0.1, 0.2, 0.3]),
                baseline_decode_s=np.array([0.9, 1.9, 0.4]))
    base.update(changes)
    return sp.ProtocolTimes(**base)


def test_the_speedup_is_the_mean_over_questions_of_tokens_per_second():
    t = _times()
    # question 0: 30 tokens in 1.1 s (method) and 3.1 s (baseline); question 1: 5 tokens
    # in 0.5 s and 0.7 s
    method = (30 / 1.1 + 5 / 0.5) / 2
    base = (30 / 3.1 + 5 / 0.7) / 2
    assert t.speedup() == pytest.approx(method / base)
    # not the ratio of totals: the short question weighs as much as the long one
    assert t.speedup() != pytest.approx((35 / 1.6) / (35 / 3.8), rel=1e-3)
    assert t.prefill_share == pytest.approx(0.6 / 1.6)
    assert t.step_s == pytest.approx(1.0 / 10.0)


def test_the_implied_step_gives_back_the_published_speedup():
    t = _times()
    for published in (1.2, t.speedup(), 3.0):
        implied = t.implied_step_s(published)
        assert t.speedup(implied - t.step_s) == pytest.approx(published, rel=1e-9)
    # a speedup above what steps of any positive length give is not reachable
    assert t.implied_step_s(1e6) is None


def test_without_prefill_or_spread_it_is_tau_times_the_step_ratio():
    """The protocol adds exactly two things to the pooled ratio of step times: with no
    prefill and the same acceptance and step time on every question, it is that ratio."""
    n = np.array([40.0, 400.0, 8.0])
    tau, step, ar_step = 2.0, 0.03, 0.02
    t = sp.ProtocolTimes(question=np.arange(3), output_tokens=n, baseline_tokens=n,
                         steps=n / tau,
                         prefill_s=np.zeros(3), decode_s=n / tau * step,
                         baseline_prefill_s=np.zeros(3), baseline_decode_s=n * ar_step)
    assert t.speedup() == pytest.approx(tau * ar_step / step)
    # a prefill lowers it, and the more the shorter the answer
    with_prefill = dataclasses.replace(t, prefill_s=np.full(3, 0.2),
                                       baseline_prefill_s=np.full(3, 0.2))
    assert with_prefill.speedup() < t.speedup()
    drop = {}
    for k in range(3):
        one = np.arange(3) == k
        drop[n[k]] = with_prefill.speedup(questions=one) / t.speedup(questions=one)
    assert drop[8.0] < drop[40.0] < drop[400.0] < 1.0


def test_the_baseline_is_counted_as_speed_py_counts_it():
    """speed.py counts the method's new_tokens (end-of-sequence token included) and the
    baseline's answer retokenised less its start token (no end-of-sequence token)."""
    t = _times(baseline_tokens=np.array([9.0, 19.0, 4.0]))
    assert t.speedup() == pytest.approx(((30 / 1.1 + 5 / 0.5) / 2) / ((28 / 3.1 + 4 / 0.7) / 2))
    turns = specbench_turns()
    counted = turns.baseline_counted_tokens
    cut = turns.output_tokens >= 1024
    assert cut.sum() == 6  # answers cut at --max-new-tokens carry no end token
    assert np.array_equal(counted[cut], turns.output_tokens[cut])
    assert np.array_equal(counted[~cut], turns.output_tokens[~cut] - 1)
    # the first token of every answer comes from the prefill, the rest from steps
    assert np.array_equal(turns.decode_tokens, turns.output_tokens - 1)


@pytest.fixture(scope="module")
def eagle():
    trace = generate_trace("eagle-vicuna-7b-specbench", n_requests=32, steps_per_request=64,
                           seed=0)
    return trace, sp.protocol_times(trace, "a100-80gb", DeploymentConfig())


def test_every_turn_is_a_request_with_its_prompt_and_its_steps(eagle):
    trace, _ = eagle
    turns = specbench_turns()
    tau = float(verify_trace(trace).committed.mean())
    per_turn = turn_acceptance(tau, turns, most=sp.most_committed(trace))
    assert per_turn.max() <= sp.most_committed(trace)
    spec = sp.turn_trace(trace, turns, per_turn)
    assert spec.n_requests == len(turns.category)
    assert np.array_equal(spec.prompt_len, turns.prompt_tokens.astype(np.int64))
    assert np.array_equal(spec.steps_per_request(),
                          np.rint(turns.decode_tokens / per_turn).astype(np.int64))
    # the steps are the trace's, in order and cyclically: step k is the trace's k mod S
    for k in (0, 5, trace.n_steps + 3):
        a, b = spec.step(k), trace.step(k % trace.n_steps)
        assert np.array_equal(a.parent, b.parent) and np.array_equal(a.token, b.token)
    plain = sp.plain_turn_trace(trace, turns)
    assert np.array_equal(plain.steps_per_request(), turns.decode_tokens.astype(np.int64))
    assert np.all(plain.nodes_per_step() == 1)


def _prefill(dep, model, role, prompts):
    return dep.pass_costs(model, role=role, tokens=prompts, context=np.zeros_like(prompts),
                          phase="prefill")["latency_s"]


def test_each_side_prefills_on_its_own_deployment_with_its_own_models(eagle):
    """EAGLE's head keeps its own KV cache, so it prefills the prompt too; Medusa's heads
    read the target's last hidden state and prefill nothing.  Each side's passes are
    priced on its own deployment (EAGLE's repository code, generate() for the
    baseline)."""
    from specaccel.sim.simulation import resolve_deployments, resolve_specs

    prompts = specbench_turns().prompt_tokens
    trace, times = eagle
    hw, target, draft, _ = resolve_specs(trace, "a100-80gb")
    dep, base = resolve_deployments(trace, hw, DeploymentConfig())
    assert dep.stack_of("target").name == "hf-static-kv"
    assert base.stack_of("target").name == "hf-eager"
    assert draft.kind == "eagle"
    assert np.allclose(times.prefill_s, _prefill(dep, target, "target", prompts)
                       + _prefill(dep, draft, "draft", prompts), rtol=1e-12)
    assert np.allclose(times.baseline_prefill_s, _prefill(base, target, "target", prompts),
                       rtol=1e-12)
    medusa = generate_trace("medusa1-vicuna-7b-specbench", n_requests=8,
                            steps_per_request=64, seed=0)
    m_times = sp.protocol_times(medusa, "a100-80gb", DeploymentConfig())
    hw, target, heads, _ = resolve_specs(medusa, "a100-80gb")
    dep, _ = resolve_deployments(medusa, hw, DeploymentConfig())
    assert heads.kind == "medusa"
    assert np.allclose(m_times.prefill_s, _prefill(dep, target, "target", prompts),
                       rtol=1e-12)


def test_the_replay_prices_prefill_and_decoding_of_every_turn(eagle):
    trace, times = eagle
    turns = specbench_turns()
    assert times.prefill_s.shape == turns.prompt_tokens.shape
    assert np.all(times.prefill_s > 0) and np.all(times.baseline_prefill_s > 0)
    # a longer prompt takes a longer prefill
    order = np.argsort(turns.prompt_tokens)
    assert times.prefill_s[order[-1]] > 3 * times.prefill_s[order[0]]
    # each turn decodes its steps at the simulated step time
    assert times.step_s * 1e3 == pytest.approx(30.0, rel=0.15)
    assert 0.01 < times.prefill_share < 0.2
    # what the protocol adds lowers the speedup below the pooled ratio of step times
    pooled = dataclasses.replace(times, prefill_s=np.zeros_like(times.prefill_s),
                                 baseline_prefill_s=np.zeros_like(times.prefill_s))
    assert times.speedup() < pooled.speedup()


def test_spec_bench_rows_are_replayed_per_question_and_paper_rows_are_not():
    (bench,) = vr.end_to_end_rows(("hydra-vicuna-7b-specbench",))
    (paper,) = vr.end_to_end_rows(("eagle2-vicuna-7b-6task",))
    assert 0.0 < bench["prefill_share"] < 0.2
    assert paper["prefill_share"] is None
    # the implied step reproduces the published speedup on the replay
    trace = generate_trace("hydra-vicuna-7b-specbench", n_requests=vr.E2E_REQUESTS,
                           steps_per_request=vr.E2E_STEPS, seed=vr.E2E_SEED)
    times = sp.protocol_times(trace, "a100-80gb", DeploymentConfig())
    assert times.speedup() == pytest.approx(bench["predicted"], rel=1e-9)
    extra = bench["implied_step_ms"] / 1e3 - times.step_s
    assert times.speedup(extra) == pytest.approx(bench["measured"], rel=1e-6)


def test_a_tasks_speedup_is_the_mean_over_its_own_questions():
    t = _times()
    assert t.speedup(questions=np.array([True, True])) == pytest.approx(t.speedup())
    # question 1 alone: 5 tokens in 0.5 s against 0.7 s
    assert t.speedup(questions=np.array([False, True])) == pytest.approx(0.7 / 0.5)
    with pytest.raises(InputError) as e:
        t.speedup(questions=np.array([False, False]))
    assert e.value.field == "questions"
    with pytest.raises(InputError):
        t.speedup(questions=np.array([True]))
    with pytest.raises(InputError):  # indices are not a mask
        t.speedup(questions=np.array([1, 1]))


def test_the_tasks_section_replays_every_published_task():
    rows = vr.tasks_section()
    assert len(rows) == 48 and all(r["role"] == "prediction" for r in rows)
    eagle = {r["task"]: r["predicted"] for r in rows
             if r["preset"] == "eagle-vicuna-7b-specbench"}
    # the replay orders EAGLE-1's tasks as the leaderboard does at their ends: the short
    # answers after long prompts (translation, RAG) lowest, MT-Bench and maths highest
    low = sorted(eagle, key=eagle.get)[:2]
    high = sorted(eagle, key=eagle.get)[-2:]
    assert set(low) == {"translation", "rag"}
    assert set(high) == {"mt_bench", "math_reasoning"}


def test_eagles_mt_bench_rows_are_replayed_on_the_mt_bench_questions_alone():
    """EAGLE's speed.py times MT-Bench as Spec-Bench does; the published τ is MT-Bench's
    own, so the turns' acceptance is scaled over those 80 questions, not all 480."""
    (row,) = vr.end_to_end_rows(("eagle-vicuna-7b-mtbench",))
    assert row["prefill_share"] is not None
    trace = generate_trace("eagle-vicuna-7b-mtbench", n_requests=vr.E2E_REQUESTS,
                           steps_per_request=vr.E2E_STEPS, seed=vr.E2E_SEED)
    mt = specbench_turns().subset(("mt_bench",))
    times = sp.protocol_times(trace, "a100-80gb", DeploymentConfig(), turns=mt)
    assert times.speedup() == pytest.approx(row["predicted"], rel=1e-9)
    # scaled over all 480 questions instead, MT-Bench's easy questions would get more
    whole = sp.protocol_times(trace, "a100-80gb", DeploymentConfig())
    mask = specbench_turns().task == "mt_bench"
    assert whole.speedup(questions=mask) > 1.03 * times.speedup()
    # Medusa's paper row is not known to be timed so: pooled over its decode steps
    (medusa,) = vr.end_to_end_rows(("medusa2-vicuna-7b-mtbench",))
    assert medusa["prefill_share"] is None


def test_the_most_a_step_commits_is_its_trees_longest_path_plus_the_bonus():
    chain = generate_trace("speculative-sampling-vicuna-7b-68m-specbench", n_requests=2,
                           steps_per_request=4, seed=0)
    assert sp.most_committed(chain) == 6.0  # γ = 5 drafts and the bonus token
    eagle3 = generate_trace("eagle3-vicuna-13b-specbench", n_requests=2,
                            steps_per_request=4, seed=0)
    assert sp.most_committed(eagle3) == 8.0  # depth-7 trees


def test_both_effects_lower_the_speedup_and_neither_alone_makes_all_of_it(eagle):
    """The two things the protocol adds, one at a time: the prefill, and acceptance that
    differs from question to question (flat: every turn at the pooled τ)."""
    trace, spread_prefill = eagle
    flat_prefill = sp.protocol_times(trace, "a100-80gb", DeploymentConfig(),
                                     flat_acceptance=True)
    zero = np.zeros_like(spread_prefill.prefill_s)

    def without_prefill(t: sp.ProtocolTimes) -> float:
        return dataclasses.replace(t, prefill_s=zero, baseline_prefill_s=zero).speedup()

    flat_only = without_prefill(flat_prefill)
    assert spread_prefill.speedup() < flat_prefill.speedup() < flat_only
    assert spread_prefill.speedup() < without_prefill(spread_prefill) < flat_only


def test_a_borrowed_profile_moves_the_replayed_speedup_little(monkeypatch):
    """SpS replayed with its own measured profile and with EAGLE-1's (which every method
    without a measured profile takes): the speedup differs by under 2 %."""
    from specaccel.workloads import specbench_questions as sq

    trace = generate_trace("speculative-sampling-vicuna-7b-68m-specbench", n_requests=64,
                           steps_per_request=64, seed=0)
    own = sp.protocol_times(trace, "a100-80gb", DeploymentConfig()).speedup()
    monkeypatch.setattr(sq, "MEASURED_PROFILES", {"eagle": "eagle_tau"})
    borrowed = sp.protocol_times(trace, "a100-80gb", DeploymentConfig()).speedup()
    assert borrowed != own
    assert borrowed == pytest.approx(own, rel=0.02)


def test_a_measured_profile_is_never_clipped_below_its_own_turns():
    """SpS's stand-in is a chain of 5, but Hugging Face's assisted generation grows its
    drafts while they are accepted: SpS's own measured turns commit up to 14 tokens a
    step, and the ceiling follows them.  A method without a measured profile is held to
    its trees' longest path."""
    turns = specbench_turns()
    sps = generate_trace("speculative-sampling-vicuna-7b-68m-specbench", n_requests=2,
                         steps_per_request=4, seed=0)
    assert sp.most_committed(sps) == 6.0
    ceiling = sp.turn_ceiling(sps, "speculative-sampling", turns)
    assert ceiling == turns.sps_tau.max() > 12.0
    medusa = generate_trace("medusa1-vicuna-7b-specbench", n_requests=2,
                            steps_per_request=4, seed=0)
    assert sp.turn_ceiling(medusa, "medusa-1", turns) == sp.most_committed(medusa)


def test_the_tasks_section_reads_the_end_to_end_replays_again_unchanged():
    """The end-to-end section's replay of a Spec-Bench preset covers all its questions,
    so the tasks section reuses it; the rows are those it would compute itself."""
    replays: vr.Replays = {}
    vr.end_to_end_rows(("eagle-vicuna-7b-specbench",), replays=replays)
    assert set(replays) == {"eagle-vicuna-7b-specbench"}
    shared = {r["id"]: r["predicted"] for r in vr.tasks_section(replays=replays)}
    alone = {r["id"]: r["predicted"] for r in vr.tasks_section()}
    assert shared == alone
    assert len(replays) == 8  # the tasks section added the presets it replayed itself
    # a preset replayed on part of the questions (MT-Bench only) is not shared
    mt: vr.Replays = {}
    vr.end_to_end_rows(("eagle-vicuna-7b-mtbench",), replays=mt)
    assert mt == {}
