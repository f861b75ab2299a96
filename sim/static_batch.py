"""Fast path for a static batch: every batch step costed in one vectorised call per model.

A **static batch** — all requests present at time 0, all admitted at once
(``max_batch >= requests``), no prefill, the token budget and the KV cache never
binding — has a schedule known in advance: batch step ``k`` runs step ``k`` of every
request that has more than ``k`` steps, and a request leaves the batch after its last
step.  So the serving loop of :mod:`.serving` needs no event loop here: the shapes of
all batch steps are gathered into arrays, the draft levels and the verify passes are
costed with one :func:`~specaccel.models.cost.pass_costs` call per model (the same
padding and mean-context rules as the serving loop, batch-1 costs for a batch of one),
and the timeline is a cumulative sum.  :func:`static_batch_applicable` says when this
equals the SimPy serving loop (the tests hold them within 0.1 %).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specaccel.models.cost.drafting import StepTrees
from specaccel.sim.accelerator_model import ROLES, UNIT_MAPS, hbm_bandwidth_bps
from specaccel.sim.bounded_series import BoundedSeries
from specaccel.sim.serving import ServingConfig, ServingLog, percentiles
from specaccel.sim.step_costs import CostFn, StepCosts


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
    cap = config.kv_capacity_tokens if config.kv_capacity_tokens is not None else kv_capacity
    if cap is not None:
        peak = int(costs.prompt_len.sum() + costs.n_nodes.sum() + costs.committed.sum())
        if peak > cap:   # a coarse bound: every prompt, tree and token at once
            return False, "the KV cache may pre-empt requests"
    return True, "static batch: the schedule is known in advance"


def static_batch_replay(trace, costs: StepCosts, hw: Any, *, target: Any, draft: Any,
                        config: ServingConfig, cost_fn: CostFn | None = None,
                        unit_map: dict[str, str] | None = None) -> ServingLog:
    """The serving loop's log for a static batch, computed without SimPy (see module)."""
    if cost_fn is None:
        from specaccel.models.cost import pass_costs as cost_fn
    if unit_map is None:
        unit_map = UNIT_MAPS[str(getattr(hw, "kind", "accelerator"))]
    static_w = float(getattr(hw, "static_power_w", 0.0))
    sched = _schedule(costs)                                    # (K, R)
    present = sched >= 0
    idx = np.maximum(sched, 0)
    rows = present.sum(axis=1)                                  # (K,)
    k_n = sched.shape[0]
    single = rows == 1
    one_step = np.where(present, sched, -1).max(axis=1)         # the row when single

    def dyn(out):
        lat = np.asarray(out["latency_s"], dtype=np.float64)
        e = np.asarray(out["energy_j"], dtype=np.float64) - static_w * lat
        hb = np.asarray(out.get("dram_bytes", out["bytes"]), dtype=np.float64)
        return lat, e, hb

    # verify passes: padded to the largest tree, mean context, one call for all steps
    nodes = np.where(present, costs.n_nodes[idx], 0)
    ctx = np.where(present, costs.context[idx], 0)
    multi = ~single & (rows > 0)
    t_s = np.zeros(k_n)
    t_j = np.zeros(k_n)
    t_b = np.zeros(k_n)
    if multi.any():
        lat, e, hb = dyn(cost_fn(target, hw, tokens=nodes.max(axis=1)[multi],
                                 context=ctx.sum(axis=1)[multi] / rows[multi],
                                 batch=rows[multi]))
        t_s[multi], t_j[multi], t_b[multi] = lat, e, hb
    s1 = one_step[single]
    t_s[single] = costs.target_s[s1]
    t_j[single] = costs.target_j[s1]
    t_b[single] = costs.target_hbm_bytes[s1]

    # draft passes: per pass slot, the rows that run it, padded to the widest frontier
    passes = costs.drafting.draft_passes(StepTrees.of_trace(trace, costs.committed))
    dtok, duse = passes.tokens, passes.used
    n_lv = passes.n_slots
    d_s = np.zeros(k_n)
    d_j = np.zeros(k_n)
    d_b = np.zeros(k_n)
    if n_lv and multi.any():
        use = duse[idx] & present[:, :, None]                   # (K, R, L)
        b = use.sum(axis=1)                                     # (K, L)
        tok = np.where(use, dtok[idx], 0).max(axis=1)
        c = ((ctx[:, :, None] + passes.context_offset[None, None, :]) * use).sum(axis=1)
        sel = multi[:, None] & (b > 0)
        lat, e, hb = dyn(cost_fn(draft, hw, tokens=tok[sel], context=c[sel] / b[sel],
                                 batch=b[sel]))
        step_of = np.broadcast_to(np.arange(k_n)[:, None], sel.shape)[sel]
        d_s += np.bincount(step_of, weights=lat, minlength=k_n)
        d_j += np.bincount(step_of, weights=e, minlength=k_n)
        d_b += np.bincount(step_of, weights=hb, minlength=k_n)
    d_s[single] = costs.draft_s[s1]
    d_j[single] = costs.draft_j[s1]
    d_b[single] = costs.draft_hbm_bytes[s1]

    serial = str(getattr(hw, "kind", "accelerator")) != "gpu"
    tree_m = np.where(present, costs.tree_s[idx], 0.0)
    ver_m = np.where(present, costs.verify_s[idx], 0.0)
    tree_s = tree_m.sum(axis=1) if serial else tree_m.max(axis=1, initial=0.0)
    verify_s = ver_m.sum(axis=1) if serial else ver_m.max(axis=1, initial=0.0)
    step_t = d_s + tree_s + t_s + verify_s
    end_k = np.cumsum(step_t)
    last_k = np.diff(costs.request_step_offsets) - 1
    n_req = costs.n_requests
    req_end = np.where(last_k >= 0, end_k[np.maximum(last_k, 0)] if k_n else 0.0, 0.0)
    req_first = np.where(last_k >= 0, end_k[0] if k_n else 0.0, 0.0)
    makespan = float(end_k[-1]) if k_n else 0.0

    # KV: before step k every unfinished request holds prompt + kept tokens
    kept = np.where(present, costs.committed[idx], 0)
    held = np.asarray(costs.prompt_len)[None, :] + np.cumsum(kept, axis=0) - kept
    before = np.where(present, held, 0).sum(axis=1)
    during = before + nodes.sum(axis=1)
    pre = d_s + tree_s
    integral = float((before * pre + during * (t_s + verify_s)).sum())
    # a request that finished at step k freed its cache then; one without steps never ran
    peak = int(max(during.max(initial=0), before.max(initial=0)))

    role = {"draft": float(d_s.sum()), "tree": float(tree_s.sum()),
            "target": float(t_s.sum()), "verify": float(verify_s.sum())}
    jobs_r = {"draft": int(np.count_nonzero(d_s)), "tree": int(np.count_nonzero(tree_s)),
              "target": int(np.count_nonzero(t_s)), "verify": int(np.count_nonzero(verify_s))}
    busy: dict[str, float] = {}
    jobs: dict[str, int] = {}
    for r in ROLES:
        u = unit_map[r]
        busy[u] = busy.get(u, 0.0) + role[r]
        jobs[u] = jobs.get(u, 0) + jobs_r[r]
    # KV occupancy after each batch step's commit, thinned as the serving loop does
    series = BoundedSeries(1024)
    after = np.append(before[1:], 0) if k_n else before
    for t_, v_ in zip(end_k.tolist(), after.tolist(), strict=True):
        series.offer(t_, v_)
    arrival = np.zeros(n_req)
    tokens = np.bincount(np.repeat(np.arange(n_req), np.diff(costs.request_step_offsets)),
                         weights=costs.committed, minlength=n_req)
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(tokens > 0, (req_end - req_first) / np.maximum(tokens, 1), np.nan)
    serving = {
        "config": config.to_dict(), "kv_capacity_tokens": None, "batch_steps": k_n,
        "mean_batch_rows": float(rows.mean()) if k_n else 0.0,
        "max_batch_rows": int(rows.max(initial=0)), "preemptions": 0,
        "preempted_requests": 0, "prefill_tokens": 0, "recomputed_tokens": 0,
        "ttft_s": percentiles(req_first - arrival), "tpot_s": percentiles(tpot),
        "e2e_s": percentiles(req_end - arrival), "queue_s": percentiles(np.zeros(n_req)),
        "kv_occupancy": series.to_dict(),
        "contention_stretch_s": 0.0,
    }
    return ServingLog(
        makespan_s=makespan, request_start_s=np.zeros(n_req), request_end_s=req_end,
        unit_busy_s=busy, unit_jobs=jobs, role_busy_s=role,
        hbm_bytes_by_role={"draft": float(d_b.sum()), "tree": 0.0, "target": float(t_b.sum()),
                           "verify": 0.0},
        hbm_bandwidth_bps=hbm_bandwidth_bps(hw), kv_peak_tokens=peak,
        kv_mean_tokens=integral / makespan if makespan > 0 else 0.0,
        kv_written_tokens=int(costs.prompt_len.sum() + costs.n_nodes.sum()),
        kv_rolled_back_tokens=int((costs.n_nodes - costs.committed).sum()),
        kv_bytes_per_token=costs.kv_bytes_per_token, timeline=None,
        dynamic_energy_j={"draft": float(d_j.sum()), "target": float(t_j.sum())},
        steps_timed=k_n, serving=serving, request_arrival_s=arrival,
        request_first_token_s=req_first, engine="fast-static-batch")
