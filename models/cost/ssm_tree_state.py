"""Verifying a draft tree on a state-space (Mamba) or hybrid target: per-branch state copies.

An SSM has no KV cache to mask: its "cache" is one fixed-size recurrent + convolution
state per sequence (`ssm_state_bytes`).  Verifying a draft *tree* needs a state for every
branch, and there are two ways to get one:

* **tree scan** (STree, Wu et al. 2025): one pass over the tree's nodes in topological
  order, each node's state derived from its parent's -- one state written per node and
  no copies.  The SSM mixer of the pass already prices this (``tree=True``: one state
  per query token, `operators._ssm_mixer`).
* **per-branch** (the naive way): every root-to-leaf path is run as its own sequence
  from a *copy* of the committed state: one copy per branch (leaf), i.e. a batch of
  ``leaves`` rows of ``depth + 1`` query tokens (shared prefixes are recomputed), plus
  the copies themselves -- each reads the committed state and writes a copy,
  ``2 x leaves x state bytes`` of HBM traffic, priced by the cost model's roofline as an
  operator whose bytes are all DRAM (`ssm_state_copy_costs`).

After verification the state of the last accepted node is kept (one state) and the rest
dropped; attention layers of a hybrid compact their KV as usual (`kv_commit_cost`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from specaccel.schema.errors import InputError

from .hardware_spec import HardwareSpec
from .model_spec import ModelSpec
from .operators import _vector
from .pass_evaluator import pass_costs

#: Ways to verify a tree on an SSM (module docstring).
STRATEGIES: tuple[str, ...] = ("tree-scan", "per-branch")


@dataclass(frozen=True)
class TreeBranches:
    """The counts of a draft tree that SSM verification costs depend on.

    Attributes
    ----------
    nodes:
        Nodes including the root.
    leaves:
        Nodes without children: the branches (root-to-leaf paths).
    depth:
        Largest node depth (the root is at depth 0).
    """

    nodes: int
    leaves: int
    depth: int

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise InputError(f"must be >= 1, not {self.nodes}", field="nodes")
        if not 1 <= self.leaves <= self.nodes:
            raise InputError(f"must be in 1..{self.nodes}, not {self.leaves}", field="leaves")
        if not 0 <= self.depth < self.nodes or self.depth + self.leaves > self.nodes:
            raise InputError(f"depth {self.depth} with {self.leaves} leaves does not fit "
                             f"{self.nodes} nodes", field="depth")

    @classmethod
    def from_parent(cls, parent: np.ndarray) -> TreeBranches:
        """Counts of the tree given by parent pointers (``parent[0] == -1``,
        ``0 <= parent[i] < i``)."""
        par = np.asarray(parent, dtype=np.int64)
        n = par.shape[0] if par.ndim == 1 else 0
        idx = np.arange(n)
        if n == 0 or par[0] != -1 or np.any(par[1:] < 0) or np.any(par[1:] >= idx[1:]):
            raise InputError("parent pointers must be a 1-D array with parent[0] == -1 and "
                             "0 <= parent[i] < i", field="parent")
        depth = np.zeros(n, dtype=np.int64)
        for i in range(1, n):  # topological order: the parent's depth is known
            depth[i] = depth[par[i]] + 1
        has_child = np.zeros(n, dtype=bool)
        has_child[par[1:]] = True
        return cls(nodes=n, leaves=int((~has_child).sum()), depth=int(depth.max()))


def ssm_state_bytes(model: ModelSpec) -> float:
    """Bytes of all SSM layers' recurrent + convolution states of one sequence."""
    return float(model.n_ssm_layers * model.ssm_state_elems * model.ssm_state_bytes_per_elem)


