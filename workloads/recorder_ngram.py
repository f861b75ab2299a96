"""Record real decode traces by running speculative decoding with n-gram models on real text.

The target is a smoothed 4-gram (:class:`~.ngram_lm.NgramLM`) decoded greedily, optionally
with a *no-repeat-n-gram* rule (a standard decoding option: a token that would repeat an
n-gram already in the context is banned), which keeps greedy decoding of a small model
from falling into endless loops.  A draft policy (chain, static tree, dynamic tree,
prompt lookup, token recycling, lookahead — the ``method_*`` modules) proposes a draft
tree for every step; the recorder asks the target about every node and lets
:func:`specaccel.models.golden.verify_tree` decide what is accepted, then commits
exactly the tokens that speculative decoding commits.  So the recorded text equals
plain greedy decoding of the target, token for token, and acceptance dynamics (bursts,
easy and hard stretches, position effects) come from real text.

Greedy recording (the default): per node the recorder stores the draft token,
``draft_prob`` = q(token) under the policy's draft distribution at the parent (1.0 for
draft-free methods), ``target_prob`` = p(token) under the target's distribution at the
parent, and ``target_token`` = the target's argmax after the node.

Stochastic recording (``verification="stochastic"``, target sampled at ``temperature``):
the policies draft deterministically (argmax / top-k), so every step is multi-step
speculative sampling with deterministic drafts (as EAGLE-2 does):
:func:`specaccel.models.golden.speculative_sampling.tree_to_trace_columns` writes the
residual-adjusted ``target_prob``/``draft_prob`` columns, the pre-drawn uniforms and the
sampled correction tokens, and ``verify_tree(…, "stochastic")`` decides acceptance.  The
committed text is then distributed exactly as sampling from the target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# the submodule, not the package: specaccel.models.golden imports specaccel.workloads
from specaccel.models.golden.tree_verify import committed_tokens, verify_tree
from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree, Trace
from specaccel.workloads.ngram_lm import NgramLM
from specaccel.workloads.real_text import Corpus, heldout_prompts, load_corpus


class NextTokenModel(Protocol):
    """Anything that gives a dense next-token distribution for a context."""

    vocab_size: int

    def distribution(self, context: Sequence[int]) -> np.ndarray: ...

    def top_k(self, context: Sequence[int], k: int) -> tuple[np.ndarray, np.ndarray]: ...


class NoRepeatTarget:
    """A language model decoded with a no-repeat-n-gram ban (``ngram`` = 0 disables it).

    The distribution after `context` is the model's, with every token ``w`` removed for
    which ``context[-(n-1):] + [w]`` already occurs in `context`, and (``ban_unk``) the
    ``<unk>`` id 0 removed — a real model never emits an out-of-vocabulary marker —
    renormalised.
    """

    def __init__(self, lm: NextTokenModel, ngram: int = 8, ban_unk: bool = True) -> None:
        if ngram == 1 or ngram < 0:
            raise InputError(f"must be 0 (off) or >= 2, not {ngram}", field="no_repeat_ngram")
        self.lm = lm
        self.ngram = int(ngram)
        self.ban_unk = bool(ban_unk)
        self.vocab_size = lm.vocab_size

    def _banned(self, context: Sequence[int]) -> np.ndarray | None:
        n = self.ngram
        unk = np.zeros(1, dtype=np.int64) if self.ban_unk else None
        if n == 0 or len(context) < n:
            return unk
        a = np.asarray(context, dtype=np.int64)
        windows = sliding_window_view(a[:-1], n - 1)
        hits = np.nonzero((windows == a[-(n - 1):]).all(axis=1))[0]
        if not hits.size:
            return unk
        banned = a[hits + n - 1]
        return banned if unk is None else np.append(banned, unk)

    def distribution(self, context: Sequence[int]) -> np.ndarray:
        p = self.lm.distribution(context)
        banned = self._banned(context)
        if banned is None:
            return p
        q = p.copy()
        q[banned] = 0.0
        s = q.sum()
        return q / s if s > 0 else p

    def top_k(self, context: Sequence[int], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` most probable next tokens (lowest id first on ties) and probabilities."""
        banned = self._banned(context)
        if banned is None:
            return self.lm.top_k(context, k)
        # the top k + |banned| of the model hold the top k of the banned distribution
        tokens, _ = self.lm.top_k(context, k + banned.shape[0])
        keep = tokens[~np.isin(tokens, banned)][:k]
        p = self.distribution(context)
        return keep, p[keep]


@dataclass
class Proposal:
    """A draft tree proposed by a policy, root first (node 0 = last committed token)."""

    parent: list[int]
    token: list[int]
    draft_prob: list[float]

    def __post_init__(self) -> None:
        if not (len(self.parent) == len(self.token) == len(self.draft_prob)):
            raise ValueError("proposal columns must have equal lengths")


