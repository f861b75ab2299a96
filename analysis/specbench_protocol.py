"""A Spec-Bench speedup as the benchmark measures it: question by question, prefill included.

Spec-Bench (hemingkx/Spec-Bench, ``evaluation/eval.py`` and ``evaluation/speed.py``) times
one call per turn of each of its 480 questions -- the prompt's prefill, then decoding to
the answer's end -- and reports ``mean over questions of (tokens / seconds)`` of the
method over the same mean of plain decoding.  Two things make that lower than the ratio
of step times the pooled acceptance gives:

* the prefill is in every call's time, and a question with a long prompt and a short
  answer (summarisation, RAG, translation) spends much of its call in it;
* every question weighs the same, so the questions drafts do poorly on count as much as
  the long answers that dominate the pooled τ (on EAGLE-1 the unweighted mean of the
  per-question τ is 5 % below the pooled τ).

`protocol_times` replays the benchmark on the simulator: every turn of
:mod:`~specaccel.workloads.specbench_questions` is a request with its own prompt, its
own answer length and its own acceptance (`turn_acceptance` on the method's
`acceptance_profile`), decoded with the
preset's draft trees and priced on the preset's deployment; its prefill is the target's
(and a draft model's, which keeps its own KV cache) prefill pass on the same deployment.
The baseline is the same turns decoded one token a step on the baseline's deployment.
The tokens are counted as ``speed.py`` counts them: the method's ``new_tokens`` (the
end-of-sequence token included), the baseline's answer tokenised again (without it).

Not priced: a prefill's own drafting (EAGLE drafts its first tree in the call that
prefills; one draft step per turn), and the KV cache of a draft whose stand-in here has
none (the Medusa-kind heads that stand in for Hydra's, whose prefix layer keeps one
decoder layer of KV over the prompt: about 1/32 of the target's prefill).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.schema.trace import NODE_FIELDS, Trace, metadata_of_steps
from specaccel.sim import simulate
from specaccel.sim.simulation import resolve_deployments, resolve_specs
from specaccel.workloads.specbench_questions import (
    MEASURED_PROFILES,
    SpecBenchTurns,
    acceptance_profile,
    specbench_turns,
    turn_acceptance,
)


@dataclass(frozen=True)
class ProtocolTimes:
    """Per turn of the benchmark: seconds of the method's call and of the baseline's, each
    split into prefill and decoding; the method's decode steps; the turn's question, its
    output tokens as the method's count has them and as the baseline's has them."""

    question: np.ndarray
    output_tokens: np.ndarray
    baseline_tokens: np.ndarray
    steps: np.ndarray
    prefill_s: np.ndarray
    decode_s: np.ndarray
    baseline_prefill_s: np.ndarray
    baseline_decode_s: np.ndarray

    def speedup(self, extra_step_s: float = 0.0, questions: np.ndarray | None = None
                ) -> float:
        """Spec-Bench's speedup: the mean over questions of tokens per second of the method
        over the baseline's; `extra_step_s` added to every decode step of the method;
        `questions` (a mask over the questions) keeps some of them, as the benchmark's
        speedup of one task does."""
        q = self.question
        n = np.bincount(q, weights=self.output_tokens)
        n_base = np.bincount(q, weights=self.baseline_tokens)
        method = np.bincount(q, weights=self.prefill_s + self.decode_s
                             + self.steps * extra_step_s)
        base = np.bincount(q, weights=self.baseline_prefill_s + self.baseline_decode_s)
        keep = np.ones(n.shape[0], dtype=bool) if questions is None else np.asarray(questions)
        if keep.dtype != bool or keep.shape != n.shape or not keep.any():
            raise InputError(f"must be a boolean mask selecting some of the {n.shape[0]} "
                             "questions", field="questions")
        return float(np.mean(n[keep] / method[keep]) / np.mean(n_base[keep] / base[keep]))

    @property
    def step_s(self) -> float:
        """The method's mean decode step."""
        return float(self.decode_s.sum() / self.steps.sum())

    @property
    def prefill_share(self) -> float:
        """The share of the method's calls spent in prefill."""
        return float(self.prefill_s.sum() / (self.prefill_s + self.decode_s).sum())

    def implied_step_s(self, published: float) -> float | None:
        """The mean decode step with which the speedup would be `published` (the
        simulated step plus one time added to every step; prefill and baseline as
        simulated), or ``None`` when none gives it: the time added is searched from
        -0.9 x the shortest turn's mean step (every turn's mean step stays positive)
        upwards."""
        busy = self.steps > 0
        shortest = float(np.min(self.decode_s[busy] / self.steps[busy])) if busy.any() else 0.0
        lo, hi = -0.9 * shortest, self.step_s
        while self.speedup(hi) > published:
            hi *= 2.0
            if hi > 1e3:
                return None
        if self.speedup(lo) < published:
            return None
        while hi - lo > 1e-12:
            mid = 0.5 * (lo + hi)
            if self.speedup(mid) > published:
                lo = mid
            else:
                hi = mid
        return self.step_s + 0.5 * (lo + hi)


