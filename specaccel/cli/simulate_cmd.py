"""`specaccel simulate`: replay a trace on one hardware configuration with the SimPy model,
as a batch-1 replay or as a serving run (arrivals, batching, prefill, KV-limited admission)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from specaccel.cli.output import emit, table, to_json
from specaccel.schema.errors import InputError


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="replay a decode trace on a hardware configuration (SimPy simulator)",
        description=(
            "Replay every decode step of a trace, request by request, through the SimPy "
            "model of the hardware (draft engine, target engine, tree and verify units, "
            "memory) and report tokens/s, tokens per step, energy per token and "
            "utilisation.  Outcomes come from the golden verification model.  With "
            "--batch/--arrivals/--requests it is a serving run: requests arrive, are "
            "prefilled and decode with continuous batched speculation under a token "
            "budget and the KV-cache capacity; TTFT and TPOT percentiles are reported.  "
            "A configuration that cannot run (weights larger than memory, a tree larger "
            "than the verify unit) is rejected before simulating."
        ),
    )
    p.add_argument("--trace", required=True, metavar="FILE",
                   help="trace file (Parquet or JSONL, as written by 'specaccel trace')")
    p.add_argument("--hw", required=True, metavar="NAME",
                   help="hardware preset, e.g. a100-80gb or specaccel-default")
    p.add_argument("--target", metavar="NAME",
                   help="target model (default: the trace's metadata target_model)")
    p.add_argument("--draft", metavar="NAME",
                   help="draft model (default: the trace's metadata draft_model; not "
                        "needed, and ignored, when the trace's drafting is 'draft-free' "
                        "or 'none')")
    p.add_argument("--baseline", action="store_true",
                   help="also simulate plain autoregressive decoding and report the speedup")
    p.add_argument("--timeline", metavar="FILE",
                   help="write the speculative replay's timeline as Chrome/Perfetto "
                        "trace-event JSON (open in ui.perfetto.dev)")
    p.add_argument("--gantt", metavar="PNG",
                   help="write a Gantt chart (PNG) of a window of the timeline")
    p.add_argument("--gantt-window", metavar="T0,T1",
                   help="time window of the Gantt chart in seconds (default: the start)")
    p.add_argument("--arrivals", metavar="poisson:RATE|trace",
                   help="serving run: Poisson arrivals at RATE requests/s, or the trace's "
                        "arrival times")
    p.add_argument("--batch", type=int, metavar="N",
                   help="serving run: most requests running at once (default 32 when "
                        "serving)")
    p.add_argument("--token-budget", type=int, metavar="T",
                   help="serving run: most tokens per batch step (tree nodes + prefill "
                        "chunks; default 4096)")
    p.add_argument("--requests", type=int, metavar="N",
                   help="serving run: N requests (the trace's, repeated cyclically if it "
                        "has fewer)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the Poisson arrivals (default 0)")
    p.add_argument("--no-prefill", action="store_true",
                   help="serving run without prefill passes (prompts already cached)")
    p.add_argument("--kv-capacity", type=int, metavar="TOKENS",
                   help="KV-cache capacity in tokens (default: memory left after weights)")
    p.add_argument("--verify-nodes", type=int, metavar="N",
                   help="nodes the verify unit takes in one pass (default: the hardware's)")
    p.add_argument("--overlap-draft", action="store_true",
                   help="serving run: two micro-batches per batch step, a separate draft "
                        "engine drafting one while the target verifies the other (HBM "
                        "shared between them)")
    p.add_argument("--pipelined", action="store_true",
                   help="pipelined speculation: a separate draft engine drafts the next tree "
                        "while the target verifies the current one; draft and verify "
                        "contend for HBM (batch-1 replay only)")
    p.add_argument("--engine", choices=("simpy", "fast", "auto"), default="simpy",
                   help="simpy (event model), fast (Numba fast path; uncontended runs "
                        "only) or auto (default: simpy)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _serving_config(args: argparse.Namespace):
    """A ServingConfig from the serving options, or None for a batch-1 replay."""
    from specaccel.sim.serving import ServingConfig

    wanted = (args.arrivals, args.batch, args.token_budget, args.requests, args.kv_capacity)
    if all(v is None for v in wanted) and not (args.no_prefill or args.overlap_draft):
        return None
    arrivals, rate = "trace", None
    if args.arrivals is not None and args.arrivals != "trace":
        kind, _, value = args.arrivals.partition(":")
        if kind != "poisson":
            raise InputError(f"must be poisson:RATE or trace, not {args.arrivals!r}",
                             field="arrivals")
        try:
            rate = float(value)
        except ValueError:
            raise InputError(f"the Poisson rate must be a number, not {value!r}",
                             field="arrivals") from None
        if not rate > 0 or rate == float("inf"):
            raise InputError(f"the Poisson rate must be > 0, not {value}", field="arrivals")
        arrivals = "poisson"
    for name in ("batch", "token_budget", "requests", "kv_capacity"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise InputError(f"must be >= 1, not {v}", field=name.replace("_", "-"))
    cfg = ServingConfig(
        max_batch=args.batch if args.batch is not None else 32,
        token_budget=args.token_budget if args.token_budget is not None else 4096,
        arrivals=arrivals, rate_per_s=rate, seed=args.seed, prefill=not args.no_prefill,
        kv_capacity_tokens=args.kv_capacity, overlap_draft=args.overlap_draft)
    cfg.check()
    return cfg


def _gantt_window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"must be T0,T1 in seconds, not {text!r}",
                         field="gantt-window") from None
    if not b > a:
        raise InputError(f"T1 must be > T0, not {text!r}", field="gantt-window")
    return a, b


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
            fh.write(to_json(chrome_trace(result.timeline or [], hardware=result.hardware,
                                          request_times=result.request_times)))
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
    lines = []
    pipe = d.get("pipeline")
    if pipe:
        lines.append(f"pipelined: pre-draft hit rate {100 * pipe['hit_rate']:.1f}%, "
                     f"{pipe['hidden_draft_steps']} drafts hidden, "
                     f"{pipe['wasted_draft_s'] * 1e3:.1f} ms of aborted drafting, verify "
                     f"passes stretched {pipe['contention_stretch_s'] * 1e3:.1f} ms by HBM "
                     "contention")
    srv = d.get("serving")
    if srv:
        cfg = srv["config"]
        arr = (f"Poisson {cfg['rate_per_s']:g}/s" if cfg["arrivals"] == "poisson"
               else "trace arrivals")
        lines.append(f"serving: {arr}, batch <= {cfg['max_batch']}, token budget "
                     f"{cfg['token_budget']}, {'with' if cfg['prefill'] else 'no'} prefill, "
                     f"KV capacity {srv['kv_capacity_tokens']} tokens; mean batch "
                     f"{srv['mean_batch_rows']:.1f} rows over {srv['batch_steps']} batch "
                     f"steps, {srv['preemptions']} pre-emptions")

        def pct(name: str, key: str, scale: float = 1e3) -> list[Any]:
            p = srv[key]
            return [name, *[None if p[q] is None else p[q] * scale
                            for q in ("p50", "p90", "p99", "mean")]]

        lines.append(table([pct("TTFT (ms)", "ttft_s"), pct("TPOT (ms)", "tpot_s"),
                            pct("end-to-end (ms)", "e2e_s"), pct("queueing (ms)", "queue_s")],
                           ["latency", "P50", "P90", "P99", "mean"]))
    util = ", ".join(f"{k} {'n/a' if v is None else f'{100 * v:.1f}%'}"
                     for k, v in d["utilisation"].items())
    extra = ("\n" + "\n".join(lines)) if lines else ""
    return (f"{head} [{d.get('engine', 'simpy')}]\n{table(rows, ['metric', 'value'])}"
            f"\nutilisation: {util}{extra}")


def _warn_if_too_big(result) -> None:
    fp = result.memory_footprint
    if fp.get("fits") is False and result.serving is None:
        print(f"warning: {result.hardware}: weights + peak KV need "
              f"{fp['peak_bytes'] / 1e9:.1f} GB, more than its {fp['capacity_bytes'] / 1e9:.1f}"
              " GB (the batch-1 replay does not limit the KV cache)", file=sys.stderr)


def _write_gantt(path: str, result, window) -> None:
    from specaccel.analysis.plots import plot_gantt

    try:
        plot_gantt(result.timeline or [], path, window=window,
                   title=f"{result.hardware}: {result.target} + {result.draft} "
                         f"({result.engine})")
    except OSError as exc:
        raise InputError(f"cannot write the Gantt chart ({exc.strerror})", file=path,
                         field="gantt") from None


def run(args: argparse.Namespace) -> int:
    from specaccel.sim.request_sampling import take_requests
    from specaccel.sim.simulation import resolve_specs, simulate

    t0 = time.perf_counter()
    serving = _serving_config(args)
    window = _gantt_window(args.gantt_window)
    if args.verify_nodes is not None and args.verify_nodes < 1:
        raise InputError(f"must be >= 1, not {args.verify_nodes}", field="verify-nodes")
    trace = _load_trace(args.trace)
    if args.requests is not None:
        trace = take_requests(trace, args.requests)
    hw, target, draft, drafting = resolve_specs(trace, args.hw, target=args.target,
                                                draft=args.draft)
    if draft is None and (args.draft or args.pipelined):
        print(f"note: drafting {drafting.name!r} runs no draft model: "
              + ("--draft is ignored" if args.draft else "")
              + (", " if args.draft and args.pipelined else "")
              + ("--pipelined has nothing to pre-draft (plain replay)"
                 if args.pipelined else ""), file=sys.stderr)
    print(f"simulating {trace.n_steps} steps of {trace.n_requests} requests on {hw.name}"
          + (" (serving)" if serving else ""), file=sys.stderr)
    record = bool(args.timeline or args.gantt)
    try:
        result = simulate(trace, hw=hw, target=target, draft=draft, drafting=drafting,
                          baseline=args.baseline, record_timeline=record,
                          engine=args.engine, serving=serving,
                          verify_nodes=args.verify_nodes, pipelined=args.pipelined)
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(str(exc), field="engine") from None
    _warn_if_too_big(result)
    out = result.to_dict()
    out["trace"] = args.trace
    if args.timeline:
        _write_timeline(args.timeline, result)
        out["timeline_file"] = args.timeline
    if args.gantt:
        _write_gantt(args.gantt, result, window)
        out["gantt_file"] = args.gantt
    print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    emit(args.json, out, _human)
    return 0
