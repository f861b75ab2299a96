"""`specaccel simulate`: replay a trace on one hardware configuration with the SimPy model,
as a batch-1 replay or as a serving run (arrivals, batching, prefill, KV-limited admission)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from specaccel.cli import option_rules
from specaccel.cli.hardware_options import (
    ACCELERATOR,
    accelerator_from_args,
    add_accelerator_options,
    wants_accelerator,
)
from specaccel.cli.output import add_warning, emit, table, to_json
from specaccel.models.cost.deployment_config import DeploymentConfig
from specaccel.schema.config_fields import (
    add_options,
    from_mapping,
    options_from_args,
    parse_list,
)
from specaccel.schema.errors import InputError
from specaccel.schema.output_path import atomic_write, check_output_file
from specaccel.sim.options import ENGINE_CHOICES, EngineOptions, ServingConfig


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
    p.add_argument("--hw", metavar="NAME",
                   help="hardware preset, e.g. a100-80gb or specaccel-default (required "
                        "unless --accel or --accel-file configures the accelerator)")
    add_accelerator_options(p)
    p.add_argument("--target", metavar="NAME",
                   help="target model (default: the trace's metadata target_model)")
    p.add_argument("--draft", metavar="NAME",
                   help="draft model (default: the trace's metadata draft_model; "
                        "refused when the trace's drafting is 'draft-free' or 'none', "
                        "which run none)")
    p.add_argument("--baseline", action="store_true",
                   help="also simulate plain autoregressive decoding and report the speedup")
    p.add_argument("--timeline", metavar="FILE",
                   help="write the speculative replay's timeline as Chrome/Perfetto "
                        "trace-event JSON (open in ui.perfetto.dev)")
    p.add_argument("--gantt", metavar="PNG",
                   help="write a Gantt chart (PNG) of a window of the timeline")
    p.add_argument("--gantt-window", metavar="T0,T1",
                   help="time window of the Gantt chart in seconds (default: the start)")
    serving = p.add_argument_group(
        "serving run", "any of these (but --seed) makes a serving run: requests arrive, are "
        "prefilled and decode with continuous batched speculation")
    serving.add_argument("--arrivals", metavar="poisson:RATE|trace",
                         help="Poisson arrivals at RATE requests/s, or the trace's arrival "
                              "times")
    serving.add_argument("--requests", type=int, metavar="N",
                         help="N requests (the trace's, repeated cyclically if it has fewer)")
    add_options(serving, ServingConfig, exclude=("arrivals", "rate_per_s"),
                dest_prefix=SERVING_DEST)
    add_options(p, EngineOptions)
    p.add_argument("--verify-nodes", type=int, metavar="N",
                   help="size of the accelerator's verify unit in nodes: its cycles and area "
                        "(the design's tree_nodes; default: the hardware's); GPUs verify in "
                        "software")
    deploy = p.add_argument_group(
        "software stack and placement", "the software around the kernels of a GPU target "
        "and how target and draft are placed (docs/validation.md#software-stacks)")
    add_options(deploy, DeploymentConfig, dest_prefix=DEPLOY_DEST)
    p.add_argument("--engine", choices=ENGINE_CHOICES, default="event",
                   help="event (the SimPy event model), fast (a fast path: uncontended "
                        "runs and static batches only) or auto (default: event)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)
    option_rules.needs(p, "--gantt-window", "--gantt", "it sets the Gantt chart's window")
    option_rules.needs(p, "--seed", "--arrivals", "it seeds the Poisson arrivals")
    option_rules.needs(p, "--baseline-stack", "--baseline",
                       "it sets the stack of the baseline that --baseline simulates")


DEPLOY_DEST = "deploy_"
"""Prefix of the argparse destinations of the :class:`DeploymentConfig` options."""
SERVING_DEST = "serving_"
"""Prefix of the argparse destinations of the :class:`ServingConfig` options."""


def _serving_config(args: argparse.Namespace):
    """A ServingConfig from the serving options, or None for a batch-1 replay."""
    values = options_from_args(ServingConfig, args, dest_prefix=SERVING_DEST)
    if args.arrivals is not None:
        values.update(_arrivals(args.arrivals))
    if args.requests is not None and args.requests < 1:
        raise InputError(f"must be >= 1, not {args.requests}", field="requests")
    if "seed" in values and values.get("arrivals") != "poisson":
        raise InputError("seeds the Poisson arrivals only; the trace's arrival times take no "
                         "seed", field="seed")
    if not (set(values) - {"seed"}) and args.requests is None:
        return None
    return from_mapping(ServingConfig, values)


def _named_as_option(exc: InputError) -> InputError:
    """`exc` naming the option the user gave where the simulator named a field of the
    serving config (``kv_capacity_tokens`` is ``--kv-capacity``, ``rate_per_s`` comes
    from ``--arrivals``), as :func:`options_from_args` names them."""
    from specaccel.schema.config_fields import field_names, field_spec

    if exc.field not in field_names(ServingConfig):
        return exc
    option = ("arrivals" if exc.field == "rate_per_s"
              else field_spec(ServingConfig, exc.field).option_field)
    return InputError(exc.reason, file=exc.file, where=exc.where, field=option)


def _arrivals(text: str) -> dict[str, Any]:
    """``arrivals`` and ``rate_per_s`` of ``--arrivals poisson:RATE|trace``."""
    if text == "trace":
        return {"arrivals": "trace"}
    kind, _, value = text.partition(":")
    if kind != "poisson":
        raise InputError(f"must be poisson:RATE or trace, not {text!r}", field="arrivals")
    from specaccel.schema.config_fields import field_spec

    try:
        rate = field_spec(ServingConfig, "rate_per_s").parse(value)
    except InputError as exc:    # the range is the config's; the option is --arrivals
        raise InputError(f"the Poisson rate {exc.reason}", field="arrivals") from None
    if rate is None:
        raise InputError(f"the Poisson rate must be a number, not {value!r}",
                         field="arrivals")
    return {"arrivals": "poisson", "rate_per_s": rate}


def _hardware(args: argparse.Namespace):
    """The hardware: a preset by name, or the accelerator of the design options;
    ``--verify-nodes N`` sizes the accelerator's verify unit (its ``tree_nodes``)."""
    verify = getattr(args, "verify_nodes", None)
    if verify is not None:
        if verify < 1:
            raise InputError(f"must be >= 1, not {verify}", field="verify-nodes")
        if args.hw not in (None, ACCELERATOR):
            raise InputError(f"sizes the accelerator's verify unit; {args.hw} verifies in "
                             "software", field="verify-nodes")
        args.accel = [*args.accel, f"tree_nodes={verify}"]
    if wants_accelerator(args):
        return accelerator_from_args(args, args.hw)
    if args.hw is None:
        raise InputError("give a hardware preset (--hw NAME) or an accelerator design "
                         "(--accel KEY=VALUE, --accel-file TOML)", field="hw")
    return args.hw


