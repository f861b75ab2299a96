"""Diffusion-LLM parallel decoding: several masked tokens committed per refinement step.

A masked diffusion LM (LLaDA-class) generates ``gen_len`` tokens block by block
(``block_size`` tokens, left to right).  Within a block every *refinement step* is one
bidirectional pass over the block; it predicts all still-masked positions, and a rule
decides which to unmask (commit) now:

* **Fast-dLLM** (Wu et al. 2025): unmask every masked position whose confidence is at
  least ``threshold`` (at least one: the most confident), with a block KV cache;
* **dParallel** (certainty-forcing distillation): the same rule on a model whose
  confidences are pushed up by training — here a higher confidence mean
  (:data:`DPARALLEL_CONFIDENCE_SHIFT`, an assumption);
* **APD** (adaptive parallel decoding): unmask masked positions left to right while the
  product of their confidences (the joint probability under the mixture with a small
  autoregressive model) stays at least ``threshold`` (at least one).

Confidence model (an assumption; no published per-token data in the bundled set):
position ``j`` of a block has a latent ``z_j ~ N(μ − ρ j / B, σ)``, and while a fraction
``m`` of the block is unmasked its confidence is ``sigmoid(z_j + κ m)``: later positions
are less sure, and every commit makes the rest surer.

Trace convention (no schema change): each refinement step is one step whose tree is a
chain of ``k − 1`` draft nodes that the target accepts, so that
:func:`specaccel.models.golden.verify_trace` commits exactly ``k`` tokens (``k − 1``
accepted + the bonus) — the tokens that step unmasked (``draft_prob`` = their
confidences).  ``metadata`` records ``block_size``, ``gen_len``, ``threshold``, the
``rule``, the ``cache`` scheme, ``tokens_per_step`` and ``steps_per_block``.

Cost: :func:`trace_seconds` reads the schedule from a trace's metadata and prices it
with :func:`specaccel.models.cost.diffusion_block_pass.diffusion_decode_costs` (the
bidirectional block pass with a dual, prefix or no block cache; docs/cost-model.md).
The target's shape is the cost model's ``llada-8b`` preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from specaccel.models.cost import ModelSpec, get_hardware, get_model
from specaccel.models.cost.diffusion_block_pass import check_cache, diffusion_decode_costs
from specaccel.schema.errors import InputError
from specaccel.schema.trace import NODE_DTYPES, NODE_FIELDS, Trace
from specaccel.workloads.methods import WorkloadPreset, declare_method, declare_preset
from specaccel.workloads.published import SourceKey
from specaccel.workloads.synthetic import VOCAB_SIZE

TARGET_MODEL = "llada-8b"
"""The cost model's preset of the diffusion LM whose passes the traces are priced on."""
RULES = ("fast-dllm", "dparallel", "apd")
DPARALLEL_CONFIDENCE_SHIFT = 1.5
"""How much dParallel's distillation raises the confidence logit mean (assumed)."""


