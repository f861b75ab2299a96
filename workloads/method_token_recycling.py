"""Token recycling: reuse the target's own top-k candidates as the next steps' drafts.

(Luo et al. 2024, "Turning Trash into Treasure".)  An adjacency matrix ``M[t]`` holds,
for every token t, the top-k tokens the target proposed right after t the last time t
was in a verified tree (the "recycled" candidates of every verify pass).  Each step
fills a static BFS *template tree* of rank choices from the root: the child of rank r of
a node holding token t gets ``M[t][r]``; nodes whose token has no row yet are pruned.
No draft model (``draft_prob`` = 1.0).  The matrix persists across requests, as in the
paper, so a long-running server keeps getting better drafts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree
from specaccel.workloads.method_static_tree import choices_to_parents
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import (
    DRAFT_FREE,
    FLAT_ALPHA,
    SPECBENCH,
    Preset,
)
from specaccel.workloads.real_text_presets import RealTextPreset
from specaccel.workloads.recorder_ngram import NextTokenModel, Proposal
from specaccel.workloads.tree_shapes import from_choices


def bfs_template(branching: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """Choices of a tree whose rank-0 path branches `branching[d]` ways at depth d and
    whose other nodes continue with one child (rank 0), depth ``len(branching)``."""
    if not branching or min(branching) < 1:
        raise InputError("branching factors must be >= 1", field="branching")
    out: list[tuple[int, ...]] = []
    frontier: list[tuple[int, ...]] = [()]
    for b in branching:
        nxt = []
        for c in frontier:
            width = b if all(r == 0 for r in c) else 1
            nxt.extend(c + (r,) for r in range(width))
        out.extend(nxt)
        frontier = nxt
    return tuple(out)


class TokenRecycling:
    """Adjacency-matrix drafting over a static template tree."""

    name = "token-recycling"
    drafting = "draft-free"   # trace metadata: an adjacency-matrix lookup, no draft model

    def __init__(self, target: NextTokenModel, k: int = 8,
                 template: Sequence[Sequence[int]] | None = None) -> None:
        if k < 1:
            raise InputError(f"must be >= 1, not {k}", field="k")
        self.k = int(k)
        template = template if template is not None else bfs_template([k, 4, 2, 2, 1, 1])
        self.choices, self.parent = choices_to_parents(template)
        if max(c[-1] for c in self.choices) >= k:
            raise InputError(f"template ranks must be < k = {k}", field="template")
        self.target = target
        self.matrix = np.full((int(target.vocab_size), self.k), -1, dtype=np.int64)

    def describe(self) -> dict[str, Any]:
        return {"k": self.k, "template_nodes": len(self.choices)}

    def reset(self, prompt: np.ndarray) -> None:
        pass  # the matrix is kept across requests

    def propose(self, context: list[int]) -> Proposal:
        parent, token = [-1], [int(context[-1])]
        where = {0: 0}  # template node -> output node
        for i, c in enumerate(self.choices, start=1):
            tp = int(self.parent[i])
            if tp not in where:
                continue
            t = int(self.matrix[token[where[tp]], c[-1]])
            if t < 0:
                continue
            where[i] = len(token)
            parent.append(where[tp])
            token.append(t)
        return Proposal(parent=parent, token=token, draft_prob=[1.0] * len(token))

    def observe(self, context: list[int], tree: DraftTree, node_dists: list[np.ndarray],
                committed: np.ndarray) -> None:
        paths: list[list[int]] = [[] for _ in range(tree.n_nodes)]
        for i in range(tree.n_nodes):
            if i:
                paths[i] = paths[int(tree.parent[i])] + [int(tree.token[i])]
            self.matrix[int(tree.token[i])] = self.target.top_k(context + paths[i], self.k)[0]


# ---------------------------------------------------------------------- method and presets
declare_method(
    "token-recycling",
    description="recycle the target's own top-k candidates (an adjacency matrix) as the "
                "next steps' drafts; no draft model",
    drafting="draft-free", tree_policy="a static BFS template tree of rank choices filled "
                                       "from the adjacency matrix",
    sources=("Luo et al. 2024, Turning Trash into Treasure (arXiv 2408.08696)",))

_TOKEN_RECYCLING_SPECBENCH = declare_preset(Preset(
    name="token-recycling-vicuna-7b-specbench",
    description="Token Recycling on Vicuna-7B, Spec-Bench, greedy, BFS template tree "
                "(tau 2.73)",
    method="token-recycling",
    source_row=("token-recycling", "Vicuna-7B", "adjacency matrix k=8 template tree",
                "Spec-Bench", "0", "A100"),
    tree=from_choices(bfs_template([8, 4, 2, 2, 1, 1]), name="token-recycling-8-4-2-2-1-1"),
    target_model="vicuna-7b",
    draft_model=None,
    benchmark=SPECBENCH,
    steps=64,
    assumptions=(
        "tree: the BFS template of method_token_recycling (branching 8,4,2,2,1,1 along the "
        "rank-0 path) stands in for the paper's 80-node template",
        DRAFT_FREE, FLAT_ALPHA,
    ),
))
declare_preset(_TOKEN_RECYCLING_SPECBENCH.for_target("Vicuna-13B", "vicuna-13b", None))
declare_preset(_TOKEN_RECYCLING_SPECBENCH.for_target("Vicuna-33B", "vicuna-33b", None))
declare_preset(_TOKEN_RECYCLING_SPECBENCH.for_hardware("RTX 3090"))
declare_preset(RealTextPreset(
    "token-recycling-k8", "token-recycling",
    "adjacency matrix of target top-8, BFS template tree (8,4,2,2,1,1)",
    lambda m: TokenRecycling(m.target, k=8),
    ("token-recycling", "Vicuna-7B", "adjacency matrix k=8 template tree", "Spec-Bench", "0",
     "A100"),
    draft_model=None))
