"""Evaluating one design point of a sweep: parameters -> (trace, hardware, models) -> metrics.

A *point* is a flat dict of parameters (:func:`parameter_names`): the workload
(``preset`` or ``trace_file``, ``requests``, ``steps``, ``trace_seed``, ``tree``), the
models (``target``, ``draft``), the hardware (``hardware`` preset plus overrides of its
design parameters), its software stack and placement (the fields of
:class:`~specaccel.models.cost.deployment_config.DeploymentConfig`: ``stack``, ``tp``,
``pp``, ``offload``, ...; unset stacks are the workload's) and the serving run (the fields of
:class:`~specaccel.sim.serving.ServingConfig`: ``max_batch``, ``rate_per_s``, ...; a
point without them is the batch-1 replay).  Every field of a configuration dataclass in
:func:`point_configs` is a parameter, declared once where the dataclass is.
:func:`evaluate_point` builds the trace, the hardware spec and the model specs, calls
the simulator's entry point :func:`specaccel.sim.simulate` and returns the kept metrics
as a flat dict of numbers, plus ``evaluator``: ``"fast"`` when the simulator's vectorised
fast path produced the numbers, ``"event"`` when the SimPy event model did (read from the
simulator's result; whether the fast path is exact is the simulator's
:func:`specaccel.sim.fast_path_applicable`).

Hardware overrides: on the parameterised accelerator (``specaccel-default``) any field of
:class:`~specaccel.models.cost.AcceleratorConfig` (``array_rows``, ``sram_mib``,
``hbm_stacks``, ``clock_hz``, ...), so that area, static power and energy per operation
follow from the cost model; on a GPU preset any numeric field of
:class:`~specaccel.models.cost.HardwareSpec` (``mem_bw_bytes_s``, ``peak_flops``, ...)
through :func:`dataclasses.replace`.

Everything here is deterministic: the same point gives the same numbers bit for bit in
any process, which is what makes local and Dask sweeps identical.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from specaccel.schema.config_fields import (
    FieldSpec,
    config_fields,
    field_names,
    field_spec,
    from_mapping,
)
from specaccel.schema.errors import InputError
from specaccel.sim.metrics import METRICS as SIM_METRICS
from specaccel.sim.options import ENGINE_CHOICES

WORKLOAD_PARAMS = ("workload", "preset", "trace_file", "requests", "steps", "trace_seed",
                   "tree", "tau")
MODEL_PARAMS = ("target", "draft")
HARDWARE_PARAM = "hardware"
#: Parameters that only a workload whose drafting runs a draft model uses, with what they
#: do (the sweep's counterpart of the draft options ``simulate`` refuses on such a trace).
DRAFT_PARAMS = {
    "draft": "names the draft model",
    "pipelined": "pre-drafts the next tree on a draft engine",
    "overlap_draft": "drafts one micro-batch while the other verifies",
    "draft_stack": "sets the draft's software stack",
    "draft_tp": "places the draft on its own devices",
}
DEFAULT_HARDWARE = "specaccel-default"


def point_configs() -> dict[str, type]:
    """The configuration dataclasses whose fields a point may set, by role: every field
    is a sweep parameter (``[fixed]``, ``[axes]``) with no code here."""
    from specaccel.models.cost import AcceleratorConfig
    from specaccel.models.cost.deployment_config import DeploymentConfig
    from specaccel.sim.options import EngineOptions, ServingConfig

    return {"accelerator": AcceleratorConfig, "serving": ServingConfig,
            "engine": EngineOptions, "deployment": DeploymentConfig}


def accelerator_params() -> tuple[str, ...]:
    """Design parameters of the accelerator that a sweep may set."""
    return field_names(point_configs()["accelerator"])


def accelerator_text_params() -> tuple[str, ...]:
    """The accelerator parameters that take a string (``dataflow``, ``precision``, ...)."""
    return tuple(s.name for s in config_fields(point_configs()["accelerator"])
                 if s.kind is str)


def serving_params() -> tuple[str, ...]:
    """Serving and batching parameters (:class:`~specaccel.sim.serving.ServingConfig`);
    a point that sets any of them is a serving run."""
    return field_names(point_configs()["serving"])


def config_field(name: str) -> FieldSpec | None:
    """The declaration of a point parameter that is a configuration field, if it is one."""
    for cls in point_configs().values():
        if name in field_names(cls):
            return field_spec(cls, name)
    return None


def gpu_params() -> tuple[str, ...]:
    """Numeric :class:`HardwareSpec` fields a sweep may override on a GPU preset."""
    from specaccel.models.cost import HardwareSpec

    return tuple(f.name for f in fields(HardwareSpec)
                 if f.type in ("float", "int") and f.name != "name")


def deployment_params() -> tuple[str, ...]:
    """Software stack and placement parameters
    (:class:`~specaccel.models.cost.deployment_config.DeploymentConfig`): on a GPU, a
    stack a point leaves unset is its workload's (the source's software)."""
    return field_names(point_configs()["deployment"])


def deployment_config(point: dict[str, Any]):
    """The point's :class:`~specaccel.models.cost.deployment_config.DeploymentConfig`."""
    return from_mapping(point_configs()["deployment"],
                        {k: point[k] for k in deployment_params() if k in point})


