"""Tree speculation on state-space (Mamba) and hybrid targets (STree, Wu et al. 2025).

An SSM has no KV cache to mask: its "cache" is one fixed-size recurrent + convolution
state per sequence.  Verifying a draft *tree* therefore needs a state for every branch:

* **per-branch** (the naive way): every root-to-leaf path is run as its own sequence,
  starting from a *copy* of the committed state — one state copy per branch (leaf), and
  shared prefixes are recomputed (``leaves × (depth + 1)`` query tokens);
* **tree scan** (STree): one pass over the tree's nodes in topological order, each node's
  state derived from its parent's — one state written per node, no copies; the cost
  model's SSM mixer already prices this (``tree=True``: one state per query token).

After verification the state of the last accepted node is kept (one state) and the rest
dropped; attention layers of a hybrid compact their KV as usual.

What the cost model needs, per step, is recorded in ``trace.metadata["ssm"]``
(:func:`ssm_tree_needs`): nodes, leaves (branch state copies), depth, state bytes per
sequence, states written by a tree scan and bytes copied by the per-branch scheme.

:func:`ssm_tree_verify_seconds` prices both schemes on
:func:`specaccel.models.cost.pass_costs`; the per-branch state copies (read + write of
the state at the device's achieved bandwidth) are a formula that models/cost does not
have and should move there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from specaccel.errors import InputError
from specaccel.models.cost import ModelSpec, get_hardware, get_model, pass_costs
from specaccel.workloads.acceptance_model import AcceptanceModel
from specaccel.workloads.synthetic import PromptLengths, synthesize_trace
from specaccel.workloads.trace import Trace
from specaccel.workloads.tree_shapes import TreeShape, eagle_default_tree

STRATEGIES = ("tree-scan", "per-branch")


def ssm_state_bytes(model: ModelSpec) -> float:
    """Bytes of all SSM layers' recurrent + convolution states of one sequence."""
    return float(model.n_ssm_layers * model.ssm_state_elems * model.ssm_state_bytes_per_elem)


def ssm_tree_needs(model: ModelSpec, shape: TreeShape) -> dict[str, Any]:
    """Per-step quantities the cost model needs for tree verification on `model`."""
    if model.n_ssm_layers == 0:
        raise InputError(f"{model.name} has no SSM layers", field="model")
    leaves = int((shape.n_children() == 0).sum())
    state = ssm_state_bytes(model)
    return {
        "nodes": shape.n_nodes,
        "leaves": leaves,
        "depth": shape.max_depth,
        "state_bytes_per_seq": state,
        "tree_scan_states_written": shape.n_nodes,
        "per_branch_state_copies": leaves,
        "per_branch_copy_bytes": 2.0 * leaves * state,  # read the committed state, write a copy
        "per_branch_query_tokens": leaves * (shape.max_depth + 1),
        "kept_states_after_accept": 1,
    }


def ssm_tree_verify_seconds(model: ModelSpec, hw_name: str, shape: TreeShape,
                            context: float, strategy: str = "tree-scan") -> float:
    """Seconds of one tree-verify step on an SSM/hybrid target (module docstring)."""
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}",
                         field="strategy")
    hw = get_hardware(hw_name)
    needs = ssm_tree_needs(model, shape)
    if strategy == "tree-scan":
        return float(pass_costs(model, hw, tokens=shape.n_nodes, context=float(context),
                                phase="verify", tree=True)["latency_s"][0])
    passes = pass_costs(model, hw, tokens=needs["depth"] + 1, context=float(context),
                        batch=needs["leaves"], phase="verify", tree=False)["latency_s"][0]
    copy = needs["per_branch_copy_bytes"] / (hw.mem_bw_bytes_s * hw.bw_efficiency)
    return float(passes + copy)


@dataclass(frozen=True)
class SsmTreePreset:
    """Tree speculation on an SSM/hybrid target (no published τ: α is an assumption)."""

    name: str
    description: str
    target: str
    draft: str
    shape: TreeShape
    alpha: tuple[float, ...]
    hw: str = "a100-80gb"
    assumptions: tuple[str, ...] = field(default=())

    def generate(self, n_requests: int = 16, steps_per_request: int = 64, seed: int = 0
                 ) -> Trace:
        """A seeded trace; ``metadata["ssm"]`` holds :func:`ssm_tree_needs`."""
        model = get_model(self.target)
        meta = {"preset": self.name, "method": "ssm-tree", "target_model": self.target,
                "draft_model": self.draft, "ssm": ssm_tree_needs(model, self.shape)}
        return synthesize_trace(self.shape, AcceptanceModel(self.alpha),
                                n_requests=n_requests, steps_per_request=steps_per_request,
                                seed=seed, prompt_lengths=PromptLengths(median=256),
                                metadata=meta)


SSM_TREE_PRESETS: dict[str, SsmTreePreset] = {p.name: p for p in [
    SsmTreePreset("stree-mamba2-2.7b-eagle25",
                  "Mamba-2 2.7B target, Mamba-130M draft, EAGLE's 25-token tree, tree scan",
                  "mamba2-2.7b", "mamba-130m", eagle_default_tree(), (0.7,),
                  assumptions=("flat alpha 0.7 (no published acceptance in the bundled data)",)),
    SsmTreePreset("stree-hybrid-8b-eagle25",
                  "Mamba-2 hybrid 8B target, EAGLE's 25-token tree, tree scan",
                  "mamba2-hybrid-8b", "mamba-130m", eagle_default_tree(), (0.7,),
                  assumptions=("flat alpha 0.7 (assumed)",)),
]}


def tree_scan_saving(model: ModelSpec, hw_name: str, shape: TreeShape,
                     contexts: np.ndarray) -> np.ndarray:
    """Per-branch seconds over tree-scan seconds at each context (> 1: the scan wins)."""
    return np.array([ssm_tree_verify_seconds(model, hw_name, shape, c, "per-branch")
                     / ssm_tree_verify_seconds(model, hw_name, shape, c, "tree-scan")
                     for c in np.asarray(contexts, dtype=np.float64)])
