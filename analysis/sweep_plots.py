"""PNG plots of a sweep's results table (matplotlib, Agg backend).

Each function takes the loaded results (:func:`~.results_store.load_results`), draws one
figure into `path` and returns the path -- or ``None`` when the table lacks the metrics
the plot needs (the report then says which).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from specaccel.analysis.pareto import pareto_mask  # noqa: E402
from specaccel.analysis.plots import ENERGY_COLOURS  # noqa: E402
from specaccel.schema.output_path import atomic_target  # noqa: E402

LABELS = {
    "tokens_per_s": "tokens / s", "energy_per_token_j": "energy per token (J)",
    "area_mm2": "area (mm²)", "power_w": "mean power (W)", "speedup": "speedup over AR",
    "mean_nodes_per_step": "tree budget (nodes per verify pass)",
}
HARDWARE_COLUMNS = ("hardware", "array_cores", "array_rows", "array_cols", "clock_hz",
                    "sram_mib", "hbm_stacks", "hbm_gbs_per_stack", "vector_lanes",
                    "dataflow", "node_nm", "peak_flops", "mem_bw_bytes_s")


def _label(m: str) -> str:
    return LABELS.get(m, m)


DPI = 100

#: Per written figure: the smallest font drawn (px at the figure's natural size) and how
#: many pixels the drawn artists reach past its edge (clipped), read by the HTML report.
FIGURE_TEXT: dict[str, tuple[float, int]] = {}


def _text_facts(fig) -> tuple[float, int]:
    """The smallest font drawn (px) and how many points the drawn artists reach past the
    figure's edge (0: nothing is clipped)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    sizes = [t.get_fontsize() * DPI / 72.0
             for t in fig.findobj(lambda a: hasattr(a, "get_fontsize")
                                  and hasattr(a, "get_text"))
             if t.get_visible() and str(t.get_text()).strip()]
    tight = fig.get_tightbbox(renderer)  # inches
    w, h = fig.get_size_inches()
    over = max(0.0, -tight.x0, -tight.y0, tight.x1 - w, tight.y1 - h) * DPI
    return (min(sizes) if sizes else 0.0), int(round(over))


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    FIGURE_TEXT[str(path)] = _text_facts(fig)
    try:
        with atomic_target(path) as tmp:  # never half a PNG at `path`
            fig.savefig(tmp, dpi=DPI, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def min_font_px(path: Path) -> float:
    """The smallest font of the figure written to `path`, in px at its natural size."""
    return FIGURE_TEXT.get(str(path), (0.0, 0))[0]


def clipped_text(path: Path) -> int:
    """How many pixels the figure written to `path` would need beyond its edge."""
    return FIGURE_TEXT.get(str(path), (0.0, 0))[1]


def short_label(df: pd.DataFrame, i, axes: Sequence[str], group: str | None) -> str:
    """A design's label: its axis values (and workload), short enough for a tick label."""
    parts = [f"{c}={df.at[i, c]}" for c in axes if c in df.columns]
    if group is not None:
        parts.insert(0, str(df.at[i, group]))
    text = ", ".join(parts) or str(df.at[i, "key"])[:8]
    return text if len(text) <= 40 else text[:39] + "…"


def _has(df: pd.DataFrame, cols: Sequence[str]) -> bool:
    return len(df) > 0 and all(c in df.columns for c in cols)


def plot_pareto(df: pd.DataFrame, objectives: Mapping[str, str], path: Path,
                feasible: np.ndarray | None = None, *, front: np.ndarray | None = None,
                group: str | None = None) -> Path | None:
    """Scatter of the first two objectives with the Pareto front marked.

    `front` is the front of the report (over all its objectives, per workload when
    `group` names the workload column), so the plot and the table agree.  With a third
    objective the points are coloured by it and the front's points are ringed (a 3-D
    front drawn in 2-D is not a line).  With `group`, each workload has its own marker
    and its own front.
    """
    names = list(objectives)
    if not _has(df, names[:2]):
        return None
    if front is None:
        front = pareto_mask(df, objectives)
    x = pd.to_numeric(df[names[0]], errors="coerce").to_numpy(float)
    y = pd.to_numeric(df[names[1]], errors="coerce").to_numpy(float)
    feas = np.ones(len(df), bool) if feasible is None else feasible
    groups = (list(dict.fromkeys(df[group].astype(str))) if group is not None else [None])
    markers = "osD^v<>p"
    fig, ax = plt.subplots(figsize=(7.2, 4.8))
    third = names[2] if len(names) > 2 and names[2] in df.columns else None
    cval = pd.to_numeric(df[third], errors="coerce").to_numpy(float) if third else None
    scatter = None
    for gi, g in enumerate(groups):
        in_g = np.ones(len(df), bool) if g is None else (df[group].astype(str) == g).to_numpy()
        m = markers[gi % len(markers)]
        tag = "" if g is None else f"{g}: "
        sel = in_g & feas
        if cval is not None:
            scatter = ax.scatter(x[sel], y[sel], s=18, c=cval[sel], cmap="viridis",
                                 marker=m, alpha=0.8, label=f"{tag}feasible")
        else:
            ax.scatter(x[sel], y[sel], s=14, marker=m, alpha=0.6,
                       color=f"C{gi}", label=f"{tag}feasible")
        if (in_g & ~feas).any():
            ax.scatter(x[in_g & ~feas], y[in_g & ~feas], s=14, marker=m, c="#bab0ac",
                       alpha=0.6, label=f"{tag}violates a constraint")
        f = in_g & front
        if third is None:
            order = np.argsort(x[f])
            ax.plot(x[f][order], y[f][order], "-", color=f"C{gi}" if g else "#e15759",
                    lw=1.2)
        ax.scatter(x[f], y[f], s=60, marker=m, facecolors="none",
                   edgecolors=f"C{gi}" if g else "#e15759", linewidths=1.4,
                   label=f"{tag}Pareto front ({int(f.sum())})")
    if scatter is not None:
        bar = fig.colorbar(scatter, ax=ax)
        bar.set_label(f"{_label(third)} ({objectives[third]})", fontsize=10)
    ax.set_xlabel(f"{_label(names[0])} ({objectives[names[0]]})")
    ax.set_ylabel(f"{_label(names[1])} ({objectives[names[1]]})")
    over = ", ".join(_label(n) for n in names)
    ax.set_title(f"design points; Pareto front over {over}"
                 + (" per workload" if group else ""), fontsize=10)
    ax.legend(fontsize=9)
    return _save(fig, path)


def plot_roofline(df: pd.DataFrame, path: Path) -> Path | None:
    """Each design's roofline (peak FLOP/s, HBM bandwidth) with its mean verify pass."""
    need = ("peak_flops", "mem_bw_bytes_s", "verify_pass_flops", "verify_pass_bytes",
            "verify_pass_s")
    if not _has(df, need):
        return None
    intensity = df["verify_pass_flops"] / df["verify_pass_bytes"]
    attained = df["verify_pass_flops"] / df["verify_pass_s"]
    roofs = df[["peak_flops", "mem_bw_bytes_s"]].drop_duplicates()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    lo = max(float(intensity.min()) / 4, 1e-2)
    hi = max(float(intensity.max()) * 4, float((roofs["peak_flops"]
                                                / roofs["mem_bw_bytes_s"]).max()) * 4)
    xs = np.logspace(np.log10(lo), np.log10(hi), 200)
    for i, (_, r) in enumerate(roofs.head(12).iterrows()):
        ax.plot(xs, np.minimum(r["peak_flops"], r["mem_bw_bytes_s"] * xs), lw=0.8,
                color="#bab0ac", label="rooflines" if i == 0 else None)
    ax.scatter(intensity, attained, s=12, c="#4e79a7", alpha=0.7,
               label="verify pass (mean tree, mean context)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / HBM byte)")
    ax.set_ylabel("attained FLOP / s")
    ax.set_title("roofline of the design points")
    ax.legend(fontsize=8)
    return _save(fig, path)


def hardware_label(df: pd.DataFrame, axes: Sequence[str]) -> pd.Series:
    """A label per row naming its hardware by the swept hardware parameters."""
    cols = [c for c in axes if c in HARDWARE_COLUMNS and c in df.columns]
    if not cols:
        return pd.Series(["hardware"] * len(df), index=df.index)
    return df[cols].astype(str).apply(
        lambda r: ", ".join(f"{c}={v}" for c, v in zip(cols, r, strict=True)), axis=1)


def _tree_family(tree: str) -> str:
    for fam in ("sequoia", "chain"):
        if str(tree).startswith(fam):
            return fam
    return "other trees"


def plot_speedup_vs_tree(df: pd.DataFrame, axes: Sequence[str], path: Path) -> Path | None:
    """Speedup against tree budget (nodes per verify pass), one colour per hardware and
    one line style per tree family (means over the other axes)."""
    if not _has(df, ("speedup", "mean_nodes_per_step")):
        return None
    family = df["tree"].map(_tree_family) if "tree" in df.columns else \
        pd.Series("", index=df.index)
    d = pd.DataFrame({"hw": hardware_label(df, axes), "family": family,
                      "nodes": df["mean_nodes_per_step"],
                      "speedup": pd.to_numeric(df["speedup"], errors="coerce")}).dropna()
    if d.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    hws = sorted(d["hw"].unique())
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = {"sequoia": "-o", "chain": "--s", "other trees": ":^", "": "-o"}
    for i, hw in enumerate(hws[:10]):
        for fam, g in d[d["hw"] == hw].groupby("family", sort=True):
            m = g.groupby("nodes")["speedup"].mean()
            label = hw if d["family"].nunique() == 1 else f"{hw} · {fam}"
            ax.plot(m.index, m.values, styles.get(fam, "-o"), ms=4,
                    color=colours[i % len(colours)], label=label)
    ax.axhline(1.0, color="black", lw=0.8, ls="--")
    ax.set_xlabel(_label("mean_nodes_per_step"))
    ax.set_ylabel(_label("speedup"))
    title = "speedup vs tree budget per hardware"
    if len(hws) > 10:
        title += f" (first 10 of {len(hws)})"
    ax.set_title(title)
    ax.legend(fontsize=9)
    return _save(fig, path)


def plot_accepted_histograms(df: pd.DataFrame, path: Path) -> Path | None:
    """Distribution of accepted drafts per step, per workload (and tree)."""
    if not _has(df, ("accepted_histogram",)):
        return None
    group_cols = [c for c in ("workload", "tree", "steps") if c in df.columns]
    labels = df[group_cols].astype(str).agg(" / ".join, axis=1) if group_cols else \
        pd.Series(["all"] * len(df), index=df.index)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    shown = 0
    for name in sorted(labels.unique())[:6]:
        # The acceptance outcome depends on the trace only: every hardware point of a
        # workload has the same histogram, so the first one stands for the group.
        h = np.asarray(df.loc[labels == name, "accepted_histogram"].iloc[0], dtype=float)
        if h.sum() <= 0:
            continue
        k = np.arange(len(h))
        ax.plot(k, h / h.sum(), "-o", ms=4, label=name)
        shown += 1
    if shown == 0:
        plt.close(fig)
        return None
    ax.set_xlabel("accepted drafts in a step")
    ax.set_ylabel("fraction of steps")
    ax.set_title("accepted-length histograms")
    ax.legend(fontsize=9)
    return _save(fig, path)


def plot_energy_breakdown(df: pd.DataFrame, path: Path, *, rows: pd.Index | None = None,
                          labels: Sequence[str] | None = None) -> Path | None:
    """Stacked energy per token (draft, target, static) of selected designs."""
    parts = ("energy_per_token_draft_j", "energy_per_token_target_j",
             "energy_per_token_static_j")
    if not _has(df, parts):
        return None
    sel = df if rows is None else df.loc[rows]
    sel = sel.head(16)
    if sel.empty:
        return None
    names = list(labels)[:len(sel)] if labels is not None else [str(k)[:8] for k in sel["key"]]
    fig, ax = plt.subplots(figsize=(max(6.4, 0.6 * len(sel) + 3), 5.2))
    bottom = np.zeros(len(sel))
    x = np.arange(len(sel))
    for part, comp in zip(parts, ("draft", "target", "static"), strict=True):
        v = sel[part].to_numpy(float) * 1e3
        ax.bar(x, v, 0.6, bottom=bottom, color=ENERGY_COLOURS[comp], label=comp)
        bottom += v
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=9)
    ax.set_ylabel("energy per token (mJ)")
    ax.set_title("energy breakdown")
    ax.legend(fontsize=8)
    return _save(fig, path)
