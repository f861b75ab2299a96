"""Reject a configuration that cannot run before any simulation starts.

Two checks, each an :class:`~specaccel.schema.errors.InputError` with a one-line reason:

* **weights larger than memory** — the target's and the draft's weights must fit the
  device's HBM (``hw.mem_bytes``), with room for at least one request's KV cache when a
  serving run needs it (:func:`kv_capacity_tokens`);
* **tree larger than the verify unit** — on an accelerator the verify and tree units are
  built for at most ``N`` nodes (``HardwareSpec.verify_unit_nodes``, from
  ``AcceleratorConfig.tree_nodes``); a trace whose largest tree has more nodes cannot be
  verified in one pass.  GPUs verify in software and have no such limit (``None``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specaccel.models.cost.drafting import DraftingMode, drafting_mode, drafting_of
from specaccel.models.cost.hardware_spec import gib
from specaccel.schema.errors import InputError


def verify_unit_nodes(hw: Any) -> int | None:
    """The largest tree the verify unit of `hw` takes in one pass (``None``: no limit).

    This is the hardware spec's ``verify_unit_nodes`` field
    (:class:`~specaccel.models.cost.HardwareSpec`: ``AcceleratorConfig.tree_nodes`` on an
    accelerator, ``None`` on a GPU, whose verify runs in software).  A spec without the
    field is a programming error (``TypeError``), not a reason to guess a size.
    """
    try:
        value = hw.verify_unit_nodes
    except AttributeError:
        raise TypeError(f"{type(hw).__name__} has no 'verify_unit_nodes' field; a hardware "
                        "spec must say how many nodes its verify unit takes (None: no "
                        "limit)") from None
    return None if value is None else int(value)


def weights_bytes(*models: Any) -> float | None:
    """Summed ``weight_bytes`` of the given model specs (``None`` ones skipped); ``None``
    when a spec does not say."""
    total = 0.0
    for model in models:
        if model is None:
            continue
        w = getattr(model, "weight_bytes", None)
        if w is None:
            return None
        total += float(w)
    return total


def check_weights_fit(hw: Any, target: Any, draft: Any) -> None:
    """:class:`InputError` when the target + draft weights exceed the device memory."""
    cap = getattr(hw, "mem_bytes", None)
    w = weights_bytes(target, draft)
    if cap is None or w is None:
        return
    if w > float(cap):
        names = " + ".join(str(getattr(m, "name", m)) for m in (target, draft) if m is not None)
        raise InputError(f"weights of {names} ({gib(w)}) do not fit the {gib(float(cap))} of "
                         f"memory of {getattr(hw, 'name', 'the hardware')}", field="hw")


def check_tree_fits(hw: Any, max_nodes: int, *, nodes: int | None = None) -> None:
    """:class:`InputError` when a tree of `max_nodes` nodes exceeds the verify unit.

    `nodes` overrides the verify unit's size (:func:`verify_unit_nodes`).  The error
    names the parameter that set the limit as the user sets it: the accelerator's
    ``tree_nodes`` (``--accel tree_nodes=N``, a design file, a sweep axis; the hardware
    spec's ``verify_unit_nodes`` is built from it) or ``verify-nodes`` (the override, as
    the CLI option is called).
    """
    limit = nodes if nodes is not None else verify_unit_nodes(hw)
    if limit is not None and max_nodes > limit:
        remedy = (f"; set the accelerator's tree_nodes to at least {max_nodes}"
                  if nodes is None else "")
        raise InputError(f"the trace has a {max_nodes}-node tree but the verify unit of "
                         f"{getattr(hw, 'name', 'the hardware')} takes at most {limit} nodes"
                         + remedy, field="tree_nodes" if nodes is None else "verify-nodes")


def kv_capacity_tokens(hw: Any, target: Any, draft: Any, kv_bytes_per_token: float,
                       deployment: Any = None) -> int | None:
    """Tokens of target KV cache that fit the memory left after the weights (``None``
    when the specs do not give the sizes): on one device, or with a `deployment` on
    every device of its placements, each holding its share of weights and cache."""
    if deployment is not None:
        limits = _device_kv_limits(target, draft, deployment)
        return None if not limits else max(int(min(limits.values())), 0)
    cap = getattr(hw, "mem_bytes", None)
    w = weights_bytes(target, draft)
    if cap is None or w is None or kv_bytes_per_token <= 0:
        return None
    return int((float(cap) - w) // kv_bytes_per_token)


def _device_loads(target: Any, draft: Any, deployment: Any) -> dict[int, tuple[float, float]]:
    """Per device of the deployment's placements: (bytes held apart from the KV cache --
    weights, an offloaded model's staging buffers --, target KV bytes a token)."""
    from specaccel.models.cost.placement import device_memory

    loads = device_memory(target, deployment.target_placement, kv_tokens=1.0, draft=draft,
                          draft_placement=deployment.draft_placement)
    return {d: (sum(b for what, b in parts if not what.endswith(" KV cache")),
                sum(b for what, b in parts if what == f"{target.name} KV cache"))
            for d, parts in loads.items()}


