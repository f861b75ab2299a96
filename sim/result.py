"""What a simulation reports: throughput, acceptance, energy, utilisation, step breakdown.

:class:`SimResult` is built (:func:`build_result`) from a run's step-cost input (what
each pass costs) and its engine's log (when things happened, who was busy).  Energy per
component is the dynamic energy of the draft and target passes from the cost model plus
the static (leakage and idle) power of the device over the simulated wall time.  The
flat metrics that JSON output, reports and sweeps read are declared in
:mod:`.metrics`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from specaccel.models.cost.hardware_spec import check_finite_costs
from specaccel.sim.accelerator_model import ROLES
from specaccel.sim.log import ReplayLog
from specaccel.sim.metrics import metric_values
from specaccel.sim.step_input import StepInput
from specaccel.sim.stream import StepTotals

ENERGY_COMPONENTS = ("draft", "target", "static")

_NOT_SERIALISED = ("baseline", "timeline", "request_times", "hw_spec", "verify_pass")


@dataclass
class SimResult:
    """The result of replaying one trace on one hardware configuration.

    Attributes
    ----------
    hardware, hardware_kind, target, draft, drafting:
        What was simulated; ``draft`` is ``"none"`` when the drafting mode runs no draft
        model (``"draft-free"``, ``"none"``).
    n_requests, n_steps, tokens:
        Requests, decode steps and committed tokens.
    makespan_s:
        Simulated wall time.
    tokens_per_s:
        Committed tokens per simulated second.
    mean_committed_per_step:
        τ: tokens committed per decode step (accepted + 1).
    mean_accepted_per_step:
        Accepted draft tokens per step.
    mean_nodes_per_step, mean_draft_passes_per_step:
        Tree size and draft passes per step.
    energy_j, energy_per_token_j:
        By component (``draft``, ``target``, ``static``) and ``total``.
    utilisation:
        Busy fraction of each physical unit over the wall time, and ``hbm_bandwidth``
        (bytes moved / (bandwidth · wall time); ``None`` if the bandwidth is unknown).
    role_busy_fraction:
        Busy fraction per role (draft, tree, target, verify).
    step_time_s:
        Mean time per step spent in each stage, and ``total`` (a serving run: per
        batch step, from the units' busy time).
    accepted_histogram:
        ``accepted_histogram[k]`` = number of steps that accepted ``k`` drafts.
    hbm_bytes:
        HBM bytes moved per role, ``kv_writeback`` (the committed tokens' KV written
        from SRAM to HBM at commit on an accelerator that keeps the tree's KV in SRAM)
        and ``total``.
    kv_cache:
        KV occupancy (peak and time-weighted mean, tokens and bytes), tokens written and
        rolled back.
    memory_footprint:
        ``weights_bytes`` (target + draft; the target alone without a draft model),
        ``kv_peak_bytes`` (target KV), their sum
        ``peak_bytes``, the device's ``capacity_bytes`` and whether it ``fits``
        (``None`` where the specs do not say).
    engine:
        The evaluator that produced the numbers: ``"simpy"`` (the discrete-event
        replay), ``"fast"`` (the Numba fast path) or ``"simpy-serving"`` (the serving
        loop with batching).
    serving:
        Serving runs only: the :class:`~.serving.ServingConfig`, TTFT / TPOT / end-to-end
        / queueing P50, P90, P99 and mean, batch statistics, pre-emptions, recomputed
        prefill tokens and the KV-cache occupancy over time (a bounded series).
    pipeline:
        Pipelined speculation only (:mod:`.pipelined`): hit rate of the pre-drafts, steps
        whose draft was hidden, wasted (aborted) draft time, the stretch of the verify
        passes by HBM contention.
    baseline:
        The autoregressive baseline on the same hardware, when simulated.
    timeline:
        Per-stage records ``(role, unit, request, step, start_s, end_s)`` when the
        replay recorded them (not part of :meth:`to_dict`; see
        :mod:`specaccel.sim.timeline_export`).
    request_times:
        Per request ``arrival``, ``start`` (admission), ``first_token`` and ``end`` times
        in seconds (``first_token`` is NaN in a batch-1 replay): the per-request spans
        of the timeline export, and the time each request took.
    hw_spec, verify_pass:
        The hardware spec, and the costs of the run's mean verify pass (``flops``,
        ``hbm_bytes``, ``latency_s``, priced by the run's step-cost door), for the
        metrics (not part of :meth:`to_dict`).
    """

    hardware: str
    hardware_kind: str
    target: str
    draft: str
    drafting: str
    n_requests: int
    n_steps: int
    tokens: int
    makespan_s: float
    tokens_per_s: float
    mean_committed_per_step: float
    mean_accepted_per_step: float
    mean_nodes_per_step: float
    mean_draft_passes_per_step: float
    energy_j: dict[str, float]
    energy_per_token_j: dict[str, float]
    utilisation: dict[str, float | None]
    role_busy_fraction: dict[str, float]
    step_time_s: dict[str, float]
    accepted_histogram: list[int]
    hbm_bytes: dict[str, float]
    kv_cache: dict[str, float]
    memory_footprint: dict[str, float | bool | None]
    engine: str = "simpy"
    serving: dict[str, Any] | None = None
    pipeline: dict[str, Any] | None = None
    baseline: SimResult | None = field(default=None)
    timeline: list[tuple[str, str, int, int, float, float]] | None = field(
        default=None, repr=False)
    request_times: dict[str, np.ndarray] | None = field(default=None, repr=False)
    hw_spec: Any = field(default=None, repr=False)
    verify_pass: dict[str, float] | None = field(default=None, repr=False)

    @property
    def speedup(self) -> float | None:
        """Tokens/s over the autoregressive baseline's on the same hardware."""
        if self.baseline is None or self.baseline.tokens_per_s <= 0:
            return None
        return self.tokens_per_s / self.baseline.tokens_per_s

    def metrics(self) -> dict[str, Any]:
        """Every metric of :data:`~.metrics.METRICS`, by name (``None``: not defined
        for this run)."""
        return metric_values(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (nested baseline included, plus ``speedup`` and
        ``metrics``)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in _NOT_SERIALISED}
        out = copy.deepcopy(out)
        out["baseline"] = self.baseline.to_dict() if self.baseline is not None else None
        out["speedup"] = self.speedup
        out["metrics"] = self.metrics()
        return out


def _name(obj: Any) -> str:
    return str(getattr(obj, "name", obj))


def memory_footprint(hw: Any, target: Any, draft: Any, kv_peak_bytes: float
                     ) -> dict[str, float | bool | None]:
    """Peak device memory: target and draft weights plus the peak target KV cache."""
    weights = 0.0
    known = True
    for model in (target, draft):
        if model is None:
            continue
        w = getattr(model, "weight_bytes", None)
        if w is None:
            known = False
        else:
            weights += float(w)
    cap = getattr(hw, "mem_bytes", None)
    peak = weights + kv_peak_bytes if known else None
    return {
        "weights_bytes": weights if known else None,
        "kv_peak_bytes": kv_peak_bytes,
        "peak_bytes": peak,
        "capacity_bytes": float(cap) if cap is not None else None,
        "fits": (peak <= float(cap)) if (peak is not None and cap is not None) else None,
    }


def _request_times(log: ReplayLog) -> dict[str, np.ndarray]:
    return {"arrival": np.asarray(log.request_arrival_s),
            "start": np.asarray(log.request_start_s),
            "first_token": np.asarray(log.request_first_token_s),
            "end": np.asarray(log.request_end_s)}


def _energy(hw: Any, log: ReplayLog, tokens: int
            ) -> tuple[dict[str, float], dict[str, float]]:
    """Energy by component and in total, and per committed token."""
    static_w = float(getattr(hw, "static_power_w", 0.0))
    energy = {
        "draft": float(log.dynamic_energy_j["draft"]),
        "target": float(log.dynamic_energy_j["target"]),
        "static": static_w * log.makespan_s,
    }
    energy["total"] = float(sum(energy[c] for c in ENERGY_COMPONENTS))
    per_token = {k: (v / tokens if tokens else float("nan")) for k, v in energy.items()}
    return energy, per_token


def _traffic(hw: Any, log: ReplayLog, tokens: int
             ) -> tuple[dict[str, float | None], dict[str, float]]:
    """Busy fraction per unit and of the HBM bandwidth, and HBM bytes per role."""
    makespan = log.makespan_s
    utilisation: dict[str, float | None] = {
        n: (b / makespan if makespan > 0 else 0.0) for n, b in log.unit_busy_s.items()}
    # On an accelerator that keeps the tree's KV in SRAM (act_in_sram), the committed
    # tokens' KV is written back to HBM at commit; the pass costs do not include it.
    writeback = (float(tokens) * log.kv_bytes_per_token
                 if getattr(hw, "act_in_sram", False) else 0.0)
    hbm_total = float(sum(log.hbm_bytes_by_role.values())) + writeback
    bw = log.hbm_bandwidth_bps
    utilisation["hbm_bandwidth"] = (hbm_total / (bw * makespan)
                                    if bw and makespan > 0 else None)
    return utilisation, {**log.hbm_bytes_by_role, "kv_writeback": writeback,
                         "total": hbm_total}


def _step_time(totals: StepTotals, log: ReplayLog) -> dict[str, float]:
    """Mean time per step in each stage, and in total (per batch step in a serving run,
    from the roles' busy time)."""
    stages = totals.stage_s
    n_steps = totals.n_steps
    if log.steps_timed is None:
        step_time = {k: totals.mean(v) for k, v in stages.items()}
        step_time["total"] = log.makespan_s / n_steps if n_steps else 0.0
    else:
        n_b = log.steps_timed
        step_time = {k: (log.role_busy_s[k] / n_b if n_b else 0.0) for k in stages}
        step_time["total"] = log.makespan_s / n_b if n_b else 0.0
    return step_time


def _kv_cache(log: ReplayLog) -> dict[str, float]:
    kvb = log.kv_bytes_per_token
    return {"peak_tokens": log.kv_peak_tokens, "mean_tokens": log.kv_mean_tokens,
            "peak_bytes": log.kv_peak_tokens * kvb, "mean_bytes": log.kv_mean_tokens * kvb,
            "written_tokens": log.kv_written_tokens,
            "rolled_back_tokens": log.kv_rolled_back_tokens}


def _mean_verify_pass(inp: StepInput, mean_nodes: float, mean_kv_tokens: float
                      ) -> dict[str, float]:
    """The target's verify pass over the mean tree at the mean KV occupancy, priced by
    the run's door (the roofline point of the sweeps' ``verify_pass_*`` metrics)."""
    c = inp.pricer.target.passes(np.array([max(1, int(round(mean_nodes)))]),
                                 np.array([float(mean_kv_tokens)]))
    return {"flops": float(c.flops[0]), "hbm_bytes": float(c.hbm_bytes[0]),
            "latency_s": float(c.latency_s[0])}


def build_result(inp: StepInput, log: ReplayLog) -> SimResult:
    """Combine a run's step-cost input and its engine's log into a :class:`SimResult`."""
    totals = inp.stream.ensure_totals()
    hw, target, draft = inp.hw, inp.pricer.target.model, inp.pricer.draft_model
    makespan = log.makespan_s
    tokens = totals.committed
    energy, per_token = _energy(hw, log, tokens)
    # every pass was checked at the pricing door; the terms added on top of the passes
    # (links, host, units) and the sums must not overflow either
    check_finite_costs({"makespan_s": makespan, **{f"energy_j.{k}": v
                                                   for k, v in energy.items()}},
                       hw=hw, what="the simulated run")
    utilisation, hbm_bytes = _traffic(hw, log, tokens)
    mean_nodes = totals.mean(totals.n_nodes)
    return SimResult(
        hardware=_name(hw),
        hardware_kind=str(getattr(hw, "kind", "")),
        target=_name(target),
        draft=_name(draft) if draft is not None else "none",
        drafting=inp.pricer.drafting.name,
        n_requests=inp.n_requests,
        n_steps=totals.n_steps,
        tokens=tokens,
        makespan_s=makespan,
        tokens_per_s=tokens / makespan if makespan > 0 else 0.0,
        mean_committed_per_step=totals.mean(tokens),
        mean_accepted_per_step=totals.mean(totals.accepted),
        mean_nodes_per_step=mean_nodes,
        mean_draft_passes_per_step=totals.mean(totals.draft_passes),
        energy_j=energy,
        energy_per_token_j=per_token,
        utilisation=utilisation,
        role_busy_fraction={r: (log.role_busy_s[r] / makespan if makespan > 0 else 0.0)
                            for r in ROLES},
        step_time_s=_step_time(totals, log),
        accepted_histogram=[int(c) for c in totals.accepted_histogram],
        hbm_bytes=hbm_bytes,
        memory_footprint=memory_footprint(hw, target, draft,
                                          log.kv_peak_tokens * log.kv_bytes_per_token),
        timeline=log.timeline,
        request_times=_request_times(log),
        engine=log.engine,
        serving=log.serving,
        pipeline=log.pipeline,
        kv_cache=_kv_cache(log),
        hw_spec=hw,
        verify_pass=_mean_verify_pass(inp, mean_nodes, log.kv_mean_tokens),
    )
