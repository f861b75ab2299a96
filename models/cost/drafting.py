"""Drafting modes: how a method proposes its draft tree, and which draft passes that costs.

A trace names its drafting mode in ``metadata["drafting"]`` (the on-disk name); a method
of :mod:`specaccel.workloads` declares it, and the simulator resolves the name once, with
:func:`drafting_mode`, to one of the :class:`DraftingMode` objects of
:data:`DRAFTING_MODES`.  Everything that differs between modes is asked of the object:

* :attr:`~DraftingMode.runs_draft_model` — a draft model's weights occupy memory and
  its passes cost time and energy;
* :attr:`~DraftingMode.verifies_tree` — the step builds a tree and verifies it (the
  tree-mask unit, the target's verify pass over the tree, the verify unit);
* :meth:`~DraftingMode.draft_passes` — the draft passes of every step of a block, given
  the steps' tree shapes (:class:`StepTrees`);
* :meth:`~DraftingMode.target_work` — what the target runs in every step when that is not
  the one pass over the tree (:class:`TargetWork`: passes over some of its layers, a
  bidirectional pass over a block, work that is no pass);
* :meth:`~DraftingMode.committed_outcome` — what a step commits, when that is not what
  the golden model accepted (a lossy method).

A mode whose draft is a subset of the target's own layers (:attr:`~DraftingMode.self_drafts`)
runs no separate draft model: its draft passes are the target's, over the layers each
pass runs (:attr:`DraftPasses.layers`), and its weights are the target's.

Draft passes are described per step and per *pass slot* ``d = 1 .. L``: slot ``d`` runs
over ``tokens[s, d-1]`` query tokens at context ``S_s + context_offset[d-1]`` when
``used[s, d-1]`` (:class:`DraftPasses`).  The batch-1 step costs price the used slots
one by one; a batched engine pads slot ``d`` over the rows that use it.

A new drafting mode is one subclass (or instance) of :class:`DraftingMode` added to
:data:`DRAFTING_MODES` here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numba
import numpy as np

from specaccel.schema.errors import InputError

DEFAULT_DRAFTING = "per-level"
"""The drafting of a trace whose metadata names none."""


@numba.njit(cache=True, nogil=True)
def _step_depths(step_off, parent, depth, scratch):  # pragma: no cover - compiled
    """Depth of every step's tree; returns the largest tree's node count."""
    biggest = 0
    for s in range(step_off.shape[0] - 1):
        a = step_off[s]
        n = step_off[s + 1] - a
        biggest = max(biggest, n)
        d_max = 0
        if n:
            scratch[0] = 0
        for i in range(1, n):
            d = scratch[parent[a + i]] + 1
            scratch[i] = d
            if d > d_max:
                d_max = d
        depth[s] = d_max
    return biggest


@numba.njit(cache=True, nogil=True)
def _level_counts(step_off, parent, nodes_at, expanded_at, scratch, has_child
                  ):  # pragma: no cover - compiled
    """Nodes and expanded nodes (with at least one child) per step and depth."""
    for s in range(step_off.shape[0] - 1):
        a = step_off[s]
        n = step_off[s + 1] - a
        if n == 0:
            continue
        scratch[0] = 0
        has_child[0] = False
        for i in range(1, n):
            p = parent[a + i]
            scratch[i] = scratch[p] + 1
            has_child[i] = False
            has_child[p] = True
        for i in range(n):
            nodes_at[s, scratch[i]] += 1
            if has_child[i]:
                expanded_at[s, scratch[i]] += 1


@dataclass(frozen=True)
class TreeLevels:
    """Per step, its tree's depth and its nodes and expanded nodes per level.

    Attributes
    ----------
    depth:
        ``(S,)`` depth of each step's tree (root only: 0).
    nodes_at:
        ``(S, D + 1)`` number of nodes at each depth, ``D`` the deepest tree of the block.
    expanded_at:
        ``(S, D + 1)`` number of nodes at each depth that have at least one child.
    """

    depth: np.ndarray
    nodes_at: np.ndarray
    expanded_at: np.ndarray

    @classmethod
    def of(cls, step_node_offsets: np.ndarray, parent: np.ndarray) -> TreeLevels:
        """Levels of the trees stored as node columns (``parent`` relative to the step);
        two compiled passes over the nodes, no per-node temporaries."""
        off = np.ascontiguousarray(step_node_offsets, dtype=np.int64)
        off = off - off[0] if off[0] else off
        par = np.ascontiguousarray(parent)
        n_steps = off.shape[0] - 1
        depth = np.zeros(n_steps, dtype=np.int64)
        scratch = np.zeros(int(np.diff(off).max(initial=1)), dtype=np.int64)
        _step_depths(off, par, depth, scratch)
        width = int(depth.max(initial=0)) + 1
        nodes_at = np.zeros((n_steps, width), dtype=np.int64)
        expanded_at = np.zeros((n_steps, width), dtype=np.int64)
        _level_counts(off, par, nodes_at, expanded_at, scratch,
                      np.zeros(scratch.shape[0], dtype=np.bool_))
        return cls(depth, nodes_at, expanded_at)


@dataclass(frozen=True)
class StepTrees:
    """The draft trees of a block of whole requests' steps, as drafting modes read them.

    Attributes
    ----------
    step_node_offsets:
        ``(S + 1,)`` nodes of step ``s`` are ``[off[s], off[s+1])`` of `parent`.
    parent:
        Parent of every node, relative to its step (root: -1).
    request_step_offsets:
        ``(R + 1,)`` steps of request ``r`` of the block (starting at 0).
    committed:
        ``(S,)`` tokens each step commits (its golden outcome's accepted + 1).
    prompt_len:
        ``(R,)`` prompt tokens of every request (``None``: not known).
    metadata:
        The trace's metadata (its per-step lists hold this block's steps).
    """

    step_node_offsets: np.ndarray
    parent: np.ndarray
    request_step_offsets: np.ndarray
    committed: np.ndarray
    prompt_len: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of_trace(cls, trace: Any, committed: np.ndarray) -> StepTrees:
        """The trees of a :class:`~specaccel.schema.trace.Trace`."""
        return cls(np.asarray(trace.step_node_offsets, dtype=np.int64),
                   np.asarray(trace.nodes["parent"]),
                   np.asarray(trace.request_step_offsets, dtype=np.int64),
                   np.asarray(committed, dtype=np.int64),
                   np.asarray(trace.prompt_len, dtype=np.int64), trace.metadata)

    @property
    def n_nodes(self) -> np.ndarray:
        """``(S,)`` nodes of every step's tree."""
        return np.diff(self.step_node_offsets)

    def committed_before(self) -> np.ndarray:
        """``(S,)`` tokens the request committed before each step."""
        cum = np.concatenate([[0], np.cumsum(self.committed, dtype=np.int64)])
        off = self.request_step_offsets
        return cum[:-1] - np.repeat(cum[off[:-1]], np.diff(off))

    def step_values(self, key: str, *, low: int, high: int) -> np.ndarray:
        """``(S,)`` the integer per-step list ``metadata[key]`` (one value per step, each
        in ``low .. high``); :class:`InputError` naming ``metadata.<key>`` otherwise."""
        raw = self.metadata.get(key)
        n = self.n_steps
        if not isinstance(raw, list) or len(raw) != n:
            raise InputError(f"must be a list of one integer per step ({n})",
                             where=("metadata",), field=key)
        a = np.asarray(raw)
        if a.size and (not np.issubdtype(a.dtype, np.integer) or a.min() < low
                       or a.max() > high):
            raise InputError(f"every value must be an integer in {low}..{high}",
                             where=("metadata",), field=key)
        return a.astype(np.int64).reshape(n)

    @property
    def n_steps(self) -> int:
        return int(self.step_node_offsets.shape[0] - 1)

    @cached_property
    def levels(self) -> TreeLevels:
        """:class:`TreeLevels` of the block (computed on first use)."""
        return TreeLevels.of(self.step_node_offsets, self.parent)

    def previous_committed(self) -> np.ndarray:
        """Tokens committed by the previous step of the same request (1 at its start)."""
        committed = self.committed
        prev = np.ones_like(committed)
        if committed.shape[0] > 1:
            prev[1:] = committed[:-1]
        starts = self.request_step_offsets[:-1]
        prev[starts[starts < committed.shape[0]]] = 1
        return prev


