"""``specaccel trace import``: real answer logs (MT-bench, Spec-Bench) → a trace + τ summary.

`trace_cmd.py` calls :func:`register_import` with its sub-parsers; the logic lives here.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from specaccel.cli.option_rules import excludes, given, needs
from specaccel.cli.output import emit, table
from specaccel.schema.errors import InputError
from specaccel.schema.output_path import check_trace_output
from specaccel.schema.trace import Trace
from specaccel.workloads.importers import FORMATS, STEPS_FROM, import_answers, imported_summary


def register_import(trace_subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``import`` sub-command to the ``trace`` command's sub-parsers."""
    p = trace_subparsers.add_parser(
        "import",
        help="import a real decoding log (MT-bench or Spec-Bench answers) as a trace",
        description=(
            "Import an answer file of real speculative decoding runs.  mtbench-answers: "
            "FastChat/Medusa llm_judge answers with per-turn idxs/new_tokens/wall_time "
            "(per-step accepted lengths are not in the log: steps are chains spreading the "
            "turn's total evenly, flagged 'spread'); spec-bench: Spec-Bench answers with "
            "per-step accept_lengths (recorded exactly).  Prints per-turn tau = "
            "new_tokens/steps and its mean/P10/P90; -o writes the trace."
        ),
    )
    p.add_argument("file", metavar="FILE", help="the JSON Lines answer file")
    p.add_argument("--format", required=True, choices=FORMATS, dest="log_format",
                   help="log format")
    p.add_argument("-o", "--output", metavar="TRACE",
                   help="write the imported trace here (.parquet or .jsonl)")
    p.add_argument("--steps-from", choices=STEPS_FROM, default="idxs",
                   help="mtbench-answers: steps per turn = idxs (README reading, default) or "
                        "idxs+1 (Medusa's 0-based loop index)")
    p.add_argument("--question-tokens", type=int, default=128, metavar="N",
                   help="assumed tokens per user question for the prompt-length estimate "
                        "(logs hold no prompts; default 128)")
    p.add_argument("--target", metavar="NAME",
                   help="the target model the log was recorded with (a model preset or a "
                        "config.json); required with -o: simulate and trace validate need "
                        "it and the log does not name it")
    p.add_argument("--draft", metavar="NAME",
                   help="the draft model (required with -o when the drafting mode runs one)")
    p.add_argument("--drafting", metavar="MODE",
                   help="how the method drafted (per-level, single-pass, draft-free, ...; "
                        "default per-level, the trace schema's)")
    p.add_argument("--per-request", action="store_true",
                   help="list every request (turn) in the human output")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    for option in ("--target", "--draft", "--drafting"):
        needs(p, option, "--output", "they are written into the trace")
    excludes(p, "--per-request", "--json", "the JSON object lists every request")
    p.set_defaults(func=run_import)
    return p


def _human(result: dict[str, Any], per_request: bool) -> str:
    lines = [
        f"imported {result['n_requests']} requests, {result['n_steps']} steps, "
        f"{result['new_tokens']} tokens from {result['source']} ({result['format']}, "
        f"per-step detail: {result['per_step']})",
        table([[f"{result['tau_mean']:.4f}", f"{result['tau_p10']:.4f}",
                f"{result['tau_p50']:.4f}", f"{result['tau_p90']:.4f}",
                f"{result['tau_pooled']:.4f}"]],
              ["tau mean", "P10", "P50", "P90", "pooled"]),
    ]
    if "tau_per_step_mean" in result:
        lines.append(f"mean accept length over steps: {result['tau_per_step_mean']:.4f}")
    if result.get("output"):
        lines.append(f"trace written to {result['output']}")
    if per_request:
        lines.append(table([[r["id"], r["steps"], r["new_tokens"], f"{r['tau']:.4f}",
                             f"{r['wall_time_s']:.3f}"] for r in result["per_request"]],
                           ["request", "steps", "new_tokens", "tau", "wall_s"]))
    return "\n".join(lines)


#: The option that sets each metadata key the simulator's check may refuse.
_OPTION_OF = {"metadata.target_model": "--target", "metadata.draft_model": "--draft",
              "metadata.drafting": "--drafting"}


def _check_replayable(trace: Trace) -> None:
    """Refuse to write a trace that ``trace validate`` would reject: the simulator's
    metadata check, its errors blamed on the option that sets the key."""
    from specaccel.sim.config_check import check_trace_metadata

    try:
        check_trace_metadata(trace)
    except InputError as exc:
        raise InputError(exc.reason, field=_OPTION_OF.get(exc.field or "", exc.field)
                         ) from None


def run_import(args: argparse.Namespace) -> int:
    if given(args, "steps_from") and args.log_format != "mtbench-answers":
        raise InputError(f"only with --format mtbench-answers: {args.log_format} logs record "
                         "every step", field="--steps-from")
    if args.output:
        check_trace_output(args.output, option="--output")
        if args.target is None:
            raise InputError("required with --output: the log does not name the target "
                             "model, and simulate and trace validate need it",
                             field="--target")
    trace = import_answers(args.file, args.log_format, steps_from=args.steps_from,
                           question_tokens=args.question_tokens, target_model=args.target,
                           draft_model=args.draft, drafting=args.drafting)
    result = imported_summary(trace)
    if args.output:
        from specaccel.schema.trace_io import write_trace

        _check_replayable(trace)
        write_trace(trace, args.output, option="--output")
        print(f"wrote {trace.n_steps} steps to {args.output}", file=sys.stderr)
        result["output"] = args.output
    emit(args.json, result, lambda r: _human(r, args.per_request))
    return 0
