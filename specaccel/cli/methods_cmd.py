"""`specaccel methods`: the decoding methods and their workload presets, from the one
method registry (:data:`specaccel.workloads.methods.METHODS`)."""

from __future__ import annotations

import argparse
from typing import Any

from specaccel.cli.output import emit, table
from specaccel.schema.errors import InputError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "methods",
        help="list the decoding methods and their presets (sources, tau)",
        description="List every decoding method (its drafting mode and tree policy) and "
                    "its workload presets: kind (calibrated to a published tau, recorded on "
                    "real text, or modelled), the published tau, the tau its model expects "
                    "where that is known without a run, and the source.  Any preset goes to "
                    "'trace gen --preset', 'run --preset' and a sweep's [[workloads]]; "
                    "'trace gen --method M' uses the method's first preset.",
    )
    p.add_argument("method", nargs="?", metavar="METHOD",
                   help="show this method only")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return list_methods(args.json, args.method)


def listing(only: str | None = None) -> dict[str, Any]:
    """Every method (or `only`) with its presets' summaries."""
    from specaccel.workloads.methods import METHODS, get_method

    methods = [get_method(only)] if only else [m for _, m in METHODS.items()]
    out = []
    for m in methods:
        entry = m.describe()
        entry["presets"] = [_summary(p) for p in m.presets()]
        out.append(entry)
    return {"methods": out}


def _summary(preset: Any) -> dict[str, Any]:
    row = preset.summary() if preset.kind == "modelled" else {
        **preset.summary(), "model_tau": None}
    row.pop("method", None)
    return row


def list_methods(as_json: bool, only: str | None = None) -> int:
    if only is not None and not only.strip():
        raise InputError("an empty method name; give none to list every method",
                         field="method")
    emit(as_json, listing(only), _human)
    return 0


def _human(result: dict[str, Any]) -> str:
    blocks = []
    for m in result["methods"]:
        head = (f"{m['method']} — {m['description']}\n  drafting {m['drafting']}; "
                f"tree: {m['tree_policy']}\n  sources: {'; '.join(m['sources'])}")
        rows = [[p["preset"], p["kind"], _num(p["published_tau"]), _num(p["model_tau"]),
                 _num(p["published_speedup"]), p["source"] or "-"] for p in m["presets"]]
        body = table(rows, ["preset", "kind", "tau published", "tau model",
                            "speedup published", "source"]) if rows else "  (no preset yet)"
        blocks.append(head + "\n" + body)
    return "\n\n".join(blocks)


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"
