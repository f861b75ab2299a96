"""Prompt lookup decoding: draft by copying what followed an earlier occurrence of the tail.

(Saxena 2023; Hugging Face ``prompt_lookup_num_tokens``; Spec-Bench "PLD".)  No draft
model: for n = ``max_ngram`` down to ``min_ngram``, find the first earlier occurrence of
the context's last n tokens in the context (prompt and generated text) and propose the up
to ``num_pred_tokens`` tokens that followed it as a chain.  With no match the step drafts
nothing (the verify pass commits the target's own token).  ``draft_prob`` is 1.0: the
proposal is deterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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
from specaccel.workloads.recorder_ngram import Proposal, chain_proposal
from specaccel.workloads.tree_shapes import chain


def lookup_continuation(context: np.ndarray, max_ngram: int, min_ngram: int,
                        num_pred_tokens: int) -> np.ndarray:
    """Tokens that followed the first earlier occurrence of the longest matching tail."""
    n_ctx = context.shape[0]
    for n in range(max_ngram, min_ngram - 1, -1):
        if n_ctx <= n:
            continue
        tail = context[n_ctx - n:]
        windows = sliding_window_view(context[:n_ctx - 1], n)  # excludes the tail itself
        hits = np.nonzero((windows == tail).all(axis=1))[0]
        if hits.size:
            start = int(hits[0]) + n
            return context[start:start + num_pred_tokens]
    return context[:0]


class PromptLookup:
    """Draft-free n-gram copying from the context."""

    name = "prompt-lookup"
    drafting = "draft-free"   # trace metadata: a lookup, no draft model runs

    def __init__(self, max_ngram: int = 3, num_pred_tokens: int = 10,
                 min_ngram: int = 1) -> None:
        if not 1 <= min_ngram <= max_ngram or num_pred_tokens < 1:
            raise InputError("need 1 <= min_ngram <= max_ngram and num_pred_tokens >= 1",
                             field="max_ngram")
        self.max_ngram, self.min_ngram = int(max_ngram), int(min_ngram)
        self.num_pred_tokens = int(num_pred_tokens)

    def describe(self) -> dict[str, Any]:
        return {"max_ngram": self.max_ngram, "min_ngram": self.min_ngram,
                "num_pred_tokens": self.num_pred_tokens}

    def reset(self, prompt: np.ndarray) -> None:
        pass

    def propose(self, context: list[int]) -> Proposal:
        cont = lookup_continuation(np.asarray(context, dtype=np.int64), self.max_ngram,
                                   self.min_ngram, self.num_pred_tokens)
        return chain_proposal(context[-1], cont.tolist(), [1.0] * cont.shape[0])

    def observe(self, context: list[int], tree: DraftTree, node_dists: list[np.ndarray],
                committed: np.ndarray) -> None:
        pass


# ---------------------------------------------------------------------- method and presets
declare_method(
    "prompt-lookup",
    description="copy what followed an earlier occurrence of the context's tail; no draft "
                "model",
    drafting="draft-free", tree_policy="a chain of up to 10 copied tokens after the longest "
                                       "matching n-gram (3 down to 1)",
    sources=("Saxena 2023, prompt lookup decoding (GitHub apoorvumang/prompt-lookup-"
             "decoding)",))

_PROMPT_LOOKUP_SPECBENCH = declare_preset(Preset(
    name="prompt-lookup-vicuna-7b-specbench",
    description="Prompt lookup decoding on Vicuna-7B, Spec-Bench, greedy, chain of 10 "
                "(tau 1.75)",
    method="prompt-lookup",
    source_row=("prompt-lookup", "Vicuna-7B", "prompt n-gram", "Spec-Bench", "0", "A100"),
    tree=chain(10),
    target_model="vicuna-7b",
    draft_model=None,
    benchmark=SPECBENCH,
    assumptions=(
        "chain of 10 copied tokens (Hugging Face prompt_lookup_num_tokens default); every "
        "step is assumed to find a match (misses show up as a low alpha)",
        DRAFT_FREE, FLAT_ALPHA,
    ),
))
declare_preset(_PROMPT_LOOKUP_SPECBENCH.for_target("Vicuna-13B", "vicuna-13b", None))
declare_preset(_PROMPT_LOOKUP_SPECBENCH.for_target("Vicuna-33B", "vicuna-33b", None))
declare_preset(_PROMPT_LOOKUP_SPECBENCH.for_hardware("RTX 3090"))
declare_preset(RealTextPreset(
    "prompt-lookup", "prompt-lookup", "copy up to 10 tokens after a 3..1-gram match",
    lambda m: PromptLookup(3, 10),
    ("prompt-lookup", "Vicuna-7B", "prompt n-gram", "Spec-Bench", "0", "A100"), draft_model=None))