def parameter_names() -> frozenset[str]:
    """Every parameter name a point may carry."""
    configured = (name for cls in point_configs().values() for name in field_names(cls))
    return frozenset((*WORKLOAD_PARAMS, *MODEL_PARAMS, HARDWARE_PARAM, *gpu_params(),
                      *configured))


METRICS: dict[str, str] = {m.name: m.help for m in SIM_METRICS.values()}
"""The metrics a sweep can keep, with what they mean (the simulator's registry,
:data:`specaccel.sim.metrics.METRICS`)."""

DEFAULT_METRICS = tuple(m.name for m in SIM_METRICS.values() if m.sweep_default)
ENGINES = ENGINE_CHOICES
_TREE_RE = re.compile(r"^(chain-(\d+)|(\d+)x(\d+)|(\d+)-ary-(\d+)|eagle-25|preset"
                      r"|sequoia-(\d+))$")
SEQUOIA_MAX_DEPTH = 10
SEQUOIA_RANKS = 8


@dataclass(frozen=True)
class EvalSettings:
    """Sweep-wide evaluation settings (part of every point's key).

    Attributes
    ----------
    metrics:
        Metric names to keep (:data:`METRICS`).
    engine:
        ``"auto"`` (the fast path where valid, else the event simulator), ``"fast"`` or
        ``"event"``.
    baseline:
        Also simulate the autoregressive baseline (needed for ``speedup``).
    """

    metrics: tuple[str, ...] = DEFAULT_METRICS
    engine: str = "auto"
    baseline: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": list(self.metrics), "engine": self.engine,
                "baseline": self.baseline}


def serving_config(point: dict[str, Any]):
    """The point's :class:`~specaccel.sim.serving.ServingConfig` (its serving parameters
    on the defaults), or ``None`` when it sets none: the batch-1 closed-loop replay."""
    values = {k: point[k] for k in serving_params() if k in point}
    if not values:
        return None
    if set(values) == {"seed"}:
        raise InputError("is the seed of a serving run's Poisson arrivals, and this point "
                         "sets no serving parameter (a workload's seed is set in "
                         "[[workloads]])", field="seed")
    return from_mapping(point_configs()["serving"], values)


def engine_options(point: dict[str, Any]):
    """The point's :class:`~specaccel.sim.options.EngineOptions` (``pipelined``) on the
    defaults."""
    cls = point_configs()["engine"]
    return from_mapping(cls, {k: point[k] for k in field_names(cls) if k in point})


