"""Evaluating one design point of a sweep: parameters -> (trace, hardware, models) -> metrics.

A *point* is a flat dict of parameters (see :data:`PARAMETERS`): the workload
(``preset`` or ``trace_file``, ``requests``, ``steps``, ``trace_seed``, ``tree``), the
models (``target``, ``draft``), the hardware (``hardware`` preset plus overrides of its
design parameters) and nothing else.  :func:`evaluate_point` builds the trace, the
hardware spec and the model specs, calls the simulator's entry point
:func:`specaccel.sim.simulate` and returns the kept metrics as a flat dict of numbers,
plus ``evaluator``: ``"fast"`` when the simulator's vectorised fast path produced the
numbers, ``"event"`` when the SimPy event model did (read from the simulator's result;
whether the fast path is exact is the simulator's :func:`specaccel.sim.fast_path_applicable`).

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

from specaccel.schema.errors import InputError

WORKLOAD_PARAMS = ("workload", "preset", "trace_file", "requests", "steps", "trace_seed",
                   "tree")
MODEL_PARAMS = ("target", "draft")
HARDWARE_PARAM = "hardware"
DEFAULT_HARDWARE = "specaccel-default"


def accelerator_params() -> tuple[str, ...]:
    """Design parameters of the accelerator that a sweep may set."""
    from specaccel.models.cost import AcceleratorConfig

    return tuple(f.name for f in fields(AcceleratorConfig) if f.name != "name")


def accelerator_text_params() -> tuple[str, ...]:
    """The accelerator parameters that take a string (``dataflow``, ``precision``, ...)."""
    from specaccel.models.cost import AcceleratorConfig

    return tuple(f.name for f in fields(AcceleratorConfig) if f.name != "name"
                 and f.type == "str")


def gpu_params() -> tuple[str, ...]:
    """Numeric :class:`HardwareSpec` fields a sweep may override on a GPU preset."""
    from specaccel.models.cost import HardwareSpec

    return tuple(f.name for f in fields(HardwareSpec)
                 if f.type in ("float", "int") and f.name != "name")


def parameter_names() -> frozenset[str]:
    """Every parameter name a point may carry."""
    return frozenset((*WORKLOAD_PARAMS, *MODEL_PARAMS, HARDWARE_PARAM, *accelerator_params(),
                      *gpu_params()))


METRICS: dict[str, str] = {
    "tokens_per_s": "committed tokens per simulated second",
    "speedup": "tokens/s over the autoregressive baseline on the same hardware",
    "baseline_tokens_per_s": "tokens/s of plain autoregressive decoding",
    "makespan_s": "simulated wall time",
    "tokens": "committed tokens",
    "n_steps": "decode steps",
    "mean_committed_per_step": "tau: tokens committed per step",
    "mean_accepted_per_step": "accepted drafts per step",
    "mean_nodes_per_step": "tree size (nodes per verify pass)",
    "mean_draft_passes_per_step": "draft passes per step",
    "energy_per_token_j": "joules per committed token (total)",
    "energy_per_token_draft_j": "draft passes' dynamic energy per token",
    "energy_per_token_target_j": "target passes' dynamic energy per token",
    "energy_per_token_static_j": "static energy per token",
    "energy_j": "total energy",
    "power_w": "mean power (total energy / wall time)",
    "area_mm2": "die area from the cost model (NaN when the preset gives none)",
    "static_power_w": "static power of the hardware",
    "peak_flops": "peak matrix FLOP/s",
    "mem_bw_bytes_s": "HBM bandwidth",
    "hbm_bandwidth_utilisation": "HBM bytes moved / (bandwidth x wall time)",
    "target_busy_fraction": "fraction of wall time in target passes",
    "draft_busy_fraction": "fraction of wall time in draft passes",
    "verify_pass_flops": "FLOPs of the mean target verify pass (roofline point)",
    "verify_pass_bytes": "HBM bytes of the mean target verify pass (roofline point)",
    "verify_pass_s": "latency of the mean target verify pass (roofline point)",
    "accepted_histogram": "steps that accepted k drafts, k = 0, 1, ... (a list)",
}
"""The metrics a sweep can keep, with what they mean."""

DEFAULT_METRICS = ("tokens_per_s", "speedup", "mean_committed_per_step",
                   "mean_nodes_per_step", "energy_per_token_j", "energy_per_token_draft_j",
                   "energy_per_token_target_j", "energy_per_token_static_j", "power_w",
                   "area_mm2", "peak_flops", "mem_bw_bytes_s", "verify_pass_flops",
                   "verify_pass_bytes", "verify_pass_s", "accepted_histogram")
ENGINES = ("auto", "fast", "event")
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


def run_options(point: dict[str, Any]) -> dict[str, Any]:
    """The simulator options a point asks for besides its trace, hardware and models:
    ``serving`` and ``pipelined`` of :func:`specaccel.sim.simulate`.

    A sweep point has no serving or pipelining parameter (:func:`parameter_names`), so
    every point is the simulator's batch-1 closed-loop replay: ``serving=None``,
    ``pipelined=False``.  The same options go to :func:`fast_path_status` and to the
    simulation itself, so the fast-path decision is made on what is actually run.
    """
    del point  # no point parameter selects another replay (yet)
    return {"serving": None, "pipelined": False}


def fast_path_status(point: dict[str, Any]) -> tuple[bool, str]:
    """Whether the simulator's fast path is exact for `point`, and why (not): the
    simulator's own statement, :func:`specaccel.sim.fast_path_applicable`, on the
    point's :func:`run_options`."""
    from specaccel.sim import fast_path_applicable

    return fast_path_applicable(**run_options(point))


