"""One call to simulate a trace on a hardware configuration, with its baseline.

:func:`simulate` takes model and hardware *specs*; :func:`simulate_named` resolves
names through :mod:`specaccel.models.cost` (target and draft default to the trace's
metadata).  Both run the speculative trace and, unless told not to, the autoregressive
baseline (:mod:`.autoregressive`) through the same SimPy model.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from specaccel.models.cost.drafting import NO_DRAFTING, DraftingMode, drafting_mode, drafting_of
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.sim.autoregressive import autoregressive_trace
from specaccel.sim.config_check import check_config, kv_capacity_tokens
from specaccel.sim.fast_path import fast_replay
from specaccel.sim.metrics import SimResult, build_result
from specaccel.sim.pipelined import SEPARATE_DRAFT_ENGINE, pipelined_replay
from specaccel.sim.replay import replay
from specaccel.sim.serving import ServingConfig, poisson_arrivals, serve
from specaccel.sim.static_batch import static_batch_applicable, static_batch_replay
from specaccel.sim.step_costs import CostFn, StepCosts, compute_step_costs

ENGINES = ("simpy", "fast", "auto")
"""``simpy``: the event model; ``fast``: the Numba fast path (uncontended runs only);
``auto``: the fast path when it is exact (:func:`fast_path_applicable`), else SimPy."""


def fast_path_applicable(serving: ServingConfig | None = None, pipelined: bool = False
                         ) -> tuple[bool, str]:
    """Whether the fast path can give the event model's answer for this run, and why not.

    It is exact when no two requests or passes compete for a unit, for HBM or for
    admission: the batch-1 closed-loop replay (``serving=None``), a serving run with
    ``max_batch == 1`` and no prefill, or a **static batch** (trace arrivals, no
    prefill, no overlapped micro-batches) — the last one is confirmed on the step costs
    by :func:`~.static_batch.static_batch_applicable` (every request at time 0, all in
    one batch, token budget and KV cache not binding).  Never with pipelined speculation.
    """
    if pipelined:
        return False, "pipelined speculation: the draft and the verify pass contend for HBM"
    if serving is None:
        return True, "batch-1 closed-loop replay: nothing is contended"
    if serving.uncontended:
        return True, "batch 1 without prefill: nothing is contended"
    if serving.prefill:
        return False, "prefill passes interleave with decode steps"
    if serving.overlap_draft:
        return False, "overlapped micro-batches contend for HBM"
    if serving.arrivals != "trace":
        return False, "Poisson arrivals: admission is dynamic"
    return True, "a static batch, if every request arrives at 0 and nothing binds"


def simulate(
    trace,
    *,
    hw: Any,
    target: Any,
    draft: Any,
    baseline: bool = True,
    drafting: str | DraftingMode | None = None,
    cost_fn: CostFn | None = None,
    unit_map: dict[str, str] | None = None,
    record_timeline: bool = False,
    engine: str = "simpy",
    serving: ServingConfig | None = None,
    check: bool = True,
    verify_nodes: int | None = None,
    pipelined: bool = False,
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
    baseline:
        Also simulate plain autoregressive decoding of the same committed tokens
        (``result.baseline``, ``result.speedup``).
    drafting:
        Drafting mode (a :class:`~specaccel.models.cost.drafting.DraftingMode` or its
        name); default from the trace's metadata.
    cost_fn:
        Per-pass cost function; default :func:`specaccel.models.cost.pass_costs`.
    unit_map:
        Override of the role → unit mapping.
    record_timeline:
        Keep the speculative replay's per-stage timeline in ``result.timeline``.
    engine:
        ``"simpy"`` (the discrete-event model), ``"fast"`` (the Numba fast path of
        :mod:`.fast_path`: the same numbers when nothing is contended, no timeline;
        a ``ValueError`` says why when the run is contended) or ``"auto"``.
        ``result.engine`` says which one produced the numbers.
    serving:
        A :class:`~.serving.ServingConfig`: arrivals, continuous batching, prefill and
        KV-limited admission (:mod:`.serving`).  ``None``: the batch-1 closed-loop replay.
    check:
        Reject a configuration that cannot run (weights larger than memory, a tree
        larger than the verify unit) with an :class:`InputError` before simulating.
    verify_nodes:
        The verify unit's node count (default from the hardware, see
        :func:`~.config_check.verify_unit_nodes`).
    pipelined:
        Draft the next tree while the current one is verified, on a separate draft
        engine, with HBM contention (:mod:`.pipelined`; batch-1 replay only).  With
        no draft model (``"draft-free"``, ``"none"``) there is nothing to pre-draft:
        the run is the ordinary replay (``result.pipeline`` is ``None``).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    drafting = drafting_of(trace.metadata) if drafting is None else drafting_mode(drafting)
    if serving is not None:
        serving.check()
    if pipelined and serving is not None:
        raise InputError("pipelined speculation is modelled in the batch-1 replay only, "
                         "not in a serving run", field="pipelined")
    if not drafting.runs_draft_model:
        draft = None           # a draft-free trace may still name one: it is not run
        pipelined = False      # nothing to pre-draft (module docstring of .pipelined)
    ok, why = fast_path_applicable(serving, pipelined)
    if engine == "auto":   # "static": the fast path if the static batch holds, else SimPy
        engine = ("simpy" if not ok or record_timeline
                  else "static" if serving is not None and not serving.uncontended
                  else "fast")
    if engine == "fast" and record_timeline:
        raise ValueError("the fast engine records no timeline; use engine='simpy'")
    if engine == "fast" and not ok:
        raise ValueError(f"the fast path is not exact for this run ({why}); use engine='simpy'")
    if check:
        check_config(trace, hw, target, draft, drafting=drafting, verify_nodes=verify_nodes)

    def _draft_of(costs: StepCosts):
        # the baseline ("none") of a speculative run holds no draft weights either
        return draft if costs.drafting.runs_draft_model else None

    def run(tr, costs: StepCosts, timeline: bool):
        if pipelined and costs.drafting.runs_draft_model:
            return pipelined_replay(tr, costs, outcome, hw, unit_map=unit_map,
                                    record_timeline=timeline)
        if serving is not None and not serving.uncontended and engine in ("fast", "static"):
            cap = kv_capacity_tokens(hw, target, _draft_of(costs), costs.kv_bytes_per_token)
            ok_static, why_static = static_batch_applicable(costs, serving, cap)
            if ok_static:
                return static_batch_replay(tr, costs, hw, target=target, draft=draft,
                                           config=serving, cost_fn=cost_fn,
                                           unit_map=unit_map)
            if engine == "fast":
                raise ValueError(f"the fast path is not exact for this run ({why_static}); "
                                 "use engine='simpy'")
        if serving is not None and not (engine == "fast" and serving.uncontended):
            umap = unit_map
            if (umap is None and serving.overlap_draft
                    and str(getattr(hw, "kind", "")) == "accelerator"):
                umap = SEPARATE_DRAFT_ENGINE
            cap = kv_capacity_tokens(hw, target, _draft_of(costs), costs.kv_bytes_per_token)
            return serve(tr, costs, hw, target=target, draft=draft, config=serving,
                         cost_fn=cost_fn, unit_map=umap, kv_capacity=cap,
                         record_timeline=timeline)
        if serving is not None and serving.arrivals == "poisson":
            costs = replace(costs, arrival_s=poisson_arrivals(
                costs.n_requests, float(serving.rate_per_s), serving.seed))
        if engine == "fast":
            return fast_replay(costs, hw, unit_map=unit_map)
        return replay(costs, hw, unit_map=unit_map, record_timeline=timeline)

    outcome = verify_trace(trace)
    costs = compute_step_costs(trace, target_model=target, draft_model=draft, hw=hw,
                               drafting=drafting, outcome=outcome, cost_fn=cost_fn)
    result = build_result(costs, run(trace, costs, record_timeline), hw=hw, target=target,
                          draft=draft)
    if baseline:
        ar = autoregressive_trace(trace, outcome)
        ar_costs = compute_step_costs(ar, target_model=target, draft_model=draft, hw=hw,
                                      drafting=NO_DRAFTING, cost_fn=cost_fn)
        result.baseline = build_result(ar_costs, run(ar, ar_costs, False),
                                       hw=hw, target=target, draft=draft)
    return result


def _lookup(getter, name: str, field: str):
    try:
        return getter(name)
    except InputError as exc:   # name the option the user gave, not the registry's field
        raise InputError(exc.reason, file=exc.file, where=exc.where, field=field) from None
    except (KeyError, ValueError) as exc:
        raise InputError(f"unknown name {name!r} ({exc})", field=field) from None


def resolve_specs(trace, hw: str, *, target: str | None = None, draft: str | None = None
                  ) -> tuple[Any, Any, Any, DraftingMode]:
    """Hardware and model specs by name; models default to the trace's metadata.

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
    hw_spec = _lookup(get_hardware, hw, "hw")
    target_spec = _lookup(get_model, target, "target")
    draft_spec = _lookup(get_model, draft, "draft") if draft else None
    return hw_spec, target_spec, draft_spec, drafting


def simulate_named(
    trace,
    hw: str,
    *,
    target: str | None = None,
    draft: str | None = None,
    baseline: bool = True,
    record_timeline: bool = False,
    engine: str = "simpy",
    serving: ServingConfig | None = None,
    pipelined: bool = False,
) -> SimResult:
    """:func:`simulate` with hardware and model names from :mod:`specaccel.models.cost`.

    `target` and `draft` default to ``trace.metadata["target_model"]`` and
    ``["draft_model"]`` (see :func:`resolve_specs`).
    """
    hw_spec, target_spec, draft_spec, drafting = resolve_specs(
        trace, hw, target=target, draft=draft)
    return simulate(trace, hw=hw_spec, target=target_spec, draft=draft_spec,
                    baseline=baseline, drafting=drafting, record_timeline=record_timeline,
                    engine=engine, serving=serving, pipelined=pipelined)