def run_options(point: dict[str, Any]) -> dict[str, Any]:
    """The simulator options a point asks for besides its trace, hardware and models:
    ``serving`` and ``pipelined`` of :func:`specaccel.sim.simulate`.

    A point that sets a serving parameter (:func:`serving_params`) is a serving run with
    that :func:`serving_config`; any other is the batch-1 closed-loop replay.  The same
    options go to :func:`fast_path_status` and to the simulation itself, so the
    fast-path decision is made on what is actually run.
    """
    engine = engine_options(point)
    return {"serving": serving_config(point), "pipelined": engine.pipelined}


def check_point(point: dict[str, Any]) -> None:
    """Build what a point configures (its accelerator design, its serving config) so that
    rules between parameters fail before a sweep starts; :class:`InputError` naming the
    parameter."""
    if point.get(HARDWARE_PARAM, DEFAULT_HARDWARE) == DEFAULT_HARDWARE:
        accel = set(accelerator_params())
        from_mapping(point_configs()["accelerator"],
                     {k: v for k, v in point.items() if k in accel})
    serving = serving_config(point)
    if engine_options(point).pipelined and serving is not None:
        raise InputError("pipelined speculation is modelled in the batch-1 replay only, "
                         "and this point is a serving run", field="pipelined")
    deployment_config(point)


def fast_path_status(point: dict[str, Any]) -> tuple[bool, str]:
    """Whether the simulator's fast path is exact for `point`, and why (not): the
    simulator's own statement, :func:`specaccel.sim.fast_path_applicable`, on the
    point's :func:`run_options`."""
    from specaccel.sim import fast_path_applicable

    options = run_options(point)
    return fast_path_applicable(serving=options["serving"], pipelined=options["pipelined"])


def fast_path_valid(point: dict[str, Any]) -> bool:
    """Whether the simulator's vectorised fast path gives the event model's answer for
    `point` (:func:`fast_path_status`; no rule of its own)."""
    return fast_path_status(point)[0]


def evaluator_label(sim_engine: str) -> str:
    """The sweep's ``evaluator`` for the engine a :class:`~specaccel.sim.SimResult`
    reports: its kind in the simulator's engine registry, ``"fast"`` or ``"event"``."""
    from specaccel.sim.engines import engine_kind

    return engine_kind(sim_engine)


#: Most nodes a swept draft tree may have (the Sequoia search's own limit; one verify
#: pass over more tokens than this is far outside any published design).
MAX_TREE_NODES = 4096


def _tree_nodes(m: re.Match[str]) -> int:
    """Nodes (root included) of the tree a matched name describes, without building it."""
    if m.group(2) is not None:                       # chain-G
        return int(m.group(2)) + 1
    if m.group(3) is not None:                       # KxD: k chains of depth d
        return int(m.group(3)) * int(m.group(4)) + 1
    if m.group(5) is not None:                       # K-ary-D: 1 + k + ... + k^d
        k, d = int(m.group(5)), int(m.group(6))
        total, level = 1, 1
        for _ in range(d):
            level *= k
            total += level
            if total > MAX_TREE_NODES:
                break
        return total
    if m.group(7) is not None:                       # sequoia-N: at most N nodes
        return int(m.group(7))
    from specaccel.workloads import eagle_default_tree

    return eagle_default_tree().n_nodes              # eagle-25

