"""EAGLE-2 dynamic draft trees: expand by cumulative draft confidence, rerank, keep the best M.

Per layer (Li et al. 2024, "EAGLE-2"): the draft scores each node by the product of its
draft probabilities along the path from the root (its *value*, an estimate of the
probability that the node is accepted).  Starting from the root, the ``top_k`` nodes of
the current layer with the highest value are expanded, each with its ``top_k`` most
likely draft tokens; this repeats for ``depth`` layers.  Finally all drafted nodes are
reranked by value and the best ``total_tokens`` are kept (a node's value never exceeds
its parent's, so the kept set is a tree; ties keep shallower, earlier nodes first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import (
    FLAT_ALPHA,
    MTBENCH_TIMED_PER_QUESTION,
    SIX_TASK,
    SPECBENCH,
    Preset,
    top_reach_tree,
)
from specaccel.workloads.real_text_presets import RealTextPreset
from specaccel.workloads.recorder_ngram import NextTokenModel, Proposal
from specaccel.workloads.tree_shapes import TreeShape


class DynamicTree:
    """EAGLE-2 drafting with `draft`: `depth` layers, `top_k` expansion, `total_tokens` kept."""

    name = "eagle2-dynamic"

    def __init__(self, draft: NextTokenModel, depth: int = 6, top_k: int = 10,
                 total_tokens: int = 60) -> None:
        if depth < 1 or top_k < 1 or total_tokens < 1:
            raise InputError("depth, top_k and total_tokens must be >= 1", field="depth")
        self.draft = draft
        self.depth, self.top_k, self.total_tokens = int(depth), int(top_k), int(total_tokens)

    def describe(self) -> dict[str, Any]:
        return {"depth": self.depth, "top_k": self.top_k, "total_tokens": self.total_tokens}

    def reset(self, prompt: np.ndarray) -> None:
        pass

    def _children(self, ctx: list[int]) -> tuple[np.ndarray, np.ndarray]:
        return self.draft.top_k(ctx, self.top_k)

    def propose(self, context: list[int]) -> Proposal:
        # candidate nodes: (parent candidate index, token, q, value, depth, path)
        par: list[int] = [-1]
        tok: list[int] = [int(context[-1])]
        qs: list[float] = [1.0]
        val: list[float] = [1.0]
        dep: list[int] = [0]
        path: list[list[int]] = [[]]
        frontier = [0]
        for d in range(1, self.depth + 1):
            new = []
            for node in frontier:
                toks, probs = self._children(context + path[node])
                for t, q in zip(toks, probs, strict=True):
                    par.append(node)
                    tok.append(int(t))
                    qs.append(float(q))
                    val.append(val[node] * float(q))
                    dep.append(d)
                    path.append(path[node] + [int(t)])
                    new.append(len(par) - 1)
            # expand the top_k nodes of this layer by value (stable: earlier first on ties)
            new.sort(key=lambda i: -val[i])
            frontier = new[: self.top_k]
        # rerank all drafted nodes; keep the best total_tokens (root always kept)
        cand = sorted(range(1, len(par)), key=lambda i: (-val[i], dep[i], i))
        chosen = set(cand[: self.total_tokens])
        # emit layer by layer so parents come first; siblings in drafting order (rank)
        order = [0]
        pos = {0: 0}
        for d in range(1, self.depth + 1):
            layer = [i for i in range(1, len(par)) if dep[i] == d and i in chosen
                     and par[i] in pos]  # ancestors are kept: values fall along paths
            layer.sort(key=lambda i: (pos[par[i]], -qs[i], i))
            for i in layer:
                pos[i] = len(order)
                order.append(i)
        parent_out = [-1] + [pos[par[i]] for i in order[1:]]
        return Proposal(parent=parent_out, token=[tok[i] for i in order],
                        draft_prob=[qs[i] for i in order])

    def observe(self, context: list[int], tree: DraftTree, node_dists: list[np.ndarray],
                committed: np.ndarray) -> None:
        pass


# ---------------------------------------------------------------------- method and presets
declare_method(
    "eagle-2",
    description="EAGLE's draft head with a context-dependent tree: expand the most "
                "confident nodes, rerank, keep the best M",
    drafting="per-level", tree_policy="dynamic tree (real text); calibrated presets use a "
                                      "static stand-in: the tokens of highest reach "
                                      "probability in a top-k tree",
    sources=("Li et al. 2024, EAGLE-2 (EMNLP 2024)",))

_EAGLE2_STATIC = ("static stand-in for the dynamic tree: the 60 draft tokens of highest "
                  "reach probability in the depth-6 top-10 tree under a flat alpha = 0.7 "
                  "model, fixed for every step (EAGLE-2 re-ranks per step)")


def _eagle2_60() -> TreeShape:
    return top_reach_tree(60, 6, 10, name="eagle2-60-d6")


declare_preset(Preset(
    name="eagle2-vicuna-7b-6task",
    description="EAGLE-2 on Vicuna-7B, 6-task mean, greedy, 60-token depth-6 tree (tau 4.68)",
    method="eagle-2",
    source_row=("eagle-2", "Vicuna-7B", "dynamic 60 tokens depth 6 top-10", "6-task mean",
                "0"),
    tree=_eagle2_60,
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    benchmark=SIX_TASK,
    assumptions=(
        _EAGLE2_STATIC,
        FLAT_ALPHA,
    ),
))
declare_preset(Preset(
    name="eagle2-vicuna-7b-mtbench",
    description="EAGLE-2 on Vicuna-7B, MT-Bench, greedy, 60-token depth-6 tree (tau 4.98)",
    method="eagle-2",
    source_row=("eagle-2", "Vicuna-7B", "dynamic 60 tokens depth 6 top-10", "MT-Bench", "0"),
    tree=_eagle2_60,
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    benchmark=MTBENCH_TIMED_PER_QUESTION,
    assumptions=(_EAGLE2_STATIC, FLAT_ALPHA),
))
_EAGLE2_SPECBENCH = declare_preset(Preset(
    name="eagle2-vicuna-7b-specbench",
    description="EAGLE-2 on Vicuna-7B, Spec-Bench, greedy, 60-token depth-6 tree (tau 4.34)",
    method="eagle-2",
    source_row=("eagle-2", "Vicuna-7B", "dynamic", "Spec-Bench", "0", "A100"),
    tree=_eagle2_60,
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    benchmark=SPECBENCH,
    steps=64,
    assumptions=(_EAGLE2_STATIC + "; the leaderboard row does not state the tree size, "
                 "EAGLE-2's default (60 tokens, depth 6, top-10) assumed",
                 FLAT_ALPHA),
))
declare_preset(_EAGLE2_SPECBENCH.for_target("Vicuna-13B", "vicuna-13b", "eagle-head-vicuna-13b"))
declare_preset(_EAGLE2_SPECBENCH.for_target("Vicuna-33B", "vicuna-33b", "eagle-head-vicuna-33b"))
declare_preset(_EAGLE2_SPECBENCH.for_hardware("RTX 3090"))
declare_preset(Preset(
    name="eagle2-vicuna-13b-6task",
    description="EAGLE-2 on Vicuna-13B, 6-task mean, greedy, 50-token depth-6 tree (tau 4.65)",
    method="eagle-2",
    source_row=("eagle-2", "Vicuna-13B", "dynamic 50 tokens", "6-task mean", "0"),
    tree=lambda: top_reach_tree(50, 6, 10, name="eagle2-50-d6"),
    target_model="vicuna-13b",
    draft_model="eagle-head-vicuna-13b",
    benchmark=SIX_TASK,
    assumptions=(
        "static stand-in for the dynamic tree: the 50 draft tokens of highest reach "
        "probability in the depth-6 top-10 tree under a flat alpha = 0.7 model (the row "
        "gives 50 tokens; depth 6 and top-10 assumed as for 7B)",
        FLAT_ALPHA,
    ),
))
declare_preset(RealTextPreset(
    "eagle2-60", "eagle-2", "EAGLE-2 dynamic tree: depth 6, top-10, 60 tokens",
    lambda m: DynamicTree(m.draft_lm, depth=6, top_k=10, total_tokens=60),
    ("eagle-2", "Vicuna-7B", "dynamic 60 tokens depth 6 top-10", "MT-Bench", "0"),
    draft_model="eagle-head-vicuna-7b"))
