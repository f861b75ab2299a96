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
from specaccel.workloads.presets import C4, FLAT_ALPHA, SHAPE_ALPHA, Preset
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

def _sequoia_preset(target: str, size: str, nodes: int, depth: int, temperature: str,
                    *notes: str) -> Preset:
    """The Sequoia preset of the C4 row for `target` (``Llama2-7B``), its `nodes`-node
    depth-`depth` tree at `temperature`, with a 68M draft."""
    mode = "greedy" if temperature == "0" else f"temperature {temperature} (stochastic)"
    suffix = "" if temperature == "0" else "-t" + temperature.replace(".", "")
    return Preset(
        name=f"sequoia-llama2-{size}-{nodes}n-d{depth}-c4{suffix}",
        description=f"Sequoia on Llama-2-{size.upper()} with a 68M draft, C4, {mode}, "
                    f"{nodes}-node depth-{depth} tree",
        method="sequoia",
        source_row=("sequoia", target, f"JF68M {nodes} nodes depth {depth}", "C4",
                    temperature),
        tree=lambda: sequoia_tree(nodes, depth, name=f"sequoia-{nodes}-d{depth}"),
        target_model=f"llama-2-{size}",
        draft_model="llama-68m",
        benchmark=C4,
        assumptions=(
            f"tree: Sequoia's DP tree ({nodes} nodes with the root, height <= {depth}, <= 8 "
            "children) for the rank acceptance of a flat alpha = 0.7 model, not Sequoia's "
            "measured acceptance vector", *notes, FLAT_ALPHA),
    )


declare_preset(_sequoia_preset("Llama2-7B", "7b", 128, 10, "0"))
declare_preset(_sequoia_preset("Llama2-13B", "13b", 64, 9, "0"))
declare_preset(_sequoia_preset(
    "Llama2-7B", "7b", 128, 7, "0.6",
    "stochastic: p/q of each node equals its acceptance probability under the model "
    "(SpecInfer residuals for siblings); Sequoia's sampling-without-replacement "
    "verification is not modelled"))
