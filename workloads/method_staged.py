"""Staged speculative decoding (Spector & Ré 2023): a tree-structured speculative batch whose
drafting is itself sped up by a draft of the draft.

**Top level — a tree.**  The paper restructures the speculative batch as a tree: for a fixed
batch (node budget) it spends the verify tokens on the most probable continuations — many
short branches — rather than on one long chain whose tail is rarely reached.  Here the tree
is the ``tree_tokens`` draft tokens of highest expected cumulative draft probability (reach)
in the top-``tree_top_k`` tree of depth ``tree_depth`` (:func:`~.presets.top_reach_tree`,
best-first; reach falls along every path, so the kept set is prefix-closed) under the
*calibrated* acceptance model itself (a fixed point of calibrate → rebuild, see
:meth:`StagedPreset.calibrated`).  The target verifies the whole tree in one pass of
``tree_tokens + 1`` tokens; :func:`specaccel.models.golden.verify_trace` decides acceptance.

**Second stage — a draft of the draft.**  The first draft (a small LM) grows the tree level
by level: without the second stage it needs one pass per level, over that level's nodes
(``Σ_d t_draft(level_d)``).  With it, a much cheaper second draft (an n-gram model on the
host: zero device time) proposes ``γ2`` tokens ahead of the frontier and the first draft
verifies them in one pass, accepting each with probability ``α2``; a pass therefore advances
the frontier by ``K = X + 1`` levels, ``X ~ min(Geometric(α2), γ2)``, and the ``D`` levels
need ``N`` passes with ``E[N]`` from the renewal recursion :func:`expected_inner_passes`.
A staged pass is charged for the widest level times ``γ2 + 1`` tokens (an upper bound: the
side branches of a best-first tree are short, so most passes carry fewer).  The expected
draft-time factor is ``E[N] · t_pass / Σ_d t_draft(level_d)``.

Step time = draft seconds + ``t_target(tree_tokens + 1)``; the speedup is
``τ · t_target(1) / step time``.  ``metadata["draft_passes"]`` holds the sampled ``N`` of
every step, ``metadata["staged_pass_seconds"]`` / ``["plain_draft_seconds"]`` the costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

import numpy as np

from specaccel.models.cost import ModelSpec, get_hardware, get_model, pass_costs
from specaccel.schema.errors import InputError
from specaccel.schema.trace import Trace
from specaccel.workloads.acceptance_model import AcceptanceModel
from specaccel.workloads.methods import WorkloadPreset, declare_method, declare_preset
from specaccel.workloads.presets import SHAPE_ALPHA, top_reach_tree
from specaccel.workloads.published import SourceKey, published_row
from specaccel.workloads.synthetic import synthesize_trace
from specaccel.workloads.tree_shapes import TreeShape

GPT2_LARGE = get_model("gpt2-large")
GPT2_SMALL = get_model("gpt2")


def inner_yield_probs(alpha2: float, gamma2: int) -> np.ndarray:
    """``P(K = k)`` for k = 1..γ2+1: tokens one first-draft pass yields."""
    k = np.arange(gamma2 + 1)
    p = alpha2 ** k * (1.0 - alpha2)
    p[-1] = alpha2 ** gamma2
    return p


def expected_inner_passes(gamma1: int, alpha2: float, gamma2: int) -> float:
    """``E[N]``: first-draft passes to advance at least `gamma1` tokens or tree levels (renewal
    recursion ``N(m) = 1 + Σ_k P(K = k) N(m − k)``, ``N(m <= 0) = 0``)."""
    pk = inner_yield_probs(alpha2, gamma2)
    n = np.zeros(gamma1 + 1)
    for m in range(1, gamma1 + 1):
        n[m] = 1.0 + sum(pk[k - 1] * n[max(m - k, 0)] for k in range(1, gamma2 + 2))
    return float(n[gamma1])


def sample_inner_passes(n_steps: int, gamma1: int, alpha2: float, gamma2: int,
                        rng: np.random.Generator) -> np.ndarray:
    """Sampled N per step (at most γ1 passes: each yields at least one token)."""
    u = rng.random((n_steps, gamma1))
    x = np.minimum(np.floor(np.log(u) / np.log(alpha2)), gamma2) if alpha2 > 0 else 0 * u
    done = np.cumsum(x + 1, axis=1) >= gamma1
    return (np.argmax(done, axis=1) + 1).astype(np.int64)


@cache
def _latency(model: ModelSpec, hw: str, tokens: int, context: float) -> float:
    """Seconds of one pass over `tokens` query tokens (decode for 1, verify otherwise)."""
    return float(pass_costs(model, get_hardware(hw), tokens=tokens, context=context,
                            phase="verify" if tokens > 1 else "decode")["latency_s"][0])


@dataclass(frozen=True)
class StagedPair:
    """Target, first draft, top-level tree budget and the second stage, on one device.

    Attributes
    ----------
    target, draft:
        Model shapes priced by :func:`specaccel.models.cost.pass_costs`.
    hw:
        Hardware preset name.
    tree_tokens, tree_depth, tree_top_k:
        Draft tokens of the top-level tree (root excluded), its depth bound and the number
        of ranked children a node may have.
    gamma2, alpha2:
        Second-stage draft length and per-token acceptance of the first draft.
    context:
        Mean context length of the priced passes.
    """

    target: ModelSpec
    draft: ModelSpec
    hw: str
    tree_tokens: int = 16
    tree_depth: int = 8
    tree_top_k: int = 4
    gamma2: int = 4
    alpha2: float = 0.6
    context: float = 256.0

    def _lat(self, model: ModelSpec, tokens: int) -> float:
        return _latency(model, self.hw, int(tokens), float(self.context))

    def tree(self, model: AcceptanceModel) -> TreeShape:
        """The best-first top-level tree for acceptance `model`."""
        return top_reach_tree(self.tree_tokens, self.tree_depth, self.tree_top_k,
                              name=f"staged-best-first-{self.tree_tokens}-d{self.tree_depth}",
                              model=model)

    @property
    def t_target(self) -> float:
        """One autoregressive target pass (the baseline's time per token)."""
        return self._lat(self.target, 1)

    def t_verify(self, shape: TreeShape) -> float:
        """The target pass that verifies `shape` (root included)."""
        return self._lat(self.target, shape.n_nodes)

    def plain_draft_seconds(self, shape: TreeShape) -> float:
        """First-draft seconds for `shape` without the second stage: one pass per level."""
        return sum(self._lat(self.draft, int(w)) for w in shape.level_sizes()[:-1])

    def staged_pass_seconds(self, shape: TreeShape) -> float:
        """One first-draft pass verifying γ2 second-stage tokens at every frontier node."""
        return self._lat(self.draft, int(shape.level_sizes()[1:].max()) * (self.gamma2 + 1))

    def expected_passes(self, shape: TreeShape) -> float:
        """``E[N]``: staged first-draft passes to grow `shape`'s levels."""
        return expected_inner_passes(shape.max_depth, self.alpha2, self.gamma2)

    def draft_seconds(self, shape: TreeShape, staged: bool) -> float:
        """Expected first-draft seconds per step, with or without the second stage."""
        if staged:
            return self.expected_passes(shape) * self.staged_pass_seconds(shape)
        return self.plain_draft_seconds(shape)

    def speedup(self, model: AcceptanceModel, shape: TreeShape, staged: bool = True) -> float:
        """Expected speedup over autoregressive decoding of the target."""
        tau = model.expected_committed(shape)
        return tau * self.t_target / (self.draft_seconds(shape, staged) + self.t_verify(shape))


declare_method(
    "staged-speculative",
    description="a tree-structured speculative batch whose drafting is itself sped up by a "
                "draft of the draft",
    drafting="per-level", tree_policy="the best-first tree of highest reach under the "
                                      "calibrated acceptance (a fixed point), grown by a "
                                      "staged first draft",
    sources=("Spector and Re 2023, Staged Speculative Decoding (arXiv 2308.04623)",))


@dataclass(frozen=True)
class StagedPreset(WorkloadPreset):
    """Staged speculation whose modelled speedup is calibrated to the published one.

    The simulator prices a trace's first draft level by level (the plain draft); the
    second stage's saving is in ``metadata["staged_pass_seconds"]`` and
    :meth:`StagedPair.speedup` only.
    """

    kind: ClassVar[str] = "modelled"

    name: str
    source_row: SourceKey
    pair: StagedPair
    assumptions: tuple[str, ...] = field(default=())
    method: str = "staged-speculative"
    description: str = ""
    n_requests: int = 16
    steps_per_request: int = 64

    @property
    def published_speedup(self) -> float:
        return float(published_row(self.source_row)["speedup"])

    def model_tau(self) -> float:
        model, shape = self.calibrated()
        return float(model.expected_committed(shape))

    def calibrated(self) -> tuple[AcceptanceModel, TreeShape]:
        """The flat acceptance model and its best-first tree that give the published speedup."""
        return _calibrate(self)

    def alpha1(self) -> float:
        """Calibrated mean top-1 acceptance of the first draft by the target."""
        return self.calibrated()[0].alpha[0]

    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        """A seeded trace of the top-level tree; ``metadata["draft_passes"]`` per step."""
        p = self.pair
        model, shape = self.calibrated()
        rng = np.random.default_rng([seed, 1])
        passes = sample_inner_passes(n_requests * steps_per_request, shape.max_depth,
                                     p.alpha2, p.gamma2, rng)
        meta: dict[str, Any] = {
            "generator": "specaccel.workloads.method_staged", "method": "staged-speculative",
            "preset": self.name, "target_model": p.target.name, "draft_model": p.draft.name,
            "hardware": p.hw, "second_stage": "n-gram (zero device time)",
            "gamma2": p.gamma2, "alpha1": self.alpha1(), "alpha2": p.alpha2,
            "draft_passes": passes.tolist(), "published_speedup": self.published_speedup,
            "staged_pass_seconds": p.staged_pass_seconds(shape),
            "plain_draft_seconds": p.plain_draft_seconds(shape),
            "verify_seconds": p.t_verify(shape), "target_token_seconds": p.t_target,
            "assumptions": list(self.assumptions),
        }
        return synthesize_trace(shape, model, n_requests=n_requests,
                                steps_per_request=steps_per_request, seed=seed, metadata=meta)


def _alpha_for_speedup(pair: StagedPair, shape: TreeShape, target: float) -> float:
    """Flat α whose staged speedup on `shape` is `target` (bisection; speedup rises in α)."""
    def speed(a: float) -> float:
        return pair.speedup(AcceptanceModel((a,)), shape)

    lo, hi = 1e-4, 1.0 - 1e-6
    if not speed(lo) < target < speed(hi):
        raise InputError(f"speedup {target} is not reachable with this pair on {shape.name}",
                         field="speedup")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if speed(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


@cache
def _calibrate(preset: StagedPreset, max_rounds: int = 20) -> tuple[AcceptanceModel, TreeShape]:
    """Fixed point: build the tree for α, calibrate α on that tree, until the tree repeats."""
    pair, alpha = preset.pair, SHAPE_ALPHA
    shape = pair.tree(AcceptanceModel((alpha,)))
    for _ in range(max_rounds):
        alpha = _alpha_for_speedup(pair, shape, preset.published_speedup)
        model = AcceptanceModel((alpha,))
        rebuilt = pair.tree(model)
        if (np.array_equal(rebuilt.parent, shape.parent)
                and np.array_equal(rebuilt.rank, shape.rank)):
            return model, shape
        shape = rebuilt
    raise InputError(f"tree and alpha did not settle in {max_rounds} rounds", field="speedup")


declare_preset(StagedPreset(
    "staged-gpt2-large",
    ("staged-speculative", "GPT-2-L 762M", "tree plus second draft stage", "", "0"),
    StagedPair(GPT2_LARGE, GPT2_SMALL, "a100-80gb", tree_tokens=16, tree_depth=8,
               tree_top_k=4, gamma2=4, alpha2=0.6),
    assumptions=(
        "calibrated: alpha1, the flat top-1 acceptance of the first draft, so that the "
        "modelled speedup is the published 3.16x; the tree is the best-first tree for "
        "that alpha1 (fixed point)",
        "first draft: GPT-2 small shape; second stage: an n-gram model at zero device "
        "time with alpha2 = 0.6, gamma2 = 4 (assumed)",
        "top-level tree: 16 draft tokens (the paper's example batch), depth <= 8, "
        "top-4 children per node (assumed); A100-80GB costs at context 256",
    ),
    description="Staged speculation, GPT-2-L with a GPT-2 first draft and an n-gram "
                "second stage; acceptance calibrated to the published 3.16x"))
