"""`specaccel trace gen|info|validate|export`: make, inspect, check and convert trace files."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.cli.output import add_warning, emit, table, to_json
from specaccel.schema.config_fields import add_options, from_mapping, options_from_args
from specaccel.schema.errors import InputError
from specaccel.schema.output_path import check_trace_output
from specaccel.schema.trace import Trace
from specaccel.schema.trace_io import read_trace, write_trace
from specaccel.workloads.workload_options import WorkloadOptions


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "trace",
        help="generate, inspect, validate and convert decode traces",
        description="Decode traces (.parquet storage, .jsonl interchange): generate one from a "
                    "calibrated preset, summarise it, validate it, or convert between formats.",
    )
    sub = parser.add_subparsers(dest="trace_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: _no_subcommand(parser))

    gen = sub.add_parser(
        "gen", help="generate a trace from a preset (or a method's first preset)",
        description="Generate a seeded trace from a workload preset: calibrated to a "
                    "published measurement, recorded on real text, or a modelled method. "
                    "--list (or 'specaccel methods') lists the methods and presets with "
                    "their sources and tau; --tau recalibrates a preset to a tau you set.",
    )
    add_options(gen, WorkloadOptions)
    gen.add_argument("--list", action="store_true",
                     help="list the methods and their presets (sources, tau) and exit")
    gen.add_argument("-o", "--output", metavar="FILE",
                     help="output file, .parquet or .jsonl (required unless --list)")
    gen.add_argument("--json", action="store_true", help="print one JSON object")
    gen.set_defaults(func=_gen)

    info = sub.add_parser(
        "info", help="summarise a trace file",
        description="Summarise a trace: sizes, tree depth, and committed tokens per step "
                    "computed by the golden verification model.",
    )
    info.add_argument("file", metavar="FILE", help="trace file (.parquet or .jsonl)")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=_info)

    val = sub.add_parser(
        "validate", help="check a trace file (exit 0 valid, 2 invalid)",
        description="Validate a trace file. Exit 0 if valid; otherwise exit 2 with one line "
                    "naming the file, request, step, field and reason.",
    )
    val.add_argument("file", metavar="FILE", help="trace file (.parquet or .jsonl)")
    val.add_argument("--json", action="store_true", help="print one JSON object")
    val.set_defaults(func=_validate)

    exp = sub.add_parser(
        "export", help="convert a trace between .parquet and .jsonl",
        description="Read a trace and write it in the format of the output suffix.",
    )
    exp.add_argument("file", metavar="FILE", help="input trace (.parquet or .jsonl)")
    exp.add_argument("-o", "--output", required=True, metavar="OUT",
                     help="output file, .parquet or .jsonl")
    exp.add_argument("--json", action="store_true", help="print one JSON object")
    exp.set_defaults(func=_export)

    # `trace import` lives in its own module (specaccel.cli.trace_import); add it if present.
    try:
        importer = importlib.import_module("specaccel.cli.trace_import")
    except ModuleNotFoundError as exc:
        if exc.name != "specaccel.cli.trace_import":
            raise
    else:
        importer.register_import(sub)


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# ---------------------------------------------------------------------------- summaries
def node_depths_flat(trace: Trace) -> np.ndarray:
    """Depth of every node of the trace (root 0), by pointer jumping over all steps at once."""
    n = trace.n_nodes
    off = np.asarray(trace.step_node_offsets, dtype=np.int64)
    start = np.repeat(off[:-1], np.diff(off))
    idx = np.arange(n, dtype=np.int64)
    parent = np.asarray(trace.nodes["parent"], dtype=np.int64)
    anc = np.where(parent < 0, idx, start + parent)
    dist = (anc != idx).astype(np.int64)
    while True:
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            return dist
        dist = dist + dist[anc]
        anc = nxt


def summarize(trace: Trace) -> dict[str, Any]:
    """Sizes, depth and golden-model committed tokens per step of a (valid) trace."""
    from specaccel.models.golden import verify_trace

    per_step = trace.nodes_per_step()
    outcome = verify_trace(trace)
    committed = outcome.committed.astype(np.float64)
    depth = node_depths_flat(trace)
    off = np.asarray(trace.step_node_offsets, dtype=np.int64)
    step_depth = np.maximum.reduceat(depth, off[:-1]) if trace.n_steps else np.zeros(0)
    recorded = np.asarray(trace.recorded_accepted)
    has_rec = recorded >= 0
    result: dict[str, Any] = {
        "schema_version": trace.schema_version,
        "verification": trace.verification,
        "requests": trace.n_requests,
        "steps": trace.n_steps,
        "nodes": trace.n_nodes,
        "nodes_per_step": _stats(per_step),
        "depth": {"max": int(step_depth.max()) if step_depth.size else 0,
                  "mean": float(step_depth.mean()) if step_depth.size else 0.0},
        "prompt_len": _stats(np.asarray(trace.prompt_len)),
        "committed_per_step": {
            "mean": float(committed.mean()) if committed.size else float("nan"),
            "p10": float(np.percentile(committed, 10)) if committed.size else float("nan"),
            "p90": float(np.percentile(committed, 90)) if committed.size else float("nan"),
        },
        "recorded_steps": int(has_rec.sum()),
        "recorded_disagreements": int((recorded[has_rec] != outcome.accepted[has_rec]).sum()),
        "metadata": trace.metadata,
    }
    return result


def _stats(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {"min": 0, "mean": float("nan"), "max": 0}
    return {"min": int(x.min()), "mean": float(x.mean()), "max": int(x.max())}


def _human_info(r: dict[str, Any]) -> str:
    c = r["committed_per_step"]
    rows = [
        ["file", r.get("file", "")],
        ["verification", r["verification"]],
        ["requests", r["requests"]],
        ["steps", r["steps"]],
        ["nodes", r["nodes"]],
        ["nodes/step (min/mean/max)", "{min}/{mean:.4g}/{max}".format(**r["nodes_per_step"])],
        ["depth (max/mean)", f"{r['depth']['max']}/{r['depth']['mean']:.4g}"],
        ["prompt length (min/mean/max)", "{min}/{mean:.4g}/{max}".format(**r["prompt_len"])],
        ["committed tokens/step mean", c["mean"]],
        ["committed tokens/step P10/P90", f"{c['p10']:.4g}/{c['p90']:.4g}"],
    ]
    if r["recorded_steps"]:
        rows.append(["recorded steps (disagreeing)",
                     f"{r['recorded_steps']} ({r['recorded_disagreements']})"])
    text = table(rows, ["trace", "value"])
    if r["metadata"]:
        text += "\nmetadata: " + to_json(r["metadata"]).replace("\n", "\n  ")
    return text


# ---------------------------------------------------------------------------- commands
def _gen(args: argparse.Namespace) -> int:
    values = options_from_args(WorkloadOptions, args)
    if args.list:
        from specaccel.cli.methods_cmd import list_methods

        if values or args.output:
            raise InputError("lists every preset; give no other option with it",
                             field="list")
        return list_methods(args.json)
    if args.output is None:
        raise InputError("the output file is required (-o FILE)", field="output")
    check_trace_output(args.output, option="--output")  # before the work
    options = from_mapping(WorkloadOptions, values)
    preset = options.resolve()
    trace = options.generate()
    write_trace(trace, args.output, option="--output")
    from specaccel.models.golden import verify_trace

    committed = verify_trace(trace).committed
    source = preset.source
    result = {
        "file": args.output,
        "preset": preset.name,
        "method": preset.method,
        "seed": options.seed,
        "requests": trace.n_requests,
        "steps": trace.n_steps,
        "nodes": trace.n_nodes,
        "verification": trace.verification,
        "committed_per_step": float(committed.mean()),
        "published_tau": preset.published_tau,
        "source": None if source is None else source["source"],
        **({"tau": options.tau} if options.tau is not None else {}),
    }
    emit(args.json, result, _human_gen)
    return 0


def _human_gen(r: dict[str, Any]) -> str:
    if r["published_tau"] is not None:
        ref = f"published {r['published_tau']:.4g}, {r['source']}"
    else:
        ref = f"method {r['method']}; no published tau" + (
            f", {r['source']}" if r["source"] else "")
    if r.get("tau") is not None:
        ref = f"set {r['tau']:.4g}; {ref}"
    return (f"wrote {r['file']}: preset {r['preset']} (seed {r['seed']}), {r['requests']} "
            f"requests, {r['steps']} steps, {r['nodes']} nodes; committed tokens/step "
            f"{r['committed_per_step']:.4g} ({ref})")


def _info(args: argparse.Namespace) -> int:
    from specaccel.sim.config_check import check_trace_metadata

    trace = read_trace(args.file)
    result = {"file": args.file, **summarize(trace)}
    try:  # a summary of any readable trace, flagged when simulate would refuse it
        check_trace_metadata(trace, file=args.file)
        result["replayable"] = True
    except InputError as exc:
        result["replayable"] = False
        add_warning(result, "not_replayable", f"simulate refuses this trace: {exc.message}")
    emit(args.json, result, _human_info)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from specaccel.sim.config_check import check_trace_metadata

    try:
        trace = read_trace(args.file)
        check_trace_metadata(trace, file=args.file)
    except InputError as exc:
        if args.json:
            emit(True, {"file": args.file, "valid": False, "error": exc.message,
                        "field": exc.field, "where": list(exc.where)}, str)
        print(f"specaccel: error: {exc.message}", file=sys.stderr)
        return 2
    result = {"file": args.file, "valid": True, "requests": trace.n_requests,
              "steps": trace.n_steps, "nodes": trace.n_nodes,
              "verification": trace.verification}
    emit(args.json, result, lambda r: (
        f"{r['file']}: valid ({r['requests']} requests, {r['steps']} steps, {r['nodes']} nodes, "
        f"{r['verification']})"))
    return 0


def _export(args: argparse.Namespace) -> int:
    check_trace_output(args.output, option="--output")
    if Path(args.output).resolve() == Path(args.file).resolve():
        raise InputError("is the input file; write the export to another path",
                         file=args.output, field="--output")
    from specaccel.sim.config_check import check_trace_metadata

    trace = read_trace(args.file)
    check_trace_metadata(trace, file=args.file)  # never write a trace validate refuses
    write_trace(trace, args.output, option="--output")
    result = {"file": args.file, "output": args.output, "requests": trace.n_requests,
              "steps": trace.n_steps, "nodes": trace.n_nodes}
    emit(args.json, result, lambda r: (
        f"wrote {r['output']} from {r['file']} ({r['requests']} requests, {r['steps']} steps, "
        f"{r['nodes']} nodes)"))
    return 0
