"""The array-vs-SCALE-Sim block of docs/cost-model.md, computed from the stored table.

The block between ``<!-- array-scalesim ... -->`` and ``<!-- /array-scalesim -->`` is
exactly `block()`: the grid, how its rows were run, the errors per dataflow and a few
rows (`specaccel.models.cost.array_validation`).  tests/docs/test_array_tables.py
compares; after regenerating the stored table or changing the array model, rewrite it
with::

    .venv/bin/python tests/docs/array_tables.py
"""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "cost-model.md"
MARKER = "array-scalesim"
#: Rows shown one by one: (label, rows, cols) in every dataflow.
EXAMPLES = (("decode 7B o_proj", 64, 64), ("verify 64, 7B o_proj", 64, 64),
            ("prefill 512, 7B o_proj", 64, 64), ("odd 37 x 2500 x 1500", 128, 128))


def _pct(x: float) -> str:
    return f"{x * 100:.4f} %"


def block() -> str:
    from specaccel.models.cost.array_validation import (
        array_validation_rows,
        array_validation_summary,
    )
    from specaccel.models.cost.systolic_array import DATAFLOWS

    rows = array_validation_rows()
    summary = array_validation_summary(rows)
    gemms = sorted({(r["m"], r["n"], r["k"]) for r in rows})
    arrays = sorted({(r["rows"], r["cols"]) for r in rows})
    whole = sum(r["run"] == "whole" for r in rows)
    lines = [
        f"Grid: {len(gemms)} GEMMs (M {min(g[0] for g in gemms)}–"
        f"{max(g[0] for g in gemms)}, N {min(g[1] for g in gemms)}–"
        f"{max(g[1] for g in gemms)}, K {min(g[2] for g in gemms)}–"
        f"{max(g[2] for g in gemms)}) x arrays "
        + ", ".join(f"{a}x{b}" for a, b in arrays)
        + f" x {len(DATAFLOWS)} dataflows = {len(rows)} rows, SCALE-Sim "
        + ", ".join(summary["scalesim_versions"])
        + f"; {whole} run whole, {len(rows) - whole} fold-sampled.",
        "",
        "| dataflow | rows | median abs. error | worst abs. error |",
        "| --- | --- | --- | --- |",
    ]
    for df in (*DATAFLOWS, "all"):
        s = summary[df]
        lines.append(f"| {df} | {s['rows']} | {_pct(s['median_abs_error'])} | "
                     f"{_pct(s['worst_abs_error'])} |")
    lines += ["", "| GEMM (M x N x K) | array | dataflow | SCALE-Sim cycles | model cycles "
              "| error |", "| --- | --- | --- | --- | --- | --- |"]
    for label, a, b in EXAMPLES:
        for r in rows:
            if r["label"] == label and (r["rows"], r["cols"]) == (a, b):
                lines.append(
                    f"| {label}: {r['m']} x {r['n']} x {r['k']} | {a}x{b} | {r['dataflow']} | "
                    f"{r['scalesim_cycles']:,.0f} | {r['specaccel_cycles']:,.0f} | "
                    f"{r['error'] * 100:+.4f} % |")
    lines += ["", "The model counts cycles; SCALE-Sim prints the index of the last one, so "
              "every error is one cycle in the model's direction."]
    return "\n".join(lines)


def current() -> str:
    text = DOC.read_text()
    return text.split(f"<!-- {MARKER}", 1)[1].split("-->", 1)[1].split(
        f"<!-- /{MARKER} -->", 1)[0].strip()


def refresh() -> bool:
    want = block()
    if current() == want:
        return False
    text = DOC.read_text()
    head, rest = text.split(f"<!-- {MARKER}", 1)
    comment, rest = rest.split("-->", 1)
    _, tail = rest.split(f"<!-- /{MARKER} -->", 1)
    DOC.write_text(f"{head}<!-- {MARKER}{comment}-->\n{want}\n<!-- /{MARKER} -->{tail}")
    return True


if __name__ == "__main__":
    print("rewrote the array-scalesim block" if refresh() else "array-scalesim block current")
