"""Numba replay for the uncontended case: the SimPy answer without the event loop.

With requests replayed one after another (batch 1) no two stages ever compete for a
unit, so every stage starts when the previous one ends and the whole timeline is a
running sum that waits for each request's arrival.  :func:`fast_replay` computes the
same :class:`~.replay.ReplayLog` as :func:`~.replay.replay` (the tests hold the two
within 0.1 %, in practice to the last bits) with one compiled pass over the steps —
the path for large design-space sweeps; :func:`closed_loop_makespans` evaluates many
configurations (rows of per-step times) at once.  The SimPy model stays the reference;
:func:`specaccel.sim.simulation.fast_path_applicable` says when the fast path is exact.
"""

from __future__ import annotations

import numba
import numpy as np

from specaccel.sim.accelerator_model import ROLES, KvStats
from specaccel.sim.log import LogBuilder, ReplayLog
from specaccel.sim.step_input import StepInput


@numba.njit(cache=True, nogil=True)
def _closed_loop(off, arrival, stage_s, prompt, kept_step, nodes_step, start, end
                 ):  # pragma: no cover - compiled
    """Per request start/end; returns (makespan, KV token-seconds, KV peak tokens).

    `stage_s` is ``(4, S)`` (draft, tree, target, verify); KV holds ``prompt + kept``
    before a step's target stage and ``+ nodes_step`` during target and verify.
    """
    t = 0.0
    integral = 0.0
    peak = 0
    for r in range(off.shape[0] - 1):
        if arrival[r] > t:
            t = arrival[r]
        start[r] = t
        kv = prompt[r]
        if kv > peak:
            peak = kv
        for s in range(off[r], off[r + 1]):
            pre = stage_s[0, s] + stage_s[1, s]
            post = stage_s[2, s] + stage_s[3, s]
            during = kv + nodes_step[s]
            integral += kv * pre + during * post
            if during > peak:
                peak = during
            t += pre + post
            kv += kept_step[s]
        end[r] = t
    return t, integral, peak


@numba.njit(cache=True, nogil=True, parallel=False)
def closed_loop_makespans(step_s, off, arrival):  # pragma: no cover - compiled
    """Makespan of the batch-1 closed loop for many configurations at once.

    Parameters
    ----------
    step_s:
        ``(C, S)`` per-step wall time of every configuration (e.g.
        :meth:`~.step_costs.StepCosts.step_time_s` of C hardware designs).
    off:
        ``(R + 1,)`` request step offsets.
    arrival:
        ``(R,)`` arrival times.
    """
    out = np.empty(step_s.shape[0])
    for c in range(step_s.shape[0]):
        t = 0.0
        for r in range(off.shape[0] - 1):
            if arrival[r] > t:
                t = arrival[r]
            for s in range(off[r], off[r + 1]):
                t += step_s[c, s]
        out[c] = t
    return out


def fast_replay(inp: StepInput) -> ReplayLog:
    """The :class:`ReplayLog` of the batch-1 closed-loop replay of `inp`, without SimPy."""
    costs = inp.costs
    stage = {"draft": costs.draft_s, "tree": costs.tree_s, "target": costs.target_s,
             "verify": costs.verify_s}
    off = np.ascontiguousarray(costs.request_step_offsets, dtype=np.int64)
    out = LogBuilder(inp, record_timeline=False)
    verified = costs.target_s > 0
    kept_step = np.where(verified, costs.committed, 0).astype(np.int64)
    nodes_step = np.where(verified, costs.n_nodes, 0).astype(np.int64)
    stage_s = np.ascontiguousarray(np.stack([stage[r] for r in ROLES]), dtype=np.float64)
    makespan, integral, peak = _closed_loop(
        off, np.ascontiguousarray(inp.arrival_s, dtype=np.float64), stage_s,
        np.ascontiguousarray(costs.prompt_len, dtype=np.int64), kept_step, nodes_step,
        out.request_start_s, out.request_end_s)
    for role in ROLES:
        out.role_busy_s[role] = float(stage[role].sum())
        out.role_jobs[role] = int(np.count_nonzero(stage[role] > 0))
    out.hbm_bytes["draft"] = float(costs.draft_hbm_bytes.sum())
    out.hbm_bytes["target"] = float(costs.target_hbm_bytes.sum())
    out.energy_j = {"draft": float(costs.draft_j.sum()), "target": float(costs.target_j.sum())}
    kv = KvStats(
        peak_tokens=int(peak),
        mean_tokens=float(integral) / makespan if makespan > 0 else 0.0,
        written_tokens=int(costs.prompt_len.sum() + costs.n_nodes[verified].sum()),
        rolled_back_tokens=int((costs.n_nodes - costs.committed)[verified].sum()))
    return out.build(engine="fast", makespan_s=makespan, kv=kv)
