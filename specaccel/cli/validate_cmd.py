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
            "(specaccel/data/decode-measurements.csv) with the device presets, print "
            "prediction, measurement and signed error with each row's role (calibration: "
            "fits a device parameter; prediction; reference), the median and worst error "
            "over prediction rows, the re-fitted parameters, and exit 1 when any row is "
            "outside its tolerance (calibration 1 %, reference 3 %, prediction 35 %)."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = validation_table()
    emit(args.json, result, _human)
    return 0 if result["all_within_tolerance"] else 1


def _human(r: dict[str, Any]) -> str:
    rows = [[x["setup"], x["hardware"], x["model"], x["precision"], x["phase"], x["batch"],
             x["context"], x["unit"], x["role"], x["measured"], x["predicted"],
             f"{x['error'] * 100:+.1f}%", "ok" if x["ok"] else "OUT"] for x in r["rows"]]
    head = ["setup", "hardware", "model", "dtype", "phase", "batch", "context", "unit",
            "role", "measured", "predicted", "error", ""]
    fits = "".join(f"  {name} of {f['preset']}: fitted {f['fitted']:.4g}, preset "
                   f"{f['preset_value']:.4g} (row: {f['row']})\n"
                   for name, f in r["calibration"].items())
    return (table(rows, head) + f"\nmedian |error| {r['median_abs_error'] * 100:.1f}%   "
            f"worst |error| {r['worst_abs_error'] * 100:.1f}%   "
            f"({r['prediction_rows']} prediction rows)\ncalibrated parameters:\n" + fits)
