"""One PNG of `specaccel validate`: every row's error, a panel per section (two for the
end-to-end section).

Each row is a point at its signed error (model minus measurement, in per cent of the
measurement), rows listed by name; calibration rows are hollow (a parameter was fitted
to them, so their error says nothing), predictions filled, coloured by source where a
section has sources (the end-to-end section: the Spec-Bench leaderboard or the methods'
own papers).  Shaded bands mark ±5 % and ±10 %.  The array section, hundreds of rows,
is a histogram of its errors; the GEMM section plots each row's error against its
tokens (excluded rows hollow), the operators section too, a colour and marker per GPU,
each GPU's points set a little apart along the tokens axis.  Below the end-to-end strip
a second panel plots each of its rows' error against the share of the simulated step
the GPU sets (its ``gpu_share``): the rows to the right of the dashed line are
GPU-bound.  The tasks section plots each row's error above its Spec-Bench task, a
colour per method and a marker per GPU.  The rows the
plot draws are hashed into the PNG's
``Description`` text so that a stored figure can be checked against the report.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from specaccel.analysis.validation_report import (  # noqa: E402
    GPU_BOUND_SHARE,
    SPEC_BENCH_SOURCE,
)
from specaccel.schema.output_path import atomic_target  # noqa: E402

#: Colours of the predictions by source (end-to-end) and of every other prediction.
SOURCE_COLOURS = {SPEC_BENCH_SOURCE: "#e15759", "": "#4e79a7"}
#: Height of one listed row, inches.
ROW_INCHES = 0.17


def _group(row: dict[str, Any]) -> str:
    if row["section"] != "end-to-end":
        return ""
    return SPEC_BENCH_SOURCE if str(row.get("source", "")).startswith(SPEC_BENCH_SOURCE) else ""


def plotted_rows(report: dict[str, Any]) -> list[tuple[str, str, str, float]]:
    """``(section, id, role, error %)`` of every row with an error, the error to the
    0.1 % the tables print (what a figure shows, and stable across machines)."""
    return [(sec["name"], str(r["id"]), r["role"], round(100.0 * r["error"], 1))
            for sec in report["sections"] for r in sec["rows"]
            if r.get("error") is not None]


def plotted_shares(report: dict[str, Any]) -> list[tuple[str, float]]:
    """``(id, GPU share %)`` of every row the GPU-share panel draws, to 0.1 %."""
    return [(str(r["id"]), round(100.0 * r["gpu_share"], 1))
            for sec in report["sections"] for r in sec["rows"]
            if r.get("error") is not None and r.get("gpu_share") is not None]


def rows_digest(report: dict[str, Any]) -> str:
    """SHA-256 of `plotted_rows` and, when a panel draws them, `plotted_shares` (what a
    stored figure was drawn from)."""
    shares = plotted_shares(report)
    drawn: Any = [plotted_rows(report), shares] if shares else plotted_rows(report)
    text = json.dumps(drawn, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _strip(ax, sec: dict[str, Any]) -> None:
    rows = [r for r in sec["rows"] if r.get("error") is not None]
    rows.sort(key=lambda r: r["error"])
    y = range(len(rows))
    ax.axvspan(-10, 10, color="#eeeeee", zorder=0)
    ax.axvspan(-5, 5, color="#dddddd", zorder=0)
    ax.axvline(0, color="#888888", lw=0.8, zorder=1)
    for i, r in zip(y, rows, strict=True):
        colour = SOURCE_COLOURS[_group(r)]
        hollow = r["role"] != "prediction"
        ax.plot(100.0 * r["error"], i, "o", ms=4.5, zorder=2, mec=colour,
                mfc="white" if hollow else colour)
    ax.set_yticks(list(y), [str(r["id"]) for r in rows], fontsize=6)
    ax.set_ylim(-0.8, len(rows) - 0.2)
    worst = max((abs(100.0 * r["error"]) for r in rows), default=10.0)
    lim = max(12.0, 1.1 * worst)
    ax.set_xlim(-lim, lim)
    ax.set_xlabel("model − measured (% of measured)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)


def _histogram(ax, sec: dict[str, Any]) -> None:
    errors = [100.0 * r["error"] for r in sec["rows"] if r.get("error") is not None]
    ax.hist(errors, bins=40, color=SOURCE_COLOURS[""])
    ax.set_xlabel("model − SCALE-Sim (% of SCALE-Sim cycles)", fontsize=8)
    ax.set_ylabel("rows", fontsize=8)
    ax.tick_params(labelsize=7)


def _error_bands(ax) -> None:
    """The ±10 % and ±5 % bands and the zero line of a panel with the error upwards."""
    ax.axhspan(-10, 10, color="#eeeeee", zorder=0)
    ax.axhspan(-5, 5, color="#dddddd", zorder=0)
    ax.axhline(0, color="#888888", lw=0.8, zorder=1)


def _versus_tokens(ax, sec: dict[str, Any]) -> None:
    """The GEMM section: error against tokens, a colour and marker per device (the
    style of the operators panel), rows that are not predictions hollow."""
    _error_bands(ax)
    shown: set[str] = set()
    for r in sec["rows"]:
        if r.get("error") is None:
            continue
        hw = r.get("hardware", "")
        colour, marker, shift = HARDWARE_STYLE.get(hw, (SOURCE_COLOURS[""], "o", 1.0))
        ax.plot(r["m"] * shift, 100.0 * r["error"], marker, ms=4, zorder=2, mec=colour,
                mfc="white" if r["role"] != "prediction" else colour,
                label=hw if hw and hw not in shown else None)
        shown.add(hw)
    if shown - {""}:
        ax.legend(fontsize=7, loc="upper left")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("tokens (GEMM rows M)", fontsize=8)
    ax.set_ylabel("model − measured (%)", fontsize=8)
    ax.tick_params(labelsize=7)


#: Colour, marker and offset along the tokens axis (a factor) of each device in the
#: operators panel: the two devices' points of one token count sit side by side.
HARDWARE_STYLE = {"a100-80gb": ("#59a14f", "s", 0.9), "h100-sxm": ("#f28e2b", "^", 1.0),
                  "a40": ("#b07aa1", "D", 1.1), "a10": ("#9c755f", "v", 1.1)}


def _operators_versus_tokens(ax, sec: dict[str, Any]) -> None:
    """The operators section: error against tokens, a colour per device."""
    _error_bands(ax)
    for hw, (colour, marker, shift) in HARDWARE_STYLE.items():
        rows = [r for r in sec["rows"] if r.get("hardware") == hw and r.get("error") is not None]
        if not rows:
            continue
        ax.plot([r["m"] * shift for r in rows], [100.0 * r["error"] for r in rows], marker,
                ms=3.5, ls="", alpha=0.7, color=colour, label=hw, zorder=2)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("tokens (GEMM rows M)", fontsize=8)
    ax.set_ylabel("model − measured (%)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    ax.tick_params(labelsize=7)


def _versus_gpu_share(ax, sec: dict[str, Any]) -> None:
    _error_bands(ax)
    ax.axvline(100.0 * GPU_BOUND_SHARE, color="#888888", lw=0.8, ls="--", zorder=1)
    for r in sec["rows"]:
        if r.get("error") is None or r.get("gpu_share") is None:
            continue
        colour = SOURCE_COLOURS[_group(r)]
        ax.plot(100.0 * r["gpu_share"], 100.0 * r["error"], "o", ms=4.5, zorder=2,
                mec=colour, mfc="white" if r["role"] != "prediction" else colour)
    ax.set_xlabel("share of the simulated step the GPU sets (%; right of the dashed line: "
                  "GPU-bound)", fontsize=8)
    ax.set_ylabel("model − measured (%)", fontsize=8)
    ax.tick_params(labelsize=7)


#: Colour of each method's rows in the tasks panel, and the offset along the task axis
#: of each preset's points (by hardware and target).
TASK_COLOURS = {"eagle": "#4e79a7", "speculative-sampling": "#f28e2b"}
TASK_OFFSETS = {"7b": -0.2, "13b": 0.0, "33b": 0.2}
TASK_MARKERS = {"a100-80gb": "o", "rtx-3090": "s"}


def _versus_task(ax, sec: dict[str, Any]) -> None:
    """The tasks section: each row's error above its task, a colour per method, a marker
    per GPU, the target sizes side by side."""
    _error_bands(ax)
    tasks = list(dict.fromkeys(r["task"] for r in sec["rows"]))
    shown: set[str] = set()
    for r in sec["rows"]:
        if r.get("error") is None:
            continue
        method = next((m for m in TASK_COLOURS if r["preset"].startswith(m + "-vicuna")), "")
        size = next((s for s in TASK_OFFSETS if f"-{s}" in r["preset"]), "13b")
        hw = r.get("hardware", "")
        label = f"{method} on {hw}"
        colour = TASK_COLOURS.get(method, SOURCE_COLOURS[""])
        ax.plot(tasks.index(r["task"]) + TASK_OFFSETS[size], 100.0 * r["error"],
                TASK_MARKERS.get(hw, "D"), ms=4.5, zorder=2, mec=colour,
                mfc=colour if r["role"] == "prediction" else "white",
                label=None if label in shown else label)
        shown.add(label)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi + 0.5 * (hi - lo))  # room for the legend above the points
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_xlabel("task (on each: 7B, 13B, 33B left to right)", fontsize=8)
    ax.set_ylabel("model − measured (%)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax.tick_params(labelsize=7)


#: Height of the end-to-end panel of error against the GPU's share of the step.
GPU_SHARE_INCHES = 2.6

#: How a section is drawn when not as a strip of named rows, and its panel height.
_PANELS = {"array": (_histogram, 2.2), "gemm": (_versus_tokens, 3.0),
           "operators": (_operators_versus_tokens, 3.0), "tasks": (_versus_task, 2.8)}


def _title(sec: dict[str, Any]) -> str:
    s = sec["summary"]
    if s["median_abs_error"] is None:
        return sec["title"]
    return (f"{sec['title']}\n{s['prediction_rows']} predictions: median "
            f"{100 * s['median_abs_error']:.1f} %, worst {100 * s['worst_abs_error']:.1f} %")


def plot_validation(report: dict[str, Any], path: Path) -> Path:
    """Draw `report` (:func:`~.validation_report.validation_report`) to the PNG `path`."""
    panels: list[tuple[Any, dict[str, Any], str, float]] = []
    for sec in (s for s in report["sections"] if s["rows"]):
        draw, height = _PANELS.get(sec["name"], (_strip, 0.0))
        if sec["name"] not in _PANELS:
            height = 1.0 + ROW_INCHES * sum(r.get("error") is not None for r in sec["rows"])
        panels.append((draw, sec, _title(sec), height))
        if any(r.get("gpu_share") is not None for r in sec["rows"]):
            panels.append((_versus_gpu_share, sec, "End to end: error against the GPU's "
                           "share of the step", GPU_SHARE_INCHES))
    heights = [p[3] for p in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8.5, sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    for ax, (draw, sec, title, _) in zip(axes[:, 0], panels, strict=True):
        draw(ax, sec)
        ax.set_title(title, fontsize=9, loc="left")
    handles = [plt.Line2D([], [], ls="", marker="o", mfc=c, mec=c, label=lab)
               for lab, c in (("prediction", SOURCE_COLOURS[""]),
                              ("prediction, Spec-Bench leaderboard",
                               SOURCE_COLOURS[SPEC_BENCH_SOURCE]))]
    handles.append(plt.Line2D([], [], ls="", marker="o", mfc="white", mec="#555555",
                              label="calibration, reference or excluded (not a prediction)"))
    fig.legend(handles=handles, loc="upper right", fontsize=7, ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (sum(heights) + 0.6)))
    try:
        with atomic_target(path, option="--plot") as tmp:  # never half a PNG at `path`
            fig.savefig(tmp, dpi=100, format="png",
                        metadata={"Description": "rows sha256 " + rows_digest(report)})
    finally:
        plt.close(fig)
    return Path(path)
