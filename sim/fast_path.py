"""Vectorised replay for the uncontended case: the SimPy answer without the event loop.

With requests replayed one after another (batch 1) no two stages ever compete for a
unit, so every stage starts when the previous one ends and the whole timeline is a
cumulative sum.  :func:`fast_replay` computes the same :class:`~.replay.ReplayLog` as
:func:`~.replay.replay` (up to floating-point summation order) in NumPy — the path for
large design-space sweeps.  The only loop is over requests (an arrival may leave the
machine idle).  The SimPy model stays the reference; the tests hold the two equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from specaccel.sim.accelerator_model import ROLES, UNIT_MAPS, hbm_bandwidth_bps
from specaccel.sim.replay import ReplayLog
from specaccel.sim.step_costs import StepCosts


def fast_replay(costs: StepCosts, hw: Any, *, unit_map: dict[str, str] | None = None
                ) -> ReplayLog:
    """The :class:`ReplayLog` of a batch-1 closed-loop replay, computed without SimPy.

    Parameters
    ----------
    costs:
        Per-step costs on `hw`.
    hw:
        Hardware spec (``kind`` picks the unit map, as in the SimPy model).
    unit_map:
        Override of the role → unit mapping.
    """
    if unit_map is None:
        unit_map = UNIT_MAPS[str(getattr(hw, "kind", "accelerator"))]
    stage = {"draft": costs.draft_s, "tree": costs.tree_s, "target": costs.target_s,
             "verify": costs.verify_s}
    step_t = costs.step_time_s()
    off = costs.request_step_offsets
    n_req = costs.n_requests
    cum = np.concatenate([[0.0], np.cumsum(step_t)])
    req_time = cum[off[1:]] - cum[off[:-1]]
    start = np.zeros(n_req)
    end = np.zeros(n_req)
    t = 0.0
    for r in range(n_req):
        t = max(t, float(costs.arrival_s[r]))
        start[r] = t
        t += float(req_time[r])
        end[r] = t
    makespan = t

    role_busy = {role: float(stage[role].sum()) for role in ROLES}
    units: dict[str, float] = {}
    jobs: dict[str, int] = {}
    for role in ROLES:
        name = unit_map[role]
        units[name] = units.get(name, 0.0) + role_busy[role]
        jobs[name] = jobs.get(name, 0) + int(np.count_nonzero(stage[role] > 0))

    # KV occupancy: prompt + kept tokens before each step; + N during target and verify.
    verified = costs.target_s > 0
    kept_step = np.where(verified, costs.committed, 0)
    steps_per_req = np.diff(off)
    cum_kept = np.concatenate([[0], np.cumsum(kept_step)])
    before = (np.repeat(costs.prompt_len, steps_per_req)
              + cum_kept[:-1] - np.repeat(cum_kept[off[:-1]], steps_per_req))
    during = before + np.where(verified, costs.n_nodes, 0)
    integral = float((before * (costs.draft_s + costs.tree_s)).sum()
                     + (during * (costs.target_s + costs.verify_s)).sum())
    peaks = [int(during.max()) if during.size else 0, int(costs.prompt_len.max(initial=0))]
    return ReplayLog(
        makespan_s=makespan,
        request_start_s=start,
        request_end_s=end,
        unit_busy_s=units,
        unit_jobs=jobs,
        role_busy_s=role_busy,
        hbm_bytes_by_role={"draft": float(costs.draft_hbm_bytes.sum()), "tree": 0.0,
                           "target": float(costs.target_hbm_bytes.sum()), "verify": 0.0},
        hbm_bandwidth_bps=hbm_bandwidth_bps(hw),
        kv_peak_tokens=max(peaks),
        kv_mean_tokens=integral / makespan if makespan > 0 else 0.0,
        kv_written_tokens=int(costs.prompt_len.sum() + costs.n_nodes[verified].sum()),
        kv_rolled_back_tokens=int((costs.n_nodes - costs.committed)[verified].sum()),
        kv_bytes_per_token=costs.kv_bytes_per_token,
        timeline=None,
        engine="fast",
    )
