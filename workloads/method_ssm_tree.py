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
(:func:`specaccel.models.cost.ssm_tree_state.ssm_tree_needs`): nodes, leaves (branch
state copies), depth, state bytes per sequence, states written by a tree scan and bytes
copied by the per-branch scheme.  Both schemes are priced by
:mod:`specaccel.models.cost.ssm_tree_state` from a tree's counts
(``TreeBranches.from_parent(shape.parent)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from specaccel.models.cost import get_model
from specaccel.models.cost.ssm_tree_state import TreeBranches, ssm_tree_needs
from specaccel.schema.errors import InputError
from specaccel.schema.trace import Trace
from specaccel.workloads.acceptance_model import AcceptanceModel, calibrate
from specaccel.workloads.methods import WorkloadPreset, declare_method, declare_preset
from specaccel.workloads.published import SourceKey
from specaccel.workloads.synthetic import PromptLengths, synthesize_trace
from specaccel.workloads.tree_shapes import TreeShape, eagle_default_tree

declare_method(
    "stree",
    description="tree speculation on state-space and hybrid targets: one tree scan over "
                "the nodes, each state derived from its parent's",
    drafting="per-level", tree_policy="a static tree (EAGLE's 25 tokens), verified by a "
                                      "tree scan of the SSM state",
    sources=("Wu et al. 2025, STree (NeurIPS 2025; arXiv 2505.14969)",))


@dataclass(frozen=True)
class SsmTreePreset(WorkloadPreset):
    """Tree speculation on an SSM/hybrid target (no published τ: α is an assumption)."""

    kind: ClassVar[str] = "modelled"

    name: str
    description: str
    target: str
    draft: str
    shape: TreeShape
    alpha: tuple[float, ...]
    hw: str = "a100-80gb"
    assumptions: tuple[str, ...] = field(default=())
    method: str = "stree"
    source_row: SourceKey | None = None
    n_requests: int = 16
    steps_per_request: int = 64

    def model_tau(self) -> float:
        return float(AcceptanceModel(self.alpha).expected_committed(self.shape))

    def with_tau(self, tau: float) -> SsmTreePreset:
        """The α profile scaled so that the expected τ on the tree is `tau`."""
        try:
            model, _ = calibrate(AcceptanceModel(self.alpha), self.shape, float(tau))
        except ValueError as exc:
            raise InputError(f"{exc} (preset {self.name})", field="tau") from None
        return replace(self, alpha=tuple(float(a) for a in model.alpha))

    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        """A seeded trace; ``metadata["ssm"]`` holds the cost model's ``ssm_tree_needs``."""
        model = get_model(self.target)
        needs = ssm_tree_needs(model, TreeBranches.from_parent(self.shape.parent))
        meta = {"preset": self.name, "method": self.method, "target_model": self.target,
                "draft_model": self.draft, "ssm": needs}
        return synthesize_trace(self.shape, AcceptanceModel(self.alpha),
                                n_requests=n_requests, steps_per_request=steps_per_request,
                                seed=seed, prompt_lengths=PromptLengths(median=256),
                                metadata=meta)


declare_preset(SsmTreePreset(
    "stree-mamba2-2.7b-eagle25",
    "Mamba-2 2.7B target, Mamba-130M draft, EAGLE's 25-token tree, tree scan",
    "mamba2-2.7b", "mamba-130m", eagle_default_tree(), (0.7,),
    assumptions=("flat alpha 0.7 (no published acceptance in the bundled data)",)))
declare_preset(SsmTreePreset(
    "stree-hybrid-8b-eagle25",
    "Mamba-2 hybrid 8B target, EAGLE's 25-token tree, tree scan",
    "mamba2-hybrid-8b", "mamba-130m", eagle_default_tree(), (0.7,),
    assumptions=("flat alpha 0.7 (assumed)",)))
