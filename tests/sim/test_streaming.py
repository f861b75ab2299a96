"""Step costs in blocks: a run read block by block gives the numbers of one block, and N
requests cycling through a trace are the trace's requests taken N times, unbuilt."""

from __future__ import annotations

import numpy as np
import pytest

from specaccel.schema.trace import DraftTree, Trace
from specaccel.sim import StepInput, build_result, simulate
from specaccel.sim.engines import run_engine
from specaccel.sim.options import ServingConfig
from specaccel.sim.request_sampling import RequestSource, take_requests


def trace(seed: int, n_requests: int = 9) -> Trace:
    rng = np.random.default_rng(seed)
    reqs = []
    for r in range(n_requests):
        trees = []
        for _ in range(int(rng.integers(1, 7))):
            n = int(rng.integers(1, 7))
            parent = [-1] + [int(rng.integers(0, i)) for i in range(1, n)]
            trees.append(DraftTree.build(parent, rng.integers(0, 3, n).tolist(),
                                         rng.integers(0, 3, n).tolist()))
        reqs.append((f"r{r}", int(rng.integers(1, 30)), trees))
    return Trace.from_trees(reqs, arrival_s=np.sort(rng.uniform(0, 2e-3, n_requests)),
                            metadata={"drafting": "per-level"})


RUNS = {
    "simpy": dict(),
    "fast": dict(),
    "simpy-pipelined": dict(pipelined=True),
    "simpy-serving": dict(serving=ServingConfig(max_batch=3, token_budget=64)),
    "fast-static-batch": dict(serving=ServingConfig(max_batch=64, prefill=False)),
}


def _numbers(res):
    d = res.to_dict()
    return {k: d[k] for k in ("makespan_s", "tokens", "n_steps", "energy_j", "kv_cache",
                              "accepted_histogram", "hbm_bytes", "role_busy_fraction",
                              "mean_committed_per_step", "step_time_s", "serving",
                              "pipeline")}


def _close(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-18)
    return a == b


@pytest.mark.parametrize("engine", sorted(RUNS))
@pytest.mark.parametrize("seed", range(4))
def test_blocks_give_the_numbers_of_one_block(engine, seed, toy_hw, target_model,
                                              draft_model, batch_cost):
    tr = trace(seed)
    if engine == "fast-static-batch":
        tr.arrival_s = np.zeros(tr.n_requests)
    got = {}
    for steps in (10**6, 5):          # one block; blocks of ~5 steps (whole requests)
        inp = StepInput.of(tr, hw=toy_hw, target=target_model, draft=draft_model,
                           cost_fn=batch_cost, block_steps=steps, **RUNS[engine])
        choice = "fast" if engine.startswith("fast") else "event"
        res = build_result(inp, run_engine(inp, choice))
        assert res.engine == engine
        got[steps] = _numbers(res)
    assert _close(got[5], got[10**6])


def test_a_block_holds_whole_requests_and_the_source_cycles(toy_hw, target_model,
                                                            draft_model, batch_cost):
    tr = trace(7, n_requests=4)
    src = RequestSource(tr, 10)
    starts = src.block_starts(6)
    assert starts[0] == 0 and starts[-1] == 10 and np.all(np.diff(starts) >= 1)
    blocks = list(src.blocks(6))
    assert [a for a, _ in blocks] == starts[:-1].tolist()
    whole = take_requests(tr, 10)
    assert sum(b.n_steps for _, b in blocks) == whole.n_steps == src.n_steps
    assert [rid for _, b in blocks for rid in b.request_id] == whole.request_id
    kw = dict(hw=toy_hw, target=target_model, draft=draft_model, cost_fn=batch_cost)
    cycled = simulate(tr, requests=10, **kw).to_dict()
    built = simulate(whole, **kw).to_dict()
    assert cycled == built
