"""Fast path for a static batch: every batch step costed in one vectorised call per model.

A **static batch** — all requests present at time 0, all admitted at once
(``max_batch >= requests``), no prefill, the token budget and the KV cache never
binding — has a schedule known in advance: batch step ``k`` runs step ``k`` of every
request that has more than ``k`` steps, and a request leaves the batch after its last
step.  So the serving loop of :mod:`.serving` needs no event loop here: the shapes of
all batch steps are gathered into arrays, the draft levels and the verify passes are
costed by the step-cost door (:meth:`~.pricing.StepPricer.batch_passes`: one cost-model
call per model, the serving loop's padding and mean-context rules, batch-1 costs for a
batch of one),
and the timeline is a cumulative sum.  :func:`static_batch_applicable` says when this
equals the SimPy serving loop (the tests hold them within 0.1 %).
"""

from __future__ import annotations

import numpy as np

from specaccel.sim.accelerator_model import KvStats
from specaccel.sim.bounded_series import BoundedSeries
from specaccel.sim.log import LogBuilder, ReplayLog
from specaccel.sim.options import ServingConfig
from specaccel.sim.serving import serving_summary
from specaccel.sim.step_costs import StepCosts
from specaccel.sim.step_input import StepInput


def _schedule(costs: StepCosts) -> np.ndarray:
    """``(K, R)`` global step index of request ``r`` in batch step ``k`` (-1: absent)."""
    off = costs.request_step_offsets
    n = np.diff(off)
    k_max = int(n.max(initial=0))
    k = np.arange(k_max)[:, None]
    return np.where(k < n[None, :], off[:-1][None, :] + k, -1)


def static_batch_applicable(costs: StepCosts, config: ServingConfig,
                            kv_capacity: int | None) -> tuple[bool, str]:
    """Whether :func:`static_batch_replay` equals the serving loop for this run."""
    if config.arrivals != "trace" or np.any(np.asarray(costs.arrival_s) != 0):
        return False, "requests arrive over time: admission is dynamic"
    if config.prefill:
        return False, "prefill passes interleave with decode steps"
    if config.overlap_draft:
        return False, "overlapped micro-batches contend for HBM"
    if np.any(np.diff(costs.request_step_offsets) == 0):
        return False, "a request without decode steps"
    if config.max_batch < costs.n_requests:
        return False, f"{costs.n_requests} requests do not fit a batch of {config.max_batch}"
    sched = _schedule(costs)
    nodes = np.where(sched >= 0, costs.n_nodes[np.maximum(sched, 0)], 0)
    if nodes.size and int(nodes.sum(axis=1).max()) > config.token_budget:
        return False, "the token budget holds rows back"
    if kv_capacity is not None:
        peak = int(costs.prompt_len.sum() + costs.n_nodes.sum() + costs.committed.sum())
        if peak > kv_capacity:   # a coarse bound: every prompt, tree and token at once
            return False, "the KV cache may pre-empt requests"
    return True, "static batch: the schedule is known in advance"


def _kv_over_batch_steps(costs: StepCosts, sched: np.ndarray, pre: np.ndarray,
                         post: np.ndarray, makespan: float) -> tuple[np.ndarray, KvStats]:
    """KV held before each batch step, and the run's KV statistics: before step ``k``
    every unfinished request holds prompt + kept tokens; its tree's nodes join during
    the target and verify stages (`post`)."""
    present = sched >= 0
    idx = np.maximum(sched, 0)
    kept = np.where(present, costs.committed[idx], 0)
    held = np.asarray(costs.prompt_len)[None, :] + np.cumsum(kept, axis=0) - kept
    before = np.where(present, held, 0).sum(axis=1)
    during = before + np.where(present, costs.n_nodes[idx], 0).sum(axis=1)
    integral = float((before * pre + during * post).sum())
    # a request that finished at step k freed its cache then; one without steps never ran
    peak = int(max(during.max(initial=0), before.max(initial=0)))
    return before, KvStats(
        peak_tokens=peak, mean_tokens=integral / makespan if makespan > 0 else 0.0,
        written_tokens=int(costs.prompt_len.sum() + costs.n_nodes.sum()),
        rolled_back_tokens=int((costs.n_nodes - costs.committed).sum()))


def static_batch_replay(inp: StepInput) -> ReplayLog:
    """The serving loop's log for a static batch, computed without SimPy (see module)."""
    whole = inp.stream.whole()
    costs, pricer, passes = whole.costs, inp.pricer, whole.draft
    out = LogBuilder(inp, record_timeline=False)
    sched = _schedule(costs)                                    # (K, R)
    rows = (sched >= 0).sum(axis=1)                             # (K,)
    k_n = sched.shape[0]
    draft, target = pricer.batch_passes(costs, passes, sched)
    stage = {"draft": draft.latency_s, "tree": pricer.rows_stage_s(costs.tree_s, sched),
             "target": target.latency_s, "verify": pricer.rows_stage_s(costs.verify_s, sched)}
    end_k = np.cumsum(stage["draft"] + stage["tree"] + stage["target"] + stage["verify"])
    last_k = np.diff(costs.request_step_offsets) - 1
    n_req = costs.n_requests
    out.request_start_s = np.zeros(n_req)
    out.request_end_s = np.where(last_k >= 0, end_k[np.maximum(last_k, 0)] if k_n else 0.0,
                                 0.0)
    out.request_first_token_s = np.where(last_k >= 0, end_k[0] if k_n else 0.0, 0.0)
    makespan = float(end_k[-1]) if k_n else 0.0
    before, kv = _kv_over_batch_steps(costs, sched, stage["draft"] + stage["tree"],
                                      stage["target"] + stage["verify"], makespan)
    for role, seconds in stage.items():
        out.role_busy_s[role] = float(seconds.sum())
        out.role_jobs[role] = int(np.count_nonzero(seconds))
    out.hbm_bytes["draft"] = float(draft.hbm_bytes.sum())
    out.hbm_bytes["target"] = float(target.hbm_bytes.sum())
    out.energy_j = {"draft": float(draft.energy_j.sum()), "target": float(target.energy_j.sum())}
    # KV occupancy after each batch step's commit, thinned as the serving loop does
    series = BoundedSeries(1024)
    after = np.append(before[1:], 0) if k_n else before
    for t_, v_ in zip(end_k.tolist(), after.tolist(), strict=True):
        series.offer(t_, v_)
    serving = serving_summary(
        inp.serving, costs, inp.kv_capacity, arrival=np.zeros(n_req), admit=np.zeros(n_req),
        first=out.request_first_token_s, end=out.request_end_s, batch_steps=k_n,
        rows_sum=int(rows.sum()), rows_max=int(rows.max(initial=0)), kv_series=series)
    return out.build(engine="fast-static-batch", makespan_s=makespan, kv=kv,
                     steps_timed=k_n, serving=serving)
