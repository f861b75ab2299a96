"""`specaccel simulate`: replay a trace on one hardware configuration with the SimPy model."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from specaccel.cli.output import emit, table, to_json
from specaccel.errors import InputError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="replay a decode trace on a hardware configuration (SimPy simulator)",
        description=(
            "Replay every decode step of a trace, request by request, through the SimPy "
            "model of the hardware (draft engine, target engine, tree and verify units, "
            "memory) and report tokens/s, tokens per step, energy per token and "
            "utilisation.  Outcomes come from the golden verification model."
        ),
    )
    p.add_argument("--trace", required=True, metavar="FILE",
                   help="trace file (Parquet or JSONL, as written by 'specaccel trace')")
    p.add_argument("--hw", required=True, metavar="NAME",
                   help="hardware preset, e.g. a100-80gb or specaccel-default")
    p.add_argument("--target", metavar="NAME",
                   help="target model (default: the trace's metadata target_model)")
    p.add_argument("--draft", metavar="NAME",
                   help="draft model (default: the trace's metadata draft_model)")
    p.add_argument("--baseline", action="store_true",
                   help="also simulate plain autoregressive decoding and report the speedup")
    p.add_argument("--timeline", metavar="FILE",
                   help="write the speculative replay's timeline as Chrome/Perfetto "
                        "trace-event JSON (open in ui.perfetto.dev)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _load_trace(path: str):
    from specaccel.workloads import read_trace

    try:
        return read_trace(path)
    except InputError as exc:
        raise exc.at(file=path) if exc.file is None else exc from None
    except FileNotFoundError:
        raise InputError("no such file", file=path) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a trace file", file=path) from None


def _write_timeline(path: str, result) -> None:
    from specaccel.sim.timeline_export import chrome_trace

    try:
        with open(path, "w") as fh:
            fh.write(to_json(chrome_trace(result.timeline or [], hardware=result.hardware)))
    except OSError as exc:
        raise InputError(f"cannot write the timeline ({exc.strerror})", file=path,
                         field="timeline") from None


def _human(d: dict[str, Any]) -> str:
    rows = [
        ["tokens/s", d["tokens_per_s"]],
        ["tokens per step (tau)", d["mean_committed_per_step"]],
        ["accepted per step", d["mean_accepted_per_step"]],
        ["tree nodes per step", d["mean_nodes_per_step"]],
        ["energy per token (mJ)", d["energy_per_token_j"]["total"] * 1e3],
        ["simulated time (s)", d["makespan_s"]],
    ]
    if d.get("baseline"):
        rows += [["autoregressive tokens/s", d["baseline"]["tokens_per_s"]],
                 ["speedup", d["speedup"]],
                 ["AR energy per token (mJ)", d["baseline"]["energy_per_token_j"]["total"] * 1e3]]
    head = (f"{d['hardware']} ({d['hardware_kind']}): target {d['target']}, "
            f"draft {d['draft']} ({d['drafting']}), {d['n_requests']} requests, "
            f"{d['n_steps']} steps, {d['tokens']} tokens")
    util = ", ".join(f"{k} {'n/a' if v is None else f'{100 * v:.1f}%'}"
                     for k, v in d["utilisation"].items())
    return f"{head}\n{table(rows, ['metric', 'value'])}\nutilisation: {util}"


def _warn_if_too_big(result) -> None:
    fp = result.memory_footprint
    if fp.get("fits") is False:
        print(f"warning: {result.hardware}: weights + peak KV need "
              f"{fp['peak_bytes'] / 1e9:.1f} GB, more than its {fp['capacity_bytes'] / 1e9:.1f}"
              " GB (the simulation assumes they fit)", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from specaccel.sim.simulation import resolve_specs, simulate

    t0 = time.perf_counter()
    trace = _load_trace(args.trace)
    hw, target, draft, drafting = resolve_specs(trace, args.hw, target=args.target,
                                                draft=args.draft)
    print(f"simulating {trace.n_steps} steps of {trace.n_requests} requests on {hw.name}",
          file=sys.stderr)
    result = simulate(trace, hw=hw, target=target, draft=draft, drafting=drafting,
                      baseline=args.baseline, record_timeline=bool(args.timeline))
    _warn_if_too_big(result)
    out = result.to_dict()
    out["trace"] = args.trace
    if args.timeline:
        _write_timeline(args.timeline, result)
        out["timeline_file"] = args.timeline
    print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    emit(args.json, out, _human)
    return 0