@dataclass(frozen=True)
class DraftPasses:
    """The draft passes of a block of steps, by pass slot (module docstring).

    Attributes
    ----------
    tokens:
        ``(S, L)`` query tokens of slot ``d`` (column ``d - 1``) of every step.
    used:
        ``(S, L)`` whether the step runs that slot.
    context_offset:
        ``(L,)`` the slot's context is the step's context plus this.
    layers:
        ``(S, L)`` decoder layers the slot's pass runs (a self-draft's subset of the
        target's); ``None``: every layer of the draft model.
    """

    tokens: np.ndarray
    used: np.ndarray
    context_offset: np.ndarray
    layers: np.ndarray | None = None

    @classmethod
    def none(cls, n_steps: int) -> DraftPasses:
        """No draft pass in any of `n_steps` steps."""
        return cls(np.zeros((n_steps, 0), np.int64), np.zeros((n_steps, 0), bool),
                   np.zeros(0, np.int64))

    @property
    def n_slots(self) -> int:
        return int(self.tokens.shape[1])

    def per_step(self) -> np.ndarray:
        """``(S,)`` number of draft passes of every step."""
        return self.used.sum(axis=1, dtype=np.int64)

    def flat(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every used pass, step-major: ``(step_of_pass, tokens, context)``."""
        use = self.used
        n_steps = use.shape[0]
        step_of = np.broadcast_to(np.arange(n_steps, dtype=np.int64)[:, None], use.shape)[use]
        ctx = np.asarray(context, dtype=np.int64)[:, None] + self.context_offset[None, :]
        return step_of, self.tokens[use], np.broadcast_to(ctx, use.shape)[use]

    def flat_layers(self) -> np.ndarray | None:
        """Layers of every used pass, step-major (``None``: every layer)."""
        return None if self.layers is None else self.layers[self.used]


@dataclass(frozen=True)
class TargetPass:
    """One pass of the target in the steps that run it (arrays of one value per step).

    Attributes
    ----------
    tokens:
        ``(S,)`` query tokens.
    context:
        ``(S,)`` tokens already in the KV cache.
    used:
        ``(S,)`` whether the step runs this pass.
    layers:
        ``(S,)`` decoder layers the pass runs (``None``: all).
    head:
        Whether the pass runs the embedding and the LM head; without them it only
        computes hidden states and KV (its cost is the layers' alone).
    phase:
        The kernel's phase (``None``: the door's default for a target pass).
    tree:
        Whether attention reads a tree mask; a bidirectional pass over a block reads none.
    """

    tokens: np.ndarray
    context: np.ndarray
    used: np.ndarray
    layers: np.ndarray | None = None
    head: bool = True
    phase: str | None = None
    tree: bool = True


@dataclass(frozen=True)
class TargetWork:
    """What the target runs in every step of a block, when a mode says so.

    Attributes
    ----------
    passes:
        The target's passes (:class:`TargetPass`).
    extra:
        Work of every step that is no model pass (CALM's KV propagation to the skipped
        layers): ``latency_s``, dynamic ``energy_j``, ``flops`` and ``hbm_bytes``, one
        value per step each; ``None``: none.
    selected:
        ``(S,)`` rows of logits every step selects its tokens from (the accelerator's
        sampling unit); ``None``: the tree's nodes.
    """

    passes: tuple[TargetPass, ...]
    extra: dict[str, np.ndarray] | None = None
    selected: np.ndarray | None = None


@dataclass(frozen=True)
class DraftingMode:
    """A drafting mode (module docstring).

    Attributes
    ----------
    name:
        The on-disk name (``trace.metadata["drafting"]``).
    runs_draft_model:
        A draft model runs: its weights occupy memory, its passes cost time and energy.
    verifies_tree:
        Each step builds its tree's mask, the target verifies the tree and the verify
        unit walks it.
    help:
        One line for docs and ``--help``.
    self_drafts:
        The draft passes run a subset of the *target's* layers (its weights, its KV
        cache): no separate draft model.
    standard_steps:
        Its steps are one target pass over the tree, and draft passes over a draft
        model's every layer: engines that batch rows (serving, static batches) and a
        software stack's step model price them.  Otherwise only the step-cost door's own
        batch-1 stages do.
    """

    name: str
    runs_draft_model: bool
    verifies_tree: bool
    help: str
    self_drafts: bool = False
    standard_steps: bool = True

    def draft_passes(self, trees: StepTrees) -> DraftPasses:
        """The draft passes of every step of `trees`: none, unless a mode says otherwise."""
        return DraftPasses.none(trees.n_steps)

    def target_work(self, trees: StepTrees, tokens: np.ndarray, context: np.ndarray,
                    model: Any, device: Any) -> TargetWork | None:
        """What the target runs in every step, given the door's target pass (`tokens`
        query tokens at `context`, one per step); ``None``: that one pass over every layer
        (unless a mode says otherwise)."""
        return None

    def committed_outcome(self, trace: Any, outcome: Any) -> Any:
        """What every step commits: the golden `outcome` (unless a mode says otherwise)."""
        return outcome

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class PerLevel(DraftingMode):
    """One draft pass per tree level ``d = 1 .. depth``.

    The pass that produces level ``d`` runs the draft over the nodes of level ``d - 1``
    that are expanded (have at least one child), at context ``S_s + d - 1``.  The first
    pass instead runs over the tokens committed by the previous step of the request (1
    at its first step): an EAGLE head must first consume the target features of the
    newly accepted tokens, whose last one is this step's root, before it expands the root.
    """

    def draft_passes(self, trees: StepTrees) -> DraftPasses:
        levels = trees.levels
        width = levels.expanded_at.shape[1]
        slots = np.arange(1, width, dtype=np.int64)
        used = slots[None, :] <= levels.depth[:, None]
        tokens = levels.expanded_at[:, :-1].astype(np.int64)
        if tokens.shape[1]:
            tokens[:, 0] = trees.previous_committed()
        return DraftPasses(tokens, used, slots - 1)


@dataclass(frozen=True)
class SinglePass(DraftingMode):
    """One draft pass over one token (the root's hidden state) at context ``S_s``."""

    def draft_passes(self, trees: StepTrees) -> DraftPasses:
        n = trees.n_steps
        return DraftPasses(np.ones((n, 1), np.int64), np.ones((n, 1), bool),
                           np.zeros(1, np.int64))


@dataclass(frozen=True)
class ParallelMask(DraftingMode):
    """One draft pass that predicts every level at once from mask tokens (PARD,
    ParallelSpec): over the tokens committed by the previous step of the request (1 at
    its first step), whose KV the draft must add, plus one mask token per tree level,
    at context ``S_s``."""

    def draft_passes(self, trees: StepTrees) -> DraftPasses:
        n = trees.n_steps
        tokens = (trees.previous_committed() + trees.levels.depth)[:, None]
        return DraftPasses(tokens.astype(np.int64), np.ones((n, 1), bool),
                           np.zeros(1, np.int64))


MAX_LAYERS = 1 << 16
"""Bound of a layer index before the model is known (the cost model checks the model's)."""


@dataclass(frozen=True)
class SelfDraft(DraftingMode):
    """The target drafts with a subset of its own layers (LayerSkip, DEL, SWIFT, CLaSp).

    The layers come from the trace: ``metadata["exit_layer"]`` (one early-exit layer ``E``
    per step: the first ``E`` layers, DEL) or ``metadata["draft_layers"]`` (the indices
    of the kept layers, every step).  Draft: one pass per tree level over that level's
    expanded nodes (the first over the root) at context ``S_s + d - 1``, through the kept
    layers and the shared LM head.  Verify: an early exit reuses the draft's KV of layers
    ``1..E`` (``metadata["kv_reuse"]``, default true for the first ``E`` layers), so the
    target runs layers ``E+1..L`` over the tree with its LM head, and layers ``1..E``
    without the head over the leaves, which no draft pass consumed; any other layer set
    is verified by the full pass over the tree.
    """

    def _exits(self, trees: StepTrees, n_layers: int = MAX_LAYERS
               ) -> tuple[np.ndarray, bool]:
        """Draft layers of every step and whether verification reuses their KV."""
        meta = trees.metadata
        if "exit_layer" in meta:
            layers = trees.step_values("exit_layer", low=1, high=n_layers)
            prefix = True
        elif "draft_layers" in meta:
            kept = meta["draft_layers"]
            if (not isinstance(kept, list) or not kept
                    or not all(isinstance(k, int) and 0 <= k < n_layers for k in kept)
                    or len(set(kept)) != len(kept)):
                raise InputError(f"must be a list of distinct layer indices in "
                                 f"0..{n_layers - 1}", where=("metadata",),
                                 field="draft_layers")
            layers = np.full(trees.n_steps, len(kept), dtype=np.int64)
            prefix = sorted(kept) == list(range(len(kept)))
        else:
            raise InputError("a self-drafting trace names its draft layers: exit_layer "
                             "(one per step) or draft_layers", where=("metadata",),
                             field="draft_layers")
        reuse = meta.get("kv_reuse", prefix)
        if not isinstance(reuse, bool) or (reuse and not prefix):
            raise InputError("must be true or false, and true only for the first layers",
                             where=("metadata",), field="kv_reuse")
        return layers, reuse

    def draft_passes(self, trees: StepTrees) -> DraftPasses:
        levels = trees.levels
        width = levels.expanded_at.shape[1]
        slots = np.arange(1, width, dtype=np.int64)
        used = slots[None, :] <= levels.depth[:, None]
        tokens = levels.expanded_at[:, :-1].astype(np.int64)
        layers = np.broadcast_to(self._exits(trees)[0][:, None], tokens.shape).copy()
        return DraftPasses(tokens, used, slots - 1, layers)

    def target_work(self, trees: StepTrees, tokens: np.ndarray, context: np.ndarray,
                    model: Any, device: Any) -> TargetWork | None:
        n_layers = int(model.n_layers)
        exits, reuse = self._exits(trees, n_layers)
        if not reuse:
            return None
        n = trees.n_nodes
        drafted = n > 1
        leaves = np.where(drafted, n - trees.levels.expanded_at.sum(axis=1), 0)
        upper = TargetPass(tokens, context, np.ones(n.shape[0], bool),
                           layers=np.where(drafted, n_layers - exits, n_layers))
        lower = TargetPass(leaves, context + trees.levels.depth, drafted, layers=exits,
                           head=False)
        return TargetWork((upper, lower))


@dataclass(frozen=True)
class EarlyExit(DraftingMode):
    """Each token leaves the target at its exit layer, unverified (CALM; lossy).

    A step is one token: its pass over the first ``E`` layers with the LM head
    (``metadata["exit_layer"]``, one per step), plus CALM's state propagation: the exit
    state is copied to the ``L - E`` skipped layers, which compute their K/V from it
    (:func:`~specaccel.models.cost.early_exit_pass.kv_propagation_layer_costs` per layer).
    The step's tree is the root and the exit token; the golden verdict on the exit token
    measures its agreement with the full model, and the step commits the exit token alone.
    """

    def target_work(self, trees: StepTrees, tokens: np.ndarray, context: np.ndarray,
                    model: Any, device: Any) -> TargetWork | None:
        from specaccel.models.cost.early_exit_pass import kv_propagation_layer_costs

        n_layers = int(model.n_layers)
        exits = trees.step_values("exit_layer", low=1, high=n_layers)
        one = np.ones(exits.shape[0], dtype=np.int64)
        per_layer = kv_propagation_layer_costs(model, device)
        skipped = (n_layers - exits).astype(np.float64)
        return TargetWork((TargetPass(one, context, one.astype(bool), layers=exits),),
                          extra={k: skipped * v for k, v in per_layer.items()},
                          selected=one)

    def committed_outcome(self, trace: Any, outcome: Any) -> Any:
        off = np.asarray(trace.step_node_offsets, dtype=np.int64)
        if np.any(np.diff(off) != 2):
            raise InputError("an early-exit step is a two-node tree: the root and the exit "
                             "token", field="step_node_offsets")
        exit_token = np.asarray(trace.nodes["token"], dtype=np.int64)[off[:-1] + 1]
        return replace(outcome, accepted=np.zeros_like(outcome.accepted),
                       bonus_token=exit_token)


@dataclass(frozen=True)
class BlockDiffusion(DraftingMode):
    """A masked diffusion LM refines a block of masked tokens, one bidirectional pass a
    step (LLaDA with Fast-dLLM's block cache).

    From the trace: ``metadata["block_size"]``, ``["gen_len"]`` and ``["cache"]`` (a
    scheme of :mod:`~specaccel.models.cost.diffusion_block_pass`); a step commits the
    tokens its pass unmasked (its tree: an accepted chain), a request ``gen_len`` tokens.
    The first step of a block is the full pass over prompt + ``gen_len`` tokens that
    refills the block cache and gives that step's logits; the others are the cache
    scheme's block pass.  Every pass: all query tokens see every key, no tree mask,
    logits for every query row; the tokens are selected over the block's masked positions.
    """

    def target_work(self, trees: StepTrees, tokens: np.ndarray, context: np.ndarray,
                    model: Any, device: Any) -> TargetWork | None:
        from specaccel.models.cost.diffusion_block_pass import block_pass_shape, check_cache

        meta = trees.metadata
        sizes = {}
        for key in ("block_size", "gen_len"):
            v = meta.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InputError("must be a positive integer", where=("metadata",), field=key)
            sizes[key] = v
        b, gen = sizes["block_size"], sizes["gen_len"]
        if gen % b:
            raise InputError(f"gen_len {gen} must be a multiple of block_size {b}",
                             where=("metadata",), field="block_size")
        try:
            cache = check_cache(meta.get("cache"))
        except InputError as exc:
            raise InputError(exc.reason, where=("metadata",), field="cache") from None
        before = trees.committed_before()
        block, done = before // b, before % b
        if np.any(done + trees.committed > b) or np.any(block >= gen // b):
            raise InputError(f"a step commits tokens of one block of {b} and a request "
                             f"{gen} tokens", where=("metadata",), field="block_size")
        if trees.prompt_len is None:
            raise ValueError("block diffusion needs the requests' prompt lengths")
        prompt = np.repeat(trees.prompt_len, np.diff(trees.request_step_offsets))
        q, ctx = block_pass_shape(b, prompt + block * b, gen - (block + 1) * b, cache)
        first = done == 0
        q = np.where(first, prompt + gen, q)
        ctx = np.where(first, 0.0, ctx)
        return TargetWork((TargetPass(q, ctx, np.ones(q.shape[0], bool), phase="verify",
                                      tree=False),), selected=b - done)


DRAFTING_MODES: dict[str, DraftingMode] = {m.name: m for m in (
    PerLevel("per-level", runs_draft_model=True, verifies_tree=True,
             help="one draft pass per tree level over that level's expanded nodes "
                  "(EAGLE, chain drafts with a small model)"),
    SinglePass("single-pass", runs_draft_model=True, verifies_tree=True,
               help="heads that draft the whole tree in one pass over the root (Medusa)"),
    ParallelMask("parallel", runs_draft_model=True, verifies_tree=True,
                 help="one draft pass over the previous step's commits plus a mask token "
                      "per tree level (PARD, ParallelSpec)"),
    SelfDraft("self-draft", runs_draft_model=False, verifies_tree=True, self_drafts=True,
              standard_steps=False,
              help="the target drafts with a subset of its own layers, one pass per tree "
                   "level; an early exit's KV is reused by verification (LayerSkip, DEL, "
                   "SWIFT)"),
    EarlyExit("early-exit", runs_draft_model=False, verifies_tree=False,
              standard_steps=False,
              help="each token leaves the target at its exit layer, its state propagated "
                   "to the skipped layers' KV, and is committed unverified (CALM)"),
    BlockDiffusion("block-diffusion", runs_draft_model=False, verifies_tree=False,
                   standard_steps=False,
                   help="a diffusion LM unmasks tokens of a block by bidirectional passes "
                        "over it, with a block KV cache (LLaDA, Fast-dLLM)"),
    DraftingMode("draft-free", runs_draft_model=False, verifies_tree=True,
                 help="the tree comes from a lookup that runs no model (prompt lookup, "
                      "REST, lookahead, token recycling); the lookup is not charged"),
    DraftingMode("none", runs_draft_model=False, verifies_tree=False,
                 help="plain autoregressive decoding: no draft, no tree, no verify unit"),
)}
"""Every drafting mode, by on-disk name."""

NO_DRAFTING = DRAFTING_MODES["none"]
"""Plain autoregressive decoding (the baseline of every speculative run)."""


def drafting_mode(mode: str | DraftingMode, *, where: tuple[str, ...] = ()) -> DraftingMode:
    """The :class:`DraftingMode` named `mode` (a mode is returned as it is).

    Raises :class:`InputError` (field ``drafting``) for an unknown name.
    """
    if isinstance(mode, DraftingMode):
        return mode
    try:
        return DRAFTING_MODES[str(mode)]
    except KeyError:
        raise InputError(f"unknown drafting {mode!r}; choose one of "
                         f"{', '.join(DRAFTING_MODES)}", where=where, field="drafting"
                         ) from None


def drafting_of(metadata: dict[str, Any]) -> DraftingMode:
    """The drafting mode a trace's metadata names (:data:`DEFAULT_DRAFTING` if none)."""
    return drafting_mode(str(metadata.get("drafting", DEFAULT_DRAFTING)), where=("metadata",))
