"""`specaccel report DIR`: one self-contained HTML page about a sweep's results.

:func:`analyse_sweep` loads a results directory and computes what the page shows: the
Pareto front (2-3 objectives), the best design under the spec's constraints, the
sensitivity of every metric to every axis, and summary statistics.
:func:`write_html_report` renders it with the plots of :mod:`.sweep_plots` embedded as
base64 PNG images (no external files, scripts or styles).
"""

from __future__ import annotations

import base64
import html
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specaccel.analysis import sweep_plots
from specaccel.analysis.design_point import METRICS, metric_sense
from specaccel.analysis.pareto import best_design, feasible_mask, pareto_mask_by
from specaccel.analysis.results_store import load_results, read_sweep_meta
from specaccel.analysis.sensitivity import sensitivity_table
from specaccel.analysis.sweep_spec import Constraint
from specaccel.schema.config_fields import split_list
from specaccel.schema.errors import InputError
from specaccel.schema.output_path import atomic_write, check_output_file

#: The metrics a report's Pareto front is taken over when none are asked for (the first
#: three with finite values); each is better the way the metrics registry declares.
DEFAULT_FRONT = ("tokens_per_s", "energy_per_token_j", "area_mm2", "power_w", "speedup")


@dataclass
class SweepAnalysis:
    """The analysed results of one sweep (see :func:`analyse_sweep`)."""

    root: Path
    meta: dict[str, Any]
    frame: pd.DataFrame
    axes: list[str]
    metrics: list[str]
    objectives: dict[str, str]
    constraints: list[Constraint]
    feasible: np.ndarray
    front: np.ndarray
    best: pd.Series | None
    sensitivity: pd.DataFrame
    duplicates_dropped: int
    short_rung_points: int = 0

    def summary(self) -> dict[str, Any]:
        """A JSON-ready digest (what ``specaccel report --json`` prints)."""
        df = self.frame
        best = None
        if self.best is not None:
            best = {c: _plain(self.best[c]) for c in ["key", *self.axes, *self.metrics]
                    if c in self.best.index and c != "accepted_histogram"}
        return {
            "name": self.meta.get("name", self.root.name),
            "points": len(df),
            "duplicates_dropped": self.duplicates_dropped,
            "short_rung_points_left_out": self.short_rung_points,
            "evaluators": {str(k): int(v) for k, v in df["evaluator"].value_counts().items()}
            if "evaluator" in df else {},
            "axes": self.axes,
            "objectives": self.objectives,
            "constraints": [c.describe() for c in self.constraints],
            "feasible_points": int(self.feasible.sum()),
            "pareto_points": int(self.front.sum()),
            "pareto_keys": df.loc[self.front, "key"].tolist(),
            "objective": self.meta.get("objective"),
            "best": best,
            "sensitivity": [{k: _plain(v) for k, v in r.items()}
                            for r in self.sensitivity.to_dict("records")],
        }


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def parse_objectives(text: str) -> dict[str, str]:
    """``"tokens_per_s:max,energy_per_token_j:min"`` -> ``{metric: sense}``; a metric
    given without ``:max``/``:min`` takes the direction of the metrics registry."""
    out: dict[str, str] = {}
    for item in split_list(text, option="--pareto"):
        name, sense = _objective(item.strip())
        if name in out:
            raise InputError(f"metric {name!r} is given twice", field="--pareto")
        out[name] = sense
    if not 2 <= len(out) <= 3:
        raise InputError(f"give 2 or 3 metrics, not {len(out)}", field="--pareto")
    return out


def _objective(item: str) -> tuple[str, str]:
    """``(metric, sense)`` of one ``METRIC:max``, ``METRIC:min`` or ``METRIC`` item; a bare
    metric is better the way :func:`~.design_point.metric_sense` says, and one better
    neither way (a tree size, a bandwidth) must say which end the front keeps."""
    name, colon, sense = item.partition(":")
    if name and not colon:
        sense = metric_sense(name) or ""
    if not name or sense not in ("max", "min"):
        why = "" if colon or not name else (
            " (it is better neither higher nor lower: say which)" if name in METRICS
            else f" (no metric {name!r} is known)")
        raise InputError(f"expected METRIC:max or METRIC:min, not {item!r}{why}",
                         field="--pareto")
    return name, sense


def _workload_column(df: pd.DataFrame) -> str | None:
    """The column naming each row's workload, when the sweep ran more than one."""
    if "workload" in df.columns and df["workload"].nunique() > 1:
        return "workload"
    return None


def _numeric_metrics(df: pd.DataFrame, metrics: list[str]) -> list[str]:
    return [m for m in metrics if m in df.columns and m != "accepted_histogram"
            and pd.api.types.is_numeric_dtype(df[m])]


