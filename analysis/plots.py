"""PNG plots of a `specaccel run` report (matplotlib, Agg backend: no display needed).

Each function draws one figure from the report dict of
:func:`specaccel.analysis.report.build_report` and writes it to a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from specaccel.schema.output_path import atomic_target  # noqa: E402

STAGE_COLOURS = {"draft": "#f28e2b", "tree": "#76b7b2", "target": "#4e79a7",
                 "verify": "#e15759"}
ENERGY_COLOURS = {"draft": "#f28e2b", "target": "#4e79a7", "static": "#bab0ac"}
SPEC_COLOUR, AR_COLOUR = "#4e79a7", "#bab0ac"


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    try:
        with atomic_target(path) as tmp:  # never half a PNG at `path`
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def _bar_labels(ax, bars, fmt: str) -> None:
    for b in bars:
        h = b.get_height()
        ax.annotate(fmt.format(h), (b.get_x() + b.get_width() / 2, h), ha="center",
                    va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")


def plot_throughput(report: dict[str, Any], path: Path) -> Path:
    """Tokens/s (speculative vs autoregressive) and speedup, per hardware."""
    hws = report["hardware"]
    names = [h["hardware"] for h in hws]
    x = np.arange(len(hws))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.8),
                                   gridspec_kw={"width_ratios": [2, 1]})
    spec = [h["tokens_per_s"] for h in hws]
    base = [h["baseline_tokens_per_s"] or 0.0 for h in hws]
    _bar_labels(ax1, ax1.bar(x - 0.2, base, 0.4, color=AR_COLOUR, label="autoregressive"),
                "{:.0f}")
    _bar_labels(ax1, ax1.bar(x + 0.2, spec, 0.4, color=SPEC_COLOUR, label="speculative"),
                "{:.0f}")
    ax1.set_xticks(x, names)
    ax1.set_ylabel("tokens / s (batch 1)")
    ax1.set_title("decode throughput")
    ax1.legend(fontsize=8, loc="upper left")
    ax1.margins(y=0.15)
    speed = [h["speedup"] or 0.0 for h in hws]
    _bar_labels(ax2, ax2.bar(x, speed, 0.5, color=SPEC_COLOUR), "{:.2f}×")
    ax2.axhline(1.0, color="black", lw=0.8, ls="--")
    ax2.set_xticks(x, names)
    ax2.set_ylabel("speedup over autoregressive")
    ax2.set_title("speedup, same hardware")
    ax2.margins(y=0.15)
    return _save(fig, path)


def plot_step_breakdown(report: dict[str, Any], path: Path) -> Path:
    """Stacked mean step time by stage, speculative and autoregressive, per hardware."""
    hws = report["hardware"]
    labels, parts = [], []
    for h in hws:
        for tag, st in (("spec", h["step_time_s"]), ("AR", h["baseline_step_time_s"])):
            if st is None:
                continue
            labels.append(f"{h['hardware']}\n{tag}")
            parts.append(st)
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for stage, colour in STAGE_COLOURS.items():
        vals = np.array([p.get(stage, 0.0) * 1e3 for p in parts])
        ax.bar(x, vals, 0.6, bottom=bottom, color=colour, label=stage)
        bottom += vals
    for xi, top, p in zip(x, bottom, parts, strict=True):
        units_us = (p.get("tree", 0.0) + p.get("verify", 0.0)) * 1e6
        note = f"{top:.2f} ms" + (f"\ntree+verify {units_us:.3g} µs" if units_us else "")
        ax.annotate(note, (xi, top), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("mean time per decode step (ms)")
    ax.set_title("where a decode step's time goes")
    ax.legend(fontsize=8, ncols=4, loc="upper left")
    ax.margins(y=0.3)
    return _save(fig, path)


def plot_energy(report: dict[str, Any], path: Path) -> Path:
    """Stacked energy per token by component, speculative and autoregressive, per hardware."""
    results = report["results"]
    labels, parts = [], []
    for r in results:
        for tag, res in (("spec", r), ("AR", r.get("baseline"))):
            if res is None:
                continue
            labels.append(f"{r['hardware']}\n{tag}")
            parts.append(res["energy_per_token_j"])
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for comp, colour in ENERGY_COLOURS.items():
        vals = np.array([p.get(comp, 0.0) * 1e3 for p in parts])
        ax.bar(x, vals, 0.6, bottom=bottom, color=colour, label=comp)
        bottom += vals
    for xi, top in zip(x, bottom, strict=True):
        ax.annotate(f"{top:.1f}", (xi, top), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("energy per token (mJ)")
    ax.set_title("energy per committed token")
    ax.legend(fontsize=8, ncols=3, loc="upper left")
    ax.margins(y=0.2)
    return _save(fig, path)


def plot_accepted_histogram(report: dict[str, Any], path: Path) -> Path:
    """Distribution of accepted draft tokens per step (the workload's, same on all hardware)."""
    hist = np.asarray(report["results"][0]["accepted_histogram"], dtype=float)
    frac = hist / hist.sum() if hist.sum() else hist
    k = np.arange(hist.shape[0])
    mean_acc = float((k * frac).sum())
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.bar(k, frac, 0.8, color=SPEC_COLOUR)
    ax.axvline(mean_acc, color="black", ls="--", lw=1,
               label=f"mean accepted {mean_acc:.2f} (τ = {mean_acc + 1:.2f})")
    ax.set_xticks(k)
    ax.set_xlabel("accepted draft tokens in a step")
    ax.set_ylabel("fraction of steps")
    ax.set_title(f"acceptance, {report['workload'].get('preset', 'trace')}", fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_gantt(timeline: list[tuple[str, str, int, int, float, float]], path: Path, *,
               window: tuple[float, float] | None = None, title: str = "",
               max_stages: int = 4000) -> Path:
    """Gantt chart of a simulated timeline: one row per hardware unit, stages coloured
    by role, over a time `window` (seconds; default: the first `max_stages` stages)."""
    recs = sorted(timeline, key=lambda r: r[4])
    if window is None:
        if recs:
            window = (recs[0][4], recs[min(len(recs), max_stages) - 1][5])
        else:
            window = (0.0, 1.0)
    t0, t1 = window
    shown = [r for r in recs if r[5] > t0 and r[4] < t1]
    units = list(dict.fromkeys(r[1] for r in recs))
    scale, unit_label = (1e3, "ms") if (t1 - t0) < 10 else (1.0, "s")
    # stages shorter than 0.2 % of the window (tree/verify units: microseconds) are
    # drawn 0.2 % wide so they stay visible
    min_w = 0.002 * (t1 - t0) * scale
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.55 * max(len(units), 1)))
    colours = {**STAGE_COLOURS, "prefill": "#59a14f"}
    for role in colours:
        bars = [((max(a, t0) - t0) * scale, max((min(b, t1) - max(a, t0)) * scale, min_w))
                for rl, _, _, _, a, b in shown if rl == role]
        ys = [units.index(u) for rl, u, *_ in shown if rl == role]
        for y in sorted(set(ys)):
            ax.broken_barh([bar for bar, yy in zip(bars, ys, strict=True) if yy == y],
                           (y - 0.4, 0.8), facecolors=colours[role])
        if role != "prefill" or any(r[0] == "prefill" for r in shown):
            ax.bar(0, 0, color=colours[role], label=role)  # legend entry
    ax.set_yticks(range(len(units)))
    ax.set_yticklabels(units)
    ax.set_ylim(-0.6, len(units) + 0.2)   # room for the legend above the top row
    ax.set_xlim(0, (t1 - t0) * scale)
    ax.set_xlabel(f"time ({unit_label}) from t = {t0:.4g} s  (stages under 0.2 % of the "
                  "window drawn at that width)")
    ax.set_title(title or f"simulated timeline, {len(shown)} stages", fontsize=10)
    ax.legend(fontsize=8, ncol=len(colours), loc="upper right")
    return _save(fig, Path(path))


def write_run_plots(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """All plots of a run report into `out_dir`; returns the files written."""
    out_dir = Path(out_dir)
    return [
        plot_throughput(report, out_dir / "throughput.png"),
        plot_step_breakdown(report, out_dir / "step_breakdown.png"),
        plot_energy(report, out_dir / "energy_per_token.png"),
        plot_accepted_histogram(report, out_dir / "accepted_histogram.png"),
    ]
