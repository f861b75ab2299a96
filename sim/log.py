"""What an engine measured: one :class:`ReplayLog` type, built by one :class:`LogBuilder`.

Every engine — the SimPy replay, the fast path, pipelined speculation, the serving loop
and the static batch — accumulates its measurements in a :class:`LogBuilder` (busy time
and jobs per role, HBM bytes and dynamic energy per role, per-request times) and gets
its :class:`ReplayLog` from :meth:`LogBuilder.build`, which fills in what follows from
the run's input (units from the unit map, the HBM bandwidth, the KV bytes per token).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specaccel.sim.accelerator_model import ROLES, KvStats, hbm_bandwidth_bps

Timeline = list[tuple[str, str, int, int, float, float]]
"""``(role, unit, request, step, start_s, end_s)`` per stage (request -1: a batch step)."""


@dataclass
class ReplayLog:
    """What an engine measured.

    Attributes
    ----------
    makespan_s:
        Simulated time from 0 to the end of the last request.
    request_arrival_s, request_start_s, request_first_token_s, request_end_s:
        Per request: its arrival, when it started (its admission in a serving run),
        its first token (NaN in a batch-1 replay, which has no prefill) and its end.
    unit_busy_s, unit_jobs:
        Busy time and number of passes served, per physical unit.
    role_busy_s:
        Busy time per role (draft, tree, target, verify).
    hbm_bytes_by_role:
        HBM bytes moved, per role.
    hbm_bandwidth_bps:
        The hardware's HBM bandwidth (``None`` if its spec does not give one).
    kv_peak_tokens, kv_mean_tokens, kv_written_tokens, kv_rolled_back_tokens:
        KV-cache occupancy and traffic in tokens.
    kv_bytes_per_token:
        Target KV bytes per token.
    dynamic_energy_j:
        Dynamic energy of the ``draft`` and ``target`` passes that ran.
    engine:
        The engine that produced the log (:data:`specaccel.sim.engines.ENGINES`).
    timeline:
        When recorded: one record per stage (:data:`Timeline`).
    steps_timed:
        Number of batch steps a serving run timed (``None``: the trace's steps).
    serving:
        Serving runs only: configuration, latency percentiles, batch statistics.
    pipeline:
        Pipelined speculation only: hit rate, hidden and wasted drafting.
    """

    makespan_s: float
    request_arrival_s: np.ndarray
    request_start_s: np.ndarray
    request_first_token_s: np.ndarray
    request_end_s: np.ndarray
    unit_busy_s: dict[str, float]
    unit_jobs: dict[str, int]
    role_busy_s: dict[str, float]
    hbm_bytes_by_role: dict[str, float]
    hbm_bandwidth_bps: float | None
    kv_peak_tokens: int
    kv_mean_tokens: float
    kv_written_tokens: int
    kv_rolled_back_tokens: int
    kv_bytes_per_token: float
    dynamic_energy_j: dict[str, float]
    engine: str
    timeline: Timeline | None = field(default=None)
    steps_timed: int | None = None
    serving: dict[str, Any] | None = None
    pipeline: dict[str, Any] | None = None


class LogBuilder:
    """Accumulates an engine's measurements and builds its :class:`ReplayLog`.

    Parameters
    ----------
    inp:
        The run's :class:`~.step_input.StepInput`.
    record_timeline:
        Keep a timeline (default: as the input asks).
    """

    def __init__(self, inp: Any, record_timeline: bool | None = None) -> None:
        self.inp = inp
        n_req = inp.n_requests
        self.role_busy_s = {r: 0.0 for r in ROLES}
        self.role_jobs = {r: 0 for r in ROLES}
        self.hbm_bytes = {r: 0.0 for r in ROLES}
        self.energy_j = {"draft": 0.0, "target": 0.0}
        self.request_start_s = np.zeros(n_req)
        self.request_first_token_s = np.full(n_req, np.nan)
        self.request_end_s = np.zeros(n_req)
        record = inp.record_timeline if record_timeline is None else record_timeline
        self.timeline: Timeline | None = [] if record else None

    def busy(self, role: str, seconds: float) -> None:
        """`role` served one pass of `seconds`."""
        self.role_busy_s[role] += seconds
        self.role_jobs[role] += 1

    def record(self, label: str, unit: str, request: int, step: int, start: float,
               end: float) -> None:
        """A timeline record (when one is kept and the interval is not empty)."""
        if self.timeline is not None and end > start:
            self.timeline.append((label, unit, request, step, start, end))

    def stage(self, role: str, unit: str, request: int, step: int, start: float,
              end: float) -> None:
        """One stage ran on `unit` from `start` to `end` (nothing when it is empty)."""
        if end <= start:
            return
        self.busy(role, end - start)
        self.record(role, unit, request, step, start, end)

    def build(self, *, engine: str, makespan_s: float, kv: KvStats,
              unit_busy_s: dict[str, float] | None = None,
              unit_jobs: dict[str, int] | None = None, steps_timed: int | None = None,
              serving: dict[str, Any] | None = None,
              pipeline: dict[str, Any] | None = None) -> ReplayLog:
        """The log.  Unit busy time and jobs default to the roles' summed over the unit
        map (an engine whose units count their own passes gives theirs)."""
        unit_map = self.inp.unit_map
        if unit_busy_s is None or unit_jobs is None:
            unit_busy_s, unit_jobs = {}, {}
            for role in ROLES:
                name = unit_map[role]
                unit_busy_s[name] = unit_busy_s.get(name, 0.0) + self.role_busy_s[role]
                unit_jobs[name] = unit_jobs.get(name, 0) + self.role_jobs[role]
        return ReplayLog(
            makespan_s=float(makespan_s),
            request_arrival_s=np.asarray(self.inp.arrival_s, dtype=np.float64).copy(),
            request_start_s=self.request_start_s,
            request_first_token_s=self.request_first_token_s,
            request_end_s=self.request_end_s,
            unit_busy_s=unit_busy_s,
            unit_jobs=unit_jobs,
            role_busy_s=dict(self.role_busy_s),
            hbm_bytes_by_role=dict(self.hbm_bytes),
            hbm_bandwidth_bps=hbm_bandwidth_bps(self.inp.hw),
            kv_peak_tokens=int(kv.peak_tokens),
            kv_mean_tokens=float(kv.mean_tokens),
            kv_written_tokens=int(kv.written_tokens),
            kv_rolled_back_tokens=int(kv.rolled_back_tokens),
            kv_bytes_per_token=self.inp.pricer.kv_bytes_per_token,
            dynamic_energy_j=dict(self.energy_j),
            engine=engine,
            timeline=self.timeline,
            steps_timed=steps_timed,
            serving=serving,
            pipeline=pipeline,
        )
