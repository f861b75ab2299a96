"""Reference decoders: plain greedy / sampling decoding, and speculative decoding on top.

Speculative decoding must produce *exactly* the tokens of plain greedy decoding (greedy
verification) or tokens with the target's distribution (stochastic verification).  This
module gives a tiny deterministic language model to check that: :class:`LookupTableLM`,
whose next-token logits are a table indexed by the previous two tokens, plus

* :func:`greedy_decode` and :func:`sample_decode` — plain autoregressive decoding;
* :func:`speculative_greedy_decode` — draft a chain or tree from a draft model's top-k,
  verify each step with :func:`specaccel.models.golden.verify_tree` in greedy mode, and
  commit the accepted tokens and the bonus token.

The greedy pick is :func:`specaccel.models.golden.token_selection.greedy_token`'s rule
(argmax, lowest index on ties).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specaccel.models.golden.tree_verify import committed_tokens, verify_tree
from specaccel.schema.trace import DraftTree


@dataclass(frozen=True)
class LookupTableLM:
    """A next-token model over ``V`` tokens that looks at the previous two tokens.

    Attributes
    ----------
    logits:
        ``(V, V, V)``: ``logits[a, b]`` are the next-token logits after ``..., a, b``.
    """

    logits: np.ndarray

    @property
    def vocab(self) -> int:
        return int(self.logits.shape[-1])

    @classmethod
    def random(cls, vocab: int, seed: int, *, scale: float = 3.0) -> LookupTableLM:
        """Logits drawn i.i.d. normal with standard deviation `scale`."""
        rng = np.random.default_rng(seed)
        return cls(rng.normal(0.0, scale, size=(vocab, vocab, vocab)))

    def perturbed(self, noise: float, seed: int) -> LookupTableLM:
        """A "draft model": these logits plus i.i.d. normal noise of std `noise`."""
        rng = np.random.default_rng(seed)
        return LookupTableLM(self.logits + rng.normal(0.0, noise, size=self.logits.shape))

    def next_logits(self, context: Sequence[int]) -> np.ndarray:
        """Logits of the next token; the context needs at least two tokens."""
        if len(context) < 2:
            raise ValueError("the lookup-table model needs a context of >= 2 tokens")
        return self.logits[int(context[-2]), int(context[-1])]

    def next_dist(self, context: Sequence[int]) -> np.ndarray:
        """Softmax of :meth:`next_logits`."""
        z = self.next_logits(context)
        e = np.exp(z - z.max())
        return e / e.sum()

    def greedy_next(self, context: Sequence[int]) -> int:
        """Argmax of the next-token logits (lowest index on ties)."""
        return int(np.argmax(self.next_logits(context)))

    def top_k(self, context: Sequence[int], k: int) -> list[int]:
        """The `k` most likely next tokens, most likely first (lower index on ties)."""
        order = np.argsort(-self.next_logits(context), kind="stable")
        return [int(t) for t in order[:k]]


def greedy_decode(model: LookupTableLM, prompt: Sequence[int], n_tokens: int) -> list[int]:
    """Plain greedy decoding: `n_tokens` new tokens, one target call each."""
    seq = [int(t) for t in prompt]
    for _ in range(n_tokens):
        seq.append(model.greedy_next(seq))
    return seq[len(prompt):]


def sample_decode(model: LookupTableLM, prompt: Sequence[int], n_tokens: int,
                  rng: np.random.Generator) -> list[int]:
    """Plain ancestral sampling from the model's softmax."""
    seq = [int(t) for t in prompt]
    for _ in range(n_tokens):
        seq.append(int(rng.choice(model.vocab, p=model.next_dist(seq))))
    return seq[len(prompt):]


def draft_tree_greedy(target: LookupTableLM, draft: LookupTableLM, context: Sequence[int],
                      branching: Sequence[int]) -> DraftTree:
    """A greedy-verification draft tree: level ``d`` gives every node ``branching[d]``
    children, the draft's top-k after that node; ``target_token`` is the target's argmax.

    Nodes are numbered breadth first, siblings by draft rank (most likely first), so the
    golden tie-break ("lowest index wins") prefers the draft's most confident child.
    """
    context = [int(t) for t in context]
    parent, token, ctx = [-1], [context[-1]], [context]
    frontier = [0]
    for width in branching:
        nxt = []
        for node in frontier:
            for tok in draft.top_k(ctx[node], int(width)):
                parent.append(node)
                token.append(tok)
                ctx.append(ctx[node] + [tok])
                nxt.append(len(token) - 1)
        frontier = nxt
    target_token = [target.greedy_next(c) for c in ctx]
    return DraftTree.build(parent, token, target_token)


@dataclass(frozen=True)
class SpeculativeRun:
    """Tokens produced by speculative decoding and per-step accepted counts."""

    tokens: list[int]
    accepted_per_step: list[int]

    @property
    def steps(self) -> int:
        return len(self.accepted_per_step)


def speculative_greedy_decode(target: LookupTableLM, draft: LookupTableLM,
                              prompt: Sequence[int], n_tokens: int,
                              branching: Sequence[int]) -> SpeculativeRun:
    """Speculative decoding with greedy verification through the golden rule.

    Each step drafts a tree (:func:`draft_tree_greedy`; ``branching=[1]*γ`` is a chain),
    verifies it with :func:`verify_tree` and commits the accepted drafts and the bonus
    token; decoding stops after `n_tokens` new tokens (the last step is truncated).
    """
    if not branching or any(int(w) < 1 for w in branching):
        raise ValueError("branching needs >= 1 level, each with >= 1 child")
    seq = [int(t) for t in prompt]
    accepted: list[int] = []
    while len(seq) - len(prompt) < n_tokens:
        tree = draft_tree_greedy(target, draft, seq, branching)
        outcome = verify_tree(tree, "greedy")
        accepted.append(outcome.accepted)
        seq.extend(int(t) for t in committed_tokens(tree, outcome))
    return SpeculativeRun(tokens=seq[len(prompt): len(prompt) + n_tokens],
                          accepted_per_step=accepted)
