"""Lookahead decoding: a 2-D Jacobi window feeds an n-gram pool; G pooled guesses are verified.

(Fu et al. 2024, "Break the Sequential Dependency of LLM Inference Using Lookahead
Decoding"; the structure follows the authors' reference implementation, LookaheadDecoding
``lade/decoding.py`` greedy path and the attention mask of ``lade/models/llama.py``.)
No draft model: every target pass has two branches besides the last committed token
``lst`` (the tree root).

**Lookahead branch** — a window of ``N − 1`` levels.  In the steady state level 0 holds
``W − 1`` tokens and levels ``1 … N−2`` hold ``W`` tokens each.  Column ``i`` of level
``l ≥ 1`` attends to the context, ``lst``, ``level0[:i]`` and the column-``i`` tokens of
levels ``1 … l`` (the reference mask), so one pass yields, for every column ``i < W``::

    new[i] = argmax p(· | context, level0[:i], level1[i], …, level_{N−2}[i])

— one Jacobi iteration of the window conditioned on the previous levels.  The last
``N − 1`` tokens of that sequence plus ``new[i]`` form an n-gram: its first token
(``level0[i − 1]``, or ``lst`` for column 0) is the pool key, its other ``N − 1`` tokens
the guess.  Then the window moves (``advance="one"``, the reference's greedy path, which
asserts ``ALWAYS_FWD_ONE``): ``level0 ← level1[1:]``, ``level_l ← level_{l+1}``,
``level_{N−2} ← new``.  ``advance="accepted"`` is the reference's other branch
(``ALWAYS_FWD_ONE = 0``): every level drops the ``h`` accepted guess tokens from its front
(level 0 one more) and is re-seeded at its end with ``h`` tokens drawn at random from the
context so far (the reference's ``copy_from``).

*Warm-up*: level 0 starts as ``W + N − 3`` tokens drawn at random from the prompt; the first
``N − 2`` passes fill levels 1 … N−2 one per pass (``current[i]`` = the prediction of the
last filled level's column i; the new level is ``current`` for the first pass and
``current[1:]`` later, and the filled levels drop their first token), with no
verification branch and no pool update.

**Pool** — keyed by first token; each key keeps at most ``G`` guesses (the reference's
``GUESS_SET_SIZE``, which is also the number of guesses verified), least recently
inserted dropped first; re-inserting a guess moves it to the end.

**Verification branch** — every pooled guess under ``lst`` (at most ``G``), oldest first.
The reference verifies each guess as its own chain of ``N − 1`` tokens and commits the
longest matching prefix over all guesses.  ``verify_layout="trie"`` (default) merges the
guesses' common prefixes into a tree, so that the golden rule
(:func:`specaccel.models.golden.verify_tree`: walk to the first acceptable child) commits
exactly that longest match; ``"chains"`` keeps the reference's layout of separate chains
(``G · (N − 1)`` nodes), where the golden lowest-index tie-break follows the *first* guess
whose prefix matches, which can accept fewer tokens than the reference when guesses share a
prefix.  Either way the committed text is plain greedy decoding of the target.

Costs: the lookahead branch adds ``(W − 1) + (N − 2) · W = W (N − 1) − 1`` query tokens to a
steady-state pass (``lst`` is the tree root); they are not draft-tree nodes, so they are
recorded in the policy description (``extra_query_tokens_per_step``).  Not modelled: the
reference's optional ``POOL_FROM_PROMPT`` seeding and its EOS filter (the corpus has no EOS).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import (
    DRAFT_FREE,
    FLAT_ALPHA,
    SPECBENCH,
    Preset,
)
from specaccel.workloads.real_text_presets import RealTextPreset
from specaccel.workloads.recorder_ngram import NextTokenModel, Proposal
from specaccel.workloads.tree_shapes import k_by_depth

ADVANCE_MODES = ("one", "accepted")
VERIFY_LAYOUTS = ("trie", "chains")


class NgramPool:
    """Guesses keyed by their n-gram's first token, at most `cap` per key (LRU by insertion)."""

    def __init__(self, cap: int) -> None:
        self.cap = int(cap)
        self.buckets: dict[int, list[tuple[int, ...]]] = {}

    def add(self, key: int, guess: tuple[int, ...]) -> None:
        """Insert `guess` under `key` as the newest entry (moving it if already there)."""
        bucket = self.buckets.setdefault(int(key), [])
        if guess in bucket:
            bucket.remove(guess)
        elif len(bucket) >= self.cap:
            del bucket[0]
        bucket.append(guess)

    def guesses(self, key: int) -> list[tuple[int, ...]]:
        """The guesses under `key`, oldest first."""
        return list(self.buckets.get(int(key), ()))

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets.values())


