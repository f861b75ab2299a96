"""The step-cost door: a cost added as a pass term or a step term reaches every engine.

A pass term of a few quanta per pass must give every engine the numbers of a kernel
whose fixed cost is that much larger; a step term on the verify stage those of a verify
unit that much slower.  Toy costs (conftest): exact in binary, so the engines must agree
to the last bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import StepPricer, simulate
from specaccel.sim.options import ServingConfig

from .conftest import ToyHardware, ToySamplingHardware

Q = 2.0 ** -12
EXTRA = {"toy-target": 11, "toy-draft": 6}   # quanta per pass, by model


def launch_overhead(role, model, device, *, tokens, context, batch, phase):
    """A per-pass overhead: a fixed number of quanta per pass of each model."""
    return np.full(np.asarray(tokens).shape[0], EXTRA[model.name] * Q)


@dataclass(frozen=True)
class SamplingTail:
    """One quantum per verified node, on the verify stage."""

    stage: str = "verify"

    def __call__(self, n_nodes, committed):
        return np.asarray(n_nodes, dtype=np.float64) * Q


@dataclass(frozen=True)
class SlowerVerify:
    """The toy hardware with the sampling tail written into its verify unit: `fixed`
    quanta plus `per_node` quanta per node more."""

    base: object
    per_node: int = 1
    fixed: int = 0

    def __getattr__(self, name):
        return getattr(self.base, name)

    def verify_unit_latency_s(self, n: int) -> float:
        return self.base.verify_unit_latency_s(n) + (self.fixed + self.per_node * n) * Q


def trace(seed: int) -> Trace:
    rng = np.random.default_rng(seed)
    reqs = []
    for r in range(4):
        trees = []
        for _ in range(int(rng.integers(2, 6))):
            n = int(rng.integers(1, 7))
            parent = [-1] + [int(rng.integers(0, i)) for i in range(1, n)]
            trees.append(DraftTree.build(parent, rng.integers(0, 3, n).tolist(),
                                         rng.integers(0, 3, n).tolist()))
        reqs.append((f"r{r}", int(rng.integers(1, 30)), trees))
    return Trace.from_trees(reqs, metadata={"drafting": "per-level"})


RUNS = {   # engine options -> the engine that must produce the numbers
    "replay": (dict(engine="event"), "simpy"),
    "fast": (dict(engine="fast"), "fast"),
    "pipelined": (dict(pipelined=True), "simpy-pipelined"),
    "serving": (dict(serving=ServingConfig(max_batch=3, token_budget=64, arrivals="poisson",
                                           rate_per_s=2000.0, seed=1)), "simpy-serving"),
    "overlapped": (dict(serving=ServingConfig(max_batch=4, overlap_draft=True)),
                   "simpy-serving"),
    "static": (dict(engine="auto", serving=ServingConfig(max_batch=8, prefill=False)),
               "fast-static-batch"),
}


def _numbers(res):
    return (res.engine, res.makespan_s, res.role_busy_fraction, res.step_time_s,
            res.kv_cache["mean_tokens"])


@pytest.mark.parametrize("run", sorted(RUNS))
@pytest.mark.parametrize("seed", range(3))
def test_a_pass_term_reaches_every_engine_and_the_baseline(run, seed, toy_hw,
                                                            target_model, draft_model,
                                                            batch_cost):
    options, engine = RUNS[run]
    tr = trace(seed)
    slow_target = replace(target_model, fixed=target_model.fixed + EXTRA["toy-target"])
    slow_draft = replace(draft_model, fixed=draft_model.fixed + EXTRA["toy-draft"])
    want = simulate(tr, hw=toy_hw, target=slow_target, draft=slow_draft, cost_fn=batch_cost,
                    **options)
    got = simulate(tr, hw=toy_hw, target=target_model, draft=draft_model, cost_fn=batch_cost,
                   pass_terms=(launch_overhead,), **options)
    assert got.engine == engine
    assert _numbers(got) == _numbers(want)
    assert _numbers(got.baseline) == _numbers(want.baseline)
    plain = simulate(tr, hw=toy_hw, target=target_model, draft=draft_model,
                     cost_fn=batch_cost, **options)
    assert got.makespan_s > plain.makespan_s


@pytest.mark.parametrize("run", sorted(RUNS))
@pytest.mark.parametrize("seed", range(3))
def test_a_step_term_reaches_every_engine(run, seed, toy_hw, toy_gpu, target_model,
                                          draft_model, batch_cost):
    options, engine = RUNS[run]
    hw = toy_gpu if seed == 2 and run in ("replay", "fast", "serving", "static") else toy_hw
    tr = trace(10 + seed)
    kw = dict(target=target_model, draft=draft_model, cost_fn=batch_cost, **options)
    want = simulate(tr, hw=SlowerVerify(hw), **kw)
    got = simulate(tr, hw=hw, step_terms=(SamplingTail(),), **kw)
    assert got.engine == engine
    assert _numbers(got) == _numbers(want)
    # the baseline samples one token per step: one quantum more per step at batch 1
    if "serving" not in options:
        plain = simulate(tr, hw=hw, **kw)
        assert got.baseline.makespan_s == plain.baseline.makespan_s + got.baseline.n_steps * Q


@pytest.mark.parametrize("run", sorted(RUNS))
def test_the_hardware_sampling_unit_reaches_every_engine(run, target_model, draft_model,
                                                         batch_cost):
    """An accelerator's sampling unit selects a token at every verified node and at every
    token a draft pass drafts: with ``ceil(V / lanes)`` quanta a selection it must give
    every engine the numbers of a verify unit that much slower per node and of draft
    passes that much longer per drafted token (every row's), and the baseline one
    selection a step."""
    options, engine = RUNS[run]
    sampler = ToySamplingHardware(lanes=8)             # vocab 32: 4 quanta a node
    per_node = -(-target_model.vocab_size // sampler.lanes)

    def draft_selects(role, model, device, *, tokens, context, batch, phase):
        if role != "draft" or phase is not None:
            return np.zeros(np.asarray(tokens).shape[0])
        return np.asarray(tokens, dtype=np.float64) * batch * per_node * Q

    tr = trace(20)
    kw = dict(target=target_model, draft=draft_model, cost_fn=batch_cost, **options)
    got = simulate(tr, hw=sampler, **kw)
    want = simulate(tr, hw=SlowerVerify(ToyHardware(), per_node=per_node),
                    pass_terms=(draft_selects,), **kw)
    assert got.engine == engine
    assert _numbers(got) == _numbers(want)
    if "serving" not in options:
        plain = simulate(tr, hw=ToyHardware(), **kw)
        assert got.baseline.makespan_s == (plain.baseline.makespan_s
                                           + got.baseline.n_steps * per_node * Q)


def test_a_step_term_names_its_stage(toy_hw, target_model, draft_model):
    with pytest.raises(ValueError, match="stage"):
        StepPricer.build(toy_hw, target_model, draft_model, "per-level",
                         step_terms=(SamplingTail(stage="commit"),))


@pytest.mark.parametrize("run", sorted(RUNS))
def test_a_step_pricer_of_its_own_reaches_every_engine(run, toy_hw, target_model,
                                                        draft_model, batch_cost):
    """A `stages` function prices whole batch-1 steps in place of the door's own
    composition (as a deployment whose host and GPU time overlap would): here the
    door's own stages with the verify stage two quanta longer, against a verify unit
    two quanta slower."""

    def slower_verify(pricer, shapes):
        st = pricer.own_stages(shapes)
        return {**st, "verify_s": st["verify_s"] + 2 * Q}

    options, engine = RUNS[run]
    tr = trace(20)
    kw = dict(target=target_model, draft=draft_model, cost_fn=batch_cost, baseline=False,
              **options)
    want = simulate(tr, hw=SlowerVerify(toy_hw, per_node=0, fixed=2), **kw)
    got = simulate(tr, hw=toy_hw, stages=slower_verify, **kw)
    assert got.engine == engine
    assert _numbers(got) == _numbers(want)