def _gather_steps(trace: Trace, picks: np.ndarray, per_request: np.ndarray,
                  prompts: np.ndarray) -> Trace:
    """A trace whose request ``r`` holds the steps ``picks[off_r : off_r + per_request[r]]``
    of `trace` (global step indices) after a prompt of ``prompts[r]`` tokens."""
    off = np.asarray(trace.step_node_offsets, dtype=np.int64)
    sizes = np.diff(off)[picks]
    step_off = np.zeros(picks.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes, out=step_off[1:])
    node_src = (np.repeat(off[picks], sizes)
                + np.arange(int(step_off[-1]), dtype=np.int64)
                - np.repeat(step_off[:-1], sizes))
    req_off = np.zeros(per_request.shape[0] + 1, dtype=np.int64)
    np.cumsum(per_request, out=req_off[1:])
    return Trace(
        request_id=[f"turn-{r}" for r in range(per_request.shape[0])],
        prompt_len=np.asarray(prompts, dtype=np.int64),
        arrival_s=np.zeros(per_request.shape[0]),
        request_step_offsets=req_off,
        step_node_offsets=step_off,
        nodes={f: np.asarray(trace.nodes[f])[node_src] for f in NODE_FIELDS},
        recorded_accepted=np.asarray(trace.recorded_accepted)[picks],
        verification=trace.verification,
        metadata=metadata_of_steps(trace.metadata, picks, trace.n_steps),
    )


def turn_trace(trace: Trace, turns: SpecBenchTurns, turn_tau: np.ndarray) -> Trace:
    """The benchmark's turns as requests of `trace`'s method: turn ``t`` is its prompt
    followed by ``round(decode tokens / turn_tau[t])`` steps taken in order, cyclically,
    from `trace`'s steps."""
    steps = np.rint(turns.decode_tokens / turn_tau).astype(np.int64)
    if trace.n_steps == 0:
        raise InputError("the trace has no steps", field="trace")
    picks = np.arange(int(steps.sum()), dtype=np.int64) % trace.n_steps
    return _gather_steps(trace, picks, steps, turns.prompt_tokens)


def plain_turn_trace(trace: Trace, turns: SpecBenchTurns) -> Trace:
    """The benchmark's turns decoded one token a step: root-only steps of `trace`'s
    plain-decoding baseline, one per decode token of each turn."""
    from specaccel.sim.autoregressive import autoregressive_trace

    plain = autoregressive_trace(trace, verify_trace(trace))
    steps = turns.decode_tokens.astype(np.int64)
    picks = np.arange(int(steps.sum()), dtype=np.int64) % plain.n_steps
    return _gather_steps(plain, picks, steps, turns.prompt_tokens)


