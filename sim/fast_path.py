"""Numba replay for the uncontended case: the SimPy answer without the event loop.

With requests replayed one after another (batch 1) no two stages ever compete for a
unit, so every stage starts when the previous one ends and the whole timeline is a
running sum that waits for each request's arrival.  :func:`fast_replay` computes the
same :class:`~.log.ReplayLog` as :func:`~.simpy_replay.replay` (the tests hold the two
within 0.1 %, in practice to the last bits) with one compiled pass over the steps —
the path for large design-space sweeps; :func:`closed_loop_makespans` evaluates many
configurations (rows of per-step times) at once.  The SimPy model stays the reference;
:func:`specaccel.sim.engines.fast_path_applicable` says when the fast path is exact.
"""

from __future__ import annotations

import numba
import numpy as np

from specaccel.sim.accelerator_model import KvStats
from specaccel.sim.log import LogBuilder, ReplayLog
from specaccel.sim.simpy_replay import BlockSteps
from specaccel.sim.step_input import StepInput


@numba.njit(cache=True, nogil=True)
def _request_times(off, arrival, step_t, t, start, end):  # pragma: no cover - compiled
    """Start and end of every request of a block from time `t`; returns the block's end.

    A request starts at its arrival or when the previous one ends, whichever is later,
    and takes its steps' times one after the other.
    """
    for r in range(off.shape[0] - 1):
        if arrival[r] > t:
            t = arrival[r]
        start[r] = t
        for s in range(off[r], off[r + 1]):
            t += step_t[s]
        end[r] = t
    return t


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
    """The :class:`ReplayLog` of the batch-1 closed-loop replay of `inp`, without SimPy:
    block by block, the same per-step arithmetic as the replay (:class:`~.replay.BlockSteps`)
    with the request times as a running sum."""
    out = LogBuilder(inp, record_timeline=False)
    arrival = np.ascontiguousarray(inp.arrival_s, dtype=np.float64)
    t, integral, peak, written, rolled = 0.0, 0.0, 0, 0, 0
    for block in inp.blocks():
        steps = BlockSteps(block.costs)
        a, b = block.first, block.first + block.costs.n_requests
        t = _request_times(steps.off, arrival[a:b], steps.pre + steps.post, t,
                           out.request_start_s[a:b], out.request_end_s[a:b])
        kv = steps.account(out)
        integral += kv[0]
        peak = max(peak, kv[1])
        written += kv[2]
        rolled += kv[3]
    return out.build(engine="fast", makespan_s=t, kv=KvStats(
        peak_tokens=peak, mean_tokens=integral / t if t > 0 else 0.0,
        written_tokens=written, rolled_back_tokens=rolled))
