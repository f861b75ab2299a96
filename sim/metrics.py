"""The metrics registry: every flat metric of a run, declared once.

A :class:`Metric` has a name, a unit, a direction (whether more is better) and a line of
help, and computes its value from a :class:`~.result.SimResult`.  :data:`METRICS` is
read by everything that shows metrics: ``SimResult.to_dict()["metrics"]`` (the JSON of
``simulate --json`` and ``run``'s ``report.json``), the ``run`` report's summary table
(the metrics with a ``report`` label), the sweeps (which metrics a sweep may keep, their
defaults and types) and the metric table of docs/config-format.md.  A new metric is one
entry here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - types only
    from specaccel.sim.result import SimResult

DIRECTIONS = ("higher", "lower", "none")
"""Which way a metric is better: higher, lower, or neither (a property of the design)."""


@dataclass(frozen=True)
class Metric:
    """One metric (module docstring).

    Attributes
    ----------
    name:
        Its key in JSON, reports and sweep results.
    unit:
        Its unit (``""`` for a count or a ratio).
    direction:
        ``"higher"``, ``"lower"`` or ``"none"`` (:data:`DIRECTIONS`).
    help:
        What it is, in one line (the docs table and ``--help``).
    value:
        ``value(result) -> number, list or None`` (``None``: not defined for the run).
    numeric:
        A number (usable in Pareto fronts, constraints and objectives); else a list.
    sweep_default:
        Kept by a sweep that names no metrics.
    report:
        The column header of the ``run`` report's summary table (``None``: not shown),
        shown as the value times `report_scale`.
    report_baseline:
        The report also shows the autoregressive baseline's value (``AR <header>``).
    """

    name: str
    unit: str
    direction: str
    help: str
    value: Callable[[SimResult], Any]
    numeric: bool = True
    sweep_default: bool = False
    report: str | None = None
    report_scale: float = 1.0
    report_baseline: bool = False

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"a metric's direction is one of {DIRECTIONS}, "
                             f"not {self.direction!r}")


def _per(r: SimResult, num: float) -> float | None:
    return num / r.makespan_s if r.makespan_s > 0 else None


def _baseline(r: SimResult, name: str) -> Any:
    return getattr(r.baseline, name) if r.baseline is not None else None


def _hw(name: str, positive: bool = False) -> Callable[[SimResult], float | None]:
    def value(r: SimResult) -> float | None:
        v = getattr(r.hw_spec, name, None)
        if v is None or (positive and not float(v) > 0):
            return None
        return float(v)
    return value


def _serving(key: str, q: str) -> Callable[[SimResult], float | None]:
    def value(r: SimResult) -> float | None:
        return None if r.serving is None else r.serving[key][q]
    return value


def _verify_pass(key: str) -> Callable[[SimResult], float | None]:
    def value(r: SimResult) -> float | None:
        return None if r.verify_pass is None else r.verify_pass[key]
    return value


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("tokens_per_s", "tokens/s", "higher", "committed tokens per simulated second",
           lambda r: r.tokens_per_s, sweep_default=True, report="tokens/s",
           report_baseline=True),
    Metric("speedup", "", "higher",
           "tokens/s over the autoregressive baseline on the same hardware",
           lambda r: r.speedup, sweep_default=True, report="speedup"),
    Metric("baseline_tokens_per_s", "tokens/s", "higher",
           "tokens/s of plain autoregressive decoding",
           lambda r: _baseline(r, "tokens_per_s")),
    Metric("makespan_s", "s", "lower", "simulated wall time", lambda r: r.makespan_s),
    Metric("tokens", "tokens", "none", "committed tokens", lambda r: r.tokens),
    Metric("n_steps", "steps", "none", "decode steps", lambda r: r.n_steps),
    Metric("mean_committed_per_step", "tokens", "higher", "tau: tokens committed per step",
           lambda r: r.mean_committed_per_step, sweep_default=True, report="tau"),
    Metric("mean_accepted_per_step", "tokens", "higher", "accepted drafts per step",
           lambda r: r.mean_accepted_per_step, report="accepted"),
    Metric("mean_nodes_per_step", "nodes", "none", "tree size (nodes per verify pass)",
           lambda r: r.mean_nodes_per_step, sweep_default=True),
    Metric("committed_per_node", "tokens/node", "higher",
           "tau per verified tree node: the share of the verify pass's tokens kept",
           lambda r: (r.mean_committed_per_step / r.mean_nodes_per_step
                      if r.mean_nodes_per_step > 0 else None)),
    Metric("mean_draft_passes_per_step", "passes", "lower", "draft passes per step",
           lambda r: r.mean_draft_passes_per_step),
    Metric("energy_per_token_j", "J/token", "lower", "joules per committed token (total)",
           lambda r: r.energy_per_token_j["total"], sweep_default=True,
           report="mJ/token", report_scale=1e3, report_baseline=True),
    Metric("energy_per_token_draft_j", "J/token", "lower",
           "draft passes' dynamic energy per token",
           lambda r: r.energy_per_token_j["draft"], sweep_default=True),
    Metric("energy_per_token_target_j", "J/token", "lower",
           "target passes' dynamic energy per token",
           lambda r: r.energy_per_token_j["target"], sweep_default=True),
    Metric("energy_per_token_static_j", "J/token", "lower", "static energy per token",
           lambda r: r.energy_per_token_j["static"], sweep_default=True),
    Metric("energy_j", "J", "lower", "total energy", lambda r: r.energy_j["total"]),
    Metric("power_w", "W", "lower", "mean power (total energy / wall time)",
           lambda r: _per(r, r.energy_j["total"]), sweep_default=True),
    Metric("area_mm2", "mm2", "lower",
           "die area from the cost model (NaN when the preset gives none)",
           _hw("area_mm2", positive=True), sweep_default=True),
    Metric("static_power_w", "W", "lower", "static power of the hardware",
           _hw("static_power_w")),
    Metric("peak_flops", "FLOP/s", "none", "peak matrix FLOP/s", _hw("peak_flops"),
           sweep_default=True),
    Metric("mem_bw_bytes_s", "B/s", "none", "HBM bandwidth", _hw("mem_bw_bytes_s"),
           sweep_default=True),
    Metric("hbm_bandwidth_utilisation", "", "none",
           "HBM bytes moved / (bandwidth x wall time)",
           lambda r: r.utilisation.get("hbm_bandwidth")),
    Metric("target_busy_fraction", "", "none", "fraction of wall time in target passes",
           lambda r: r.role_busy_fraction["target"]),
    Metric("draft_busy_fraction", "", "lower", "fraction of wall time in draft passes",
           lambda r: r.role_busy_fraction["draft"]),
    Metric("verify_pass_flops", "FLOP", "none",
           "FLOPs of the mean target verify pass (roofline point)",
           _verify_pass("flops"), sweep_default=True),
    Metric("verify_pass_bytes", "B", "none",
           "HBM bytes of the mean target verify pass (roofline point)",
           _verify_pass("hbm_bytes"), sweep_default=True),
    Metric("verify_pass_s", "s", "lower",
           "latency of the mean target verify pass (roofline point)",
           _verify_pass("latency_s"), sweep_default=True),
    Metric("ttft_p50_s", "s", "lower",
           "serving run: median time to first token (NaN for a batch-1 replay)",
           _serving("ttft_s", "p50")),
    Metric("ttft_p99_s", "s", "lower", "serving run: 99th-percentile time to first token",
           _serving("ttft_s", "p99")),
    Metric("tpot_p50_s", "s", "lower",
           "serving run: median time per output token after the first",
           _serving("tpot_s", "p50")),
    Metric("tpot_p99_s", "s", "lower",
           "serving run: 99th-percentile time per output token",
           _serving("tpot_s", "p99")),
    Metric("accepted_histogram", "steps", "none",
           "steps that accepted k drafts, k = 0, 1, ... (a list)",
           lambda r: [int(x) for x in r.accepted_histogram], numeric=False,
           sweep_default=True),
)}
"""Every metric, by name, in the order tables show them."""


def metric_values(result: SimResult) -> dict[str, Any]:
    """Every metric of `result` by name (``None`` where not defined; NaN becomes
    ``None``, so the dict is plain JSON)."""
    out: dict[str, Any] = {}
    for name, m in METRICS.items():
        v = m.value(result)
        if m.numeric and v is not None:
            v = float(v)
            if math.isnan(v):
                v = None
        out[name] = v
    return out


def metric_table_rows() -> list[tuple[str, str, str, str]]:
    """``(name, unit, direction, help)`` of every metric: the docs table."""
    return [(m.name, m.unit or "-", m.direction, m.help) for m in METRICS.values()]
