"""The generated blocks of docs/validation.md and docs/cost-model.md, computed from the code.

docs/validation.md:

* ``validate-report``: the sections of `specaccel validate`
  (:func:`specaccel.analysis.validation_report.validation_report`, as Markdown);
* ``stack-table``: the software stacks of the registry with their physical terms;
* docs/validation.png, every row's error (`specaccel validate --plot`), which carries
  the digest of the rows it was drawn from.

docs/cost-model.md: `cost_validation_markdown` (the kernels/passes block) and
`gemm_efficiency_markdown` (the GEMM-efficiency table; docs/gemm-efficiency.png).

tests/docs/test_doc_rot.py recomputes every block and compares.  Print them, or refresh
the pages in place::

    .venv/bin/python tests/docs/validation_tables.py [--write]
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


@cache
def report() -> dict:
    """`specaccel validate`'s report, computed once per process."""
    from specaccel.analysis.validation_report import validation_report

    return validation_report()


def report_markdown() -> str:
    from specaccel.analysis.validation_report import report_markdown

    return report_markdown(report()).strip()


#: The figure of every row's error that docs/validation.md shows.
FIGURE = DOCS / "validation.png"


def figure_digest(path: Path = FIGURE) -> str | None:
    """The rows digest a stored figure was drawn from (its PNG ``Description``)."""
    from PIL import Image

    with Image.open(path) as img:
        text = img.text.get("Description", "")
    return text.removeprefix("rows sha256 ") or None


def _commit(stack) -> str:
    """A layer-by-layer KV commit's operations, as they add to the verify ops."""
    if not (stack.commit_layer_ops or stack.commit_token_ops):
        return ""
    return (f" + per layer {stack.commit_layer_ops} and {stack.commit_token_ops} per "
            "accepted token")


def _cpu(stack) -> str:
    """Host work on CPU tensors while the tree is built, as it adds to the tree ops."""
    if not (stack.tree_cpu_ops or stack.tree_node_cpu_ops):
        return ""
    return (f" (and on CPU tensors {stack.tree_cpu_ops} + {stack.tree_node_cpu_ops} per "
            f"drafted node, {stack.cpu_op_s * 1e6:.2g} µs each)")


def stack_table_markdown() -> str:
    """One row per software stack: its physical terms (per-op and per-kernel times in
    microseconds)."""
    from specaccel.models.cost.software_stack import STACKS

    out = ["| stack | host per op (µs) | CUDA graphs | "
           "kernels per layer | per pass | attention | element-wise | KV cache | loop ops "
           "per step (tree + verify; plain) | syncs per step (spec; plain; per draft pass) "
           "| host per request (ms) | fitted |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in STACKS.values():
        graphs = (f"yes ({s.graph_launch_s * 1e6:g} µs a replay)" if s.cuda_graphs
                  else "no")
        out.append(
            f"| `{s.name}` | {s.host_op_s * 1e6:.4g} | {graphs} | "
            f"{s.layer_kernels} | {s.pass_kernels} | "
            f"{s.attention} | {s.elementwise} | {s.kv_cache} | "
            f"{s.tree_ops}{_cpu(s)} + {s.verify_ops}{_commit(s)}; "
            f"{s.ar_step_ops} | {s.spec_step_syncs}; {s.ar_step_syncs}; "
            f"{s.draft_pass_syncs} | {s.request_host_s * 1e3:.3g} | "
            f"{', '.join(s.fitted) or '–'} |")
    return "\n".join(out)


#: The generated blocks of docs/validation.md.
MAKERS = {"validate-report": report_markdown, "stack-table": stack_table_markdown}


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
GEMM_DEVICES = ("a100-80gb", "h100-sxm", "h200", "l4", "l40", "a40", "a10", "rtx-3090",
                "rtx-4090")
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
    if "--write" in sys.argv:  # refresh the pages' blocks in place
        text = (DOCS / "validation.md").read_text()
        for name, make in MAKERS.items():
            text = replace_block(text, name, make())
        (DOCS / "validation.md").write_text(text)
        from specaccel.analysis.validation_plot import plot_validation

        plot_validation(report(), FIGURE)
        text = replace_block((DOCS / "cost-model.md").read_text(), "kernel-validation",
                             cost_validation_markdown())
        text = replace_block(text, "gemm-efficiency", gemm_efficiency_markdown())
        (DOCS / "cost-model.md").write_text(text)
        plot_gemm_efficiency(str(DOCS / "gemm-efficiency.png"))
    else:
        for make in (*MAKERS.values(), cost_validation_markdown, gemm_efficiency_markdown):
            print(make())
            print()
    sys.exit(0)