def tree_shape(spec: str, preset: str | None = None):
    """A draft-tree shape from its sweep name: ``chain-G``, ``KxD`` (SpecInfer k x d),
    ``K-ary-D`` (complete k-ary tree), ``eagle-25``, or ``sequoia-N``: the tree of at
    most N nodes (root included) with the most expected tokens per step under the
    preset's first-level acceptance and sibling-rank decay (Sequoia's positional model,
    :mod:`specaccel.models.sequoia`; depth at most 10)."""
    from specaccel.workloads import chain, eagle_default_tree, k_ary, k_by_depth

    m = _TREE_RE.match(str(spec))
    if m is None or spec == "preset":
        raise InputError(f"unknown tree {spec!r}; use chain-G, KxD, K-ary-D, eagle-25 or "
                         "sequoia-N", field="tree")
    nodes = _tree_nodes(m)
    if nodes > MAX_TREE_NODES:
        raise InputError(f"{spec} has {nodes} nodes; at most {MAX_TREE_NODES} are allowed",
                         field="tree")
    if m.group(7) is not None:
        budget = int(m.group(7))
        if budget < 2:
            raise InputError(f"a sequoia tree needs a budget >= 2, not {budget}",
                             field="tree")
        if preset is None:   # checking the name only
            return None
        return _sequoia_shape(str(preset), budget)
    if m.group(2) is not None:
        return chain(int(m.group(2)))
    if m.group(3) is not None:
        return k_by_depth(int(m.group(3)), int(m.group(4)))
    if m.group(5) is not None:
        return k_ary(int(m.group(5)), int(m.group(6)))
    return eagle_default_tree()


@functools.lru_cache(maxsize=64)
def _sequoia_shape(preset: str, budget: int):
    from specaccel.models.sequoia import sequoia_table
    from specaccel.models.theory import marginal_from_conditional
    from specaccel.workloads import from_parents, get_preset

    model = get_preset(preset).model()
    conditional = model.alpha[0] * (1.0 + np.arange(SEQUOIA_RANKS)) ** -model.rank_decay
    table = sequoia_table(marginal_from_conditional(conditional), budget,
                          min(SEQUOIA_MAX_DEPTH, budget - 1))
    return from_parents(table.tree(budget), name=f"sequoia-{budget}")


@functools.lru_cache(maxsize=16)
def _trace(preset: str | None, trace_file: str | None, requests: int | None,
           steps: int | None, seed: int, tree: str | None, tau: float | None = None):
    from specaccel.workloads import get_preset, read_trace, synthesize_trace
    from specaccel.workloads.presets import Preset

    if trace_file:
        return read_trace(trace_file)
    p = get_preset(preset)
    if tree is None or tree == "preset":
        return p.generate(n_requests=requests, steps_per_request=steps, seed=seed, tau=tau)
    if not isinstance(p, Preset):
        raise InputError(f"replaces the tree of a calibrated preset; {p.name!r} is "
                         f"{p.kind}", field="tree")
    if tau is not None:
        p = p.with_tau(tau)
    # synthesize_trace records the shape as metadata.tree (its name, nodes and levels)
    return synthesize_trace(
        tree_shape(tree, p.name), p.model(), seed=seed, verification=p.verification,
        n_requests=p.n_requests if requests is None else int(requests),
        steps_per_request=p.steps_per_request if steps is None else int(steps),
        prompt_lengths=p.prompt_lengths, metadata=p.trace_metadata(seed))


@functools.lru_cache(maxsize=32)
def _model(name: str):
    from specaccel.models.cost import get_model

    return get_model(name)


@functools.lru_cache(maxsize=16)
def _base_hardware(name: str):
    from specaccel.models.cost import get_hardware

    return get_hardware(name)


def build_hardware(point: dict[str, Any]):
    """The :class:`HardwareSpec` of a point (preset + overrides; see module docstring)."""
    name = str(point.get(HARDWARE_PARAM, DEFAULT_HARDWARE))
    accel = set(accelerator_params())
    overrides = {k: v for k, v in point.items() if k in accel}
    if name == DEFAULT_HARDWARE:
        if not overrides:
            return _base_hardware(name)
        return from_mapping(point_configs()["accelerator"], overrides).build()
    base = _base_hardware(name)
    gpu = set(gpu_params())
    spec_over = {k: v for k, v in point.items() if k in gpu}
    bad = sorted(set(overrides) - gpu)
    if bad:
        raise InputError(f"{bad[0]!r} is a design parameter of {DEFAULT_HARDWARE}, "
                         f"not of preset {name!r}", field=bad[0])
    return replace(base, **spec_over) if spec_over else base


