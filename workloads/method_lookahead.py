"""Lookahead decoding: Jacobi iterations in a window feed an n-gram pool; verify G guesses.

(Fu et al. 2024, "Break the Sequential Dependency of LLM Inference Using Lookahead
Decoding".)  No draft model.  Each verify pass also runs a *lookahead branch*: a window
of ``W`` future positions holding the last ``N − 1`` Jacobi iterates (levels).  The
target produces a new level, ``new[j] = argmax p(· | context, level[-1][:j])`` (one
Jacobi step: position j conditioned on the previous iterate's guesses before it), and
every diagonal ``(level[0][j], level[1][j+1], …, level[N-2][j+N-2], new[j+N-1])`` is an
n-gram added to a pool keyed by its first token.  The *verification branch* is up to
``G`` pool n-grams whose first token is the last committed token, each verified as a
chain of ``N − 1`` tokens below the root (duplicate siblings are allowed; the golden
rule's lowest-index tie-break picks the most recent guess).

Costs: the lookahead branch adds ``W · (N − 1)`` query tokens to every pass; it is
recorded in the trace metadata (``extra_query_tokens_per_step``) because those tokens are
not draft-tree nodes.  Simplifications: after a step commits ``c`` tokens the window is
shifted left by ``c`` and refilled with the last committed token (the reference code
re-seeds from its own state); the window is initialised from prompt tokens drawn with a
fixed seed.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from specaccel.errors import InputError
from specaccel.workloads.recorder_ngram import NextTokenModel, Proposal
from specaccel.workloads.trace import DraftTree


class Lookahead:
    """Lookahead decoding with window `W`, n-gram size `N`, at most `G` verified guesses."""

    name = "lookahead"

    def __init__(self, target: NextTokenModel, W: int = 7, N: int = 5, G: int = 7,
                 pool_per_key: int = 16, seed: int = 0) -> None:
        if W < 1 or N < 2 or G < 1 or pool_per_key < 1:
            raise InputError("need W >= 1, N >= 2, G >= 1", field="W")
        if W < N - 1:
            raise InputError(f"window W={W} must be >= N-1={N - 1} to form n-grams",
                             field="W")
        self.target = target
        self.W, self.N, self.G = int(W), int(N), int(G)
        self.pool_per_key = int(pool_per_key)
        self.seed = int(seed)
        self.pool: dict[int, OrderedDict[tuple[int, ...], None]] = {}
        self.levels: list[np.ndarray] = []

    def describe(self) -> dict[str, Any]:
        return {"W": self.W, "N": self.N, "G": self.G,
                "extra_query_tokens_per_step": self.W * (self.N - 1)}

    def reset(self, prompt: np.ndarray) -> None:
        rng = np.random.default_rng(self.seed)
        self.pool = {}
        self.levels = [rng.choice(prompt, size=self.W).astype(np.int64)
                       for _ in range(self.N - 1)]

    def _add(self, gram: tuple[int, ...]) -> None:
        bucket = self.pool.setdefault(gram[0], OrderedDict())
        bucket.pop(gram[1:], None)
        bucket[gram[1:]] = None  # most recent last
        while len(bucket) > self.pool_per_key:
            bucket.popitem(last=False)

    def propose(self, context: list[int]) -> Proposal:
        # lookahead branch (same pass): one Jacobi step and n-gram collection
        prev = self.levels[-1]
        new = np.array([int(np.argmax(self.target.distribution(context + prev[:j].tolist())))
                        for j in range(self.W)], dtype=np.int64)
        levels = self.levels + [new]
        for j in range(self.W - self.N + 1):
            self._add(tuple(int(levels[d][j + d]) for d in range(self.N)))
        self.levels = levels[1:]
        # verification branch: up to G guesses starting at the last committed token
        guesses = list(self.pool.get(int(context[-1]), OrderedDict()).keys())[::-1][: self.G]
        parent, token = [-1], [int(context[-1])]
        for g in guesses:
            prev_node = 0
            for t in g:
                parent.append(prev_node)
                token.append(int(t))
                prev_node = len(token) - 1
        return Proposal(parent=parent, token=token, draft_prob=[1.0] * len(token))

    def observe(self, context: list[int], tree: DraftTree, node_dists: list[np.ndarray],
                committed: np.ndarray) -> None:
        c = min(int(committed.shape[0]), self.W)
        fill = np.full(c, int(committed[-1]), dtype=np.int64)
        self.levels = [np.concatenate([lv[c:], fill]) for lv in self.levels]