def _device_kv_limits(target: Any, draft: Any, deployment: Any) -> dict[int, float]:
    """Target KV tokens each device holding part of the cache has room for."""
    cap = float(deployment.hw.mem_bytes)
    return {d: (cap - w) // kv for d, (w, kv) in _device_loads(target, draft, deployment).items()
            if kv > 0}


def check_kv_capacity(hw: Any, target: Any, draft: Any, capacity: int,
                      deployment: Any = None) -> None:
    """:class:`InputError` naming ``kv_capacity_tokens`` when a KV cache of `capacity`
    target tokens does not fit the memory left after the weights.

    On one device that is :func:`kv_capacity_tokens` (the capacity a serving run takes
    when none is given); with a `deployment`, every device of the target's placement
    must hold its weights (and the draft's, where it shares them) and its share of the
    cache (tensor-parallel shards and pipeline stages split it).  Nothing is checked
    when the specs do not give the sizes or the target keeps no KV cache.
    """
    from specaccel.sim.step_costs import kv_bytes_per_token

    per_token = kv_bytes_per_token(target)
    if deployment is None:
        cap, w = getattr(hw, "mem_bytes", None), weights_bytes(target, draft)
        if cap is None or w is None or per_token <= 0:
            return
        devices = {0: (float(w), per_token)}
    else:
        cap = deployment.hw.mem_bytes
        devices = _device_loads(target, draft, deployment)
    fits = {d: (float(cap) - w) // kv for d, (w, kv) in devices.items() if kv > 0}
    if not fits:
        return
    dev = min(fits, key=lambda d: fits[d])
    limit = max(int(fits[dev]), 0)
    if capacity <= limit:
        return
    w, kv = devices[dev]
    where = getattr(hw, "name", "the device") + (f" #{dev}" if len(devices) > 1 else "")
    need = capacity * kv
    raise InputError(f"{capacity} tokens of KV cache need "
                     f"{gib(need) if need < 1e12 else f'{need / 1e12:.4g} TB'} on {where} "
                     f"({kv:.6g} B a token), but it has {gib(max(float(cap) - w, 0.0))} left "
                     f"after {gib(w)} of weights: at most {limit} tokens fit",
                     field="kv_capacity_tokens")


def trace_kv_tokens(trace) -> float:
    """The most KV-cache tokens one request of `trace` holds, an upper bound computed
    without verifying the trace: its prompt, plus what each step can commit (a path of
    its tree: the deepest node's depth and the root), plus the nodes of one tree whose
    KV a verify pass writes before the rejected ones are dropped -- and never more than
    the prompt plus every drafted node."""
    off = np.asarray(trace.request_step_offsets, dtype=np.int64)
    if off.shape[0] < 2 or not trace.n_steps:
        return float(np.max(trace.prompt_len, initial=0))
    starts = np.asarray(trace.step_node_offsets, dtype=np.int64)
    nodes = np.diff(starts)
    has_steps = np.diff(off) > 0
    first = np.minimum(off[:-1], nodes.shape[0] - 1)  # a request with no steps counts 0
    every_node = np.add.reduceat(nodes, first) * has_steps
    depth = _step_max_depths(np.asarray(trace.nodes["parent"], dtype=np.int64), starts)
    paths = np.add.reduceat(depth + 1, first) * has_steps
    widest = np.maximum.reduceat(nodes, first) * has_steps
    per_req = np.minimum(every_node, paths + widest)
    return float(np.max(np.asarray(trace.prompt_len) + per_req))


def _step_max_depths(parent: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The depth of each step's deepest node (root 0), from the steps' local parent
    pointers, by following every node's ancestors a level at a time."""
    step_of = np.repeat(np.arange(starts.shape[0] - 1), np.diff(starts))
    up = np.where(parent >= 0, starts[step_of] + parent, -1)
    depth = np.zeros(parent.shape[0], dtype=np.int64)
    ancestor = up
    while np.any(ancestor >= 0):
        depth += ancestor >= 0
        ancestor = np.where(ancestor >= 0, up[np.maximum(ancestor, 0)], -1)
    return np.maximum.reduceat(depth, starts[:-1]) if depth.shape[0] else depth


def check_config(trace, hw: Any, target: Any, draft: Any, *, drafting: str | DraftingMode,
                 verify_nodes: int | None = None, deployment: Any = None,
                 kv_capacity: int | None = None) -> None:
    """All the up-front checks of a (trace, hardware, models) configuration.

    The draft's weights count only when `drafting` runs a draft model, and the draft
    must match the target (vocabulary; a head's hidden size); the tree must fit the
    verify unit whenever a tree is verified (every mode but ``"none"``, so also
    ``"draft-free"``).  With a `deployment` (a
    :class:`~specaccel.models.cost.deployment.Deployment`), memory is checked per device
    of its placements (weights and the KV cache of the longest request), naming the
    device and the bytes; otherwise the weights against the one device's memory.  A
    serving run's `kv_capacity` (tokens, when given) must fit the memory left after the
    weights (:func:`check_kv_capacity`).
    """
    from specaccel.models.cost.model_spec import ModelSpec, check_draft_matches

    mode = drafting_mode(drafting)
    running = draft if mode.runs_draft_model else None
    if isinstance(target, ModelSpec) and isinstance(running, ModelSpec):
        check_draft_matches(target, running)
    if deployment is not None:
        kv_tokens = trace_kv_tokens(trace)
        deployment.check(target, running, kv_tokens=kv_tokens,
                         draft_kv_tokens=kv_tokens if running is not None
                         and running.kind == "decoder" else 0.0)
    else:
        check_weights_fit(hw, target, running)
    if kv_capacity is not None:
        check_kv_capacity(hw, target, running, kv_capacity, deployment)
    if mode.verifies_tree and trace.n_steps:
        max_nodes = int(np.diff(np.asarray(trace.step_node_offsets)).max())
        check_tree_fits(hw, max_nodes, nodes=verify_nodes)


#: The largest replay the simulator takes: decode steps, and draft-tree nodes of the
#: trace itself (the same node cap as ``specaccel trace gen``).  Requests drawn from a
#: trace are read a block at a time (:class:`~.request_sampling.RequestSource`), so the
#: step cap bounds the run's time (about a minute per ten million steps of SimPy replay
#: and cost model) and the serving loop's per-step arrays (about 0.2 kB per step), not
#: the trees'.
MAX_REPLAY_STEPS = 1 << 25
MAX_REPLAY_NODES = 1 << 26


def check_replay_size(trace, *, file: str | None = None, requests: int | None = None
                      ) -> None:
    """:class:`InputError` when replaying `trace` (or `requests` requests drawn from it,
    repeated cyclically) would exceed :data:`MAX_REPLAY_STEPS`, or the trace's own trees
    :data:`MAX_REPLAY_NODES`.  Checked before anything runs."""
    scale = 1.0 if requests is None else requests / max(trace.n_requests, 1)
    steps = trace.n_steps * scale
    nodes = trace.n_nodes
    field = "requests" if requests is not None else None
    if steps > MAX_REPLAY_STEPS:
        raise InputError(f"the replay would have {steps:.3g} decode steps; the simulator "
                         f"takes at most {MAX_REPLAY_STEPS} (use fewer requests)", file=file,
                         field=field)
    if nodes > MAX_REPLAY_NODES:
        raise InputError(f"the trace has {nodes:.3g} tree nodes; the simulator takes at most "
                         f"{MAX_REPLAY_NODES} (split the trace)", file=file)


def check_trace_metadata(trace, *, file: str | None = None, target: str | None = None,
                         draft: str | None = None) -> None:
    """The metadata the simulator reads, checked as the simulator reads it.

    ``specaccel trace validate`` calls this too, so a trace it passes is one that
    ``specaccel simulate`` accepts: ``drafting`` is a known mode, and the models the
    trace names (``target_model``, ``draft_model`` where the mode runs a draft model) are
    strings naming a model preset or a ``config.json`` -- unless `target` / `draft`
    (the ``--target`` / ``--draft`` options) replace them; the stacks and the hardware
    it names are presets.
    """
    from specaccel.models.cost import get_model

    meta = trace.metadata
    try:
        mode = drafting_of(meta)
    except InputError as exc:
        raise InputError(exc.reason, file=file, field="metadata.drafting") from None
    wanted = [("target_model", target, "--target")]
    if mode.runs_draft_model:
        wanted.append(("draft_model", draft, "--draft"))
    for key, override, option in wanted:
        if override is not None:
            continue
        name = meta.get(key)
        if name is None:
            raise InputError(f"missing: the trace names no model; give {option} to simulate "
                             "it", file=file, field=f"metadata.{key}")
        if not isinstance(name, str) or not name:
            raise InputError(f"must be a model name, not {name!r}", file=file,
                             field=f"metadata.{key}")
        try:
            get_model(name)
        except InputError as exc:
            raise InputError(f"{exc.reason} (or give {option} to simulate it)", file=file,
                             field=f"metadata.{key}") from None
    from specaccel.models.cost.software_stack import list_stacks

    for key in ("stack", "draft_stack", "baseline_stack"):
        name = meta.get(key)
        if name is not None and name not in list_stacks():
            raise InputError(f"unknown stack {name!r}; choose one of {', '.join(list_stacks())}",
                             file=file, field=f"metadata.{key}")
    from specaccel.models.cost import list_hardware

    for key in ("hardware", "hw"):  # the device the source ran on (the default of reports)
        name = meta.get(key)
        if name is not None and name not in list_hardware():
            raise InputError(f"unknown hardware {name!r}; choose one of "
                             f"{', '.join(list_hardware())}", file=file, field=f"metadata.{key}")
