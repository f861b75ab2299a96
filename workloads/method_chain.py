"""Chain speculative decoding: a draft model proposes γ tokens one after another.

* :class:`FixedChain` — always γ tokens (Leviathan et al. 2023; Chen et al. 2023).
* :class:`AdaptiveChain` — stop drafting as soon as the draft's confidence in its next
  token (its top probability) falls below a threshold, up to ``gamma_max`` tokens
  (the dynamic-γ heuristic of e.g. Hugging Face assisted generation / SpecDec++'s idea).

Both draft greedily (the draft's argmax, lowest id on ties) and record q(token).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.presets import FLAT_ALPHA, SPECBENCH, Preset
from specaccel.workloads.real_text_presets import RealTextPreset
from specaccel.workloads.recorder_ngram import NextTokenModel, Proposal, chain_proposal
from specaccel.workloads.tree_shapes import chain


class FixedChain:
    """Draft `gamma` tokens greedily with `draft`."""

    name = "chain"

    def __init__(self, draft: NextTokenModel, gamma: int) -> None:
        if gamma < 1:
            raise InputError(f"must be >= 1, not {gamma}", field="gamma")
        self.draft = draft
        self.gamma = int(gamma)

    def describe(self) -> dict[str, Any]:
        return {"gamma": self.gamma}

    def reset(self, prompt: np.ndarray) -> None:
        pass

    def _next(self, ctx: list[int]) -> tuple[int, float]:
        q = self.draft.distribution(ctx)
        w = int(np.argmax(q))
        return w, float(q[w])

    def propose(self, context: list[int]) -> Proposal:
        ctx = list(context)
        toks, probs = [], []
        for _ in range(self.gamma):
            w, q = self._next(ctx)
            toks.append(w)
            probs.append(q)
            ctx.append(w)
        return chain_proposal(context[-1], toks, probs)

    def observe(self, context: list[int], tree: DraftTree, node_dists: list[np.ndarray],
                committed: np.ndarray) -> None:
        pass


class AdaptiveChain(FixedChain):
    """Draft greedily while the draft's top probability is >= `threshold` (1..gamma_max)."""

    name = "chain-adaptive"

    def __init__(self, draft: NextTokenModel, gamma_max: int, threshold: float) -> None:
        super().__init__(draft, gamma_max)
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"must be in [0, 1], not {threshold}", field="threshold")
        self.threshold = float(threshold)

    def describe(self) -> dict[str, Any]:
        return {"gamma_max": self.gamma, "threshold": self.threshold}

    def propose(self, context: list[int]) -> Proposal:
        ctx = list(context)
        toks, probs = [], []
        for k in range(self.gamma):
            w, q = self._next(ctx)
            if k > 0 and q < self.threshold:
                break  # always draft at least one token
            toks.append(w)
            probs.append(q)
            ctx.append(w)
        return chain_proposal(context[-1], toks, probs)


# ---------------------------------------------------------------------- method and presets
declare_method(
    "speculative-sampling",
    description="a small draft model proposes a chain of gamma tokens; the target verifies "
                "them in one pass",
    drafting="per-level", tree_policy="a chain of gamma drafts (fixed, or adaptive: while "
                                      "the draft's top probability stays above a threshold)",
    sources=("Leviathan et al. 2023 (ICML)", "Chen et al. 2023 (arXiv 2302.01318)"))

_SPS_68M_SPECBENCH = declare_preset(Preset(
    name="speculative-sampling-vicuna-7b-68m-specbench",
    description="Speculative sampling, Vicuna-7B with Vicuna-68M, chain, Spec-Bench, greedy "
                "(tau 2.28)",
    method="speculative-sampling",
    source_row=("speculative-sampling", "Vicuna-7B", "Vicuna-68M chain", "Spec-Bench", "0", "A100"),
    tree=chain(5),
    target_model="vicuna-7b",
    draft_model="vicuna-68m",
    benchmark=SPECBENCH,
    assumptions=(
        "gamma = 5 (Hugging Face assisted generation's default num_assistant_tokens; its "
        "adaptive schedule is not modelled)",
        FLAT_ALPHA,
    ),
))
declare_preset(_SPS_68M_SPECBENCH.for_target("Vicuna-13B", "vicuna-13b", "vicuna-68m"))
declare_preset(_SPS_68M_SPECBENCH.for_target("Vicuna-33B", "vicuna-33b", "vicuna-68m"))
declare_preset(_SPS_68M_SPECBENCH.for_hardware("RTX 3090"))
declare_preset(RealTextPreset(
    "chain-g5", "speculative-sampling", "draft 5 tokens greedily (EAGLE Table 5's γ=5 chain)",
    lambda m: FixedChain(m.draft_lm, 5),
    ("eagle", "Vicuna-7B", "chain gamma=5", "MT-Bench", "0")))
declare_preset(RealTextPreset(
    "chain-adaptive", "speculative-sampling",
    "draft up to 8 tokens while the draft's top probability >= 0.4",
    lambda m: AdaptiveChain(m.draft_lm, 8, 0.4)))