def fast_path_valid(point: dict[str, Any]) -> bool:
    """Whether the simulator's vectorised fast path gives the event model's answer for
    `point` (:func:`fast_path_status`; no rule of its own)."""
    return fast_path_status(point)[0]


def evaluator_label(sim_engine: str) -> str:
    """The sweep's ``evaluator`` for the engine a :class:`~specaccel.sim.SimResult`
    reports: ``"fast"`` for the fast paths (``fast``, ``fast-static-batch``), ``"event"``
    for the SimPy models (``simpy``, ``simpy-serving``, ``simpy-pipelined``)."""
    if sim_engine.startswith("fast"):
        return "fast"
    if sim_engine.startswith("simpy"):
        return "event"
    raise ValueError(f"unknown simulator engine {sim_engine!r}")


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
           steps: int | None, seed: int, tree: str | None):
    from specaccel.workloads import generate_trace, get_preset, read_trace, synthesize_trace

    if trace_file:
        return read_trace(trace_file)
    if tree is None or tree == "preset":
        return generate_trace(preset, n_requests=requests, steps_per_request=steps, seed=seed)
    p = get_preset(preset)
    meta = {**p.trace_metadata(seed), "tree": tree}
    return synthesize_trace(
        tree_shape(tree, p.name), p.model(), seed=seed, verification=p.verification,
        n_requests=p.n_requests if requests is None else int(requests),
        steps_per_request=p.steps_per_request if steps is None else int(steps),
        prompt_lengths=p.prompt_lengths, metadata=meta)


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
    from specaccel.models.cost import AcceleratorConfig

    name = str(point.get(HARDWARE_PARAM, DEFAULT_HARDWARE))
    accel = set(accelerator_params())
    overrides = {k: v for k, v in point.items() if k in accel}
    if name == DEFAULT_HARDWARE:
        if not overrides:
            return _base_hardware(name)
        return AcceleratorConfig(**overrides).build()
    base = _base_hardware(name)
    gpu = set(gpu_params())
    spec_over = {k: v for k, v in point.items() if k in gpu}
    bad = sorted(set(overrides) - gpu)
    if bad:
        raise InputError(f"{bad[0]!r} is a design parameter of {DEFAULT_HARDWARE}, "
                         f"not of preset {name!r}", field=bad[0])
    return replace(base, **spec_over) if spec_over else base


