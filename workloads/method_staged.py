"""Staged speculative decoding: the draft is itself sped up by a draft of the draft
(Spector & Ré 2023).

Top level: the first draft (a small LM) proposes a chain of ``γ1`` tokens that the target
verifies in one pass, with per-token acceptance ``α1``.  Second stage: the first draft
does not produce its ``γ1`` tokens one pass per token; a much cheaper second draft
(an n-gram model, on the host: zero device time here) proposes ``γ2`` tokens that the
first draft verifies in one pass of ``γ2 + 1`` tokens, accepting each with probability
``α2``.  Each first-draft pass therefore yields ``K = X + 1`` tokens,
``X ~ min(Geometric(α2), γ2)``, and a top-level step needs ``N`` first-draft passes with
``E[N]`` given by the renewal recursion :func:`expected_inner_passes`.

Step time = ``N · t_draft(γ2 + 1 tokens) + t_target(γ1 + 1 tokens)``; without the second
stage it is ``γ1 · t_draft(1) + t_target(γ1 + 1)``.  The first draft's *effective speed*
(tokens it produces per second) is what the second stage raises
(:meth:`StagedPair.draft_tokens_per_second`).

The top-level trace is a chain trace (:func:`~.method_self_speculation.chains_trace`);
``metadata["draft_passes"]`` holds the sampled ``N`` of every step.  Simplification: the
paper's top level is a tree; this module keeps a chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from specaccel.errors import InputError
from specaccel.models.cost import ModelSpec, get_hardware, pass_costs
from specaccel.workloads.method_self_speculation import chains_trace, expected_tokens
from specaccel.workloads.presets import _published_rows
from specaccel.workloads.trace import Trace

GPT2_LARGE = ModelSpec("gpt2-large", 36, 1280, 20, 20, 64, 5120, 50257, mlp_gated=False,
                       activation="gelu", norm="layer", source="openai-community/gpt2-large")
GPT2_SMALL = ModelSpec("gpt2", 12, 768, 12, 12, 64, 3072, 50257, mlp_gated=False,
                       activation="gelu", norm="layer", source="openai-community/gpt2")


def inner_yield_probs(alpha2: float, gamma2: int) -> np.ndarray:
    """``P(K = k)`` for k = 1..γ2+1: tokens one first-draft pass yields."""
    k = np.arange(gamma2 + 1)
    p = alpha2 ** k * (1.0 - alpha2)
    p[-1] = alpha2 ** gamma2
    return p


def expected_inner_passes(gamma1: int, alpha2: float, gamma2: int) -> float:
    """``E[N]``: first-draft passes to produce at least `gamma1` tokens (renewal recursion
    ``N(m) = 1 + Σ_k P(K = k) N(m − k)``, ``N(m <= 0) = 0``)."""
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


@dataclass(frozen=True)
class StagedPair:
    """Target, first draft and the second stage's parameters on one device."""

    target: ModelSpec
    draft: ModelSpec
    hw: str
    gamma1: int
    gamma2: int
    alpha2: float
    context: float = 256.0

    def _lat(self, model: ModelSpec, tokens: int) -> float:
        return float(pass_costs(model, get_hardware(self.hw), tokens=tokens,
                                context=self.context, phase="verify" if tokens > 1
                                else "decode")["latency_s"][0])

    @property
    def t_target(self) -> float:
        return self._lat(self.target, 1)

    @property
    def t_verify(self) -> float:
        return self._lat(self.target, self.gamma1 + 1)

    @property
    def t_draft_pass(self) -> float:
        """One first-draft pass verifying γ2 second-stage tokens."""
        return self._lat(self.draft, self.gamma2 + 1)

    def draft_seconds(self, staged: bool) -> float:
        """Expected first-draft seconds to produce γ1 tokens, with or without stage 2."""
        if staged:
            return expected_inner_passes(self.gamma1, self.alpha2, self.gamma2) * self.t_draft_pass
        return self.gamma1 * self._lat(self.draft, 1)

    def draft_tokens_per_second(self, staged: bool) -> float:
        return self.gamma1 / self.draft_seconds(staged)

    def speedup(self, alpha1: float, staged: bool = True) -> float:
        """Expected speedup over autoregressive decoding of the target."""
        tau = float(expected_tokens(alpha1, self.gamma1))
        return tau * self.t_target / (self.draft_seconds(staged) + self.t_verify)


@dataclass(frozen=True)
class StagedPreset:
    """Staged speculation calibrated so that its modelled speedup is the published one."""

    name: str
    source_row: tuple[str, str, str, str, str]
    pair: StagedPair
    assumptions: tuple[str, ...] = field(default=())

    @property
    def published_speedup(self) -> float:
        return float(_published_rows()[self.source_row]["speedup"])

    def alpha1(self) -> float:
        return _calibrate(self)

    def generate(self, n_requests: int = 16, steps_per_request: int = 64, seed: int = 0
                 ) -> Trace:
        """A seeded top-level chain trace; ``metadata["draft_passes"]`` per step."""
        p = self.pair
        n = n_requests * steps_per_request
        rng = np.random.default_rng([seed, 1])
        passes = sample_inner_passes(n, p.gamma1, p.alpha2, p.gamma2, rng)
        a1 = self.alpha1()
        meta: dict[str, Any] = {
            "generator": "specaccel.workloads.method_staged", "method": "staged-speculative",
            "preset": self.name, "target_model": p.target.name, "draft_model": p.draft.name,
            "second_stage": "n-gram (zero device time)", "gamma1": p.gamma1,
            "gamma2": p.gamma2, "alpha1": a1, "alpha2": p.alpha2, "seed": seed,
            "draft_passes": passes.tolist(), "published_speedup": self.published_speedup,
        }
        return chains_trace(np.full(n, a1), np.full(n, p.gamma1), n_requests, seed, 128, meta)


@cache
def _calibrate(preset: StagedPreset) -> float:
    """α1 whose expected speedup equals the published one (bisection; speedup rises in α1)."""
    target = preset.published_speedup
    lo, hi = 1e-6, 1.0 - 1e-9
    if not preset.pair.speedup(lo) < target < preset.pair.speedup(hi):
        raise InputError(f"speedup {target} is not reachable with this pair", field="speedup")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if preset.pair.speedup(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


STAGED_PRESETS: dict[str, StagedPreset] = {p.name: p for p in [
    StagedPreset(
        "staged-gpt2-large",
        ("staged-speculative", "GPT-2-L 762M", "tree plus second draft stage", "", "0"),
        StagedPair(GPT2_LARGE, GPT2_SMALL, "a100-80gb", gamma1=8, gamma2=4, alpha2=0.6),
        assumptions=("first draft: GPT-2 small shape; second stage: an n-gram model at zero "
                     "device time", "chain gamma1 = 8 instead of the paper's tree; gamma2 = 4",
                     "alpha2 = 0.6 (n-gram vs the small draft); A100 costs")),
]}