def chain_proposal(root: int, tokens: Sequence[int], probs: Sequence[float]) -> Proposal:
    """A chain root → tokens[0] → tokens[1] … as a proposal."""
    n = len(tokens)
    return Proposal(parent=[-1] + list(range(n)), token=[int(root)] + [int(t) for t in tokens],
                    draft_prob=[1.0] + [float(q) for q in probs])


class DraftPolicy(Protocol):
    """A drafting method: proposes a tree each step, may learn from what the target said.

    A policy may also have a ``drafting`` attribute (``"draft-free"`` for prompt lookup,
    lookahead and token recycling, which run no draft model) and a ``describe()`` dict;
    :func:`record_trace` copies the first, and the description's
    ``extra_query_tokens_per_step``, into the trace's metadata for the simulator.
    """

    name: str

    def reset(self, prompt: np.ndarray) -> None: ...

    def propose(self, context: list[int]) -> Proposal: ...

    def observe(self, context: list[int], tree: DraftTree,
                node_dists: list[np.ndarray], committed: np.ndarray) -> None: ...


@dataclass
class RecordConfig:
    """What to record.

    Attributes
    ----------
    n_requests, prompt_len, max_new_tokens:
        Held-out prompts and how many tokens to generate for each.
    seed:
        Seed of the prompt offsets and of stochastic verification.
    verification:
        ``"greedy"`` or ``"stochastic"``.
    temperature:
        Target sampling temperature (stochastic only).
    """

    n_requests: int = 8
    prompt_len: int = 64
    max_new_tokens: int = 256
    seed: int = 0
    verification: str = "greedy"
    temperature: float = 1.0


@dataclass
class RealTextModels:
    """The trained target/draft pair and its corpus."""

    corpus: Corpus
    target_lm: NgramLM
    draft_lm: NgramLM
    target: NoRepeatTarget
    info: dict[str, Any] = field(default_factory=dict)


def train_models(
    *,
    vocab_size: int = 8192,
    max_files: int | None = None,
    target_order: int = 4,
    draft_order: int = 3,
    draft_fraction: float = 0.25,
    no_repeat_ngram: int = 12,
) -> RealTextModels:
    """Load the stdlib corpus and train the n-gram target and draft (a second or so per MB).

    `draft_fraction` trains the draft on only the first part of the training files (a
    weaker draft).
    """
    if not 0.0 < draft_fraction <= 1.0:
        raise InputError(f"must be in (0, 1], not {draft_fraction}", field="draft_fraction")
    t0 = time.perf_counter()
    corpus = load_corpus(max_files=max_files, vocab_size=vocab_size)
    docs = corpus.train_ids()
    target_lm = NgramLM(docs, target_order, corpus.vocab.size)
    n_draft = max(1, int(round(len(docs) * draft_fraction)))
    draft_lm = NgramLM(docs[:n_draft], draft_order, corpus.vocab.size)
    info = {
        "corpus": "python-stdlib",
        "train_files": len(corpus.train),
        "heldout_files": len(corpus.heldout),
        "train_tokens": corpus.n_train_tokens,
        "vocab_size": corpus.vocab.size,
        "target": f"{target_order}-gram interpolated Kneser-Ney",
        "draft": f"{draft_order}-gram interpolated Kneser-Ney",
        "draft_train_files": n_draft,
        "no_repeat_ngram": no_repeat_ngram,
        "train_seconds": round(time.perf_counter() - t0, 3),
    }
    return RealTextModels(corpus, target_lm, draft_lm, NoRepeatTarget(target_lm, no_repeat_ngram),
                          info)


def greedy_decode(target: NextTokenModel, prompt: Sequence[int], n_tokens: int) -> np.ndarray:
    """Plain greedy decoding of `target`: the reference speculative decoding must reproduce."""
    ctx = [int(t) for t in prompt]
    out = []
    for _ in range(n_tokens):
        w = int(np.argmax(target.distribution(ctx)))
        ctx.append(w)
        out.append(w)
    return np.array(out, dtype=np.int64)


def _ask_target(target: NextTokenModel, context: list[int],
                proposal: Proposal) -> tuple[DraftTree, list[np.ndarray]]:
    """Evaluate every node of a proposal with the target (one 'verify pass')."""
    n = len(proposal.parent)
    if n == 0 or proposal.parent[0] != -1:
        raise ValueError("a proposal starts with the root (parent -1)")
    if proposal.token[0] != context[-1]:
        raise ValueError("the root of a proposal must be the last committed token")
    paths: list[list[int]] = [[] for _ in range(n)]
    dists: list[np.ndarray] = []
    target_token = np.empty(n, dtype=np.int64)
    target_prob = np.ones(n, dtype=np.float64)
    for i in range(n):
        par = proposal.parent[i]
        if i:
            if not 0 <= par < i:
                raise ValueError(f"proposal parent[{i}] must be in [0, {i})")
            paths[i] = paths[par] + [proposal.token[i]]
            target_prob[i] = dists[par][proposal.token[i]]
        d = target.distribution(context + paths[i])
        dists.append(d)
        target_token[i] = int(np.argmax(d))
    tree = DraftTree.build(proposal.parent, proposal.token, target_token,
                           draft_prob=proposal.draft_prob, target_prob=target_prob)
    return tree, dists


