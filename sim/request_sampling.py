"""Requests of a run: a trace's, or N of them cycling through it, in blocks (vectorised).

A serving run may ask for more requests than a trace holds (a 1,000-request Poisson
run from a 80-request trace): :func:`take_requests` gathers requests by index, repeating
them cyclically, with whole columns at a time (no per-tree Python objects), and gives
every copy its own id (``"<id>#<copy>"``).  :class:`RequestSource` is the same requests
without building them all: the simulator reads them in blocks of whole requests, so a
run of ten million steps holds one block of trees at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from specaccel.schema.trace import Trace, metadata_of_steps


def _gather_ranges(offsets: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat element indices of the ranges ``offsets[i]:offsets[i+1]`` for ``i`` in `idx`,
    and the new offsets."""
    lo = offsets[idx]
    n = offsets[idx + 1] - lo
    new_off = np.zeros(idx.shape[0] + 1, dtype=np.int64)
    np.cumsum(n, out=new_off[1:])
    flat = np.arange(new_off[-1], dtype=np.int64) - np.repeat(new_off[:-1] - lo, n)
    return flat, new_off


def take_requests(trace: Trace, n_requests: int, start: int = 0) -> Trace:
    """Requests ``start .. start + n_requests - 1`` of `trace`, cycling through it when it
    has fewer (request ``i`` is request ``i mod R``, copy ``i // R``).

    Arrival times are copied from the requests taken (a serving run usually replaces
    them with Poisson arrivals).
    """
    if trace.n_requests == 0:
        raise ValueError("the trace has no requests")
    glob = np.arange(start, start + n_requests, dtype=np.int64)
    idx = glob % trace.n_requests
    req_off = np.asarray(trace.request_step_offsets, dtype=np.int64)
    step_off = np.asarray(trace.step_node_offsets, dtype=np.int64)
    steps, new_req_off = _gather_ranges(req_off, idx)
    nodes, new_step_off = _gather_ranges(step_off, steps)
    copies = glob // trace.n_requests
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
        metadata=dict(metadata_of_steps(trace.metadata, steps, trace.n_steps)),
    )


def slice_requests(trace: Trace, a: int, b: int) -> Trace:
    """Requests ``a .. b - 1`` of `trace` as a trace whose node columns are views of
    `trace`'s (only the offsets are copied, rebased to 0)."""
    ro = np.asarray(trace.request_step_offsets, dtype=np.int64)
    so = np.asarray(trace.step_node_offsets, dtype=np.int64)
    s0, s1 = int(ro[a]), int(ro[b])
    n0, n1 = int(so[s0]), int(so[s1])
    return Trace(
        request_id=list(trace.request_id[a:b]),
        prompt_len=np.asarray(trace.prompt_len)[a:b],
        arrival_s=np.asarray(trace.arrival_s)[a:b],
        request_step_offsets=ro[a:b + 1] - s0,
        step_node_offsets=so[s0:s1 + 1] - n0,
        nodes={k: np.asarray(v)[n0:n1] for k, v in trace.nodes.items()},
        recorded_accepted=np.asarray(trace.recorded_accepted)[s0:s1],
        verification=trace.verification,
        metadata=metadata_of_steps(trace.metadata, np.arange(s0, s1), trace.n_steps),
    )


@dataclass(frozen=True)
class RequestSource:
    """The requests of a run: `n_requests` of `trace` (default: all of them, once),
    cycling through it, read in blocks of whole requests (:meth:`blocks`).

    Per-request figures (:meth:`arrival_s`, :meth:`prompt_len`, :meth:`steps`) are
    arrays over the run's requests; trees exist only a block at a time.
    """

    trace: Trace
    n_requests: int | None = None

    def __post_init__(self) -> None:
        if self.n_requests is not None and self.n_requests < 1:
            raise ValueError(f"a run needs at least one request, not {self.n_requests}")
        if self.trace.n_requests == 0 and self.n_requests:
            raise ValueError("the trace has no requests")

    @property
    def size(self) -> int:
        """Requests in the run."""
        return self.trace.n_requests if self.n_requests is None else int(self.n_requests)

    @property
    def metadata(self) -> dict:
        return self.trace.metadata

    def _index(self) -> np.ndarray:
        return np.arange(self.size, dtype=np.int64) % max(self.trace.n_requests, 1)

    def steps(self) -> np.ndarray:
        """Decode steps of every request."""
        return np.diff(np.asarray(self.trace.request_step_offsets, dtype=np.int64))[
            self._index()]

    @property
    def n_steps(self) -> int:
        return int(self.steps().sum())

    def arrival_s(self) -> np.ndarray:
        return np.asarray(self.trace.arrival_s, dtype=np.float64)[self._index()]

    def prompt_len(self) -> np.ndarray:
        return np.asarray(self.trace.prompt_len, dtype=np.int64)[self._index()]

    def max_nodes(self) -> int:
        """The largest tree of the run."""
        return int(np.diff(np.asarray(self.trace.step_node_offsets)).max(initial=0))

    def is_whole_trace(self) -> bool:
        """The run's requests are the trace's, once, in order."""
        return self.n_requests is None or self.n_requests == self.trace.n_requests

    def block_starts(self, max_steps: int) -> np.ndarray:
        """First request of every block: whole requests, at most `max_steps` steps each
        (a longer request is a block of its own); the last entry is the run's size."""
        steps = self.steps()
        ends = np.cumsum(steps)
        starts = [0]
        while starts[-1] < steps.shape[0]:
            base = ends[starts[-1] - 1] if starts[-1] else 0
            nxt = int(np.searchsorted(ends, base + max_steps, side="right"))
            starts.append(max(nxt, starts[-1] + 1))
        return np.asarray(starts, dtype=np.int64)

    def blocks(self, max_steps: int) -> Iterator[tuple[int, Trace]]:
        """``(first request, trace of the block)`` for every block, in order."""
        starts = self.block_starts(max_steps)
        if starts.shape[0] == 2 and self.is_whole_trace():
            yield 0, self.trace
            return
        n = self.trace.n_requests
        for a, b in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True):
            if b <= n:       # the trace's own requests: views, no copy
                yield a, slice_requests(self.trace, a, b)
            else:
                yield a, take_requests(self.trace, b - a, start=a)