def verification_proposal(root: int, guesses: list[tuple[int, ...]], layout: str) -> Proposal:
    """Root plus the guesses as separate chains (``"chains"``) or merged prefixes (``"trie"``)."""
    parent, token = [-1], [int(root)]
    children: dict[tuple[int, int], int] = {}  # (parent node, token) -> node, trie only
    for g in guesses:
        node = 0
        for t in g:
            key = (node, int(t))
            if layout == "trie" and key in children:
                node = children[key]
                continue
            parent.append(node)
            token.append(int(t))
            node = len(token) - 1
            children[key] = node
    return Proposal(parent=parent, token=token, draft_prob=[1.0] * len(token))


class Lookahead:
    """Lookahead decoding with window `W`, n-gram size `N` and `G` guesses per key.

    Parameters
    ----------
    target:
        The model decoded greedily (its argmax drives the Jacobi iterations).
    W, N, G:
        Window width, n-gram size (``N − 1`` levels, guesses of ``N − 1`` tokens), pool
        size per key = guesses verified per step.
    advance:
        ``"one"`` (reference greedy path) or ``"accepted"`` (module docstring).
    verify_layout:
        ``"trie"`` or ``"chains"`` (module docstring).
    seed:
        Seed of the random initial window (and of the re-seeding with ``"accepted"``);
        every request restarts from it.
    """

    name = "lookahead"
    drafting = "draft-free"   # trace metadata: the pool and window need no draft model

    def __init__(self, target: NextTokenModel, W: int = 7, N: int = 5, G: int = 7, *,
                 advance: str = "one", verify_layout: str = "trie", seed: int = 0) -> None:
        for value, field in ((W, "W"), (G, "G")):
            if int(value) < 1:
                raise InputError(f"must be >= 1, not {value}", field=field)
        if int(N) < 3:
            raise InputError(f"must be >= 3 (the reference keeps N - 1 >= 2 levels), not {N}",
                             field="N")
        if advance not in ADVANCE_MODES:
            raise InputError(f"must be one of {ADVANCE_MODES}, not {advance!r}", field="advance")
        if verify_layout not in VERIFY_LAYOUTS:
            raise InputError(f"must be one of {VERIFY_LAYOUTS}, not {verify_layout!r}",
                             field="verify_layout")
        self.target = target
        self.W, self.N, self.G = int(W), int(N), int(G)
        self.advance, self.verify_layout = advance, verify_layout
        self.seed = int(seed)
        self.pool = NgramPool(self.G)
        self.levels: list[list[int]] = []  # the filled levels, level 0 first
        self.rng = np.random.default_rng(self.seed)
        self._current: list[int] = []

    def describe(self) -> dict[str, Any]:
        return {"W": self.W, "N": self.N, "G": self.G, "advance": self.advance,
                "verify_layout": self.verify_layout,
                "extra_query_tokens_per_step": self.W * (self.N - 1) - 1,
                "verify_branch_max_tokens": self.G * (self.N - 1)}

    @property
    def warmed_up(self) -> bool:
        """Whether every level of the window is filled (pool and guesses are in use)."""
        return len(self.levels) == self.N - 1

    def reset(self, prompt: np.ndarray) -> None:
        """Start a request: empty pool, level 0 drawn from the prompt, other levels empty."""
        prompt = np.asarray(prompt, dtype=np.int64)
        self.rng = np.random.default_rng(self.seed)
        self.pool = NgramPool(self.G)
        self.levels = [[int(t) for t in self.rng.choice(prompt, size=self.W + self.N - 3)]]

    def _argmax(self, context: list[int], tail: list[int]) -> int:
        return int(np.argmax(self.target.distribution(context + tail)))

    def _jacobi_step(self, context: list[int]) -> list[int]:
        """The last filled level's predictions (the new level before any shift)."""
        lv = self.levels
        if len(lv) == 1:
            return [self._argmax(context, lv[0][:i + 1]) for i in range(len(lv[0]))]
        return [self._argmax(context, lv[0][:i] + [level[i] for level in lv[1:]])
                for i in range(len(lv[-1]))]

    def propose(self, context: list[int]) -> Proposal:
        lst = int(context[-1])
        guesses = self.pool.guesses(lst) if self.warmed_up else []
        self._current = self._jacobi_step(context)  # the lookahead branch of the same pass
        return verification_proposal(lst, guesses, self.verify_layout)

    def _collect_ngrams(self, lst: int, new: list[int]) -> None:
        lv = self.levels
        for i in range(self.W):
            key = lst if i == 0 else lv[0][i - 1]
            self.pool.add(key, tuple(level[i] for level in lv[1:]) + (new[i],))

    def _reseed(self, tokens: list[int], length: int, context: list[int]) -> list[int]:
        missing = length - len(tokens)
        if missing <= 0:
            return tokens[:length]
        return tokens + [int(t) for t in self.rng.choice(np.asarray(context), size=missing)]

    def observe(self, context: list[int], tree: DraftTree, node_dists: list[np.ndarray],
                committed: np.ndarray) -> None:
        lv, cur = self.levels, self._current
        if not self.warmed_up:  # fill one more level; the filled ones drop their first token
            self.levels = [level[1:] for level in lv] + [cur if len(lv) == 1 else cur[1:]]
            return
        self._collect_ngrams(int(context[-1]), cur)
        h = int(committed.shape[0]) - 1 if self.advance == "accepted" else 0
        shifted = [lv[1][1 + h:]] + [level[h:] for level in lv[2:]] + [cur[h:]]
        if h:
            shifted = [self._reseed(s, self.W - 1 if k == 0 else self.W, context)
                       for k, s in enumerate(shifted)]
        self.levels = shifted


