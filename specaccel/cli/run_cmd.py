"""`specaccel run`: the main job — replay the default workload on a GPU and on the accelerator.

Generates the bundled default workload (an EAGLE-on-Vicuna-7B tree-speculation preset),
replays it with the SimPy simulator on a GPU -- the one the preset's source measured on,
the A100-80GB for the default workload -- and on the default accelerator preset, each
against plain autoregressive decoding on the same hardware,
prints a report and writes ``report.json``, ``trace.parquet`` and PNG plots into the
output folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from specaccel.cli import option_rules
from specaccel.cli.hardware_options import (
    ACCELERATOR,
    accelerator_from_args,
    add_accelerator_options,
    wants_accelerator,
)
from specaccel.cli.output import emit, to_json
from specaccel.models.cost.deployment_config import DeploymentConfig
from specaccel.schema.config_fields import add_options, from_mapping, options_from_args
from specaccel.schema.errors import InputError
from specaccel.schema.output_path import (
    atomic_write,
    check_output_dir,
    check_output_file,
    staged_dir,
)
from specaccel.workloads.workload_options import WorkloadOptions

RUN_GPU = "a100-80gb"
"""The GPU `specaccel run` simulates when the workload's source names no GPU preset."""


def run_hardware(trace) -> tuple[str, str]:
    """The hardware presets `specaccel run` compares: the GPU the workload's source ran
    on (``trace.metadata["hardware"]``; the A100-80GB when it names no GPU) and the
    accelerator."""
    from specaccel.models.cost import get_hardware, list_hardware

    named = trace.metadata.get("hardware")
    gpu = named if named in list_hardware() and get_hardware(named).kind == "gpu" else RUN_GPU
    return gpu, ACCELERATOR