def evaluate_point(point: dict[str, Any], settings: EvalSettings) -> dict[str, Any]:
    """Simulate one design point and return its kept metrics and the evaluator used.

    Parameters
    ----------
    point:
        The point's parameters (module docstring).
    settings:
        Metrics to keep, engine choice and baseline.

    Returns
    -------
    dict
        ``{metric: value for metric in settings.metrics}`` plus ``"evaluator"``
        (``"fast"`` or ``"event"``).  Missing values (e.g. ``speedup`` without a
        baseline) are NaN.
    """
    from specaccel.sim import simulate

    trace, run = simulation_inputs(point, settings)
    result = simulate(trace, **run).to_dict()
    flat = result["metrics"]
    out: dict[str, Any] = {}
    for m in settings.metrics:
        v = flat[m]
        if not metric_is_numeric(m):
            out[m] = list(v)
        else:
            out[m] = math.nan if v is None else float(v)
    out["evaluator"] = evaluator_label(str(result["engine"]))
    return out


def check_simulation(point: dict[str, Any], settings: EvalSettings) -> None:
    """The checks :func:`evaluate_point`'s simulation makes before it replays anything
    (:func:`specaccel.sim.check_run`: options, placements, memory, the draft against the
    target, the tree against the verify unit), without the replay; :class:`InputError`
    where the evaluation would raise one."""
    from specaccel.sim import check_run

    trace, run = simulation_inputs(point, settings)
    check_run(trace, **run)


def simulation_inputs(point: dict[str, Any], settings: EvalSettings
                      ) -> tuple[Any, dict[str, Any]]:
    """The trace of `point` and the keyword arguments of :func:`specaccel.sim.simulate`
    that run it with `settings` (hardware, models, drafting, deployments, engine,
    baseline, serving and pipelining); :class:`InputError` for an engine the point
    cannot use or a model the workload does not name."""
    from specaccel.models.cost.drafting import drafting_of
    from specaccel.sim import resolve_deployments

    if settings.engine == "fast":
        ok, why = fast_path_status(point)
        if not ok:
            raise InputError(f"the fast path is not exact for this point ({why})",
                             field="engine")
    steps = point.get("steps")
    requests = point.get("requests")
    tau = point.get("tau")
    trace = _trace(point.get("preset"), point.get("trace_file"),
                   None if requests is None else int(requests),
                   None if steps is None else int(steps),
                   int(point.get("trace_seed", 0)), point.get("tree"),
                   None if tau is None else float(tau))
    hw = build_hardware(point)
    target_name = point.get("target") or trace.metadata.get("target_model")
    draft_name = point.get("draft") or trace.metadata.get("draft_model")
    drafting = drafting_of(trace.metadata)
    if not target_name:
        raise InputError("the workload names no target model; set 'target'", field="target")
    # a drafting mode without a draft model ignores a draft name
    runs_draft = drafting.runs_draft_model
    if not draft_name and runs_draft:
        raise InputError("the workload names no draft model; set 'draft'", field="draft")
    target = _model(str(target_name))
    draft = _model(str(draft_name)) if draft_name and runs_draft else None
    dep, base = resolve_deployments(trace, hw, deployment_config(point))
    return trace, {"hw": hw, "target": target, "draft": draft, "drafting": drafting,
                   "baseline": settings.baseline, "engine": settings.engine,
                   "deployment": dep, "baseline_deployment": base, **run_options(point)}


def metric_is_numeric(name: str) -> bool:
    """Whether a metric is a number (usable in Pareto fronts and constraints)."""
    return SIM_METRICS[name].numeric


def metric_sense(name: str) -> str | None:
    """``"max"`` or ``"min"``: the way the metrics registry says a metric is better;
    ``None`` for a metric better neither way (a property of the design) or unknown."""
    metric = SIM_METRICS.get(name)
    return {"higher": "max", "lower": "min"}.get(metric.direction) if metric else None

