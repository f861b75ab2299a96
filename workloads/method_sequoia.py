"""Sequoia: the draft tree found by dynamic programming for a node budget and a depth.

Sequoia (Chen et al. 2024) chooses, for a budget of n nodes and a depth bound, the tree
with the most expected tokens per step under a positional acceptance model: the
probability that the target picks the draft's rank-r child, the same at every node.
:func:`sequoia_tree` is that tree for the rank acceptance of a flat-α acceptance model
(:data:`~.presets.SHAPE_ALPHA`), from :func:`specaccel.models.sequoia.sequoia_table`;
the calibration then scales α on the fixed tree.  A small draft model (JackFram's 68M)
expands it level by level.
"""

from __future__ import annotations

from specaccel.models.sequoia import sequoia_table
from specaccel.workloads.acceptance_model import AcceptanceModel
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import C4_PROMPTS, FLAT_ALPHA, SHAPE_ALPHA, Preset
from specaccel.workloads.tree_shapes import TreeShape, from_parents

SEQUOIA_WIDTH = 8
"""Ranks the Sequoia dynamic program may use at each node (its acceptance vector length)."""


def sequoia_tree(budget: int, depth: int, *, name: str) -> TreeShape:
    """Sequoia's DP tree (:func:`specaccel.models.sequoia.sequoia_table`) for `budget` nodes
    (root included) and height `depth`, for the rank acceptance ``m(1, r)``, r < 8, of the
    flat-α model (:data:`~.presets.SHAPE_ALPHA`)."""
    m = AcceptanceModel((SHAPE_ALPHA,))
    r = [m.choice_probability(1, k) for k in range(SEQUOIA_WIDTH)]
    return from_parents(sequoia_table(r, budget, depth).tree(budget, depth), name=name)


declare_method(
    "sequoia",
    description="the tree with the most expected tokens for a node budget and depth, by "
                "dynamic programming over positional acceptance",
    drafting="per-level", tree_policy="Sequoia's DP tree for the budget (root included), "
                                      "height and at most 8 children per node",
    sources=("Chen et al. 2024, Sequoia (NeurIPS 2024)",))

_SEQUOIA_TREE = ("tree: Sequoia's DP tree ({n} nodes with the root, height <= {d}, <= 8 "
                 "children) for the rank acceptance of a flat alpha = 0.7 model")

declare_preset(Preset(
    name="sequoia-llama2-7b-128n-d10-c4",
    description="Sequoia on Llama-2-7B with a 68M draft, C4, greedy, 128-node depth-10 tree "
                "(tau 5.08)",
    method="sequoia",
    source_row=("sequoia", "Llama2-7B", "JF68M 128 nodes depth 10", "C4", "0"),
    tree=lambda: sequoia_tree(128, 10, name="sequoia-128-d10"),
    target_model="llama-2-7b",
    draft_model="llama-68m",
    verification="greedy",
    prompt_lengths=C4_PROMPTS,
    n_requests=200,
    steps_per_request=32,
    assumptions=(
        _SEQUOIA_TREE.format(n=128, d=10) + ", not Sequoia's measured acceptance vector",
        FLAT_ALPHA,
        "prompt lengths as specinfer-llama2-7b-c4",
    ),
))
declare_preset(Preset(
    name="sequoia-llama2-13b-64n-d9-c4",
    description="Sequoia on Llama-2-13B with a 68M draft, C4, greedy, 64-node depth-9 tree "
                "(tau 4.20)",
    method="sequoia",
    source_row=("sequoia", "Llama2-13B", "JF68M 64 nodes depth 9", "C4", "0"),
    tree=lambda: sequoia_tree(64, 9, name="sequoia-64-d9"),
    target_model="llama-2-13b",
    draft_model="llama-68m",
    verification="greedy",
    prompt_lengths=C4_PROMPTS,
    n_requests=200,
    steps_per_request=32,
    assumptions=(
        _SEQUOIA_TREE.format(n=64, d=9),
        FLAT_ALPHA,
        "prompt lengths as specinfer-llama2-7b-c4",
    ),
))
declare_preset(Preset(
    name="sequoia-llama2-7b-128n-d7-c4-t06",
    description="Sequoia on Llama-2-7B with a 68M draft, C4, temperature 0.6 (stochastic), "
                "128-node depth-7 tree (tau 3.92)",
    method="sequoia",
    source_row=("sequoia", "Llama2-7B", "JF68M 128 nodes depth 7", "C4", "0.6"),
    tree=lambda: sequoia_tree(128, 7, name="sequoia-128-d7"),
    target_model="llama-2-7b",
    draft_model="llama-68m",
    verification="stochastic",
    prompt_lengths=C4_PROMPTS,
    n_requests=200,
    steps_per_request=32,
    assumptions=(
        _SEQUOIA_TREE.format(n=128, d=7),
        "stochastic: p/q of each node equals its acceptance probability under the model "
        "(SpecInfer residuals for siblings); Sequoia's sampling-without-replacement "
        "verification is not modelled",
        FLAT_ALPHA,
        "prompt lengths as specinfer-llama2-7b-c4",
    ),
))
