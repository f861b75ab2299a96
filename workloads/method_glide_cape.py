"""GliDe with CaPE (Du et al. 2024, "GliDe with a CaPE: A Low-Hassle Method to Accelerate
Speculative Decoding", ICML 2024) on the real-text n-gram pair.

The paper's two modifications, and what stands in for each here:

* **GliDe** — a draft model with a cross-attention layer that *glimpses* the target's KV
  cache of the verified prefix, so the small draft predicts from the target's view of the
  whole context.  In the n-gram world a model's "view of the context" is the history it
  conditions on: the target is a 4-gram, the plain draft a 3-gram.  The GliDe stand-in
  (:func:`glimpse_draft`) is a draft of the **target's order** (it conditions on as many
  tokens as the target does) trained on the **draft's own data** (the same first
  ``draft_fraction`` of the training files as the plain draft).  No target distribution is
  evaluated while drafting — the target's statistics are not leaked — so the draft's cost
  stays a draft's cost; what it gains is the longer context that the glimpse provides.
  (Not modelled: that the real glimpse covers the verified prefix only, not the tokens
  the draft itself produced in this round.)
* **CaPE** (confidence-aware proposal expansion) — the draft's top-1 confidence is a
  calibrated predictor of acceptance, so where it is low the proposal is expanded with
  further candidates for that position, verified in the same target pass.  Here
  (:class:`CapeTree`): the draft drafts a greedy chain of ``depth`` tokens; at every chain
  position whose top-1 draft probability ``q1`` is below ``mass`` it adds the next-ranked
  candidates (ranks 2, 3, …) as extra **sibling leaves** until their cumulative draft
  probability reaches ``mass`` or ``max_extra`` were added.  So the number expanded
  grows as confidence falls (none at ``q1 >= mass``).  The paper's exact expansion
  schedule could not be retrieved through this project's search corpus (only its
  abstract: "uses the draft model's confidence scores to help select additional candidate
  tokens for verification"); the cumulative-mass rule is this module's choice, stated
  here.  The extra candidates cost no draft pass (they come from distributions the chain
  already computed), only verify width.

Siblings are ordered by draft rank after the chain child, which is the golden rule's
tie-break order; greedy outcomes come from :func:`specaccel.models.golden.verify_tree` via
the recorder, so the committed text equals plain greedy decoding of the target.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.ngram_lm import NgramLM
from specaccel.workloads.real_text_presets import RealTextPreset
from specaccel.workloads.recorder_ngram import NextTokenModel, Proposal, RealTextModels

_GLIMPSE_CACHE: dict[int, tuple[RealTextModels, NgramLM]] = {}


def glimpse_draft(models: RealTextModels) -> NgramLM:
    """The GliDe stand-in draft of a trained pair (cached per `models` object).

    An interpolated Kneser–Ney model of the target's order trained on the plain draft's
    training files (``models.info["draft_train_files"]``).
    """
    hit = _GLIMPSE_CACHE.get(id(models))
    if hit is not None and hit[0] is models:
        return hit[1]
    n_files = int(models.info.get("draft_train_files", len(models.corpus.train)))
    lm = NgramLM(models.corpus.train_ids()[:n_files], models.target_lm.order,
                 models.corpus.vocab.size, discount=models.draft_lm.discount)
    _GLIMPSE_CACHE.clear()
    _GLIMPSE_CACHE[id(models)] = (models, lm)
    return lm


def expansion_count(top_probs: np.ndarray, mass: float, max_extra: int) -> int:
    """How many candidates after the top-1 CaPE adds at one position.

    Parameters
    ----------
    top_probs:
        The draft's probabilities of its ranked candidates, top-1 first.
    mass, max_extra:
        Add ranks 2, 3, … while the cumulative probability of the candidates so far is
        below `mass`, at most `max_extra`.
    """
    cum = np.cumsum(np.asarray(top_probs, dtype=np.float64))
    below = cum[: max_extra + 1] < mass  # below[j]: after j + 1 candidates still short
    return int(np.argmin(below)) if not below.all() else min(max_extra, cum.shape[0] - 1)


class CapeTree:
    """A greedy draft chain of `depth` tokens with CaPE sibling leaves at unconfident positions.

    Parameters
    ----------
    draft:
        The draft model (:func:`glimpse_draft` for GliDe + CaPE, the plain draft for CaPE
        alone).
    depth:
        Chain length (tokens drafted per step, one draft pass each).
    mass:
        Expand a position while the cumulative draft probability of its candidates is
        below `mass` (0 disables expansion: a plain chain).
    max_extra:
        Most extra candidates per position.
    """

    name = "glide-cape"

    def __init__(self, draft: NextTokenModel, depth: int = 5, mass: float = 0.8,
                 max_extra: int = 3) -> None:
        if depth < 1:
            raise InputError(f"must be >= 1, not {depth}", field="depth")
        if not 0.0 <= mass <= 1.0:
            raise InputError(f"must be in [0, 1], not {mass}", field="mass")
        if max_extra < 0:
            raise InputError(f"must be >= 0, not {max_extra}", field="max_extra")
        self.draft = draft
        self.depth, self.mass, self.max_extra = int(depth), float(mass), int(max_extra)
        self.expansions: list[tuple[float, int]] = []
        """Per chain position drafted: the top-1 confidence and the siblings added."""

    def describe(self) -> dict[str, Any]:
        return {"depth": self.depth, "mass": self.mass, "max_extra": self.max_extra}

    def reset(self, prompt: np.ndarray) -> None:
        pass

    def propose(self, context: list[int]) -> Proposal:
        parent, token, prob = [-1], [int(context[-1])], [1.0]
        ctx = list(context)
        chain_node = 0
        for _ in range(self.depth):
            toks, qs = self.draft.top_k(ctx, self.max_extra + 1)
            extra = expansion_count(qs, self.mass, self.max_extra)
            self.expansions.append((float(qs[0]), extra))
            first = len(token)
            for r in range(extra + 1):  # the chain child (rank 1) first, then leaves
                parent.append(chain_node)
                token.append(int(toks[r]))
                prob.append(float(qs[r]))
            chain_node = first
            ctx.append(int(toks[0]))
        return Proposal(parent=parent, token=token, draft_prob=prob)

    def observe(self, context: list[int], tree: DraftTree, node_dists: list[np.ndarray],
                committed: np.ndarray) -> None:
        pass


# ---------------------------------------------------------------------- method and presets
declare_method(
    "glide-cape",
    description="a draft that glimpses the target's context (GliDe) and widens the proposal "
                "where its confidence is low (CaPE)",
    drafting="per-level", tree_policy="a greedy chain with extra sibling candidates at "
                                      "low-confidence positions, up to a cumulative mass",
    sources=("Du et al. 2024, GliDe with a CaPE (ICML 2024)",))

declare_preset(RealTextPreset(
    "glide-cape5", "glide-cape",
    "GliDe stand-in draft (target-order n-gram), depth 5, CaPE siblings to mass 0.8",
    lambda m: CapeTree(glimpse_draft(m), depth=5, mass=0.8, max_extra=3)))
