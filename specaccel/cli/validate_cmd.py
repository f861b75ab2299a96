"""`specaccel validate`: the model against published and independently simulated numbers."""

from __future__ import annotations

import argparse
from typing import Any

from specaccel.cli.output import emit, table

#: A calibration row whose fit no longer reproduces it within this is a stale fit.
CALIBRATION_TOLERANCE = 0.01


def register(subparsers: argparse._SubParsersAction) -> None:
    from specaccel.analysis.validation_report import E2E_TAU_TOLERANCE, SECTIONS

    parser = subparsers.add_parser(
        "validate",
        help="the model against published measurements and SCALE-Sim, by section",
        description=(
            "Compare the model with what it did not derive from, in sections: kernels "
            "(passes against published decode/prefill measurements), gemm (the GPU "
            "GEMM model against measured fp16 linear layers on an A100 and an A10, shape "
            "by shape; "
            "rows bound by the host loop or by compute on zero-valued inputs are shown "
            "as excluded, with their reason), operators (the same GEMM model against "
            "Vidur's profiled kernel times of the linear layers of 7B to 70B models on "
            "an A100, an H100 and an A40, 1 to 4096 tokens, summarised by device and tokens; "
            "three H100 figures are fitted on 32 of its rows), collectives (the links' "
            "all-reduce bus bandwidth, the slope of time against message size from 16 to "
            "64 MiB, against Vidur's NCCL profiles on an A100 DGX, an H100 DGX and four "
            "A100 PCIe cards), stacks (software stacks and placements against measured "
            "runs: the Medusa-1 logs, plain decoding baselines, vLLM's generate() "
            "calls), end-to-end (every preset with a published speedup, simulated on "
            "the hardware and stacks its source ran on -- Spec-Bench's rows question by "
            "question as the benchmark times them, prefill included --, with the "
            "simulated step time beside the step time the published speedup implies, "
            "and the share of the time in prefill), tasks (Spec-Bench's speedup on each "
            "of its six tasks for EAGLE-1 and SpS, whose acceptance per question is "
            "measured, replayed the same way) and array (the "
            "systolic array against SCALE-Sim).  Every row is marked calibration (a "
            "parameter was fitted to it; never counted as agreement), prediction, "
            "reference or excluded (a measurement that cannot test the model, listed by "
            "reason); each section gives the median and worst |error| over its "
            "prediction rows.  Exit 1 when a calibration row is no longer reproduced "
            f"within {CALIBRATION_TOLERANCE:.0%}, or a fitted figure no longer is (the "
            "operators section's 32 H100 calibration rows serve fits over groups of "
            "rows -- a line, a median -- so the figures are checked, not each row: a "
            "stale fit), or when an end-to-end "
            "row's trace does not commit its published tau within "
            f"{E2E_TAU_TOLERANCE:.1%}."
        ),
    )
    parser.add_argument("--section", action="append", choices=SECTIONS, default=None,
                        help="only this section (repeatable; default: all)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", metavar="PNG",
                        help="also draw every row's error to this PNG, a panel per "
                             "section (calibration, reference and excluded rows hollow; "
                             "the GEMM rows against their tokens; +-5 %% and +-10 %% "
                             "shaded)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from specaccel.analysis.validation_report import SECTIONS, tau_off_rows, validation_report

    if args.plot:  # before the long run: a path that cannot take the PNG is an error now
        from specaccel.schema.output_path import check_output_file

        check_output_file(args.plot, kind="png", option="--plot")
    chosen = tuple(s for s in SECTIONS if args.section is None or s in args.section)
    result = validation_report(chosen)
    if args.plot:
        from specaccel.analysis.validation_plot import plot_validation

        result["plot"] = str(plot_validation(result, args.plot))
    stale = [r["id"] for sec in result["sections"] for r in sec["rows"]
             if r["role"] == "calibration" and r["error"] is not None
             and not r.get("group_fit") and abs(r["error"]) > CALIBRATION_TOLERANCE]
    stale += [f"{'' if name.startswith(fit['preset']) else fit['preset'] + ' '}{name} "
              f"(row: {fit['row']})" for sec in result["sections"]
              for name, fit in sec.get("fits", {}).items()
              if abs(fit["fitted"] - fit["preset_value"])
              > CALIBRATION_TOLERANCE * abs(fit["preset_value"])]
    result["stale_calibration_rows"] = stale
    off = [r for sec in result["sections"] if sec["name"] == "end-to-end"
           for r in tau_off_rows(sec["rows"])]
    result["tau_off_rows"] = off
    emit(args.json, result, _human)
    return 1 if stale or off else 0


_SHOWN = {
    "kernels": ("id", "context", "unit", "role", "measured", "predicted", "error"),
    "gemm": ("id", "unit", "role", "measured", "predicted", "error"),
    "collectives": ("id", "unit", "role", "measured", "predicted", "error", "intercept_us",
                    "model_intercept_us"),
    "stacks": ("id", "stack", "unit", "role", "measured", "runs", "predicted", "error"),
    "end-to-end": ("id", "hardware", "stack", "baseline_stack", "role", "published_tau",
                   "tau", "measured", "predicted", "error", "step_ms", "implied_step_ms",
                   "prefill_share", "gpu_share"),
    "tasks": ("id", "hardware", "task", "role", "measured", "predicted", "error"),
}


def _human(r: dict[str, Any]) -> str:
    from specaccel.analysis.validation_report import (
        by_source_lines,
        excluded_lines,
        grouped_table,
        summary_line,
    )

    out = []
    for sec in r["sections"]:
        out.append(f"== {sec['title']}")
        cols = _SHOWN.get(sec["name"])
        grouped = grouped_table(sec)
        if grouped is not None:  # hundreds of rows: by their groups
            heads, body = grouped
            out.append(table(body, [h.replace("abs error", "|error|") for h in heads]))
        elif cols is not None:
            rows = [[("" if x.get(c) is None else f"{x[c] * 100:+.1f}%") if c == "error"
                     else x.get(c, "") for c in cols] for x in sec["rows"]
                    if x["role"] != "excluded"]
            out.append(table(rows, [c.replace("predicted", "specaccel") for c in cols]))
        out.append(summary_line(sec).replace("`", ""))
        out += [f"  {line}" for line in by_source_lines(sec) + excluded_lines(sec)]
        out.append("")
    if r["stale_calibration_rows"]:
        out.append("stale calibration rows: " + ", ".join(r["stale_calibration_rows"]))
    if r["tau_off_rows"]:
        out.append("traces off their published tau: " + ", ".join(r["tau_off_rows"]))
    if r.get("plot"):
        out.append(f"wrote {r['plot']}")
    return "\n".join(out)
