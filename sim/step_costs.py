"""Per-step costs of a trace (:class:`StepCosts`), computed once and vectorised before any
engine runs (by the step-cost door, :meth:`specaccel.sim.pricing.StepPricer.step_costs`).

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

from specaccel.models.cost.drafting import DraftingMode

STAGES = ("draft", "tree", "target", "verify")
"""The stages of one decode step, in order (each one a role served by a unit)."""

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
