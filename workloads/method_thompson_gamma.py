"""Chain drafting whose γ is chosen per step by Thompson sampling (EESD-style control).

EESD (Liu et al. 2024, "Speculative Decoding via Early-exiting for Faster LLM Inference
with Thompson Sampling Control Mechanism", Findings of ACL 2024) drafts with an early-exit
head on the first N layers of the target and lets a Thompson-sampling controller decide
how many draft tokens to produce in each round; the paper names two variants, Beta-TS (a
Beta posterior over the acceptance of draft tokens) and Calibration-TS (the sample
additionally calibrated by the draft's own prediction confidence).  What this project's
search corpus holds of the paper is its abstract and summaries ("a sampling mechanism that
leverages Thompson Sampling to regulate the generation processes, automatically
determining the quantity of draft tokens in each round"; "Beta-TS and Calibration-TS
variants to optimize drafting steps per instance"); the method section's exact stopping
rule could not be retrieved.  So this module implements the Beta-TS idea with an explicit,
stated decision rule rather than a guessed copy of the paper's:

* **Posterior.**  Draft tokens are Bernoulli trials with an unknown per-token acceptance
  α; the prior is ``Beta(a0, b0)``.  After each step with γ drafted and k accepted tokens
  (accepted = committed − 1, as decided by :func:`specaccel.models.golden.verify_tree`),
  the step observed ``k`` successes and — when ``k < γ`` — exactly one failure (tokens
  after the first rejection are never judged), the likelihood of a truncated geometric;
  so ``a += k`` and ``b += [k < γ]``.  With i.i.d. acceptance the posterior concentrates
  on the true α.  An optional ``discount`` < 1 forgets old evidence geometrically (for
  non-stationary text); 1 keeps it all.
* **Decision (option "(b)" of issue 5).**  Each step draws ``α̃ ~ Beta(a, b)`` and drafts
  ``γ = argmax_{1..γmax} E(α̃, γ) / (γ c + 1)`` tokens, with ``E`` the Leviathan closed form
  and ``c`` the draft/target cost ratio — :func:`specaccel.models.theory.optimal_gamma`,
  not a second copy of the formula.  ``c`` is a parameter; :func:`draft_cost_ratio` takes
  it from the cost model for a (target, draft) model pair or for an EESD-style early exit
  after the target's first ``exit_layers`` layers.  γ therefore rises with the posterior
  acceptance, and exploration comes from the posterior's spread.

Not modelled: the early-exit draft itself (the real-text pair's draft is the 3-gram) and
Calibration-TS's use of the draft confidence (the brief's option "(a)", "draft until the
draft's confidence falls below the sampled value", shortens chains as the sampled
acceptance rises, which is the opposite of the characteristic behaviour asked for here).
Drafting is greedy (argmax, lowest id on ties) with q(token) recorded, as in
:class:`~.method_chain.FixedChain`; outcomes always come from the golden model, so the
committed text equals plain greedy decoding of the target.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specaccel.models.theory import optimal_gamma
from specaccel.schema.errors import InputError
from specaccel.schema.trace import DraftTree
from specaccel.workloads.method_chain import FixedChain
from specaccel.workloads.methods import declare_method, declare_preset
from specaccel.workloads.real_text_presets import RealTextPreset
from specaccel.workloads.recorder_ngram import NextTokenModel, Proposal, chain_proposal


def draft_cost_ratio(target: str, draft: str | None = None, *, hw: str = "a100-80gb",
                     context: float = 512.0, exit_layers: int | None = None) -> float:
    """The draft/target cost ratio ``c`` of one decode pass, from the cost model.

    Parameters
    ----------
    target:
        Target model name (:func:`specaccel.models.cost.list_models`).
    draft:
        Draft model name; None with `exit_layers` for an EESD-style early exit.
    hw:
        Hardware preset name.
    context:
        Context length of the passes.
    exit_layers:
        Draft = the target's first `exit_layers` layers plus its LM head (EESD); the
        verification's KV reuse is not credited here.

    Returns
    -------
    float
        ``latency(draft, 1 token) / latency(target, 1 token)``.
    """
    from specaccel.models.cost import get_hardware, get_model, pass_costs

    hardware = get_hardware(hw)
    tgt = get_model(target)

    def latency(model: Any, layers: int | None = None) -> float:
        return float(pass_costs(model, hardware, tokens=1, context=float(context),
                                phase="decode", layers=layers)["latency_s"][0])

    if (draft is None) == (exit_layers is None):
        raise InputError("give exactly one of a draft model and exit_layers", field="draft")
    if draft is not None:
        return latency(get_model(draft)) / latency(tgt)
    assert exit_layers is not None
    if not 1 <= exit_layers < tgt.n_layers:
        raise InputError(f"must be in [1, {tgt.n_layers - 1}], not {exit_layers}",
                         field="exit_layers")
    return latency(tgt, int(exit_layers)) / latency(tgt)


class ThompsonChain(FixedChain):
    """Greedy chain drafting with γ per step from a Thompson sample of the acceptance rate.

    Parameters
    ----------
    draft:
        The draft model.
    gamma_max:
        Largest γ the controller may choose.
    cost_ratio:
        Draft/target cost ratio ``c`` (see :func:`draft_cost_ratio`).
    prior:
        ``(a0, b0)`` of the Beta prior.
    discount:
        Weight in (0, 1] kept of the old evidence at each update (1 = never forget).
    reset_per_request:
        Restart from the prior at every request (EESD controls drafting per instance);
        False keeps learning across requests.
    seed:
        Seed of the posterior samples.
    """

    name = "chain-thompson"

    def __init__(self, draft: NextTokenModel, gamma_max: int = 16, cost_ratio: float = 0.1,
                 *, prior: tuple[float, float] = (1.0, 1.0), discount: float = 1.0,
                 reset_per_request: bool = False, seed: int = 0) -> None:
        super().__init__(draft, gamma_max)
        if not (np.isfinite(cost_ratio) and cost_ratio >= 0.0):
            raise InputError(f"must be a finite number >= 0, not {cost_ratio}",
                             field="cost_ratio")
        if len(prior) != 2 or not all(np.isfinite(p) and p > 0 for p in prior):
            raise InputError(f"must be two numbers > 0, not {prior}", field="prior")
        if not 0.0 < discount <= 1.0:
            raise InputError(f"must be in (0, 1], not {discount}", field="discount")
        self.cost_ratio = float(cost_ratio)
        self.prior = (float(prior[0]), float(prior[1]))
        self.discount = float(discount)
        self.reset_per_request = bool(reset_per_request)
        self.seed = int(seed)
        self._rng = np.random.default_rng(seed)
        self.a, self.b = self.prior
        self.history: list[tuple[float, int]] = []
        """Per step: the sampled α̃ and the chosen γ."""

    def describe(self) -> dict[str, Any]:
        return {"gamma_max": self.gamma, "cost_ratio": self.cost_ratio,
                "prior": list(self.prior), "discount": self.discount,
                "reset_per_request": self.reset_per_request, "seed": self.seed,
                "rule": "gamma = argmax E(alpha~, g) / (g c + 1), alpha~ ~ Beta(a, b)"}

    @property
    def posterior_mean(self) -> float:
        """``a / (a + b)``: the posterior mean of the per-token acceptance."""
        return self.a / (self.a + self.b)

    def reset(self, prompt: np.ndarray) -> None:
        if self.reset_per_request:
            self.a, self.b = self.prior

    def choose_gamma(self) -> int:
        """Draw ``α̃ ~ Beta(a, b)`` and return the γ that maximises the expected rate."""
        alpha = float(self._rng.beta(self.a, self.b))
        gamma = optimal_gamma(alpha, self.cost_ratio, self.gamma)
        self.history.append((alpha, gamma))
        return gamma

    def propose(self, context: list[int]) -> Proposal:
        ctx = list(context)
        toks, probs = [], []
        for _ in range(self.choose_gamma()):
            w, q = self._next(ctx)
            toks.append(w)
            probs.append(q)
            ctx.append(w)
        return chain_proposal(context[-1], toks, probs)

    def update(self, accepted: int, rejected: int) -> None:
        """Add `accepted` successes and `rejected` failures (old evidence discounted)."""
        if accepted < 0 or rejected not in (0, 1):
            raise ValueError("accepted must be >= 0 and rejected 0 or 1")
        a0, b0 = self.prior
        self.a = a0 + self.discount * (self.a - a0) + accepted
        self.b = b0 + self.discount * (self.b - b0) + rejected

    def observe(self, context: list[int], tree: DraftTree, node_dists: list[np.ndarray],
                committed: np.ndarray) -> None:
        drafted = tree.n_nodes - 1
        accepted = int(committed.shape[0]) - 1  # the golden model's outcome, bonus excluded
        self.update(accepted, int(accepted < drafted))


# ---------------------------------------------------------------------- method and presets
declare_method(
    "chain-thompson",
    description="chain drafting whose gamma a Thompson-sampling controller chooses per step "
                "(EESD's Beta-TS idea)",
    drafting="per-level", tree_policy="a chain; gamma per step from a Beta posterior over "
                                      "the acceptance and the draft/target cost ratio",
    sources=("Liu et al. 2024, EESD (Findings of ACL 2024)",))

declare_preset(RealTextPreset(
    "chain-thompson", "chain-thompson",
    "EESD-style Thompson-sampled gamma (<= 16) for a 70B target / 7B draft cost ratio",
    lambda m: ThompsonChain(m.draft_lm, 16, draft_cost_ratio("llama-2-70b", "llama-2-7b")),
    target_model="llama-2-70b", draft_model="llama-2-7b"))