def analyse_sweep(root: str | Path, *, objectives: Mapping[str, str] | None = None
                  ) -> SweepAnalysis:
    """Load a results directory and analyse it.

    Parameters
    ----------
    root:
        The sweep's ``--out`` directory.
    objectives:
        2-3 metrics and their sense for the Pareto front (default: the first available of
        tokens/s (max), energy per token, area, power (min)).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("no such results folder" if not root.exists()
                         else "is a file, not a sweep's results folder", file=str(root))
    loaded = load_results(root)
    df = loaded.frame
    meta = read_sweep_meta(root)
    if not meta:
        raise InputError("half-written results folder: no sweep.json (the sweep did not "
                         "start properly; run 'specaccel sweep' again)", file=str(root))
    if len(df) == 0:
        raise InputError("the results folder holds no design points (the sweep stored "
                         "none: it failed or was stopped at once; 'specaccel sweep "
                         "--resume' continues it)", file=str(root))
    partial = 0
    if meta.get("strategy") == "successive-halving" and "steps" in df and len(df):
        # Earlier rungs ran shorter traces: compare designs at full length only.
        group = df["workload"] if "workload" in df else pd.Series(0, index=df.index)
        full = df["steps"] == df["steps"].groupby(group).transform("max")
        partial = int((~full).sum())
        df = df[full].reset_index(drop=True)
    metrics = [m for m in meta.get("metrics", METRICS) if m in df.columns]
    numeric = _numeric_metrics(df, metrics)
    _check_meta_columns(meta, df, root)
    axes = list(meta.get("axes", []))
    if objectives is None:
        objectives = {}
        for m, sense in ((m, metric_sense(m)) for m in DEFAULT_FRONT):
            finite = m in numeric and bool(np.isfinite(df[m].to_numpy(float)).any())
            if finite and len(objectives) < 3:
                objectives[m] = sense
    for m in objectives:
        if m not in numeric:
            raise InputError(f"no numeric metric {m!r} in the results "
                             f"(have: {', '.join(numeric)})", field="--pareto")
        if not np.isfinite(df[m].to_numpy(float)).any():
            raise InputError(f"{m} has no finite value in these results (a metric this "
                             "hardware does not have), so no front can be taken over it",
                             field="--pareto")
    constraints = [Constraint(c["metric"], c.get("min"), c.get("max"))
                   for c in meta.get("constraints", []) if c["metric"] in df.columns]
    feasible = feasible_mask(df, constraints)
    # One front per workload: a design is compared only with designs on the same workload.
    front = pareto_mask_by(df, objectives, _workload_column(df)) \
        if len(objectives) >= 2 and len(df) else np.zeros(len(df), dtype=bool)
    objective = meta.get("objective") or (numeric[0] if numeric else None)
    best = best_design(df, objective, maximize=bool(meta.get("maximize", True)),
                       constraints=constraints) if objective in numeric else None
    sens = sensitivity_table(df, axes, numeric) if axes and len(df) else \
        sensitivity_table(df.head(0), [], [])
    return SweepAnalysis(root=root, meta=meta, frame=df, axes=axes, metrics=metrics,
                         objectives=dict(objectives), constraints=constraints,
                         feasible=feasible, front=front, best=best, sensitivity=sens,
                         duplicates_dropped=loaded.duplicates_dropped,
                         short_rung_points=partial)


def _check_meta_columns(meta: dict[str, Any], df: pd.DataFrame, root: Path) -> None:
    """The axes and metrics ``sweep.json`` names are columns of the results: a sweep
    stores every point's axis values and metrics, so a name that is none is a
    hand-edited or foreign file, not something to skip."""
    for key in ("axes", "metrics"):
        missing = [c for c in meta.get(key, []) if c not in df.columns]
        if missing:
            raise InputError(f"names {missing[0]!r}, which is no column of the results",
                             file=str(root / "sweep.json"), field=key)


# ---------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}pre{background:#f7f7f7;padding:.8em;font-size:.8em;overflow:auto}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.8em;color:#666}.note{color:#666;font-size:.9em}
"""


def _table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, border=0, float_format=lambda v: f"{v:.4g}",
                      na_rep="–", escape=True)


def _img(path: Path | None, alt: str, why_not: str = "metrics not kept") -> str:
    if path is None:
        return f'<p class="note">{html.escape(alt)}: not drawn ({html.escape(why_not)}).</p>'
    data = base64.b64encode(path.read_bytes()).decode()
    # The smallest font drawn in the figure (px at its natural size), for the legibility
    # check of the browser test.
    min_px = sweep_plots.min_font_px(path)
    clipped = sweep_plots.clipped_text(path)
    return (f'<figure><img alt="{html.escape(alt)}" data-min-font-px="{min_px:.1f}" '
            f'data-clipped-text="{clipped}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(alt)}'
            "</figcaption></figure>")


def _tree_is_swept(a: SweepAnalysis) -> bool:
    """Whether the tree budget varies as an axis (or across workloads' trees)."""
    return any("tree" in ax or ax in ("steps_tree", "max_nodes") for ax in a.axes) or (
        "tree" in a.frame.columns and a.frame["tree"].nunique() > 1)


