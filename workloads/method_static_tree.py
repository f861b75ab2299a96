"""Static draft trees given as *choices*, filled by a draft model's ranked predictions.

A tree is a list of choices, each a path of ranks from the root, as in the Medusa and
EAGLE code bases: ``(0,)`` is the draft's most likely token after the root, ``(0, 1)``
the second most likely token after that one, and so on.  Every prefix of a choice must
also be a choice.  :func:`choices_to_parents` turns the list into parent pointers in
topological order (sorted by depth, then ranks: lower ranks = more confident siblings
first, which is the golden model's tie-break order).

Shapes provided:

* :func:`specinfer_choices` — SpecInfer-style ``k × depth``: ``k`` children of the root,
  each followed by a greedy chain, ``k·depth`` draft nodes.
* :data:`EAGLE_TREE_25` — EAGLE-1's default static tree (25 draft nodes, depth 5;
  ``mc_sim_7b_63`` in the EAGLE repository's ``model/choices.py``, despite its name).
* :data:`MEDUSA_MC_SIM_7B_63` — Medusa-1's sparse tree (63 draft nodes, depth 4;
  ``medusa/model/medusa_choices.py``), the tree of the bundled MT-bench logs.
* :mod:`.method_medusa_tree` builds such trees greedily from per-head accuracies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import C4, FLAT_ALPHA, Preset
from specaccel.workloads.real_text_presets import RealTextPreset
from specaccel.workloads.recorder_ngram import NextTokenModel, Proposal
from specaccel.workloads.tree_shapes import k_by_depth

Choice = tuple[int, ...]

EAGLE_TREE_25: tuple[Choice, ...] = (
    (0,), (1,), (2,), (3,), (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0), (2, 1), (3, 0),
    (0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0), (0, 1, 1), (0, 2, 0), (0, 2, 1), (1, 0, 0),
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 0, 2), (0, 0, 0, 0, 0), (0, 0, 0, 0, 1),
)

MEDUSA_MC_SIM_7B_63: tuple[Choice, ...] = (
    (0,), (0, 0), (1,), (0, 1), (2,), (0, 0, 0), (1, 0), (0, 2), (3,), (0, 3), (4,), (0, 4),
    (2, 0), (0, 5), (0, 0, 1), (5,), (0, 6), (6,), (0, 7), (0, 1, 0), (1, 1), (7,), (0, 8),
    (0, 0, 2), (3, 0), (0, 9), (8,), (9,), (1, 0, 0), (0, 2, 0), (1, 2), (0, 0, 3), (4, 0),
    (2, 1), (0, 0, 4), (0, 0, 5), (0, 0, 0, 0), (0, 1, 1), (0, 0, 6), (0, 3, 0), (5, 0),
    (1, 3), (0, 0, 7), (0, 0, 8), (0, 0, 9), (6, 0), (0, 4, 0), (1, 4), (7, 0), (0, 1, 2),
    (2, 0, 0), (3, 1), (2, 2), (8, 0), (0, 5, 0), (1, 5), (1, 0, 1), (0, 2, 1), (9, 0),
    (0, 6, 0), (0, 0, 0, 1), (1, 6), (0, 7, 0),
)


def specinfer_choices(k: int, depth: int) -> tuple[Choice, ...]:
    """``k`` root children (ranks 0..k−1), each continued by a greedy chain to `depth`."""
    if k < 1 or depth < 1:
        raise InputError(f"k and depth must be >= 1, not {k} and {depth}", field="k")
    return tuple((r,) + (0,) * (d - 1) for d in range(1, depth + 1) for r in range(k))


def sort_choices(choices: Iterable[Sequence[int]]) -> tuple[Choice, ...]:
    """Choices in topological order: by depth, then lexicographically by ranks."""
    return tuple(sorted({tuple(int(r) for r in c) for c in choices}, key=lambda c: (len(c), c)))


def choices_to_parents(choices: Iterable[Sequence[int]]) -> tuple[tuple[Choice, ...], np.ndarray]:
    """Sorted choices and the parent array of the tree (node 0 = root, node i+1 = choice i).

    Raises
    ------
    InputError
        If a choice is empty, has a negative rank, or its prefix is missing.
    """
    ordered = sort_choices(choices)
    index: dict[Choice, int] = {(): 0}
    parent = [-1]
    for c in ordered:
        if not c or min(c) < 0:
            raise InputError(f"a choice is a non-empty path of ranks >= 0, not {c}",
                             field="choices")
        if c[:-1] not in index:
            raise InputError(f"choice {c} has no parent {c[:-1]}", field="choices")
        index[c] = len(parent)
        parent.append(index[c[:-1]])
    return ordered, np.asarray(parent, dtype=np.int32)


class StaticTree:
    """Fill a static tree of choices with `draft`'s ranked next tokens at every node."""

    name = "static-tree"

    def __init__(self, draft: NextTokenModel, choices: Iterable[Sequence[int]],
                 label: str = "static-tree") -> None:
        self.draft = draft
        self.choices, self.parent = choices_to_parents(choices)
        self.name = label
        n = len(self.parent)
        self._max_rank = np.zeros(n, dtype=np.int64)  # children ranks needed per node
        for i, c in enumerate(self.choices, start=1):
            p = int(self.parent[i])
            self._max_rank[p] = max(self._max_rank[p], c[-1] + 1)

    def describe(self) -> dict[str, Any]:
        return {"draft_nodes": len(self.choices),
                "depth": max(len(c) for c in self.choices) if self.choices else 0}

    def reset(self, prompt: np.ndarray) -> None:
        pass

    def propose(self, context: list[int]) -> Proposal:
        n = len(self.parent)
        token = [int(context[-1])] + [0] * (n - 1)
        q = [1.0] * n
        paths: list[list[int]] = [[] for _ in range(n)]
        ranked: dict[int, np.ndarray] = {}
        probs: dict[int, np.ndarray] = {}
        for i in range(1, n):
            p = int(self.parent[i])
            if p not in ranked:
                ranked[p], probs[p] = self.draft.top_k(context + paths[p],
                                                       int(self._max_rank[p]))
            r = self.choices[i - 1][-1]
            token[i] = int(ranked[p][r])
            q[i] = float(probs[p][r])
            paths[i] = paths[p] + [token[i]]
        return Proposal(parent=[int(x) for x in self.parent], token=token, draft_prob=q)

    def observe(self, context: list[int], tree: DraftTree, node_dists: list[np.ndarray],
                committed: np.ndarray) -> None:
        pass


