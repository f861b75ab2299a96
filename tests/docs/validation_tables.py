"""The end-to-end validation table of docs/validation.md, computed from the code.

For every workload preset: generate its trace (fixed size and seed), let the golden model
compute tokens per step, replay it on the A100-80GB preset against autoregressive decoding,
and put both next to the published figures the preset is named after.  The doc's table is
this function's output; tests/docs/test_doc_rot.py recomputes it and compares.  Print it::

    .venv/bin/python tests/docs/validation_tables.py

`cost_validation_markdown` and `gemm_efficiency_markdown` are docs/cost-model.md's
kernels/passes validation block and GEMM-efficiency table (``--write`` refreshes both in
place and redraws docs/gemm-efficiency.png).
"""

from __future__ import annotations

import math
import sys

N_REQUESTS = 8
STEPS_PER_REQUEST = 64
SEED = 0
HARDWARE = "a100-80gb"


def preset_rows() -> list[dict[str, object]]:
    """One row per workload preset: published vs generated tau, published vs simulated speedup."""
    from specaccel.models.golden import verify_trace
    from specaccel.sim import simulate_named
    from specaccel.workloads import generate_trace, get_preset, list_presets

    rows = []
    for name in list_presets():
        preset = get_preset(name)
        trace = generate_trace(name, n_requests=N_REQUESTS, steps_per_request=STEPS_PER_REQUEST,
                               seed=SEED)
        tau = float(verify_trace(trace).committed.mean())
        sim = simulate_named(trace, HARDWARE, engine="fast")
        raw = preset.source.get("speedup", "")
        published_speedup = float(raw) if raw not in ("", None) else math.nan
        rows.append({
            "preset": name,
            "source": preset.source.get("source", ""),
            "published_tau": preset.published_tau,
            "tau": tau,
            "published_speedup": published_speedup,
            "speedup": float(sim.speedup),
        })
    return rows


def _fmt(x: float, digits: int = 2) -> str:
    return "–" if math.isnan(x) else f"{x:.{digits}f}"