def _plots(a: SweepAnalysis, tmp: Path) -> list[str]:
    df = a.frame
    front_idx = df.index[a.front]
    if len(front_idx) == 0 and a.best is not None:
        front_idx = pd.Index([a.best.name])
    workload = _workload_column(df)
    tree = _tree_is_swept(a)
    return [
        _img(sweep_plots.plot_pareto(df, a.objectives, tmp / "pareto.png", a.feasible,
                                     front=a.front, group=workload)
             if len(a.objectives) >= 2 else None, "Pareto scatter"),
        _img(sweep_plots.plot_roofline(df, tmp / "roofline.png"), "roofline"),
        _img(sweep_plots.plot_speedup_vs_tree(df, a.axes, tmp / "speedup_tree.png")
             if tree else None, "speedup vs tree budget",
             "the tree is not an axis of this sweep" if not tree else "metrics not kept"),
        _img(sweep_plots.plot_accepted_histograms(df, tmp / "accepted.png"),
             "accepted-length histograms"),
        _img(sweep_plots.plot_energy_breakdown(
            df, tmp / "energy.png", rows=front_idx,
            labels=[sweep_plots.short_label(df, i, [x for x in a.axes if x != workload],
                                            workload) for i in front_idx]),
             "energy breakdown of the Pareto designs"),
    ]


def render_html(a: SweepAnalysis) -> str:
    """The report page of an analysis (a complete HTML document)."""
    s = a.summary()
    df = a.frame
    esc = html.escape
    cols = ["key", *a.axes, *[m for m in a.metrics if m != "accepted_histogram"]]
    cols = [c for c in dict.fromkeys(cols) if c in df.columns]
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sweep "
             f"{esc(str(s['name']))}</title><style>{_CSS}</style></head><body>",
             f"<h1>Sweep {esc(str(s['name']))}</h1>",
             f"<p>{s['points']} design points; evaluators: "
             f"{esc(', '.join(f'{k} {v}' for k, v in s['evaluators'].items()) or '–')}; "
             f"{s['duplicates_dropped']} duplicate rows dropped on load; axes: "
             f"{esc(', '.join(a.axes) or '–')}.</p>"]
    if a.short_rung_points:
        parts.append(f"<p class='note'>Successive halving: the analysis covers the "
                     f"{s['points']} designs run at full trace length; "
                     f"{a.short_rung_points} shorter-trace rung points are left out.</p>")
    cons = ", ".join(s["constraints"]) or "none"
    parts.append(f"<h2>Best design</h2><p>objective: {esc(str(s['objective']))} "
                 f"({'max' if a.meta.get('maximize', True) else 'min'}); constraints: "
                 f"{esc(cons)}; {s['feasible_points']} of {s['points']} points feasible.</p>")
    if a.best is not None:
        parts.append(_table(a.best[cols].to_frame().T))
    else:
        parts.append('<p class="note">No point meets the constraints.</p>')
    obj = ", ".join(f"{m} ({d})" for m, d in a.objectives.items())
    parts.append(f"<h2>Pareto front</h2><p>over {esc(obj) or '–'}: "
                 f"{s['pareto_points']} points.</p>")
    if a.front.any():
        front = df.loc[a.front, cols]
        first = next(iter(a.objectives))
        front = front.sort_values(first, ascending=a.objectives[first] == "min")
        parts.append(_table(front.head(200)))
    parts.append("<h2>Plots</h2><div class='figs'>")
    with tempfile.TemporaryDirectory() as tmp:
        parts.extend(_plots(a, Path(tmp)))
    parts.append("</div>")
    parts.append("<h2>Sensitivity</h2><p class='note'>first-order index: share of the "
                 "metric's variance explained by the axis alone; main-effect range: max - "
                 "min of the metric's mean per axis level; Spearman: monotone direction."
                 "</p>")
    if len(a.sensitivity):
        parts.append(_table(a.sensitivity))
    numeric = _numeric_metrics(df, a.metrics)
    if numeric and len(df):
        stats = df[numeric].describe().T.reset_index().rename(columns={"index": "metric"})
        parts.append("<h2>Metric statistics</h2>" + _table(stats))
    spec = a.root / "sweep.toml"
    if spec.exists():
        parts.append(f"<h2>Spec</h2><pre>{esc(spec.read_text())}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html_report(root: str | Path, out: str | Path | None = None, *,
                      objectives: Mapping[str, str] | None = None
                      ) -> tuple[Path, SweepAnalysis]:
    """Analyse the sweep in `root` and write the HTML report (default ``root/report.html``).

    Returns the report's path and the analysis.
    """
    path = Path(out) if out is not None else Path(root) / "report.html"
    if Path(root).is_dir() or out is not None:
        check_output_file(path, kind="html", option="--out")  # before the analysis
    a = analyse_sweep(root, objectives=objectives)
    atomic_write(path, render_html(a), option="--out")
    return path, a