def ssm_tree_needs(model: ModelSpec, tree: TreeBranches) -> dict[str, Any]:
    """Per-step quantities of verifying `tree` on `model` under both strategies.

    Returns
    -------
    dict
        ``nodes``, ``leaves``, ``depth``, ``state_bytes_per_seq``,
        ``tree_scan_states_written`` (one per node), ``per_branch_state_copies`` (one per
        leaf), ``per_branch_copy_bytes`` (read the committed state, write a copy),
        ``per_branch_query_tokens`` (``leaves x (depth + 1)``) and
        ``kept_states_after_accept`` (1).
    """
    if model.n_ssm_layers == 0:
        raise InputError(f"{model.name} has no SSM layers", field="model")
    state = ssm_state_bytes(model)
    return {
        "nodes": tree.nodes,
        "leaves": tree.leaves,
        "depth": tree.depth,
        "state_bytes_per_seq": state,
        "tree_scan_states_written": tree.nodes,
        "per_branch_state_copies": tree.leaves,
        "per_branch_copy_bytes": 2.0 * tree.leaves * state,
        "per_branch_query_tokens": tree.leaves * (tree.depth + 1),
        "kept_states_after_accept": 1,
    }


def ssm_state_copy_costs(model: ModelSpec, hw: HardwareSpec, copies: int
                         ) -> dict[str, float]:
    """Latency and energy of `copies` copies of the committed SSM state in HBM.

    One operator that reads and writes ``copies x ssm_state_bytes`` in DRAM (where the
    committed state lives): a copy kernel on a GPU, the roofline elsewhere; its energy
    includes the device's static power over that time, as a pass's does.
    """
    if copies < 0:
        raise InputError(f"must be >= 0, not {copies}", field="copies")
    op = _vector("ssm_state_copy", hw, 0.0, kv_read_bytes=2.0 * copies * ssm_state_bytes(model))
    c = op.cost(hw, weights_resident=False, acts_on_chip=False)
    return {"latency_s": c.latency_s,
            "energy_j": c.energy_j + hw.static_power_w * c.latency_s,
            "dram_bytes": c.dram_bytes}


def ssm_tree_verify_costs(model: ModelSpec, hw: HardwareSpec, tree: TreeBranches,
                          context: np.ndarray | float, strategy: str = "tree-scan"
                          ) -> dict[str, np.ndarray]:
    """Latency and energy of one tree-verify step on an SSM/hybrid target.

    Parameters
    ----------
    model, hw:
        The target (with SSM layers) and the device.
    tree:
        The draft tree's counts.
    context:
        Tokens already in the KV cache of the attention layers (one value or an array;
        a pure SSM's cost does not depend on it).
    strategy:
        ``"tree-scan"`` (one pass over the tree's nodes with the tree mask) or
        ``"per-branch"`` (``leaves`` rows of ``depth + 1`` tokens, no mask, plus the
        state copies).

    Returns
    -------
    dict
        ``latency_s`` and ``energy_j``, one value per context.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; choose one of "
                         f"{', '.join(STRATEGIES)}", field="strategy")
    needs = ssm_tree_needs(model, tree)
    ctx = np.atleast_1d(np.asarray(context, dtype=float))
    if strategy == "tree-scan":
        c = pass_costs(model, hw, tokens=tree.nodes, context=ctx, phase="verify", tree=True)
        return {"latency_s": c["latency_s"], "energy_j": c["energy_j"]}
    c = pass_costs(model, hw, tokens=tree.depth + 1, context=ctx, batch=tree.leaves,
                   phase="verify", tree=False)
    copy = ssm_state_copy_costs(model, hw, needs["per_branch_state_copies"])
    return {"latency_s": c["latency_s"] + copy["latency_s"],
            "energy_j": c["energy_j"] + copy["energy_j"]}


def tree_scan_saving(model: ModelSpec, hw: HardwareSpec, tree: TreeBranches,
                     contexts: np.ndarray | float) -> np.ndarray:
    """Per-branch seconds over tree-scan seconds at each context (> 1: the scan wins)."""
    per_branch = ssm_tree_verify_costs(model, hw, tree, contexts, "per-branch")
    scan = ssm_tree_verify_costs(model, hw, tree, contexts, "tree-scan")
    return per_branch["latency_s"] / scan["latency_s"]