DEPLOY_DEST = "deploy_"
"""Prefix of the argparse destinations of the :class:`DeploymentConfig` options."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="replay the default workload on a GPU and on the default accelerator; report",
        description=(
            "Generate the bundled default workload (EAGLE tree speculation calibrated to "
            "Vicuna-7B on MT-Bench; --preset or --method for another), replay it with the "
            "SimPy simulator on the GPU its source measured on (the A100-80GB preset for "
            "the default workload and where the source names none) and on the default "
            "specaccel accelerator (or the --accel design), each against plain "
            "autoregressive "
            "decoding on the same hardware, print the report and write report.json, "
            "trace.parquet and PNG plots into the output folder."
        ),
    )
    p.add_argument("--out", default="specaccel-out", metavar="DIR",
                   help="output folder (created if missing; default: ./specaccel-out)")
    add_options(p, WorkloadOptions)
    add_accelerator_options(p)
    deploy = p.add_argument_group(
        "software stack and placement of the GPU run",
        "the software around the kernels and how target and draft are placed (default: the "
        "stack the workload's source ran on); the accelerator runs its kernels alone")
    add_options(deploy, DeploymentConfig, dest_prefix=DEPLOY_DEST)
    p.add_argument("--json", action="store_true",
                   help="print the report as one JSON object instead of text")
    p.set_defaults(func=run)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


#: The files `specaccel run` writes into its output folder, by kind.
RUN_FILES = {"report.json": "json", "trace.parquet": "parquet", "throughput.png": "png",
             "step_breakdown.png": "png", "energy_per_token.png": "png",
             "accepted_histogram.png": "png"}


def _check_out_dir(path: str) -> Path:
    """The output folder, checked (and every file that will land in it) before any work;
    nothing is created yet (:func:`_write_outputs` does, once the run has succeeded)."""
    out = check_output_dir(path, option="--out")
    for name, kind in RUN_FILES.items():
        if (out / name).exists() or (out / name).is_symlink():
            check_output_file(out / name, kind=kind, option="--out")
    return out


def workload_summary(trace) -> dict[str, Any]:
    """What the report says about the replayed workload."""
    meta = trace.metadata
    keys = ("preset", "target_model", "draft_model", "drafting", "seed")
    out: dict[str, Any] = {k: meta.get(k) for k in keys}
    out.update(n_requests=trace.n_requests, n_steps=trace.n_steps,
               verification=trace.verification,
               mean_nodes_per_step=float(trace.nodes_per_step().mean()),
               published=published_reference(meta.get("preset")))
    return out


def published_reference(preset_name: str | None) -> dict[str, Any] | None:
    """The published measurement the preset is calibrated to (τ, speedup, hardware)."""
    from specaccel.workloads import get_preset

    if not preset_name:
        return None
    row = get_preset(preset_name).source
    if row is None:
        return None

    def num(key: str) -> float | None:
        return float(row[key]) if row.get(key) not in (None, "") else None

    return {"tau": num("tau"), "speedup": num("speedup"), "hardware": row.get("hardware"),
            "source": row.get("source")}


def _warn_if_too_big(result) -> None:
    from specaccel.models.cost.hardware_spec import gib

    fp = result.memory_footprint
    if fp.get("fits") is False:
        dev = f" #{fp['busiest_device']}" if fp.get("devices", 1) > 1 else ""
        print(f"warning: {result.hardware}{dev}: weights + peak KV need "
              f"{gib(fp['peak_bytes'], 1)}, more than its {gib(fp['capacity_bytes'], 1)}"
              " (the simulation assumes they fit)", file=sys.stderr)


def _planned_runs(trace, accelerator, deploy: DeploymentConfig) -> list[dict[str, Any]]:
    """The arguments of :func:`simulate` for each hardware of :func:`run_hardware`, each
    passed through the checks the simulation makes (placements, memory, tree size), so a
    bad option is refused before any hardware is simulated or any file written."""
    from specaccel.sim import check_run, resolve_deployments, resolve_specs

    plans = []
    for hw in run_hardware(trace):
        hw_spec, target, draft, drafting = resolve_specs(
            trace, accelerator if accelerator is not None and hw == ACCELERATOR else hw)
        plan: dict[str, Any] = {"hw": hw_spec, "target": target, "draft": draft,
                                "drafting": drafting}
        if hw_spec.kind == "gpu":
            dep, base = resolve_deployments(trace, hw_spec, deploy)
            plan.update(deployment=dep, baseline_deployment=base)
        check_run(trace, **plan, baseline=True)
        plans.append(plan)
    return plans


def _refuse_draft_placement(args: argparse.Namespace, preset: str) -> None:
    """--draft-stack or --draft-tp for a workload that runs no draft model is an error."""
    for dest, flag in (("draft_stack", "--draft-stack"), ("draft_tp", "--draft-tp")):
        if option_rules.given(args, DEPLOY_DEST + dest):
            raise InputError(f"workload {preset} runs no draft model to place",
                             field=flag)


def _simulate_all(trace, plans: list[dict[str, Any]]) -> list[Any]:
    """The speculative run and its autoregressive baseline on each planned hardware."""
    from specaccel.sim import simulate

    results = []
    for plan in plans:
        name = plan["hw"].name  # an --accel or --accel-file design goes by its own name
        t_hw = time.perf_counter()
        _log(f"simulating {trace.n_steps} steps of {trace.n_requests} requests on {name} "
             "(speculative and autoregressive)")
        results.append(simulate(trace, **plan, baseline=True))
        _warn_if_too_big(results[-1])
        _log(f"  {name}: {time.perf_counter() - t_hw:.1f} s")
    return results


def _write_outputs(out: Path, trace, report: dict[str, Any], t0: float) -> None:
    """The trace, the plots and report.json (its wall time counted from `t0`) into `out`,
    all or nothing: they are written into a temporary folder and moved into `out`
    together, so a failure leaves an existing folder as it was and no new folder behind."""
    from specaccel.analysis.plots import write_run_plots
    from specaccel.workloads import write_trace

    with staged_dir(out, option="--out") as tmp:
        write_trace(trace, tmp / "trace.parquet")
        report["plots"] = [p.name for p in write_run_plots(report, tmp)]
        report["wall_time_s"] = time.perf_counter() - t0
        atomic_write(tmp / "report.json", to_json(report) + "\n", option="--out")


def run(args: argparse.Namespace) -> int:
    from specaccel.analysis.report import build_report, format_report

    options = from_mapping(WorkloadOptions, options_from_args(WorkloadOptions, args))
    deploy = from_mapping(DeploymentConfig,
                          options_from_args(DeploymentConfig, args, dest_prefix=DEPLOY_DEST))
    preset = options.resolve()
    accelerator = accelerator_from_args(args, None) if wants_accelerator(args) else None
    out = _check_out_dir(args.out)
    t0 = time.perf_counter()

    trace = options.generate()
    plans = _planned_runs(trace, accelerator, deploy)
    if plans[0]["draft"] is None:
        _refuse_draft_placement(args, preset.name)
    _log(f"generated workload {preset.name} (seed {options.seed}): {trace.n_requests} "
         f"requests, {trace.n_steps} steps")
    results = _simulate_all(trace, plans)
    report = build_report(results, workload=workload_summary(trace), out_dir=str(out))
    _write_outputs(out, trace, report, t0)

    def human(rep: dict[str, Any]) -> str:
        return (format_report(rep) + "\n\nwrote report.json, trace.parquet, "
                + ", ".join(rep["plots"]) + f"\noutput folder: {out.resolve()}")

    emit(args.json, report, human)
    return 0