@dataclass(frozen=True)
class DiffusionDecoder:
    """A parallel-decoding rule with its block size and confidence model."""

    rule: str = "fast-dllm"
    threshold: float = 0.9
    block_size: int = 32
    gen_len: int = 256
    mu: float = 2.0
    sigma: float = 1.5
    rho: float = 2.0
    kappa: float = 3.0

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise InputError(f"unknown rule {self.rule!r}; choose one of {RULES}", field="rule")
        if not 0.0 < self.threshold <= 1.0:
            raise InputError(f"must be in (0, 1], not {self.threshold}", field="threshold")
        if self.block_size < 1 or self.gen_len % self.block_size:
            raise InputError(f"gen_len {self.gen_len} must be a multiple of block_size "
                             f"{self.block_size} >= 1", field="block_size")

    def _unmask(self, conf: np.ndarray, masked: np.ndarray) -> np.ndarray:
        """Indices of masked positions this step commits."""
        idx = np.nonzero(masked)[0]
        c = conf[idx]
        if self.rule == "apd":
            joint = np.cumprod(c)  # idx is left to right
            k = max(1, int((joint >= self.threshold).sum()))
            return idx[:k]
        chosen = idx[c >= self.threshold]
        return chosen if chosen.size else idx[[int(np.argmax(c))]]

    def decode_block(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Confidences of the tokens committed at each refinement step of one block."""
        b = self.block_size
        mu = self.mu + (DPARALLEL_CONFIDENCE_SHIFT if self.rule == "dparallel" else 0.0)
        z = rng.normal(mu - self.rho * np.arange(b) / b, self.sigma)
        masked = np.ones(b, dtype=bool)
        steps = []
        while masked.any():
            conf = 1.0 / (1.0 + np.exp(-(z + self.kappa * (1.0 - masked.mean()))))
            pick = self._unmask(conf, masked)
            masked[pick] = False
            steps.append(conf[pick])
        return steps


def diffusion_trace(decoder: DiffusionDecoder, *, n_requests: int = 4, seed: int = 0,
                    prompt_len: int = 128, cache: str = "dual") -> Trace:
    """A seeded trace of `n_requests` generations (module docstring: the chain convention)."""
    check_cache(cache)
    rng = np.random.default_rng(seed)
    confs: list[np.ndarray] = []
    steps_per_block: list[int] = []
    req_steps = []
    for _ in range(n_requests):
        n0 = len(confs)
        for _ in range(decoder.gen_len // decoder.block_size):
            block = decoder.decode_block(rng)
            confs.extend(block)
            steps_per_block.append(len(block))
        req_steps.append(len(confs) - n0)
    k = np.array([c.shape[0] for c in confs], dtype=np.int64)
    off = np.zeros(k.shape[0] + 1, dtype=np.int64)
    np.cumsum(k, out=off[1:])  # k nodes per step: the root + k - 1 drafts
    n = int(off[-1])
    step_of = np.repeat(np.arange(k.shape[0]), k)
    pos = np.arange(n) - off[step_of]
    token = rng.integers(0, VOCAB_SIZE, size=n, dtype=np.int64)
    last = pos == k[step_of] - 1
    bonus = rng.integers(0, VOCAB_SIZE, size=n, dtype=np.int64)
    # draft node j (pos >= 1) carries the confidence of the j-th token this step committed
    flat_conf = np.concatenate(confs) if confs else np.zeros(0)
    cols = {
        "parent": np.where(pos == 0, -1, pos - 1),
        "token": token,
        "draft_prob": np.where(pos == 0, 1.0, flat_conf[np.arange(n) - 1 + (pos == 0)]),
        "target_prob": np.ones(n),
        "target_token": np.where(last, bonus, np.roll(token, -1)),
        "uniform": np.full(n, np.nan),
    }
    meta: dict[str, Any] = {
        "generator": "specaccel.workloads.method_diffusion", "method": "diffusion-llm",
        "rule": decoder.rule, "threshold": decoder.threshold,
        "block_size": decoder.block_size, "gen_len": decoder.gen_len, "cache": cache,
        "target_model": TARGET_MODEL, "seed": seed,
        "tokens_per_step": k.tolist(), "steps_per_block": steps_per_block,
        "commit_rule": "diffusion: k tokens per refinement step = accepted + bonus",
    }
    req_off = np.zeros(n_requests + 1, dtype=np.int64)
    np.cumsum(req_steps, out=req_off[1:])
    return Trace(
        request_id=[f"r{r:05d}" for r in range(n_requests)],
        prompt_len=np.full(n_requests, prompt_len, dtype=np.int64),
        arrival_s=np.zeros(n_requests),
        request_step_offsets=req_off,
        step_node_offsets=off,
        nodes={f: np.asarray(cols[f]).astype(NODE_DTYPES[f]) for f in NODE_FIELDS},
        recorded_accepted=np.full(k.shape[0], -1, dtype=np.int32),
        verification="greedy",
        metadata=meta,
    )


def trace_seconds(trace: Trace, *, model: ModelSpec | None = None, hw: str = "a100-80gb"
                  ) -> float:
    """Modelled seconds to decode a diffusion trace on `hw`.

    The schedule (``block_size``, ``gen_len``, ``cache``, ``steps_per_block``) comes from
    the trace's metadata and the prompts from ``trace.prompt_len``; `model` defaults to
    the ``llada-8b`` preset.
    """
    meta = trace.metadata
    costs = diffusion_decode_costs(
        model if model is not None else get_model(TARGET_MODEL), get_hardware(hw),
        prompt_len=trace.prompt_len, gen_len=int(meta["gen_len"]),
        block_size=int(meta["block_size"]), cache=str(meta["cache"]),
        steps_per_block=np.asarray(meta["steps_per_block"]))
    return float(costs["latency_s"].sum())


# ---------------------------------------------------------------------- method and presets
declare_method(
    "diffusion-llm",
    description="a masked diffusion LM commits several tokens per bidirectional refinement "
                "step of a block (Fast-dLLM, dParallel, APD rules)",
    drafting="block-diffusion", tree_policy="no draft tree: each refinement step's committed "
                                            "tokens are stored as an accepted chain",
    sources=("Wu et al. 2025, Fast-dLLM (arXiv 2505.22618)",
             "Nie et al. 2025, LLaDA (arXiv 2502.09992)"))


@dataclass(frozen=True)
class DiffusionPreset(WorkloadPreset):
    """A parallel-decoding rule of a diffusion LM (its steps per request follow from the
    rule: ``steps_per_request`` is not an option)."""

    kind: ClassVar[str] = "modelled"
    sized_by_steps: ClassVar[bool] = False

    name: str
    description: str
    decoder: DiffusionDecoder
    cache: str = "dual"
    method: str = "diffusion-llm"
    source_row: SourceKey | None = None
    assumptions: tuple[str, ...] = (
        "confidence model: position j's logit ~ N(mu - rho j / B, sigma) plus kappa times "
        "the unmasked fraction (assumed; no published per-token data bundled)",
    )
    n_requests: int = 4
    steps_per_request: int = 0

    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        return diffusion_trace(self.decoder, n_requests=n_requests, seed=seed,
                               cache=self.cache)


for _rule, _what in (("fast-dllm", "Fast-dLLM: unmask every position with confidence >= 0.9"),
                     ("dparallel", "dParallel: the same rule on a certainty-forced model"),
                     ("apd", "APD: unmask left to right while the joint confidence >= 0.9")):
    declare_preset(DiffusionPreset(
        f"{_rule}-llada-8b", f"{_what}; LLaDA-8B, blocks of 32, 256 tokens, dual cache",
        DiffusionDecoder(_rule, 0.9)))
