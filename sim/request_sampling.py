"""Build a serving workload of N requests from a trace's requests (vectorised).

A serving run may ask for more requests than a trace holds (a 1,000-request Poisson
run from a 80-request trace): :func:`take_requests` gathers requests by index, repeating
them cyclically, with whole columns at a time (no per-tree Python objects), and gives
every copy its own id (``"<id>#<copy>"``).
"""

from __future__ import annotations

import numpy as np

from specaccel.schema.trace import Trace


def _gather_ranges(offsets: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat element indices of the ranges ``offsets[i]:offsets[i+1]`` for ``i`` in `idx`,
    and the new offsets."""
    lo = offsets[idx]
    n = offsets[idx + 1] - lo
    new_off = np.zeros(idx.shape[0] + 1, dtype=np.int64)
    np.cumsum(n, out=new_off[1:])
    flat = np.arange(new_off[-1], dtype=np.int64) - np.repeat(new_off[:-1] - lo, n)
    return flat, new_off


def take_requests(trace: Trace, n_requests: int) -> Trace:
    """The first `n_requests` requests of `trace`, cycling through it when it has fewer.

    Arrival times are copied from the requests taken (a serving run usually replaces
    them with Poisson arrivals).
    """
    if trace.n_requests == 0:
        raise ValueError("the trace has no requests")
    idx = np.arange(n_requests, dtype=np.int64) % trace.n_requests
    req_off = np.asarray(trace.request_step_offsets, dtype=np.int64)
    step_off = np.asarray(trace.step_node_offsets, dtype=np.int64)
    steps, new_req_off = _gather_ranges(req_off, idx)
    nodes, new_step_off = _gather_ranges(step_off, steps)
    copies = np.arange(n_requests) // trace.n_requests
    ids = [trace.request_id[i] if c == 0 else f"{trace.request_id[i]}#{c}"
           for i, c in zip(idx.tolist(), copies.tolist(), strict=True)]
    return Trace(
        request_id=ids,
        prompt_len=np.asarray(trace.prompt_len, dtype=np.int64)[idx],
        arrival_s=np.asarray(trace.arrival_s, dtype=np.float64)[idx],
        request_step_offsets=new_req_off,
        step_node_offsets=new_step_off,
        nodes={k: np.asarray(v)[nodes] for k, v in trace.nodes.items()},
        recorded_accepted=np.asarray(trace.recorded_accepted)[steps],
        verification=trace.verification,
        metadata=dict(trace.metadata),
    )