def most_committed(trace: Trace) -> float:
    """The most tokens a step of `trace` can commit: its longest root path's drafts, plus
    the bonus token."""
    parent = np.asarray(trace.nodes["parent"], dtype=np.int64)
    off = np.asarray(trace.step_node_offsets, dtype=np.int64)
    step_of = np.repeat(np.arange(trace.n_steps, dtype=np.int64), np.diff(off))
    up = np.where(parent >= 0, parent + off[step_of], -1)
    depth = np.zeros(parent.shape[0], dtype=np.int64)
    has_parent = up >= 0
    while True:  # one level a pass; a tree is as deep as its longest path
        deeper = depth.copy()
        deeper[has_parent] = depth[up[has_parent]] + 1
        if np.array_equal(deeper, depth):
            break
        depth = deeper
    return float(depth.max(initial=0) + 1)


def turn_ceiling(trace: Trace, method: str, turns: SpecBenchTurns) -> float:
    """The most tokens a step commits on any turn: the longest path of `trace`'s trees
    (`most_committed`), or a method's own measured profile's largest turn when that is
    more -- the stand-in trace of a method can be narrower than what the method ran
    (Hugging Face assisted generation, Spec-Bench's SpS, grows its number of drafts
    while they are accepted; its stand-in is a chain of 5)."""
    most = most_committed(trace)
    if method in MEASURED_PROFILES:
        most = max(most, float(acceptance_profile(method, turns).max()))
    return most


def _request_seconds(result: Any) -> np.ndarray:
    times = result.request_times
    return np.asarray(times["end"]) - np.asarray(times["start"])


def _prefill_s(dep: Any, model: Any, role: str, prompts: np.ndarray) -> np.ndarray:
    costs = dep.pass_costs(model, role=role, tokens=prompts, context=np.zeros_like(prompts),
                           phase="prefill")
    return np.asarray(costs["latency_s"], dtype=np.float64)


def protocol_times(trace: Trace, hw: str | Any, config: Any = None, *,
                   turns: SpecBenchTurns | None = None, tau: float | None = None,
                   flat_acceptance: bool = False) -> ProtocolTimes:
    """Every turn of the benchmark priced on `hw` with `trace`'s method and the
    deployments of `config` (module docstring).  `tau`: the method's pooled τ (default:
    the τ `trace` commits); `flat_acceptance`: every turn at that τ instead of the
    method's measured spread (what the spread alone contributes)."""
    t = turns or specbench_turns()
    hw_spec, target, draft, drafting = resolve_specs(trace, hw)
    dep, base = resolve_deployments(trace, hw_spec, config)
    pooled = float(verify_trace(trace).committed.mean()) if tau is None else float(tau)
    if flat_acceptance:
        per_turn = np.full(t.output_tokens.shape, pooled)
    else:
        method = str(trace.metadata.get("method", ""))
        profile = acceptance_profile(method, t)
        per_turn = turn_acceptance(pooled, t, profile, most=turn_ceiling(trace, method, t))
    spec = turn_trace(trace, t, per_turn)
    plain = plain_turn_trace(trace, t)
    run = simulate(spec, hw=hw_spec, target=target, draft=draft, drafting=drafting,
                   deployment=dep, baseline=False, engine="fast")
    ref = simulate(plain, hw=hw_spec, target=target, draft=None,
                   drafting="none", deployment=base, baseline=False, engine="fast")
    prompts = t.prompt_tokens
    prefill = _prefill_s(dep, target, "target", prompts)
    if draft is not None and draft.kind != "medusa":  # a draft with its own KV cache
        prefill = prefill + _prefill_s(dep, draft, "draft", prompts)
    return ProtocolTimes(
        question=t.question, output_tokens=t.output_tokens,
        baseline_tokens=t.baseline_counted_tokens,
        steps=np.diff(spec.request_step_offsets).astype(np.float64),
        prefill_s=prefill, decode_s=_request_seconds(run),
        baseline_prefill_s=_prefill_s(base, target, "target", prompts),
        baseline_decode_s=_request_seconds(ref))