# ---------------------------------------------------------------------- method and presets
declare_method(
    "lookahead",
    description="a 2-D Jacobi window feeds an n-gram pool; G pooled guesses ride in the "
                "same target pass and are verified; no draft model",
    drafting="draft-free", tree_policy="G pooled n-grams of N - 1 tokens as root branches "
                                       "(a trie or chains); the window's tokens ride along",
    sources=("Fu et al. 2024, Lookahead Decoding (ICML 2024)",))

_LOOKAHEAD_SPECBENCH = declare_preset(Preset(
    name="lookahead-vicuna-7b-specbench",
    description="Lookahead decoding on Vicuna-7B, Spec-Bench, greedy, G=7 4-token "
                "candidates (tau 1.64)",
    method="lookahead",
    source_row=("lookahead", "Vicuna-7B", "N=5 W=7 G=7", "Spec-Bench", "0", "A100"),
    tree=k_by_depth(7, 4),
    target_model="vicuna-7b",
    draft_model=None,
    benchmark=SPECBENCH,
    assumptions=(
        "tree: the verification branch only, G = 7 pooled n-grams of N - 1 = 4 tokens as "
        "7 root branches of 4 (29 nodes); the W (N - 1) - 1 = 27 lookahead-branch tokens of "
        "the same pass are not drafts: verification ignores them, the target pass is "
        "charged for them (extra_query_tokens_per_step)",
        DRAFT_FREE, FLAT_ALPHA,
    ),
    extra_query_tokens_per_step=7 * (5 - 1) - 1,
))
declare_preset(_LOOKAHEAD_SPECBENCH.for_target("Vicuna-13B", "vicuna-13b", None))
declare_preset(_LOOKAHEAD_SPECBENCH.for_target("Vicuna-33B", "vicuna-33b", None))
declare_preset(_LOOKAHEAD_SPECBENCH.for_hardware("RTX 3090"))
declare_preset(RealTextPreset(
    "lookahead-w7n5g7", "lookahead", "Jacobi window W=7, n-gram N=5, G=7 guesses",
    lambda m: Lookahead(m.target, W=7, N=5, G=7),
    ("lookahead", "Vicuna-7B", "N=5 W=7 G=7", "Spec-Bench", "0", "A100"), draft_model=None))
