"""One call to simulate a trace on a hardware configuration, with its baseline.

:func:`simulate` takes model and hardware *specs*; :func:`simulate_named` resolves
names through :mod:`specaccel.models.cost` (target and draft default to the trace's
metadata).  Both build the run's step-cost door (:class:`~.pricing.StepPricer`) and its
:class:`~.step_input.StepInput` once, and run the speculative trace and, unless told
not to, the autoregressive baseline (:mod:`.autoregressive`) on the engine the
options ask for (:mod:`.engines`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from specaccel.models.cost.drafting import (
    NO_DRAFTING,
    DraftingMode,
    drafting_mode,
    drafting_of,
)
from specaccel.schema.errors import InputError
from specaccel.sim.config_check import check_config
from specaccel.sim.deployment_pricing import deployment_pricer
from specaccel.sim.engines import fast_path_applicable, run_engine
from specaccel.sim.options import SimOptions
from specaccel.sim.pricing import PassTerm, StepPricer, StepStages, StepTerm
from specaccel.sim.request_sampling import RequestSource
from specaccel.sim.result import SimResult, build_result
from specaccel.sim.step_costs import CostFn
from specaccel.sim.step_input import StepInput

__all__ = ["check_run", "fast_path_applicable", "resolve_deployments", "resolve_specs", "simulate",
           "simulate_named"]


def simulate(
    trace,
    *,
    hw: Any,
    target: Any,
    draft: Any,
    drafting: str | DraftingMode | None = None,
    cost_fn: CostFn | None = None,
    pass_terms: tuple[PassTerm, ...] = (),
    step_terms: tuple[StepTerm, ...] = (),
    stages: StepStages | None = None,
    deployment: Any = None,
    baseline_deployment: Any = None,
    options: SimOptions | None = None,
    **option_fields: Any,
) -> SimResult:
    """Replay `trace` on `hw` (and its autoregressive baseline) and report.

    Parameters
    ----------
    trace:
        A :class:`~specaccel.schema.trace.Trace`.
    hw, target, draft:
        Hardware and model specs for the cost function.  `draft` is ignored (may be
        ``None``) when the drafting mode runs no draft model (``"draft-free"``,
        ``"none"``): no draft pass, no draft weights in memory.
    drafting:
        Drafting mode (a :class:`~specaccel.models.cost.drafting.DraftingMode` or its
        name); default from the trace's metadata.
    cost_fn, pass_terms, step_terms, stages:
        The step-cost door's kernel (default :func:`specaccel.models.cost.pass_costs`),
        per-pass and per-step cost terms, and a pricer of whole steps in place of the
        door's own (:class:`~.pricing.StepPricer`).
    deployment, baseline_deployment:
        A :class:`~specaccel.models.cost.deployment.Deployment` (software stack and
        placement of the target and the draft on `hw`) that prices every pass and step
        in place of `cost_fn`, the terms and `stages`; the autoregressive baseline runs
        on `baseline_deployment` (default `deployment`).  Memory is then checked per
        device of the placements.
    options:
        How to simulate (:class:`~.options.SimOptions`: engine, serving, pipelining,
        baseline, timeline, unit map, checks); `option_fields` set its fields by name
        (``simulate(..., engine="fast", serving=ServingConfig(...))``).
        ``result.engine`` names the engine that produced the numbers.
    """
    opts = replace(options or SimOptions(), **option_fields)
    pricer, base_pricer = _checked_pricers(
        trace, hw, target, draft, drafting, opts, cost_fn=cost_fn,
        pass_terms=pass_terms, step_terms=step_terms, stages=stages,
        deployment=deployment, baseline_deployment=baseline_deployment)
    source = RequestSource(trace, opts.requests)
    run = {"serving": opts.serving, "unit_map": opts.unit_map, "pipelined": opts.pipelined}
    spec = StepInput.build(source, pricer, record_timeline=opts.record_timeline,
                           deployment=deployment, **run)
    result = build_result(spec, run_engine(spec, opts.engine))
    del spec         # what an engine kept of every step (a serving run's costs) goes now
    if deployment is not None:  # the busiest device of the placements, not one device
        peak = float(result.kv_cache["peak_tokens"])
        result.memory_footprint = deployment.memory_footprint(
            target, pricer.draft_model, kv_tokens=peak,
            draft_kv_tokens=peak if pricer.draft_model is not None else 0.0)
    if opts.baseline:
        ar = StepInput.build(source, base_pricer, baseline=True,
                             deployment=baseline_deployment or deployment, **run)
        result.baseline = build_result(ar, run_engine(ar, opts.engine))
    return result


def check_run(trace, *, hw: Any, target: Any, draft: Any,
              drafting: str | DraftingMode | None = None, deployment: Any = None,
              baseline_deployment: Any = None, options: SimOptions | None = None,
              **option_fields: Any) -> None:
    """The checks :func:`simulate` makes before it replays anything (options, drafting
    mode against serving and stack, placements, memory, tree size), without the replay:
    raises :class:`InputError` where :func:`simulate` would.  Arguments as there."""
    opts = replace(options or SimOptions(), **option_fields)
    _checked_pricers(trace, hw, target, draft, drafting, opts, deployment=deployment,
                     baseline_deployment=baseline_deployment)


def _checked_pricers(trace, hw: Any, target: Any, draft: Any,
                     drafting: str | DraftingMode | None, opts: SimOptions, *,
                     cost_fn: CostFn | None = None, pass_terms: tuple[PassTerm, ...] = (),
                     step_terms: tuple[StepTerm, ...] = (), stages: StepStages | None = None,
                     deployment: Any = None, baseline_deployment: Any = None
                     ) -> tuple[StepPricer, StepPricer]:
    """The run's step-cost doors (speculative, baseline) once the options and the
    configuration pass every up-front check."""
    opts.validate()
    mode = drafting_of(trace.metadata) if drafting is None else drafting_mode(drafting)
    if opts.serving is not None and not mode.standard_steps:
        raise InputError(f"drafting {mode.name!r} is priced for the batch-1 replay only: "
                         "batching its rows is not modelled", field="serving")
    if deployment is None and baseline_deployment is not None:
        raise ValueError("a baseline deployment needs a deployment")
    if deployment is not None:
        if cost_fn is not None or pass_terms or step_terms or stages is not None:
            raise ValueError("a deployment prices every pass and step: give it or a "
                             "cost function, terms and stages, not both")
        if deployment.hw is not hw and deployment.hw != hw:
            raise ValueError("the deployment is on another device than `hw`")
        pricer = deployment_pricer(deployment, target, draft, mode)
        base_pricer = deployment_pricer(baseline_deployment or deployment, target, None,
                                        NO_DRAFTING)
    else:
        pricer = StepPricer.build(hw, target, draft, mode, cost_fn=cost_fn,
                                  pass_terms=pass_terms, step_terms=step_terms,
                                  stages=stages)
        base_pricer = pricer.baseline()
    if opts.check:
        check_config(trace, hw, target, pricer.draft_model, drafting=mode,
                     verify_nodes=opts.verify_nodes, deployment=deployment,
                     kv_capacity=None if opts.serving is None
                     else opts.serving.kv_capacity_tokens)
    return pricer, base_pricer


def _lookup(getter, name: str, field: str):
    try:
        return getter(name)
    except InputError as exc:   # name the option the user gave, not the registry's field
        raise InputError(exc.reason, file=exc.file, where=exc.where, field=field) from None
    except (KeyError, ValueError) as exc:
        raise InputError(f"unknown name {name!r} ({exc})", field=field) from None


def resolve_specs(trace, hw: Any, *, target: str | None = None, draft: str | None = None
                  ) -> tuple[Any, Any, Any, DraftingMode]:
    """Hardware and model specs by name; models default to the trace's metadata.
    `hw` is a preset name or a hardware spec (an accelerator design), used as is.

    Returns ``(hw_spec, target_spec, draft_spec, drafting)``; ``draft_spec`` is ``None``
    when the drafting mode runs no draft model: ``"none"`` (no drafting) and
    ``"draft-free"`` (the tree comes from a lookup).  Such a trace needs no draft name,
    and one it names anyway (in its metadata or as `draft`) is ignored rather than
    rejected — it would not run.  Unknown names raise :class:`InputError`.
    """
    from specaccel.models.cost import get_hardware, get_model

    target = target or trace.metadata.get("target_model")
    draft = draft or trace.metadata.get("draft_model")
    drafting = drafting_of(trace.metadata)
    if not target:
        raise InputError("the trace names no target model; give --target", field="target")
    if not drafting.runs_draft_model:
        draft = None
    elif not draft:
        raise InputError(f"the trace names no draft model and drafting {drafting.name!r} "
                         "runs one; give --draft", field="draft")
    hw_spec = _lookup(get_hardware, hw, "hw") if isinstance(hw, str) else hw
    target_spec = _lookup(get_model, target, "target")
    draft_spec = _lookup(get_model, draft, "draft") if draft else None
    return hw_spec, target_spec, draft_spec, drafting


def resolve_deployments(trace, hw: Any, config: Any = None) -> tuple[Any, Any]:
    """The deployments of a run and of its baseline on `hw` from a
    :class:`~specaccel.models.cost.deployment_config.DeploymentConfig` (default: no
    option set): a stack the options leave unset is the trace's (its source's software,
    ``trace.metadata["stack"]`` etc.), else ``ideal``."""
    from specaccel.models.cost.deployment_config import DeploymentConfig

    cfg = config or DeploymentConfig()
    meta = dict(trace.metadata)
    return cfg.build(hw, trace=meta), cfg.build(hw, trace=meta, baseline=True)


def simulate_named(trace, hw: str, *, target: str | None = None, draft: str | None = None,
                   deployment: Any = None, options: SimOptions | None = None,
                   **option_fields: Any) -> SimResult:
    """:func:`simulate` with hardware and model names from :mod:`specaccel.models.cost`.

    `target` and `draft` default to ``trace.metadata["target_model"]`` and
    ``["draft_model"]`` (see :func:`resolve_specs`); `deployment` is a
    :class:`~specaccel.models.cost.deployment_config.DeploymentConfig` (stack and
    placement; its unset stacks are the trace's, see :func:`resolve_deployments`), or
    ``None`` for the kernels alone; `options` / `option_fields` as in :func:`simulate`.
    """
    hw_spec, target_spec, draft_spec, drafting = resolve_specs(
        trace, hw, target=target, draft=draft)
    deps = {}
    if deployment is not None:
        dep, base = resolve_deployments(trace, hw_spec, deployment)
        deps = {"deployment": dep, "baseline_deployment": base}
    return simulate(trace, hw=hw_spec, target=target_spec, draft=draft_spec,
                    drafting=drafting, options=options, **deps, **option_fields)