def _flatten(result: dict[str, Any], hw: Any) -> dict[str, Any]:
    e = result["energy_per_token_j"]
    makespan = float(result["makespan_s"])
    base = result.get("baseline") or {}
    busy = result["role_busy_fraction"]
    area = float(getattr(hw, "area_mm2", 0.0))
    return {
        "tokens_per_s": result["tokens_per_s"],
        "speedup": result["speedup"],
        "baseline_tokens_per_s": base.get("tokens_per_s"),
        "makespan_s": makespan,
        "tokens": result["tokens"],
        "n_steps": result["n_steps"],
        "mean_committed_per_step": result["mean_committed_per_step"],
        "mean_accepted_per_step": result["mean_accepted_per_step"],
        "mean_nodes_per_step": result["mean_nodes_per_step"],
        "mean_draft_passes_per_step": result["mean_draft_passes_per_step"],
        "energy_per_token_j": e["total"],
        "energy_per_token_draft_j": e["draft"],
        "energy_per_token_target_j": e["target"],
        "energy_per_token_static_j": e["static"],
        "energy_j": result["energy_j"]["total"],
        "power_w": result["energy_j"]["total"] / makespan if makespan > 0 else math.nan,
        "area_mm2": area if area > 0 else math.nan,
        "static_power_w": float(hw.static_power_w),
        "peak_flops": float(hw.peak_flops),
        "mem_bw_bytes_s": float(hw.mem_bw_bytes_s),
        "hbm_bandwidth_utilisation": result["utilisation"].get("hbm_bandwidth"),
        "target_busy_fraction": busy["target"],
        "draft_busy_fraction": busy["draft"],
        "accepted_histogram": [int(x) for x in result["accepted_histogram"]],
    }


def _verify_pass(target: Any, hw: Any, result: dict[str, Any]) -> dict[str, float]:
    from specaccel.models.cost import pass_costs

    tokens = max(1, int(round(result["mean_nodes_per_step"])))
    context = float(result["kv_cache"]["mean_tokens"])
    c = pass_costs(target, hw, tokens=tokens, context=context)
    return {"verify_pass_flops": float(c["flops"][0]),
            "verify_pass_bytes": float(c["dram_bytes"][0]),
            "verify_pass_s": float(c["latency_s"][0])}


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
    from specaccel.models.cost.drafting import drafting_of
    from specaccel.sim import simulate

    if settings.engine == "event":
        engine = "simpy"
    elif settings.engine == "fast":
        ok, why = fast_path_status(point)
        if not ok:
            raise InputError(f"the fast path is not exact for this point ({why})",
                             field="engine")
        engine = "fast"
    else:   # the simulator decides, by fast_path_applicable on the same options
        engine = "auto"

    steps = point.get("steps")
    requests = point.get("requests")
    trace = _trace(point.get("preset"), point.get("trace_file"),
                   None if requests is None else int(requests),
                   None if steps is None else int(steps),
                   int(point.get("trace_seed", 0)), point.get("tree"))
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
    result = simulate(trace, hw=hw, target=target, draft=draft, baseline=settings.baseline,
                      drafting=drafting, engine=engine, **run_options(point)).to_dict()
    flat = _flatten(result, hw)
    if any(m.startswith("verify_pass_") for m in settings.metrics):
        flat.update(_verify_pass(target, hw, result))
    out: dict[str, Any] = {}
    for m in settings.metrics:
        v = flat.get(m)
        if m == "accepted_histogram":
            out[m] = list(v)
        else:
            out[m] = math.nan if v is None else float(v)
    out["evaluator"] = evaluator_label(str(result["engine"]))
    return out


def metric_is_numeric(name: str) -> bool:
    """Whether a metric is a number (usable in Pareto fronts and constraints)."""
    return name != "accepted_histogram"

