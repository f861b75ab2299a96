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

from specaccel.models.cost.drafting import DraftingMode, drafting_mode, drafting_of
from specaccel.schema.errors import InputError
from specaccel.sim.config_check import check_config
from specaccel.sim.engines import fast_path_applicable, run_engine
from specaccel.sim.options import SimOptions
from specaccel.sim.pricing import PassTerm, StepPricer, StepStages, StepTerm
from specaccel.sim.request_sampling import RequestSource
from specaccel.sim.result import SimResult, build_result
from specaccel.sim.step_costs import CostFn
from specaccel.sim.step_input import StepInput

__all__ = ["fast_path_applicable", "resolve_specs", "simulate", "simulate_named"]


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
    options:
        How to simulate (:class:`~.options.SimOptions`: engine, serving, pipelining,
        baseline, timeline, unit map, checks); `option_fields` set its fields by name
        (``simulate(..., engine="fast", serving=ServingConfig(...))``).
        ``result.engine`` names the engine that produced the numbers.
    """
    opts = replace(options or SimOptions(), **option_fields)
    opts.validate()
    mode = drafting_of(trace.metadata) if drafting is None else drafting_mode(drafting)
    pricer = StepPricer.build(hw, target, draft, mode, cost_fn=cost_fn,
                              pass_terms=pass_terms, step_terms=step_terms, stages=stages)
    if opts.check:
        check_config(trace, hw, target, pricer.draft_model, drafting=mode,
                     verify_nodes=opts.verify_nodes)
    source = RequestSource(trace, opts.requests)
    run = {"serving": opts.serving, "unit_map": opts.unit_map, "pipelined": opts.pipelined}
    spec = StepInput.build(source, pricer, record_timeline=opts.record_timeline, **run)
    result = build_result(spec, run_engine(spec, opts.engine))
    del spec         # what an engine kept of every step (a serving run's costs) goes now
    if opts.baseline:
        ar = StepInput.build(source, pricer, baseline=True, **run)
        result.baseline = build_result(ar, run_engine(ar, opts.engine))
    return result


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


def simulate_named(trace, hw: str, *, target: str | None = None, draft: str | None = None,
                   options: SimOptions | None = None, **option_fields: Any) -> SimResult:
    """:func:`simulate` with hardware and model names from :mod:`specaccel.models.cost`.

    `target` and `draft` default to ``trace.metadata["target_model"]`` and
    ``["draft_model"]`` (see :func:`resolve_specs`); `options` / `option_fields` as in
    :func:`simulate`.
    """
    hw_spec, target_spec, draft_spec, drafting = resolve_specs(
        trace, hw, target=target, draft=draft)
    return simulate(trace, hw=hw_spec, target=target_spec, draft=draft_spec,
                    drafting=drafting, options=options, **option_fields)
