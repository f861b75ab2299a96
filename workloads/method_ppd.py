"""PPD: parallel prompt decoding with a hardware-aware dynamic sparse tree.

PPD (Chen et al. 2024) appends trained *prompt tokens* to the input: their outputs guess
the tokens after the current one, so the target drafts for itself in the same forward
pass that verifies the previous step's guesses (no draft model; the prompt embeddings
are a few thousand parameters).  Each candidate node of the sparse tree carries 2 or 3
prompt tokens that guess the next step's candidates; the tree and its prompt tokens
together fill an *input length* chosen for the GPU (the hardware-aware part).

The preset is the tree PPD's scripts use for Vicuna-7B on MT-Bench on an A100
(``--tree-length 105``): the depth-3 tree of ``dynamic_sparse_trees_105`` in the
repository's ``prompt/inference/dynamic_sparse_trees_3_vicuna_7b.py`` — 34 candidate
nodes carrying 71 prompt tokens.  Its published τ (2.39, acceptance.csv) is the expected
accept length that the file's per-node probabilities give (each is the probability that
the node is the deepest accepted one, so τ = 1 + Σ depth · p), not a measured mean.
Drafting is ``draft-free``: no draft pass; the 71 prompt tokens ride in every verify pass
(``extra_query_tokens_per_step``).
"""

from __future__ import annotations

from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import MTBENCH, Preset
from specaccel.workloads.tree_shapes import from_choices

PPD_TREE_105 = (
    (0,), (1,), (0, 0), (2,), (0, 1), (3,), (0, 2), (1, 0), (4,), (0, 3), (5,), (1, 1),
    (0, 0, 0), (0, 4), (2, 0), (6,), (0, 5), (0, 0, 1), (7,), (0, 6), (3, 0), (1, 2),
    (0, 1, 0), (2, 1), (0, 7), (0, 0, 2), (8,), (0, 8), (9,), (0, 1, 1), (1, 3), (4, 0),
    (0, 9), (0, 0, 3),
)
"""The 34 candidate paths (ranks from the root) of PPD's Vicuna-7B tree for input 105."""
PPD_PROMPT_TOKENS_105 = 3 * 3 + 2 * 31
"""Prompt tokens riding with that tree: 3 on each of the first three nodes, 2 on the rest."""

declare_method(
    "ppd",
    description="trained prompt tokens appended to the input guess the next tokens, so the "
                "target drafts in the same pass that verifies; no draft model",
    drafting="draft-free", tree_policy="a hardware-aware sparse tree whose candidates carry "
                                       "prompt tokens, sized to the GPU's input length",
    sources=("Chen et al. 2024, Hardware-Aware Parallel Prompt Decoding (arXiv 2405.18628)",))

declare_preset(Preset(
    name="ppd-vicuna-7b-mtbench",
    description="PPD on Vicuna-7B, MT-Bench, greedy, 34-candidate depth-3 tree with 71 "
                "prompt tokens (tau 2.39)",
    method="ppd",
    source_row=("ppd", "Vicuna-7B", "dynamic sparse tree 105 tokens depth 3", "MT-Bench", "0"),
    tree=from_choices(PPD_TREE_105, name="ppd-105-d3"),
    target_model="vicuna-7b",
    draft_model=None,
    benchmark=MTBENCH,
    assumptions=(
        "published tau: the expected accept length of PPD's tree file, not a measured mean",
        "the dynamic tree (PPD picks the tree by how many prompt tokens were accepted) is "
        "stood in by its deepest (depth-3) tree every step",
        "flat alpha profile calibrated to the tree's tau",
    ),
    extra_query_tokens_per_step=PPD_PROMPT_TOKENS_105,
))
