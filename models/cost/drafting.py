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
  the steps' tree shapes (:class:`StepTrees`).

Draft passes are described per step and per *pass slot* ``d = 1 .. L``: slot ``d`` runs
over ``tokens[s, d-1]`` query tokens at context ``S_s + context_offset[d-1]`` when
``used[s, d-1]`` (:class:`DraftPasses`).  The batch-1 step costs price the used slots
one by one; a batched engine pads slot ``d`` over the rows that use it.

A new drafting mode is one subclass (or instance) of :class:`DraftingMode` added to
:data:`DRAFTING_MODES` here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    """

    step_node_offsets: np.ndarray
    parent: np.ndarray
    request_step_offsets: np.ndarray
    committed: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of_trace(cls, trace: Any, committed: np.ndarray) -> StepTrees:
        """The trees of a :class:`~specaccel.schema.trace.Trace`."""
        return cls(np.asarray(trace.step_node_offsets, dtype=np.int64),
                   np.asarray(trace.nodes["parent"]),
                   np.asarray(trace.request_step_offsets, dtype=np.int64),
                   np.asarray(committed, dtype=np.int64))

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
    """

    tokens: np.ndarray
    used: np.ndarray
    context_offset: np.ndarray

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
    """

    name: str
    runs_draft_model: bool
    verifies_tree: bool
    help: str

    def draft_passes(self, trees: StepTrees) -> DraftPasses:
        """The draft passes of every step of `trees`: none, unless a mode says otherwise."""
        return DraftPasses.none(trees.n_steps)

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


DRAFTING_MODES: dict[str, DraftingMode] = {m.name: m for m in (
    PerLevel("per-level", runs_draft_model=True, verifies_tree=True,
             help="one draft pass per tree level over that level's expanded nodes "
                  "(EAGLE, chain drafts with a small model)"),
    SinglePass("single-pass", runs_draft_model=True, verifies_tree=True,
               help="heads that draft the whole tree in one pass over the root (Medusa)"),
    ParallelMask("parallel", runs_draft_model=True, verifies_tree=True,
                 help="one draft pass over the previous step's commits plus a mask token "
                      "per tree level (PARD, ParallelSpec)"),
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
