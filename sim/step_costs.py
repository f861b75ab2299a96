"""Per-step costs of a trace, computed once and vectorised before the SimPy replay.

The simulator never calls a cost model per event: every forward pass of a trace is
collected into flat arrays first, and the cost model is called **once per model** on
those arrays (:func:`specaccel.models.cost.pass_costs` is Numba-vectorised).  The
SimPy processes then only hold resources for the latencies computed here.

What a decode step ``s`` of a request costs (``N_s`` tree nodes including the root,
context ``S_s`` = prompt length + tokens committed by the earlier steps of that request
= the KV entries already in the cache):

Draft passes: as the trace's drafting mode says (``trace.metadata["drafting"]``, resolved to
a :class:`~specaccel.models.cost.drafting.DraftingMode`): one pass per tree level
(``"per-level"``), one pass over the root (``"single-pass"``) or none (``"draft-free"``,
whose tree comes from a lookup, and ``"none"``, plain decoding, which also has no tree-mask
unit and no verify unit; its target pass is the decode).

Then the tree unit builds the attention mask and position ids (``N_s`` nodes), the
target runs one verify pass over all ``N_s`` nodes at context ``S_s`` with tree
attention, and the verify unit walks the tree (``N_s`` nodes).

Outcomes (accepted/committed per step) always come from
:func:`specaccel.models.golden.verify_trace`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specaccel.models.cost.drafting import DraftingMode, StepTrees, drafting_mode, drafting_of
from specaccel.models.cost.sampling_tail import sampling_tail_s
from specaccel.models.golden import TraceOutcome, verify_trace
from specaccel.schema.trace_validation import extra_query_tokens

COST_FIELDS = ("latency_s", "energy_j", "flops", "bytes")
"""Arrays that a cost function returns, one entry per pass.  ``energy_j`` is the pass's
total energy *including* static power over the pass (as
:func:`specaccel.models.cost.pass_costs` computes it); ``bytes`` is all memory traffic and
an optional ``dram_bytes`` its HBM part (``bytes`` counts as HBM when absent)."""

CostFn = Callable[..., dict[str, np.ndarray]]
"""``cost_fn(model, hw, *, tokens, context, batch=1) -> {field: array}``, as
:func:`specaccel.models.cost.pass_costs`."""


@dataclass(frozen=True)
class StepCosts:
    """The cost of every decode step of a trace on one hardware configuration.

    All per-step arrays have shape ``(S,)`` (global step order, requests one after the
    other).  Latencies are seconds, energies joules.

    Attributes
    ----------
    request_step_offsets:
        Steps of request ``r`` are ``request_step_offsets[r]:request_step_offsets[r+1]``.
    arrival_s, prompt_len:
        Arrival time and prompt length of every request.
    n_nodes, accepted, committed, context:
        Tree size, accepted drafts, committed tokens (accepted + 1) and context ``S_s``.
    target_tokens:
        Query tokens of the target's pass: ``n_nodes`` plus the trace's
        ``extra_query_tokens_per_step`` (see :func:`extra_query_tokens`).
    draft_passes:
        Number of draft forward passes in the step (0 when the drafting mode runs no
        draft model).
    draft_s, draft_j, draft_flops, draft_hbm_bytes:
        Summed over the step's draft passes: latency, *dynamic* energy (the cost
        model's energy minus ``hw.static_power_w`` × latency: static energy is counted
        once, over the whole simulated time, by the metrics), FLOPs and HBM bytes.
    target_s, target_j, target_flops, target_hbm_bytes:
        The same for the target's verify pass (or decode pass, when drafting is off).
    tree_s, verify_s:
        Tree-mask unit and verify unit latencies (0 when the drafting mode verifies no
        tree).
    kv_bytes_per_token:
        Target KV-cache bytes per token (for the memory system's occupancy).
    drafting:
        The :class:`~specaccel.models.cost.drafting.DraftingMode` used.
    """

    request_step_offsets: np.ndarray
    arrival_s: np.ndarray
    prompt_len: np.ndarray
    n_nodes: np.ndarray
    accepted: np.ndarray
    committed: np.ndarray
    context: np.ndarray
    target_tokens: np.ndarray
    draft_passes: np.ndarray
    draft_s: np.ndarray
    draft_j: np.ndarray
    draft_flops: np.ndarray
    draft_hbm_bytes: np.ndarray
    target_s: np.ndarray
    target_j: np.ndarray
    target_flops: np.ndarray
    target_hbm_bytes: np.ndarray
    tree_s: np.ndarray
    verify_s: np.ndarray
    kv_bytes_per_token: float
    drafting: DraftingMode
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def n_steps(self) -> int:
        return int(self.n_nodes.shape[0])

    @property
    def n_requests(self) -> int:
        return int(self.request_step_offsets.shape[0] - 1)

    def step_time_s(self) -> np.ndarray:
        """Uncontended wall time of every step: the stages run one after the other."""
        return self.draft_s + self.tree_s + self.target_s + self.verify_s


def step_contexts(trace, committed: np.ndarray) -> np.ndarray:
    """Context ``S_s`` of every step: prompt length + tokens committed before it."""
    req_off = np.asarray(trace.request_step_offsets, dtype=np.int64)
    steps_per_req = np.diff(req_off)
    cum = np.concatenate([[0], np.cumsum(committed, dtype=np.int64)])
    start_cum = np.repeat(cum[req_off[:-1]], steps_per_req)
    prompt = np.repeat(np.asarray(trace.prompt_len, dtype=np.int64), steps_per_req)
    return prompt + cum[:-1] - start_cum


def _as_cost_arrays(raw: dict[str, Any], n: int, what: str, static_w: float
                    ) -> dict[str, np.ndarray]:
    """Check a cost function's output; make energy dynamic and bytes HBM bytes."""
    out = {}
    for f in COST_FIELDS:
        if f not in raw:
            raise ValueError(f"cost function returned no {f!r} for the {what} passes")
        a = np.asarray(raw[f], dtype=np.float64).reshape(-1)
        if a.shape[0] != n:
            raise ValueError(f"cost function returned {a.shape[0]} {f!r} for {n} {what} passes")
        out[f] = a
    out["energy_j"] = out["energy_j"] - static_w * out["latency_s"]
    if "dram_bytes" in raw:
        out["bytes"] = np.asarray(raw["dram_bytes"], dtype=np.float64).reshape(-1)
    return out


def unit_latencies(fn: Callable[[int], float], n_nodes: np.ndarray) -> np.ndarray:
    """Evaluate a per-tree-size unit latency once per distinct size and spread it."""
    if n_nodes.shape[0] == 0:
        return np.zeros(0)
    sizes, inverse = np.unique(n_nodes, return_inverse=True)
    values = np.array([float(fn(int(k))) for k in sizes], dtype=np.float64)
    return values[inverse]


def kv_bytes_per_token(model: Any) -> float:
    """KV-cache bytes per token of a model spec: 2 · layers · kv_heads · head_dim · bytes.

    Uses the spec's own ``kv_bytes_per_token`` when it has one.
    """
    own = getattr(model, "kv_bytes_per_token", None)
    if own is not None:
        return float(own() if callable(own) else own)
    try:
        return float(2 * model.n_layers * model.n_kv_heads * model.head_dim
                     * model.bytes_per_param)
    except AttributeError:
        return 0.0


def compute_step_costs(
    trace,
    *,
    target_model: Any,
    draft_model: Any,
    hw: Any,
    drafting: str | DraftingMode | None = None,
    outcome: TraceOutcome | None = None,
    cost_fn: CostFn | None = None,
) -> StepCosts:
    """Cost every step of `trace` on `hw` (one cost-model call per model).

    Parameters
    ----------
    trace:
        A :class:`~specaccel.schema.trace.Trace`.
    target_model, draft_model:
        Model specs as the cost function expects them (``draft_model`` is unused, and
        may be ``None``, when the drafting mode runs no draft model).
    hw:
        Hardware spec: ``verify_unit_latency_s(n)``, ``tree_unit_latency_s(n)``; an
        accelerator with ``sampling_lanes`` also pays its sampling tail in the verify step.
    drafting:
        A :class:`~specaccel.models.cost.drafting.DraftingMode` or its name; default from
        ``trace.metadata["drafting"]`` (``"per-level"`` when absent).
    outcome:
        The golden outcome of `trace` (computed when not given).
    cost_fn:
        Defaults to :func:`specaccel.models.cost.pass_costs`.
    """
    drafting = drafting_of(trace.metadata) if drafting is None else drafting_mode(drafting)
    if cost_fn is None:
        from specaccel.models.cost import pass_costs as cost_fn
    if outcome is None:
        outcome = verify_trace(trace)
    n_steps = trace.n_steps
    accepted = np.asarray(outcome.accepted, dtype=np.int64)
    committed = accepted + 1
    n_nodes = np.diff(np.asarray(trace.step_node_offsets, dtype=np.int64))
    context = step_contexts(trace, committed)
    # query tokens of the target pass: the tree, plus tokens that ride in the same pass
    # without being drafts (lookahead decoding's Jacobi window)
    target_tokens = n_nodes + extra_query_tokens(trace)

    static_w = float(getattr(hw, "static_power_w", 0.0))
    target = _as_cost_arrays(
        cost_fn(target_model, hw, tokens=target_tokens, context=context, batch=1), n_steps,
        "target", static_w)

    # the draft stage (draft_s, draft_j) is what the drafting mode runs: no pass at all
    # for a mode without a draft model
    passes = drafting.draft_passes(StepTrees.of_trace(trace, committed))
    step_of, d_tokens, d_ctx = passes.flat(context)
    if step_of.shape[0]:
        draft = _as_cost_arrays(
            cost_fn(draft_model, hw, tokens=d_tokens, context=d_ctx, batch=1),
            step_of.shape[0], "draft", static_w)
        summed = {f: np.bincount(step_of, weights=draft[f], minlength=n_steps)
                  for f in COST_FIELDS}
    else:
        summed = {f: np.zeros(n_steps) for f in COST_FIELDS}
    if not drafting.verifies_tree:
        tree_s = np.zeros(n_steps)
        verify_s = np.zeros(n_steps)
    else:
        tree_s = unit_latencies(hw.tree_unit_latency_s, n_nodes)
        verify_s = unit_latencies(hw.verify_unit_latency_s, n_nodes)
    # every step selects the target's token at each node it verifies (one node without a
    # tree: plain decoding picks its next token the same way); charged to the verify stage
    if getattr(hw, "sampling_lanes", None) is not None:
        sampled = str(getattr(trace, "verification", "greedy")) == "stochastic"
        vocab = int(target_model.vocab_size)
        verify_s = verify_s + unit_latencies(
            lambda n: sampling_tail_s(hw, n_nodes=n, vocab=vocab, sampled=sampled), n_nodes)

    return StepCosts(
        request_step_offsets=np.asarray(trace.request_step_offsets, dtype=np.int64),
        arrival_s=np.asarray(trace.arrival_s, dtype=np.float64),
        prompt_len=np.asarray(trace.prompt_len, dtype=np.int64),
        n_nodes=n_nodes, accepted=accepted, committed=committed, context=context,
        target_tokens=target_tokens, draft_passes=passes.per_step(),
        draft_s=summed["latency_s"], draft_j=summed["energy_j"],
        draft_flops=summed["flops"], draft_hbm_bytes=summed["bytes"],
        target_s=target["latency_s"], target_j=target["energy_j"],
        target_flops=target["flops"], target_hbm_bytes=target["bytes"],
        tree_s=tree_s, verify_s=verify_s,
        kv_bytes_per_token=kv_bytes_per_token(target_model),
        drafting=drafting,
        metadata=dict(trace.metadata),
    )