def preset_table_markdown(rows: list[dict[str, object]]) -> str:
    """The markdown table of :func:`preset_rows` (the doc carries exactly this text)."""
    out = ["| preset | source | τ published | τ generated | τ error | speedup published "
           "| speedup simulated | speedup error |",
           "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tau_err = (r["tau"] - r["published_tau"]) / r["published_tau"]
        sp_err = (r["speedup"] - r["published_speedup"]) / r["published_speedup"]
        out.append(f"| `{r['preset']}` | {r['source']} | {_fmt(r['published_tau'])} | "
                   f"{_fmt(r['tau'], 3)} | {tau_err:+.1%} | {_fmt(r['published_speedup'])} | "
                   f"{_fmt(r['speedup'], 3)} | "
                   f"{'–' if math.isnan(sp_err) else f'{sp_err:+.1%}'} |")
    return "\n".join(out)


def cost_validation_markdown() -> str:
    """docs/cost-model.md's kernels/passes validation block (between its
    ``kernel-validation`` markers): one row per CSV row, then the prediction rows' median
    and worst |error|."""
    from specaccel.models.cost.validation_table import validation_table

    t = validation_table()
    out = ["| setup | hw | model | phase | B | role | measured | predicted | error |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in t["rows"]:
        unit = {"tokens/s": "tok/s", "ms/step": "ms", "ms": "ms"}[r["unit"]]
        phase = r["phase"] + (f" {r['context']}" if r["phase"] != "decode" else "")
        if r["phase"] == "generate":
            phase = f"generate {r['context']}/{r['output']}"
        out.append(f"| {r['setup']} | {r['hardware']} | {r['model']} {r['precision']} | "
                   f"{phase} | {r['batch']} | {r['role']} | {r['measured']:g} {unit} | "
                   f"{r['predicted']:.4g} | {r['error'] * 100:+.1f} % |")
    out += ["", f"Prediction rows ({t['prediction_rows']}): median |error| "
            f"{t['median_abs_error'] * 100:.1f} %, worst {t['worst_abs_error'] * 100:.1f} %."]
    return "\n".join(out)


#: Devices and row counts of docs/cost-model.md's GEMM-efficiency table.
GEMM_DEVICES = ("a100-80gb", "h100-sxm", "h200", "l4", "l40")
GEMM_ROWS = (1, 16, 64, 128, 256, 512, 1024, 4096)


def gemm_efficiency_markdown() -> str:
    """docs/cost-model.md's GEMM-efficiency block: % of dense peak of one bf16
    ``M x 4096 x 4096`` GEMM per row count, and the % of peak DRAM bandwidth a batch-1 GEMM
    of two Llama-2-7B shapes streams at."""
    from specaccel.models.cost import get_hardware
    from specaccel.models.cost.gpu_kernels import gemm_efficiency, gemm_time

    head = " | ".join(f"M={m}" if i == 0 else str(m) for i, m in enumerate(GEMM_ROWS))
    out = [f"| device | {head} | M=1, 4096x4096 | M=1, 4096x22016 |",
           "| --- |" + " --- |" * (len(GEMM_ROWS) + 2)]
    for name in GEMM_DEVICES:
        hw = get_hardware(name)
        eff = [gemm_efficiency(hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, m, 4096, 4096)
               for m in GEMM_ROWS]
        bw = []
        for n in (4096, 22016):
            nbytes = 4096 * n * 2 + 2 * (4096 + n)
            t = gemm_time(hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, 1, n, 4096, 1.0,
                          nbytes).seconds
            bw.append(nbytes / t / hw.mem_bw_bytes_s)
        out.append(f"| {name} | " + " | ".join(f"{e * 100:.1f}" for e in eff) + " | "
                   + " | ".join(f"{b * 100:.0f} %" for b in bw) + " |")
    return "\n".join(out)


def plot_gemm_efficiency(path: str) -> None:
    """The GEMM-efficiency curves (M from 1 to 8192, N = K = 4096) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from specaccel.models.cost import get_hardware
    from specaccel.models.cost.gpu_kernels import gemm_efficiency

    rows = np.unique(np.round(np.logspace(0, 13, 200, base=2))).astype(int)
    fig, ax = plt.subplots(figsize=(7, 4))
    for name in GEMM_DEVICES:
        hw = get_hardware(name)
        eff = [gemm_efficiency(hw.peak_flops, hw.mem_bw_bytes_s, hw.gpu, m, 4096, 4096)
               for m in rows]
        ax.plot(rows, np.array(eff) * 100, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("M (rows: batch x tokens)")
    ax.set_ylabel("% of dense bf16 peak")
    ax.set_title("One M x 4096 x 4096 GEMM, GPU kernel model")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def replace_block(text: str, name: str, body: str) -> str:
    """`text` with the lines between ``<!-- name ... -->`` and ``<!-- /name -->`` set to
    `body`."""
    head, rest = text.split(f"<!-- {name}", 1)
    opening, rest = rest.split("-->", 1)
    _, tail = rest.split(f"<!-- /{name} -->", 1)
    return f"{head}<!-- {name}{opening}-->\n{body}\n<!-- /{name} -->{tail}"


def block(text: str, name: str) -> str:
    """The lines between the ``name`` markers of `text`."""
    rest = text.split(f"<!-- {name}", 1)[1].split("-->", 1)[1]
    return rest.split(f"<!-- /{name} -->", 1)[0].strip()


if __name__ == "__main__":
    print(preset_table_markdown(preset_rows()))
    print()
    print(cost_validation_markdown())
    if "--write" in sys.argv:  # refresh docs/cost-model.md's block in place
        from pathlib import Path

        docs = Path(__file__).resolve().parents[2] / "docs"
        text = replace_block((docs / "cost-model.md").read_text(), "kernel-validation",
                             cost_validation_markdown())
        text = replace_block(text, "gemm-efficiency", gemm_efficiency_markdown())
        (docs / "cost-model.md").write_text(text)
        plot_gemm_efficiency(str(docs / "gemm-efficiency.png"))
    sys.exit(0)
