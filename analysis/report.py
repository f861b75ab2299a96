"""The `specaccel run` report: one record per hardware, as a dict and as text.

The dict (:func:`build_report`) is what ``report.json`` holds and what ``--json`` prints;
the text (:func:`format_report`) is rendered from the same dict, so the printed numbers
are the JSON numbers rounded for display.
"""

from __future__ import annotations

from typing import Any

from specaccel.analysis.text_table import table
from specaccel.sim.metrics import METRICS
from specaccel.sim.result import SimResult

REPORTED = tuple(m for m in METRICS.values() if m.report is not None)
"""The metrics of the summary table (those the registry gives a ``report`` header)."""

SUMMARY_FIELDS = tuple(name for m in REPORTED for name in (
    (m.name, f"baseline_{m.name}") if m.report_baseline else (m.name,)))


def hardware_summary(result: SimResult) -> dict[str, Any]:
    """The headline numbers of one hardware case (speculative vs autoregressive): the
    reported metrics (:data:`REPORTED`), each with its baseline's value where the
    registry asks for it, the energy by component, utilisation and step times."""
    base = result.baseline
    values = result.metrics()
    base_values = base.metrics() if base is not None else {}
    headline: dict[str, Any] = {}
    for m in REPORTED:
        headline[m.name] = values[m.name]
        if m.report_baseline:
            headline[f"baseline_{m.name}"] = base_values.get(m.name)
    return {
        "hardware": result.hardware,
        "kind": result.hardware_kind,
        **headline,
        "energy_per_token_by_component_j": {
            k: v for k, v in result.energy_per_token_j.items() if k != "total"},
        "utilisation": dict(result.utilisation),
        "role_busy_fraction": dict(result.role_busy_fraction),
        "baseline_utilisation": dict(base.utilisation) if base else None,
        "step_time_s": dict(result.step_time_s),
        "baseline_step_time_s": dict(base.step_time_s) if base else None,
    }


def build_report(results: list[SimResult], *, workload: dict[str, Any],
                 wall_time_s: float | None = None, out_dir: str | None = None
                 ) -> dict[str, Any]:
    """The full report: workload description, per-hardware summaries and full results."""
    return {
        "workload": dict(workload),
        "hardware": [hardware_summary(r) for r in results],
        "results": [r.to_dict() for r in results],
        "wall_time_s": wall_time_s,
        "out_dir": out_dir,
    }


def _ms(x: float | None) -> float | None:
    return None if x is None else x * 1e3


def _mj(x: float | None) -> float | None:
    return None if x is None else x * 1e3


def _us(x: float | None) -> float | None:
    return None if x is None else x * 1e6


def _pct(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{100 * x:.2g}%" if 0 < x < 1e-3 else f"{100 * x:.1f}%"


def _scaled(x: float | None, scale: float) -> float | None:
    return None if x is None else x * scale


def _summary_table(summaries: list[dict[str, Any]]) -> str:
    """One row per hardware, one column per reported metric (and its baseline's)."""
    headers, rows = ["hardware"], [[h["hardware"]] for h in summaries]
    for m in REPORTED:
        keys = [(m.name, m.report)]
        if m.report_baseline:
            keys.append((f"baseline_{m.name}", f"AR {m.report}"))
        for key, header in keys:
            headers.append(header)
            for row, h in zip(rows, summaries, strict=True):
                row.append(_scaled(h[key], m.report_scale))
    return table(rows, headers)


def format_report(report: dict[str, Any]) -> str:
    """Human-readable text of a :func:`build_report` dict."""
    w = report["workload"]
    lines = [
        f"workload: {w.get('preset', '?')} — target {w.get('target_model', '?')}, "
        f"draft {w.get('draft_model') or 'none'} ({w.get('drafting', '?')} drafting), "
        f"{w.get('n_requests', '?')} requests, {w.get('n_steps', '?')} decode steps, "
        f"seed {w.get('seed', '?')}",
        "",
    ]
    lines.append(_summary_table(report["hardware"]))
    pub = w.get("published")
    if pub:
        got = [f"tau {pub['tau']:.2f}" if pub.get("tau") is not None else None,
               f"speedup {pub['speedup']:.2f}x" if pub.get("speedup") is not None else None]
        lines.append(f"published: {', '.join(g for g in got if g)} on {pub.get('hardware')} "
                     f"({pub.get('source')})")
    lines += ["", "energy per token by component (mJ):"]
    comps = list(report["hardware"][0]["energy_per_token_by_component_j"]) if report[
        "hardware"] else []
    lines.append(table(
        [[h["hardware"], *[_mj(h["energy_per_token_by_component_j"].get(c)) for c in comps]]
         for h in report["hardware"]],
        ["hardware", *comps]))
    lines += ["", "utilisation (busy fraction of the simulated time):"]
    for h in report["hardware"]:
        parts = ", ".join(f"{k} {_pct(v)}" for k, v in h["utilisation"].items())
        roles = ", ".join(f"{k} {_pct(v)}" for k, v in h["role_busy_fraction"].items())
        lines.append(f"  {h['hardware']}: {parts}")
        lines.append(f"  {' ' * len(h['hardware'])}  by role: {roles}")
    lines += ["", "mean time per decode step:"]
    lines.append(table(
        [[h["hardware"], _ms(h["step_time_s"]["draft"]), _us(h["step_time_s"]["tree"]),
          _ms(h["step_time_s"]["target"]), _us(h["step_time_s"]["verify"]),
          _ms(h["step_time_s"]["total"]), _ms((h["baseline_step_time_s"] or {}).get("total"))]
         for h in report["hardware"]],
        ["hardware", "draft ms", "tree µs", "target ms", "verify µs", "total ms",
         "AR step ms"]))
    if report.get("wall_time_s") is not None:
        lines += ["", f"wall time: {report['wall_time_s']:.1f} s"]
    return "\n".join(lines)
