"""`specaccel validate`: the cost model against the published measurements."""

from __future__ import annotations

import argparse
from typing import Any

from specaccel.cli.output import emit, table
from specaccel.models.cost.validation_table import validation_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="the cost model's validation table against published measurements",
        description=(
            "Predict every row of the bundled decode/prefill measurements "
            "(specaccel/data/decode-measurements.csv) with the preset efficiency factors, "
            "print prediction, measurement and signed error, and exit 1 when any row is "
            "outside its tolerance (roofline 3 %, single-device decode 15 %, others 20 %)."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = validation_table()
    emit(args.json, result, _human)
    return 0 if result["all_within_tolerance"] else 1


def _human(r: dict[str, Any]) -> str:
    rows = [[x["setup"], x["hardware"], x["model"], x["phase"], x["batch"], x["context"],
             x["unit"], x["measured"], x["predicted"], f"{x['error'] * 100:+.1f}%",
             f"{x['tolerance'] * 100:.0f}%", "ok" if x["ok"] else "OUT"] for x in r["rows"]]
    head = ["setup", "hardware", "model", "phase", "batch", "context", "unit", "measured",
            "predicted", "error", "tol", ""]
    pre, der = r["a100_factors_preset"], r["a100_factors_derived"]
    return (table(rows, head) + f"\nmedian |error| {r['median_abs_error'] * 100:.1f}%   "
            f"worst |error| {r['worst_abs_error'] * 100:.1f}%   (measured rows)\n"
            f"A100 factors: preset bandwidth {pre['bw_efficiency']:.3f}, compute "
            f"{pre['compute_efficiency']:.3f}; re-derived from the calibration rows "
            f"{der['bw_efficiency']:.3f}, {der['compute_efficiency']:.3f}\n")
