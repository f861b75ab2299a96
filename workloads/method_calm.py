"""CALM-like early exit *without* verification (lossy): each token leaves the stack at the
first candidate exit layer whose confidence reaches a threshold (Schuster et al. 2022).

Model (per token, an assumption built on the published LayerSkip curve):

* the token's difficulty ``d`` is a persistent process (:func:`difficulty_path`);
* the confidence at exit layer E is ``c_E = α_E ** d``, with ``α_E`` the early-exit
  agreement curve of :class:`~.method_self_speculation.ExitAcceptance` (LayerSkip's
  published α per exit layer is exactly "the exit layer's argmax equals the full
  model's");
* the token exits at the first candidate E with ``c_E >= threshold`` (the last layer
  otherwise, where ``c = 1``);
* the exit token equals the full model's argmax with probability ``c_E`` (a calibrated
  confidence; CALM's consistency guarantee is a bound of this kind), so every token
  agrees with probability ``>= threshold`` and a lower threshold exits earlier and
  diverges more.

Trace convention (no schema change).  One step per generated token, a tree of two nodes:
the root (last committed token) and node 1 = the exit layer's token with
``draft_prob = c_E``.  ``target_token`` of the root is the full model's argmax in the same
context (per-token, *local* consistency) and ``target_prob`` of node 1 is its one-hot
probability, so :func:`specaccel.models.golden.verify_trace` accepts node 1 exactly when
the exit token agrees with the target.  CALM itself commits node 1's token always, one
token per step: ``metadata["commit_rule"]`` says so and ``metadata["lossy"]`` is true; a
replay must not count the bonus token.  The per-token exit layer is the list
``metadata["exit_layer"]`` (one int per step).  We chose metadata over an extra
per-node column because ``NODE_FIELDS`` is the fixed schema that the Parquet/JSONL
writers, validation and the RTL vectors share; metadata round-trips through both
formats unchanged, and the exit layer is a per-step (not per-node) quantity.

Cost per token: :func:`specaccel.models.cost.early_exit_pass.early_exit_token_costs`
(the pass over the first E layers with the LM head, plus CALM's state propagation to
the skipped layers; docs/cost-model.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import NODE_DTYPES, NODE_FIELDS, Trace
from specaccel.workloads.method_self_speculation import (
    ExitAcceptance,
    difficulty_path,
)
from specaccel.workloads.methods import WorkloadPreset, declare_method, declare_preset
from specaccel.workloads.published import SourceKey
from specaccel.workloads.synthetic import VOCAB_SIZE

COMMIT_RULE = "calm: one token per step, node 1's token, unverified (lossy)"


@dataclass(frozen=True)
class CalmTokens:
    """Per generated token: exit layer, confidence at exit, agreement with the target."""

    exit_layer: np.ndarray
    confidence: np.ndarray
    agrees: np.ndarray

    @property
    def divergence(self) -> float:
        """Fraction of tokens that differ from the full model's argmax."""
        return float(1.0 - self.agrees.mean())


def sample_calm(n_tokens: int, threshold: float, rng: np.random.Generator, *,
                acceptance: ExitAcceptance | None = None,
                exits: tuple[int, ...] | None = None) -> CalmTokens:
    """Exit layers and agreement of `n_tokens` tokens at confidence `threshold`."""
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"must be in (0, 1], not {threshold}", field="threshold")
    acc = acceptance or ExitAcceptance.layerskip()
    n_layers = acc.n_layers
    ex = np.array(exits if exits is not None else range(2, n_layers + 1, 2), dtype=np.int64)
    if ex.size == 0 or ex.min() < 1 or ex.max() > n_layers:
        raise InputError(f"exit layers must lie in 1..{n_layers}", field="exits")
    if ex[-1] != n_layers:
        ex = np.append(ex, n_layers)
    base = np.array([acc.alpha_at_exit(int(e)) for e in ex])
    base[-1] = 1.0
    d = difficulty_path(n_tokens, rng)
    conf = base[None, :] ** d[:, None]                     # (tokens, exits), rising in E
    first = np.argmax(conf >= threshold, axis=1)  # the last exit (c = 1) always qualifies
    c = conf[np.arange(n_tokens), first]
    agrees = rng.random(n_tokens) < c
    return CalmTokens(ex[first], c, agrees)