def _gantt_window(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    values = parse_list(text, float, option="gantt-window", what="seconds")
    if len(values) != 2:
        raise InputError(f"must be T0,T1 in seconds, not {text!r}", field="gantt-window")
    a, b = values
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

    atomic_write(path, to_json(chrome_trace(result.timeline or [], hardware=result.hardware,
                                            request_times=result.request_times)),
                 option="--timeline")


def _deployment_line(dep: dict[str, Any]) -> str:
    """One line naming the stacks and placements of a GPU run."""
    t, b = dep["target"], dep["baseline"]
    place = f"tp {t['target_placement']['tp']}, pp {t['target_placement']['pp']}" + (
        ", offloaded" if t["target_placement"]["offload"] else "")
    draft = f", draft on {t['draft_stack']}" if t.get("draft_stack") else ""
    return (f"stack {t['stack']}{draft}, baseline on {b['stack']}; target placed {place}"
            + (f"; draft on its own {t['draft_placement']['tp']} device(s)"
               if t.get("draft_placement") else ""))


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
    dep = d.get("deployment")
    if dep and dep.get("hardware_kind") == "gpu":
        lines.append(_deployment_line(dep))
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


def _warn_if_too_big(result, out: dict[str, Any]) -> None:
    from specaccel.models.cost.hardware_spec import gib

    fp = result.memory_footprint
    if fp.get("fits") is False and result.serving is None:
        dev = f" #{fp['busiest_device']}" if fp.get("devices", 1) > 1 else ""
        add_warning(out, "does_not_fit_memory",
                    f"{result.hardware}{dev}: weights + peak KV need "
                    f"{gib(fp['peak_bytes'], 1)}, more than its "
                    f"{gib(fp['capacity_bytes'], 1)} (the batch-1 "
                    "replay does not limit the KV cache)")


def _write_gantt(path: str, result, window) -> None:
    from specaccel.analysis.plots import plot_gantt

    plot_gantt(result.timeline or [], path, window=window,  # written atomically
               title=f"{result.hardware}: {result.target} + {result.draft} ({result.engine})")


def run(args: argparse.Namespace) -> int:
    from specaccel.analysis.progress_bar import ProgressBar, wanted
    from specaccel.sim.config_check import check_replay_size, check_trace_metadata
    from specaccel.sim.request_sampling import RequestSource
    from specaccel.sim.simulation import resolve_deployments, resolve_specs, simulate

    t0 = time.perf_counter()
    serving = _serving_config(args)
    window = _gantt_window(args.gantt_window)
    replay_options = from_mapping(EngineOptions, options_from_args(EngineOptions, args))
    if args.timeline:
        check_output_file(args.timeline, kind="json", option="--timeline")
    if args.gantt:
        check_output_file(args.gantt, kind="png", option="--gantt")
    trace = _load_trace(args.trace)
    check_replay_size(trace, file=args.trace)
    if args.requests is not None:
        check_replay_size(trace, file=args.trace, requests=args.requests)
    requests = RequestSource(trace, args.requests)    # read a block at a time, not built
    check_trace_metadata(trace, file=args.trace, target=args.target, draft=args.draft)
    hw, target, draft, drafting = resolve_specs(trace, _hardware(args), target=args.target,
                                                draft=args.draft)
    deploy = from_mapping(DeploymentConfig,
                          options_from_args(DeploymentConfig, args, dest_prefix=DEPLOY_DEST))
    dep, base_dep = resolve_deployments(trace, hw, deploy)
    # a placement that cannot split a model is refused before the run starts
    dep.target_placement.check_model(target, role="target")
    if draft is not None:
        dep.placement_of("draft").check_model(draft, role="draft")
    if draft is None:
        _refuse_draft_options(args, drafting.name)
    header = _Header(f"simulating {requests.n_steps} steps of {requests.size} requests on "
                     f"{hw.name}" + (" (serving)" if serving else ""))
    record = bool(args.timeline or args.gantt)
    runs = 2 if args.baseline else 1  # the baseline replays every request again
    try:
        with ProgressBar(requests.size * runs, "simulating", enabled=wanted(args.json),
                         unit="req") as bar, header.on_first_progress(bar):
            result = simulate(trace, hw=hw, target=target, draft=draft, drafting=drafting,
                              requests=args.requests,
                              baseline=args.baseline, record_timeline=record,
                              engine=args.engine, serving=serving,
                              verify_nodes=args.verify_nodes,
                              pipelined=replay_options.pipelined,
                              deployment=dep, baseline_deployment=base_dep)
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise _named_as_option(exc) from None
        raise InputError(str(exc), field="engine") from None
    out = result.to_dict()
    out["deployment"] = {"hardware_kind": hw.kind, "target": dep.to_dict(),
                         "baseline": base_dep.to_dict()}
    _warn_if_too_big(result, out)
    out["trace"] = args.trace
    if args.timeline:
        _write_timeline(args.timeline, result)
        out["timeline_file"] = args.timeline
    if args.gantt:
        _write_gantt(args.gantt, result, window)
        out["gantt_file"] = args.gantt
        if window is not None and window[0] >= result.makespan_s:
            add_warning(out, "gantt_window_after_run",
                        f"the Gantt window starts at {window[0]:g} s, after the run's end at "
                        f"{result.makespan_s:.4g} s: the chart is empty")
    header.announce(None)
    print(f"done in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    emit(args.json, out, _human)
    return 0


#: Options that only a trace whose drafting runs a draft model can use: (destination,
#: option, what it does).
_DRAFT_OPTIONS = (
    ("draft", "--draft", "names the draft model"),
    ("pipelined", "--pipelined", "pre-drafts the next tree on a draft engine"),
    (SERVING_DEST + "overlap_draft", "--overlap-draft",
     "drafts one micro-batch while the other verifies"),
    (DEPLOY_DEST + "draft_stack", "--draft-stack", "sets the draft's software stack"),
    (DEPLOY_DEST + "draft_tp", "--draft-tp", "places the draft on its own devices"),
)


def _refuse_draft_options(args: argparse.Namespace, drafting: str) -> None:
    """A draft option given for a trace whose drafting runs no draft model is an error."""
    for dest, flag, what in _DRAFT_OPTIONS:
        if option_rules.given(args, dest):
            raise InputError(f"it {what}, but the trace's drafting {drafting!r} runs no "
                             "draft model", field=flag)


class _Header:
    """The run's first stderr line, printed once the simulation has started (its first
    finished request) or when it ends -- never before an input error, so a refused run
    prints only its error line."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.bar: Any = None
        self.done = False

    def announce(self, bar: Any) -> None:
        """Print the line (above `bar`, or the bar the scope was given) unless printed."""
        if self.done:
            return
        self.done = True
        bar = bar or self.bar
        if bar is not None:
            bar.write(self.line)
        else:
            print(self.line, file=sys.stderr, flush=True)

    def on_first_progress(self, bar: Any) -> Any:
        """A scope in which the library's progress reaches `bar` after this header."""
        from specaccel.schema import progress

        self.bar = bar

        def listen(n: int, stage: str | None) -> None:
            if n:
                self.announce(bar)
            bar.listen(n, stage)

        return progress.listening(listen)