def tempered(p: np.ndarray, temperature: float) -> np.ndarray:
    """``p ** (1/T)`` renormalised (``T`` = 1 returns `p` itself)."""
    if temperature == 1.0:
        return p
    q = np.power(p, 1.0 / temperature)
    return q / q.sum()


def _stochastic_tree(tree: DraftTree, dists: list[np.ndarray], rng: np.random.Generator
                     ) -> DraftTree:
    # imported here: speculative_sampling imports specaccel.workloads (import cycle)
    from specaccel.models.golden.speculative_sampling import tree_to_trace_columns

    n = tree.n_nodes
    cols = tree_to_trace_columns(tree.parent, tree.token, np.stack(dists), None,
                                 rng.random(n), rng.random(n), draft_sampling="deterministic")
    return cols.tree(0)


def record_request(target: NextTokenModel, policy: DraftPolicy, prompt: np.ndarray,
                   max_new_tokens: int, *, verification: str = "greedy",
                   temperature: float = 1.0, rng: np.random.Generator | None = None,
                   ) -> tuple[list[DraftTree], np.ndarray]:
    """Speculatively decode one prompt; return the step trees and the generated tokens.

    Generation stops once at least `max_new_tokens` tokens are committed (the last step
    may overshoot, as in real systems).  ``verification="stochastic"`` samples the target
    at `temperature` with `rng` (see the module docstring).
    """
    context = [int(t) for t in prompt]
    if not context:
        raise InputError("a prompt needs at least one token", field="prompt")
    if verification not in ("greedy", "stochastic"):
        raise InputError(f"must be 'greedy' or 'stochastic', not {verification!r}",
                         field="verification")
    if not temperature > 0:
        raise InputError(f"must be > 0, not {temperature}", field="temperature")
    if verification == "stochastic" and rng is None:
        rng = np.random.default_rng(0)
    policy.reset(np.asarray(prompt))
    trees: list[DraftTree] = []
    generated = 0
    while generated < max_new_tokens:
        proposal = policy.propose(context)
        tree, dists = _ask_target(target, context, proposal)
        if verification == "stochastic":
            dists = [tempered(d, temperature) for d in dists]
            tree = _stochastic_tree(tree, dists, rng)  # type: ignore[arg-type]
        outcome = verify_tree(tree, verification)
        new = committed_tokens(tree, outcome)
        policy.observe(context, tree, dists, new)
        context.extend(int(t) for t in new)
        generated += new.shape[0]
        trees.append(tree)
    return trees, np.asarray(context[len(prompt):], dtype=np.int64)


def record_trace(models: RealTextModels, policy_factory: Callable[[RealTextModels], DraftPolicy],
                 config: RecordConfig | None = None) -> Trace:
    """Record a greedy trace of `config.n_requests` held-out prompts with one policy.

    `policy_factory` builds a fresh policy (it may keep state across requests, e.g. a
    token-recycling matrix, by returning the same object).
    """
    cfg = config or RecordConfig()
    if cfg.max_new_tokens < 1:
        raise InputError(f"must be >= 1, not {cfg.max_new_tokens}", field="max_new_tokens")
    prompts = heldout_prompts(models.corpus, cfg.n_requests, cfg.prompt_len, cfg.seed)
    policy = policy_factory(models)
    rng = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    requests = []
    for name, prompt in prompts:
        trees, _ = record_request(models.target, policy, prompt, cfg.max_new_tokens,
                                  verification=cfg.verification, temperature=cfg.temperature,
                                  rng=rng)
        requests.append((name, int(prompt.shape[0]), trees))
    meta = {
        "generator": "recorder_ngram",
        "method": policy.name,
        "policy": getattr(policy, "describe", lambda: {})(),
        "models": models.info,
        "prompt_len": cfg.prompt_len,
        "max_new_tokens": cfg.max_new_tokens,
        "seed": cfg.seed,
        "temperature": cfg.temperature if cfg.verification == "stochastic" else 0.0,
        "record_seconds": round(time.perf_counter() - t0, 3),
    }
    # what the simulator reads: a draft-free method runs no draft model, and lookahead's
    # Jacobi window rides in every target pass
    drafting = getattr(policy, "drafting", None)
    if drafting is not None:
        meta["drafting"] = str(drafting)
    extra = meta["policy"].get("extra_query_tokens_per_step")
    if extra:
        meta["extra_query_tokens_per_step"] = int(extra)
    return Trace.from_trees(requests, verification=cfg.verification, metadata=meta)
