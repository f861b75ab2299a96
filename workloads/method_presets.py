"""Named real-text method presets: each drafting method with its published configuration.

A preset builds a :class:`~.recorder_ngram.DraftPolicy` for the n-gram target/draft pair
of :mod:`.recorder_ngram`, using the parameters the method's paper or Spec-Bench used
(γ, tree, W/N/G, …), and names the row of ``specaccel/data/acceptance.csv`` that reports
the method's τ on a real LLM (``published_row``; a 4-gram/2-gram pair on Python source is
not Vicuna on MT-bench, so the real-text τ is *measured*, not calibrated to that row —
calibrated synthetic presets are :mod:`.presets`).  :func:`record_preset` records a trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from specaccel.schema.errors import InputError
from specaccel.schema.trace import Trace
from specaccel.workloads.method_chain import AdaptiveChain, FixedChain
from specaccel.workloads.method_eagle2 import DynamicTree
from specaccel.workloads.method_glide_cape import CapeTree, glimpse_draft
from specaccel.workloads.method_lookahead import Lookahead
from specaccel.workloads.method_medusa_tree import (
    greedy_medusa_tree,
    load_head_accuracy,
    rank_accuracy,
)
from specaccel.workloads.method_prompt_lookup import PromptLookup
from specaccel.workloads.method_static_tree import (
    EAGLE_TREE_25,
    MEDUSA_MC_SIM_7B_63,
    StaticTree,
    specinfer_choices,
)
from specaccel.workloads.method_thompson_gamma import ThompsonChain, draft_cost_ratio
from specaccel.workloads.method_token_recycling import TokenRecycling
from specaccel.workloads.recorder_ngram import (
    DraftPolicy,
    RealTextModels,
    RecordConfig,
    record_trace,
)

MEDUSA_HEAD_ACCURACY = Path("/work/shared/data/mtbench-medusa/medusa_head_accuracy.csv")
"""Default location of Medusa's per-head accuracies (the shared reference data)."""


@dataclass(frozen=True)
class MethodPreset:
    """A drafting method with fixed parameters.

    Attributes
    ----------
    name:
        Preset name.
    method:
        Method family (``chain``, ``specinfer``, ``medusa``, ``eagle``, ``eagle-2``,
        ``prompt-lookup``, ``lookahead``, ``token-recycling``, ``glide-cape``).
    description:
        One line.
    build:
        ``build(models) -> DraftPolicy``.
    published_row:
        ``(method, target, draft_or_tree, benchmark)`` of acceptance.csv, or None.
    """

    name: str
    method: str
    description: str
    build: Callable[[RealTextModels], DraftPolicy]
    published_row: tuple[str, str, str, str] | None = None


def _medusa_greedy(models: RealTextModels) -> DraftPolicy:
    acc = rank_accuracy(load_head_accuracy(MEDUSA_HEAD_ACCURACY, "7b"))
    return StaticTree(models.draft_lm, greedy_medusa_tree(acc, 63), label="medusa-greedy-63")


METHOD_PRESETS: dict[str, MethodPreset] = {p.name: p for p in [
    MethodPreset("chain-g5", "chain", "draft 5 tokens greedily (EAGLE Table 5's γ=5 chain)",
                 lambda m: FixedChain(m.draft_lm, 5),
                 ("eagle", "Vicuna-7B", "chain gamma=5", "MT-Bench")),
    MethodPreset("chain-adaptive", "chain",
                 "draft up to 8 tokens while the draft's top probability >= 0.4",
                 lambda m: AdaptiveChain(m.draft_lm, 8, 0.4)),
    MethodPreset("chain-thompson", "chain",
                 "EESD-style Thompson-sampled gamma (<= 16) for a 70B target / 7B draft cost ratio",
                 lambda m: ThompsonChain(m.draft_lm, 16,
                                         draft_cost_ratio("llama-2-70b", "llama-2-7b"))),
    MethodPreset("glide-cape5", "glide-cape",
                 "GliDe stand-in draft (target-order n-gram), depth 5, CaPE siblings to mass 0.8",
                 lambda m: CapeTree(glimpse_draft(m), depth=5, mass=0.8, max_extra=3)),
    MethodPreset("specinfer-5x8", "specinfer", "5 root branches x 8 deep (Sequoia Table 1)",
                 lambda m: StaticTree(m.draft_lm, specinfer_choices(5, 8), "specinfer-5x8"),
                 ("specinfer", "Llama2-7B", "JF68M 5x8 tree", "C4")),
    MethodPreset("medusa-63", "medusa", "Medusa-1's 63-node sparse tree mc_sim_7b_63",
                 lambda m: StaticTree(m.draft_lm, MEDUSA_MC_SIM_7B_63, "medusa-63"),
                 ("medusa-1", "Vicuna-7B", "63-node sparse tree", "Spec-Bench")),
    MethodPreset("medusa-greedy-63", "medusa",
                 "63-node tree built greedily from Vicuna-7B Medusa head accuracies",
                 _medusa_greedy, ("medusa-1", "Vicuna-7B", "63-node sparse tree", "Spec-Bench")),
    MethodPreset("eagle-25", "eagle", "EAGLE-1's 25-node static tree",
                 lambda m: StaticTree(m.draft_lm, EAGLE_TREE_25, "eagle-25"),
                 ("eagle", "Vicuna-7B", "25-node static tree", "MT-Bench")),
    MethodPreset("eagle2-60", "eagle-2", "EAGLE-2 dynamic tree: depth 6, top-10, 60 tokens",
                 lambda m: DynamicTree(m.draft_lm, depth=6, top_k=10, total_tokens=60),
                 ("eagle-2", "Vicuna-7B", "dynamic 60 tokens depth 6 top-10", "MT-Bench")),
    MethodPreset("prompt-lookup", "prompt-lookup", "copy up to 10 tokens after a 3..1-gram match",
                 lambda m: PromptLookup(3, 10),
                 ("prompt-lookup", "Vicuna-7B", "prompt n-gram", "Spec-Bench")),
    MethodPreset("lookahead-w7n5g7", "lookahead", "Jacobi window W=7, n-gram N=5, G=7 guesses",
                 lambda m: Lookahead(m.target, W=7, N=5, G=7),
                 ("lookahead", "Vicuna-7B", "N=5 W=7 G=7", "Spec-Bench")),
    MethodPreset("token-recycling-k8", "token-recycling",
                 "adjacency matrix of target top-8, BFS template tree (8,4,2,2,1,1)",
                 lambda m: TokenRecycling(m.target, k=8),
                 ("token-recycling", "Vicuna-7B", "adjacency matrix k=8 template tree",
                  "Spec-Bench")),
]}


def get_method_preset(name: str) -> MethodPreset:
    """The preset called `name` (InputError listing the names otherwise)."""
    try:
        return METHOD_PRESETS[name]
    except KeyError:
        raise InputError(f"unknown method preset {name!r}; choose from "
                         f"{', '.join(METHOD_PRESETS)}", field="method") from None


def record_preset(models: RealTextModels, name: str, config: RecordConfig | None = None
                  ) -> Trace:
    """Record a real-text trace with preset `name` (metadata names the preset)."""
    preset = get_method_preset(name)
    trace = record_trace(models, preset.build, config)
    trace.metadata["preset"] = preset.name
    trace.metadata["method_family"] = preset.method
    return trace