def calm_trace(tokens: CalmTokens, *, n_requests: int = 1, seed: int = 0,
               threshold: float | None = None, prompt_len: int = 128) -> Trace:
    """The trace of sampled CALM tokens (module docstring: the two-node convention)."""
    rng = np.random.default_rng(seed)
    s = tokens.exit_layer.shape[0]
    if s % n_requests:
        raise ValueError("tokens must split evenly into requests")
    root = rng.integers(0, VOCAB_SIZE, size=s)
    target = rng.integers(0, VOCAB_SIZE, size=s)
    wrong = (target + 1 + rng.integers(0, VOCAB_SIZE - 1, size=s)) % VOCAB_SIZE
    exit_tok = np.where(tokens.agrees, target, wrong)
    cols = {
        "parent": np.stack([np.full(s, -1), np.zeros(s)], 1),
        "token": np.stack([root, exit_tok], 1),
        "draft_prob": np.stack([np.ones(s), tokens.confidence], 1),
        "target_prob": np.stack([np.ones(s), tokens.agrees.astype(float)], 1),
        "target_token": np.stack([target, rng.integers(0, VOCAB_SIZE, size=s)], 1),
        "uniform": np.full((s, 2), np.nan),
    }
    meta: dict[str, Any] = {
        "generator": "specaccel.workloads.method_calm", "method": "calm",
        "commit_rule": COMMIT_RULE, "lossy": True, "threshold": threshold, "seed": seed,
        "exit_layer": tokens.exit_layer.tolist(),
    }
    return Trace(
        request_id=[f"r{r:05d}" for r in range(n_requests)],
        prompt_len=np.full(n_requests, prompt_len, dtype=np.int64),
        arrival_s=np.zeros(n_requests),
        request_step_offsets=np.arange(n_requests + 1, dtype=np.int64) * (s // n_requests),
        step_node_offsets=np.arange(s + 1, dtype=np.int64) * 2,
        nodes={f: cols[f].reshape(-1).astype(NODE_DTYPES[f]) for f in NODE_FIELDS},
        recorded_accepted=np.full(s, -1, dtype=np.int32),
        verification="greedy",
        metadata=meta,
    )



# ---------------------------------------------------------------------- method and presets
declare_method(
    "calm",
    description="early exit without verification (lossy): each token leaves the stack at "
                "the first exit layer whose confidence reaches a threshold",
    drafting="early-exit", tree_policy="no draft tree: one token per step from its exit "
                                       "layer (stored as a two-node tree for the golden "
                                       "model)",
    sources=("Schuster et al. 2022, CALM (NeurIPS 2022)",))


@dataclass(frozen=True)
class CalmPreset(WorkloadPreset):
    """CALM on the LayerSkip exit curve at one confidence threshold."""

    kind: ClassVar[str] = "modelled"

    name: str
    description: str
    threshold: float
    method: str = "calm"
    target_model: str = "layerskip-llama2-1.5b"
    source_row: SourceKey | None = None
    assumptions: tuple[str, ...] = (
        "confidence at exit E = alpha_E ** difficulty, alpha_E LayerSkip's published "
        "agreement per exit layer; difficulty an AR(1) log path (assumed)",
    )
    n_requests: int = 4
    steps_per_request: int = 128

    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        tokens = sample_calm(n_requests * steps_per_request, self.threshold,
                             np.random.default_rng([seed, 3]))
        trace = calm_trace(tokens, n_requests=n_requests, seed=seed,
                           threshold=self.threshold)
        trace.metadata["target_model"] = self.target_model
        return trace


declare_preset(CalmPreset(
    "calm-layerskip-t0.9", "CALM-style early exit on LayerSkip's Llama 1.5B, confidence "
                           "threshold 0.9 (every token agrees with probability >= 0.9)", 0.9))