# ---------------------------------------------------------------------- method and presets
declare_method(
    "specinfer",
    description="a small draft model expands a token tree (k branches, each a greedy chain) "
                "that the target verifies in one tree-attention pass",
    drafting="per-level", tree_policy="static k x depth tree: k ranked children of the root, "
                                      "each followed by a greedy chain",
    sources=("Miao et al. 2024, SpecInfer (ASPLOS 2024)",))

declare_preset(Preset(
    name="specinfer-llama2-7b-c4",
    description="SpecInfer 5x8 tree, Llama-2-7B target with a 68M draft, C4, greedy "
                "(tau 3.96)",
    method="specinfer",
    source_row=("specinfer", "Llama2-7B", "JF68M 5x8 tree", "C4", "0"),
    tree=k_by_depth(5, 8),
    target_model="llama-2-7b",
    draft_model="llama-68m",
    benchmark=C4,
    assumptions=(
        "5x8 read as 5 ranked branches at the root, each a chain of 8 (41 nodes)",
        FLAT_ALPHA,
    ),
))
declare_preset(RealTextPreset(
    "specinfer-5x8", "specinfer", "5 root branches x 8 deep (Sequoia Table 1)",
    lambda m: StaticTree(m.draft_lm, specinfer_choices(5, 8), "specinfer-5x8"),
    ("specinfer", "Llama2-7B", "JF68M 5x8 tree", "C4", "0"),
    target_model="llama-2-7b", draft_model="llama-68m"))
