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

Cost (:func:`refinement_step_seconds`, :func:`block_refresh_seconds`): a bidirectional
block pass is priced on ``pass_costs`` as a ``verify`` pass without a tree mask (every
query attends to every key; logits for every query token).  With the Fast-dLLM
*dual* cache the block attends to cached prefix and suffix KV; with a *prefix* cache the
masked suffix is recomputed every step; with *none* the whole sequence is.  The cache is
refreshed by one full pass at the start of every block.  These formulas belong in
models/cost (they are built only on its primitives here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from specaccel.errors import InputError
from specaccel.models.cost import ModelSpec, get_hardware, pass_costs
from specaccel.workloads.synthetic import VOCAB_SIZE
from specaccel.workloads.trace import NODE_DTYPES, NODE_FIELDS, Trace

LLADA_8B = ModelSpec("llada-8b", 32, 4096, 32, 32, 128, 12288, 126464,
                     source="approximate: GSAI-ML/LLaDA-8B-Instruct (32 layers, d 4096, "
                            "MHA, d_ff 12288, vocab 126464)")
RULES = ("fast-dllm", "dparallel", "apd")
CACHES = ("dual", "prefix", "none")
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
    if cache not in CACHES:
        raise InputError(f"unknown cache {cache!r}; choose one of {CACHES}", field="cache")
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
        "target_model": LLADA_8B.name, "seed": seed,
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


def refinement_step_seconds(block_size: int, prefix: float, suffix: float, cache: str,
                            *, model: ModelSpec = LLADA_8B, hw: str = "a100-80gb") -> float:
    """One bidirectional refinement pass over a block (module docstring: cache schemes)."""
    spec = get_hardware(hw)
    if cache == "dual":
        tokens, context = block_size, prefix + suffix
    elif cache == "prefix":
        tokens, context = block_size + int(suffix), prefix
    elif cache == "none":
        tokens, context = int(prefix) + block_size + int(suffix), 0.0
    else:
        raise InputError(f"unknown cache {cache!r}; choose one of {CACHES}", field="cache")
    return float(pass_costs(model, spec, tokens=tokens, context=float(context),
                            phase="verify", tree=False)["latency_s"][0])


def block_refresh_seconds(total_len: int, *, model: ModelSpec = LLADA_8B,
                          hw: str = "a100-80gb") -> float:
    """The full pass that refreshes the block cache at the start of a block."""
    return float(pass_costs(model, get_hardware(hw), tokens=int(total_len), context=0.0,
                            phase="verify", tree=False)["latency_s"][0])


def trace_seconds(trace: Trace, *, model: ModelSpec = LLADA_8B, hw: str = "a100-80gb"
                  ) -> float:
    """Modelled seconds to decode a diffusion trace (its metadata gives the schedule)."""
    meta = trace.metadata
    b, gen, cache = int(meta["block_size"]), int(meta["gen_len"]), meta["cache"]
    blocks = gen // b
    total = 0.0
    spb = meta["steps_per_block"]
    for r in range(trace.n_requests):
        p = int(trace.prompt_len[r])
        for i in range(blocks):
            steps = spb[r * blocks + i]
            step = refinement_step_seconds(b, p + i * b, gen - (i + 1) * b, cache,
                                           model=model, hw=hw)
            refresh = block_refresh_seconds(p + gen, model=model, hw=hw) if cache != "none" \
                else 0.0
            total += refresh + steps * step
    return total

