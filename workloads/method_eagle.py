"""EAGLE and EAGLE-3: a one-layer draft head on the target's features drafts a tree.

EAGLE (Li et al. 2024) autoregresses at the feature level: its head (one decoder layer
fed the target's last hidden states) expands a static 25-token tree level by level, one
head pass per level, and the target verifies the tree in one pass.  EAGLE-3 (Li et al.
2025) fuses low, mid and high target features and trains the head on its own outputs; it
drafts a dynamic tree like EAGLE-2 (:mod:`.method_eagle2`), here its static stand-in of
the same size.  The recorded real-text policy is :class:`~.method_static_tree.StaticTree`
over EAGLE-1's tree.
"""

from __future__ import annotations

from specaccel.workloads.method_static_tree import EAGLE_TREE_25, StaticTree
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import (
    FLAT_ALPHA,
    MTBENCH_TIMED_PER_QUESTION,
    SPECBENCH,
    Preset,
    top_reach_tree,
)
from specaccel.workloads.real_text_presets import RealTextPreset
from specaccel.workloads.tree_shapes import chain, eagle_default_tree

declare_method(
    "eagle",
    description="a one-layer draft head on the target's features expands a static tree, "
                "one head pass per level",
    drafting="per-level", tree_policy="EAGLE-1's static 25-token tree (depth 5), or a chain",
    sources=("Li et al. 2024, EAGLE (ICML 2024)",))
declare_method(
    "eagle-3",
    description="EAGLE with fused low/mid/high target features and training on its own "
                "drafts; a dynamic tree",
    drafting="per-level", tree_policy="static stand-in for the dynamic tree: the tokens of "
                                      "highest reach probability in a top-k tree",
    sources=("Li et al. 2025, EAGLE-3 (arXiv 2503.01840)",))

declare_preset(Preset(
    name="eagle-vicuna-7b-mtbench",
    description="EAGLE on Vicuna-7B, MT-Bench, greedy, 25-token static tree (tau 3.94)",
    method="eagle",
    source_row=("eagle", "Vicuna-7B", "25-node static tree", "MT-Bench", "0"),
    tree=eagle_default_tree(),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    benchmark=MTBENCH_TIMED_PER_QUESTION,
    assumptions=(
        "rank decay fitted to Medusa Vicuna-7B head top-k accuracy; EAGLE publishes none",
    ),
))
_EAGLE_SPECBENCH = declare_preset(Preset(
    name="eagle-vicuna-7b-specbench",
    description="EAGLE on Vicuna-7B, Spec-Bench, greedy, 25-token static tree (tau 3.58)",
    method="eagle",
    source_row=("eagle", "Vicuna-7B", "25-node static tree", "Spec-Bench", "0", "A100"),
    tree=eagle_default_tree(),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    benchmark=SPECBENCH,
    steps=64,
    assumptions=(
        "tree: EAGLE-1's 25-token static tree, the default of Spec-Bench's "
        "inference_eagle.py (model/eagle/choices.py, under Medusa's name mc_sim_7b_63)",
        FLAT_ALPHA,
    ),
))
declare_preset(_EAGLE_SPECBENCH.for_target("Vicuna-13B", "vicuna-13b", "eagle-head-vicuna-13b"))
declare_preset(_EAGLE_SPECBENCH.for_target("Vicuna-33B", "vicuna-33b", "eagle-head-vicuna-33b"))
declare_preset(_EAGLE_SPECBENCH.for_hardware("RTX 3090"))
declare_preset(Preset(
    name="eagle-vicuna-7b-chain5-mtbench",
    description="EAGLE on Vicuna-7B, MT-Bench, greedy, chain of 5 drafts (tau 3.20)",
    method="eagle",
    source_row=("eagle", "Vicuna-7B", "chain gamma=5", "MT-Bench", "0"),
    tree=chain(5),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    benchmark=MTBENCH_TIMED_PER_QUESTION,
    steps=160,
))
declare_preset(Preset(
    name="eagle-vicuna-7b-mtbench-t1",
    description="EAGLE on Vicuna-7B, MT-Bench, temperature 1 (stochastic), 25-token tree "
                "(tau 3.17)",
    method="eagle",
    source_row=("eagle", "Vicuna-7B", "25-node static tree", "MT-Bench", "1"),
    tree=eagle_default_tree(),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    benchmark=MTBENCH_TIMED_PER_QUESTION,
    steps=160,
    assumptions=("stochastic: p/q of each node equals its acceptance probability under the "
                 "model (SpecInfer residuals for siblings)",),
))
declare_preset(RealTextPreset(
    "eagle-25", "eagle", "EAGLE-1's 25-node static tree",
    lambda m: StaticTree(m.draft_lm, EAGLE_TREE_25, "eagle-25"),
    ("eagle", "Vicuna-7B", "25-node static tree", "MT-Bench", "0"),
    draft_model="eagle-head-vicuna-7b"))

declare_preset(Preset(
    name="eagle3-vicuna-13b-specbench",
    description="EAGLE-3 on Vicuna-13B, Spec-Bench, greedy, 60-token depth-7 tree (tau 5.71)",
    method="eagle-3",
    source_row=("eagle-3", "Vicuna-13B", "dynamic", "Spec-Bench", "0", "A100"),
    tree=lambda: top_reach_tree(60, 7, 10, name="eagle3-60-d7"),
    target_model="vicuna-13b",
    draft_model="eagle-head-vicuna-13b",
    benchmark=SPECBENCH,
    steps=64,
    assumptions=(
        "static stand-in for the dynamic tree: the 60 draft tokens of highest reach "
        "probability in the depth-7 top-10 tree under a flat alpha = 0.7 model (EAGLE-3's "
        "default 60 tokens, depth 7, top-10; the row states no size)",
        "draft 'eagle-head-vicuna-13b' (one decoder layer) stands in for EAGLE-3's head, "
        "which also fuses low/mid/high target features (slightly more input FLOPs)",
        FLAT_ALPHA,
    ),
))
