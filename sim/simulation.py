"""One call to simulate a trace on a hardware configuration, with its baseline.

:func:`simulate` takes model and hardware *specs*; :func:`simulate_named` resolves
names through :mod:`specaccel.models.cost` (target and draft default to the trace's
metadata).  Both run the speculative trace and, unless told not to, the autoregressive
baseline (:mod:`.autoregressive`) through the same SimPy model.
"""

from __future__ import annotations

from typing import Any

from specaccel.models.golden import verify_trace
from specaccel.sim.autoregressive import autoregressive_trace
from specaccel.sim.fast_path import fast_replay
from specaccel.sim.metrics import SimResult, build_result
from specaccel.sim.replay import replay
from specaccel.sim.step_costs import DRAFTING_MODES, CostFn, compute_step_costs

from specaccel.errors import InputError

ENGINES = ("simpy", "fast")


def simulate(
    trace,
    *,
    hw: Any,
    target: Any,
    draft: Any,
    baseline: bool = True,
    drafting: str | None = None,
    cost_fn: CostFn | None = None,
    unit_map: dict[str, str] | None = None,
    record_timeline: bool = False,
    engine: str = "simpy",
) -> SimResult:
    """Replay `trace` on `hw` (and its autoregressive baseline) and report.

    Parameters
    ----------
    trace:
        A :class:`~specaccel.workloads.trace.Trace`.
    hw, target, draft:
        Hardware and model specs for the cost function.
    baseline:
        Also simulate plain autoregressive decoding of the same committed tokens
        (``result.baseline``, ``result.speedup``).
    drafting:
        Drafting mode; default from the trace's metadata.
    cost_fn:
        Per-pass cost function; default :func:`specaccel.models.cost.pass_costs`.
    unit_map:
        Override of the role → unit mapping.
    record_timeline:
        Keep the speculative replay's per-stage timeline in ``result.timeline``.
    engine:
        ``"simpy"`` (the discrete-event model) or ``"fast"`` (the vectorised
        uncontended path of :mod:`.fast_path`: same numbers, no timeline).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if engine == "fast" and record_timeline:
        raise ValueError("the fast engine records no timeline; use engine='simpy'")

    def run(costs, timeline: bool):
        if engine == "fast":
            return fast_replay(costs, hw, unit_map=unit_map)
        return replay(costs, hw, unit_map=unit_map, record_timeline=timeline)

    outcome = verify_trace(trace)
    costs = compute_step_costs(trace, target_model=target, draft_model=draft, hw=hw,
                               drafting=drafting, outcome=outcome, cost_fn=cost_fn)
    result = build_result(costs, run(costs, record_timeline), hw=hw, target=target,
                          draft=draft)
    if baseline:
        ar = autoregressive_trace(trace, outcome)
        ar_costs = compute_step_costs(ar, target_model=target, draft_model=draft, hw=hw,
                                      drafting="none", cost_fn=cost_fn)
        result.baseline = build_result(ar_costs, run(ar_costs, False),
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
                  ) -> tuple[Any, Any, Any, str]:
    """Hardware and model specs by name; models default to the trace's metadata.

    Returns ``(hw_spec, target_spec, draft_spec, drafting)``; ``draft_spec`` is ``None``
    for a trace without drafting.  Unknown names raise :class:`InputError`.
    """
    from specaccel.models.cost import get_hardware, get_model

    target = target or trace.metadata.get("target_model")
    draft = draft or trace.metadata.get("draft_model")
    drafting = str(trace.metadata.get("drafting", "per-level"))
    if drafting not in DRAFTING_MODES:
        raise InputError(f"unknown drafting {drafting!r}; choose one of "
                         f"{', '.join(DRAFTING_MODES)}", where=("metadata",), field="drafting")
    if not target:
        raise InputError("the trace names no target model; give --target", field="target")
    if not draft and drafting != "none":
        raise InputError("the trace names no draft model; give --draft", field="draft")
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
) -> SimResult:
    """:func:`simulate` with hardware and model names from :mod:`specaccel.models.cost`.

    `target` and `draft` default to ``trace.metadata["target_model"]`` and
    ``["draft_model"]`` (see :func:`resolve_specs`).
    """
    hw_spec, target_spec, draft_spec, drafting = resolve_specs(
        trace, hw, target=target, draft=draft)
    return simulate(trace, hw=hw_spec, target=target_spec, draft=draft_spec,
                    baseline=baseline, drafting=drafting, record_timeline=record_timeline,
                    engine=engine)
