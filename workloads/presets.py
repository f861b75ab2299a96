"""Workload presets, each named after the published measurement it is calibrated to.

A preset fixes a tree shape, an acceptance-model profile, the models (names the cost
model knows), the drafting style, the prompt-length distribution and default sizes.  Its
published τ (mean tokens committed per step, accepted + 1) and the starting α profile
are read from the bundled ``specaccel/data/acceptance.csv`` row named by
:attr:`Preset.source_row`, never typed in here.

Calibration procedure (:meth:`Preset.model`): start from the row's per-position
acceptance (or a flat profile when the paper gives none), and scale the whole profile
by the one factor s that makes the model's *closed-form* expected τ on the preset's
tree equal the published τ (:func:`~specaccel.workloads.acceptance_model.calibrate`).
Sampled traces then match it up to sampling noise (the tests check 5 %).
"""

from __future__ import annotations

import csv
import heapq
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from specaccel.models.sequoia import sequoia_table
from specaccel.schema.errors import InputError
from specaccel.schema.trace import Trace
from specaccel.workloads.acceptance_model import (
    DEFAULT_CONFIDENCE_SPREAD,
    RANK_DECAY,
    AcceptanceModel,
    calibrate,
)
from specaccel.workloads.method_token_recycling import bfs_template
from specaccel.workloads.synthetic import PromptLengths, synthesize_trace
from specaccel.workloads.tree_shapes import (
    TreeShape,
    chain,
    eagle_default_tree,
    from_choices,
    from_parents,
    k_by_depth,
    medusa_default_tree,
)

FLAT_ALPHA_START = 0.7
"""Start of the (flat) α profile when the source gives no per-position acceptance; the
calibration scale sets its level, so the start value does not change the result."""


@dataclass(frozen=True)
class Preset:
    """A calibrated synthetic workload.

    Attributes
    ----------
    name:
        ``<method>-<target>-<draft?>-<benchmark>``: what it is calibrated to.
    description:
        One line for ``--help`` and reports.
    source_row:
        Key of the row of ``acceptance.csv``: ``(method, target, draft_or_tree, benchmark,
        temperature)``.
    shape:
        The draft tree of every step.
    target_model, draft_model:
        Model names the cost model knows; ``draft_model`` is ``None`` for a draft-free
        method (no draft model exists).
    drafting:
        ``"per-level"`` (one draft pass per tree level over that level's nodes),
        ``"single-pass"`` (heads that draft the whole tree in one pass) or
        ``"draft-free"`` (the tree comes from a lookup that runs no model: prompt
        lookup, REST, lookahead, token recycling; ``draft_model`` is ``None``).
    verification:
        ``"greedy"`` (temperature 0) or ``"stochastic"``.
    prompt_lengths:
        Prompt-length distribution.
    n_requests, steps_per_request:
        Default sizes of a generated trace.
    rank_decay, confidence_spread:
        β and w of the acceptance model.
    assumptions:
        What is not pinned by the source and was chosen here.
    extra_query_tokens_per_step:
        Query tokens that ride in every verify pass without being drafts (lookahead
        decoding's Jacobi window); recorded in ``trace.metadata`` so that the simulator
        charges the target pass for them.
    """

    name: str
    description: str
    source_row: tuple[str, str, str, str, str]
    shape: TreeShape
    target_model: str
    draft_model: str | None
    drafting: str
    verification: str
    prompt_lengths: PromptLengths
    n_requests: int
    steps_per_request: int
    rank_decay: float = RANK_DECAY
    confidence_spread: float = DEFAULT_CONFIDENCE_SPREAD
    assumptions: tuple[str, ...] = field(default=())
    extra_query_tokens_per_step: int = 0

    # ------------------------------------------------------------ published figures
    @property
    def source(self) -> dict[str, str]:
        """The ``acceptance.csv`` row this preset is calibrated to."""
        return _published_row(self.source_row)

    @property
    def published_tau(self) -> float:
        """The published mean tokens committed per step."""
        return float(self.source["tau"])

    def start_alpha(self) -> tuple[float, ...]:
        """The α profile before calibration: the row's per-position acceptance, or flat."""
        text = self.source.get("alpha", "").strip()
        if "/" in text:
            return tuple(float(a) for a in text.split("/"))
        return (FLAT_ALPHA_START,)

    # ------------------------------------------------------------ calibration
    def model(self) -> AcceptanceModel:
        """The calibrated acceptance model (cached per preset name)."""
        return _calibrated(self)[0]

    def calibration_scale(self) -> float:
        """The factor s applied to :meth:`start_alpha` by the calibration."""
        return _calibrated(self)[1]

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary of the preset and its calibration."""
        model = self.model()
        return {
            "name": self.name,
            "description": self.description,
            "target_model": self.target_model,
            "draft_model": self.draft_model,
            "drafting": self.drafting,
            "verification": self.verification,
            "tree": self.shape.describe(),
            "published_tau": self.published_tau,
            "source": self.source["source"],
            "model_tau": model.expected_committed(self.shape),
            "start_alpha": list(self.start_alpha()),
            "calibration_scale": self.calibration_scale(),
            "acceptance_model": model.to_dict(),
            "prompt_lengths": self.prompt_lengths.to_dict(),
            "n_requests": self.n_requests,
            "steps_per_request": self.steps_per_request,
            "assumptions": list(self.assumptions),
        }

    def trace_metadata(self, seed: int) -> dict[str, Any]:
        """What :func:`generate_trace` records in ``trace.metadata`` (no ``draft_model``
        key when the preset has no draft model)."""
        return {
            "preset": self.name,
            "target_model": self.target_model,
            **({"draft_model": self.draft_model} if self.draft_model is not None else {}),
            "drafting": self.drafting,
            "seed": int(seed),
            "published_tau": self.published_tau,
            "source": self.source["source"],
            "calibration_scale": self.calibration_scale(),
            **({"extra_query_tokens_per_step": self.extra_query_tokens_per_step}
               if self.extra_query_tokens_per_step else {}),
        }


_CALIBRATIONS: dict[str, tuple[Preset, tuple[AcceptanceModel, float]]] = {}


def _calibrated(preset: Preset) -> tuple[AcceptanceModel, float]:
    hit = _CALIBRATIONS.get(preset.name)
    if hit is not None and hit[0] is preset:
        return hit[1]
    start = AcceptanceModel(preset.start_alpha(), rank_decay=preset.rank_decay,
                            confidence_spread=preset.confidence_spread)
    result = calibrate(start, preset.shape, preset.published_tau)
    _CALIBRATIONS[preset.name] = (preset, result)
    return result


@cache
def _published_rows() -> dict[tuple[str, ...], dict[str, str]]:
    text = resources.files("specaccel.data").joinpath("acceptance.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return {(r["method"], r["target"], r["draft_or_tree"], r["benchmark"], r["temperature"]): r
            for r in rows}


def _published_row(key: tuple[str, ...]) -> dict[str, str]:
    try:
        return _published_rows()[tuple(key)]
    except KeyError:
        raise InputError(f"no row {key} in the bundled acceptance.csv",
                         file="acceptance.csv") from None


# ---------------------------------------------------------------------------- the presets
_MTBENCH_PROMPTS = PromptLengths(median=120, sigma=0.7, low=16, high=2048)
_SPECBENCH_PROMPTS = PromptLengths(median=250, sigma=0.9, low=16, high=4096)
_C4_PROMPTS = PromptLengths(median=128)

_PRESETS: dict[str, Preset] = {}


def _register(p: Preset) -> Preset:
    _PRESETS[p.name] = p
    return p


DEFAULT_PRESET = "eagle-vicuna-7b-mtbench"
"""The preset that ``specaccel run`` replays by default."""

_register(Preset(
    name="eagle-vicuna-7b-mtbench",
    description="EAGLE on Vicuna-7B, MT-Bench, greedy, 25-token static tree (tau 3.94)",
    source_row=("eagle", "Vicuna-7B", "25-node static tree", "MT-Bench", "0"),
    shape=eagle_default_tree(),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_MTBENCH_PROMPTS,
    n_requests=80,
    steps_per_request=128,
    assumptions=(
        "prompt lengths: log-normal, median 120 tokens, sigma 0.7 (MT-Bench first turns "
        "with the Vicuna system prompt; not measured)",
        "80 requests = the 80 MT-Bench questions; 128 steps each",
        "rank decay fitted to Medusa Vicuna-7B head top-k accuracy; EAGLE publishes none",
    ),
))
_register(Preset(
    name="eagle-vicuna-7b-chain5-mtbench",
    description="EAGLE on Vicuna-7B, MT-Bench, greedy, chain of 5 drafts (tau 3.20)",
    source_row=("eagle", "Vicuna-7B", "chain gamma=5", "MT-Bench", "0"),
    shape=chain(5),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_MTBENCH_PROMPTS,
    n_requests=80,
    steps_per_request=160,
    assumptions=("prompt lengths as eagle-vicuna-7b-mtbench",),
))
_register(Preset(
    name="eagle-vicuna-7b-mtbench-t1",
    description="EAGLE on Vicuna-7B, MT-Bench, temperature 1 (stochastic), 25-token tree "
                "(tau 3.17)",
    source_row=("eagle", "Vicuna-7B", "25-node static tree", "MT-Bench", "1"),
    shape=eagle_default_tree(),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    drafting="per-level",
    verification="stochastic",
    prompt_lengths=_MTBENCH_PROMPTS,
    n_requests=80,
    steps_per_request=160,
    assumptions=("stochastic: p/q of each node equals its acceptance probability under the "
                 "model (SpecInfer residuals for siblings)",),
))
_register(Preset(
    name="specinfer-llama2-7b-c4",
    description="SpecInfer 5x8 tree, Llama-2-7B target with a 68M draft, C4, greedy "
                "(tau 3.96)",
    source_row=("specinfer", "Llama2-7B", "JF68M 5x8 tree", "C4", "0"),
    shape=k_by_depth(5, 8),
    target_model="llama-2-7b",
    draft_model="llama-68m",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_C4_PROMPTS,
    n_requests=200,
    steps_per_request=32,
    assumptions=(
        "5x8 read as 5 ranked branches at the root, each a chain of 8 (41 nodes)",
        "flat alpha profile (the source gives only tau)",
        "prompt length 128 and 128 generated tokens (Sequoia's C4 setup); 200 requests",
    ),
))
_register(Preset(
    name="speculative-sampling-vicuna-7b-68m-specbench",
    description="Speculative sampling, Vicuna-7B with Vicuna-68M, chain, Spec-Bench, greedy "
                "(tau 2.28)",
    source_row=("speculative-sampling", "Vicuna-7B", "Vicuna-68M chain", "Spec-Bench", "0"),
    shape=chain(5),
    target_model="vicuna-7b",
    draft_model="vicuna-68m",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_SPECBENCH_PROMPTS,
    n_requests=480,
    steps_per_request=96,
    assumptions=(
        "gamma = 5 (Hugging Face assisted generation's default num_assistant_tokens; its "
        "adaptive schedule is not modelled)",
        "flat alpha profile (the source gives only tau)",
        "480 requests = the Spec-Bench questions; prompt lengths log-normal, median 250",
    ),
))


# ---------------------------------------------------------------------------- shape builders
SHAPE_ALPHA = FLAT_ALPHA_START
"""Flat α of the acceptance model that the two searched shapes below (EAGLE-2's top-reach
tree, Sequoia's DP tree) are built for, before calibration: the shape is fixed first and
the calibration then scales α on that fixed shape."""

SEQUOIA_WIDTH = 8
"""Ranks the Sequoia dynamic program may use at each node (its acceptance vector length)."""


def top_reach_tree(n_tokens: int, depth: int, top_k: int, *, name: str,
                   model: AcceptanceModel | None = None) -> TreeShape:
    """The `n_tokens` draft tokens of highest reach probability in the top-k tree of `depth`.

    A static stand-in for EAGLE-2's dynamic tree, which expands the top-k children of the
    most confident nodes level by level and then keeps the `n_tokens` nodes of highest
    path confidence.  Here the path confidence is the reach probability under `model`
    (default: flat α = :data:`SHAPE_ALPHA`), so the kept set is the same for every step.
    Reach falls along every path, so best-first expansion yields a valid (prefix-closed)
    tree.
    """
    m = model or AcceptanceModel((SHAPE_ALPHA,))
    prob = {(d, r): m.choice_probability(d, r) for d in range(1, depth + 1)
            for r in range(top_k)}
    heap: list[tuple[float, tuple[int, ...]]] = [(-prob[(1, r)], (r,)) for r in range(top_k)]
    heapq.heapify(heap)
    chosen: list[tuple[int, ...]] = []
    while heap and len(chosen) < n_tokens:
        neg, path = heapq.heappop(heap)
        chosen.append(path)
        if len(path) < depth:
            for r in range(top_k):
                heapq.heappush(heap, (neg * prob[(len(path) + 1, r)], path + (r,)))
    return from_choices(chosen, name=name)


def sequoia_tree(budget: int, depth: int, *, name: str) -> TreeShape:
    """Sequoia's DP tree (:func:`specaccel.models.sequoia.sequoia_table`) for `budget` nodes
    (root included) and height `depth`, for the rank acceptance ``m(1, r)``, r < 8, of the
    flat-α model (:data:`SHAPE_ALPHA`)."""
    m = AcceptanceModel((SHAPE_ALPHA,))
    r = [m.choice_probability(1, k) for k in range(SEQUOIA_WIDTH)]
    return from_parents(sequoia_table(r, budget, depth).tree(budget, depth), name=name)


# ---------------------------------------------------------------------------- more presets
_SIX_TASK_PROMPTS = PromptLengths(median=300, sigma=1.0, low=16, high=4096)
_EAGLE2_STATIC = ("static stand-in for the dynamic tree: the 60 draft tokens of highest "
                  "reach probability in the depth-6 top-10 tree under a flat alpha = 0.7 "
                  "model, fixed for every step (EAGLE-2 re-ranks per step)")
_DRAFT_FREE = ("draft-free method: drafting 'draft-free', no draft model (no draft pass, "
               "no draft weights or KV cache); each step is the tree-mask unit, the "
               "target's verify pass over the tree and the verify unit; the lookup that "
               "builds the tree is not charged (the cost model has no cost for it), so the "
               "simulated speedup is an upper bound by the lookup's time")
_SPECBENCH = "480 requests = the Spec-Bench questions; prompt lengths log-normal, median 250"

_register(Preset(
    name="eagle2-vicuna-7b-6task",
    description="EAGLE-2 on Vicuna-7B, 6-task mean, greedy, 60-token depth-6 tree (tau 4.68)",
    source_row=("eagle-2", "Vicuna-7B", "dynamic 60 tokens depth 6 top-10", "6-task mean",
                "0"),
    shape=top_reach_tree(60, 6, 10, name="eagle2-60-d6"),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_SIX_TASK_PROMPTS,
    n_requests=480,
    steps_per_request=64,
    assumptions=(
        _EAGLE2_STATIC,
        "flat alpha profile (the source gives only tau)",
        "6 tasks (MT-Bench, HumanEval, GSM8K, Alpaca, CNN/DM, Natural Questions) pooled as "
        "480 requests; prompt lengths log-normal, median 300, sigma 1.0 (CNN/DM articles "
        "make the tail long; not measured)",
    ),
))
_register(Preset(
    name="eagle2-vicuna-7b-mtbench",
    description="EAGLE-2 on Vicuna-7B, MT-Bench, greedy, 60-token depth-6 tree (tau 4.98)",
    source_row=("eagle-2", "Vicuna-7B", "dynamic 60 tokens depth 6 top-10", "MT-Bench", "0"),
    shape=top_reach_tree(60, 6, 10, name="eagle2-60-d6"),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_MTBENCH_PROMPTS,
    n_requests=80,
    steps_per_request=128,
    assumptions=(_EAGLE2_STATIC, "flat alpha profile (the source gives only tau)",
                 "prompt lengths as eagle-vicuna-7b-mtbench"),
))
_register(Preset(
    name="eagle2-vicuna-7b-specbench",
    description="EAGLE-2 on Vicuna-7B, Spec-Bench, greedy, 60-token depth-6 tree (tau 4.34)",
    source_row=("eagle-2", "Vicuna-7B", "dynamic", "Spec-Bench", "0"),
    shape=top_reach_tree(60, 6, 10, name="eagle2-60-d6"),
    target_model="vicuna-7b",
    draft_model="eagle-head-vicuna-7b",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_SPECBENCH_PROMPTS,
    n_requests=480,
    steps_per_request=64,
    assumptions=(_EAGLE2_STATIC + "; the leaderboard row does not state the tree size, "
                 "EAGLE-2's default (60 tokens, depth 6, top-10) assumed",
                 "flat alpha profile (the source gives only tau)", _SPECBENCH),
))
_register(Preset(
    name="eagle2-vicuna-13b-6task",
    description="EAGLE-2 on Vicuna-13B, 6-task mean, greedy, 50-token depth-6 tree (tau 4.65)",
    source_row=("eagle-2", "Vicuna-13B", "dynamic 50 tokens", "6-task mean", "0"),
    shape=top_reach_tree(50, 6, 10, name="eagle2-50-d6"),
    target_model="vicuna-13b",
    draft_model="eagle-head-vicuna-13b",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_SIX_TASK_PROMPTS,
    n_requests=480,
    steps_per_request=64,
    assumptions=(
        "static stand-in for the dynamic tree: the 50 draft tokens of highest reach "
        "probability in the depth-6 top-10 tree under a flat alpha = 0.7 model (the row "
        "gives 50 tokens; depth 6 and top-10 assumed as for 7B)",
        "flat alpha profile (the source gives only tau)",
        "prompt lengths as eagle2-vicuna-7b-6task",
    ),
))
_register(Preset(
    name="eagle3-vicuna-13b-specbench",
    description="EAGLE-3 on Vicuna-13B, Spec-Bench, greedy, 60-token depth-7 tree (tau 5.71)",
    source_row=("eagle-3", "Vicuna-13B", "dynamic", "Spec-Bench", "0"),
    shape=top_reach_tree(60, 7, 10, name="eagle3-60-d7"),
    target_model="vicuna-13b",
    draft_model="eagle-head-vicuna-13b",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_SPECBENCH_PROMPTS,
    n_requests=480,
    steps_per_request=64,
    assumptions=(
        "static stand-in for the dynamic tree: the 60 draft tokens of highest reach "
        "probability in the depth-7 top-10 tree under a flat alpha = 0.7 model (EAGLE-3's "
        "default 60 tokens, depth 7, top-10; the row states no size)",
        "draft 'eagle-head-vicuna-13b' (one decoder layer) stands in for EAGLE-3's head, "
        "which also fuses low/mid/high target features (slightly more input FLOPs)",
        "flat alpha profile (the source gives only tau)", _SPECBENCH,
    ),
))
_register(Preset(
    name="medusa2-vicuna-7b-mtbench",
    description="Medusa-2 on Vicuna-7B, MT-Bench, greedy, 63-token sparse tree (tau 3.47)",
    source_row=("medusa-2", "Vicuna-7B", "64-node sparse tree", "MT-Bench", "0"),
    shape=medusa_default_tree(),
    target_model="vicuna-7b",
    draft_model="medusa-vicuna-7b",
    drafting="single-pass",
    verification="greedy",
    prompt_lengths=_MTBENCH_PROMPTS,
    n_requests=80,
    steps_per_request=128,
    assumptions=(
        "tree: Medusa's mc_sim_7b_63 (63 drafts + root = 64 nodes)",
        "flat alpha profile (the source gives only tau; head accuracies of Medusa-1 fix "
        "only the rank decay)",
        "prompt lengths as eagle-vicuna-7b-mtbench",
    ),
))
_register(Preset(
    name="hydra-vicuna-7b-specbench",
    description="Hydra on Vicuna-7B, Spec-Bench, greedy, 63-token sparse tree (tau 3.26)",
    source_row=("hydra", "Vicuna-7B", "tree", "Spec-Bench", "0"),
    shape=medusa_default_tree(),
    target_model="vicuna-7b",
    draft_model="medusa-vicuna-7b",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_SPECBENCH_PROMPTS,
    n_requests=480,
    steps_per_request=64,
    assumptions=(
        "tree: Medusa's mc_sim_7b_63 stands in for Hydra's own sparse tree (the row "
        "gives no size)",
        "draft 'medusa-vicuna-7b' stands in for Hydra's sequentially dependent heads "
        "(similar size); 'per-level' because each head waits for the previous level",
        "flat alpha profile (the source gives only tau)", _SPECBENCH,
    ),
))
_register(Preset(
    name="token-recycling-vicuna-7b-specbench",
    description="Token Recycling on Vicuna-7B, Spec-Bench, greedy, BFS template tree "
                "(tau 2.73)",
    source_row=("token-recycling", "Vicuna-7B", "adjacency matrix k=8 template tree",
                "Spec-Bench", "0"),
    shape=from_choices(bfs_template([8, 4, 2, 2, 1, 1]), name="token-recycling-8-4-2-2-1-1"),
    target_model="vicuna-7b",
    draft_model=None,
    drafting="draft-free",
    verification="greedy",
    prompt_lengths=_SPECBENCH_PROMPTS,
    n_requests=480,
    steps_per_request=64,
    assumptions=(
        "tree: the BFS template of method_token_recycling (branching 8,4,2,2,1,1 along the "
        "rank-0 path) stands in for the paper's 80-node template",
        _DRAFT_FREE, "flat alpha profile (the source gives only tau)", _SPECBENCH,
    ),
))
_register(Preset(
    name="lookahead-vicuna-7b-specbench",
    description="Lookahead decoding on Vicuna-7B, Spec-Bench, greedy, G=7 4-token "
                "candidates (tau 1.64)",
    source_row=("lookahead", "Vicuna-7B", "N=5 W=7 G=7", "Spec-Bench", "0"),
    shape=k_by_depth(7, 4),
    target_model="vicuna-7b",
    draft_model=None,
    drafting="draft-free",
    verification="greedy",
    prompt_lengths=_SPECBENCH_PROMPTS,
    n_requests=480,
    steps_per_request=96,
    assumptions=(
        "tree: the verification branch only, G = 7 pooled n-grams of N - 1 = 4 tokens as "
        "7 root branches of 4 (29 nodes); the W (N - 1) - 1 = 27 lookahead-branch tokens of "
        "the same pass are not drafts: verification ignores them, the target pass is "
        "charged for them (extra_query_tokens_per_step)",
        _DRAFT_FREE, "flat alpha profile (the source gives only tau)", _SPECBENCH,
    ),
    extra_query_tokens_per_step=7 * (5 - 1) - 1,
))
_register(Preset(
    name="prompt-lookup-vicuna-7b-specbench",
    description="Prompt lookup decoding on Vicuna-7B, Spec-Bench, greedy, chain of 10 "
                "(tau 1.75)",
    source_row=("prompt-lookup", "Vicuna-7B", "prompt n-gram", "Spec-Bench", "0"),
    shape=chain(10),
    target_model="vicuna-7b",
    draft_model=None,
    drafting="draft-free",
    verification="greedy",
    prompt_lengths=_SPECBENCH_PROMPTS,
    n_requests=480,
    steps_per_request=96,
    assumptions=(
        "chain of 10 copied tokens (Hugging Face prompt_lookup_num_tokens default); every "
        "step is assumed to find a match (misses show up as a low alpha)",
        _DRAFT_FREE, "flat alpha profile (the source gives only tau)", _SPECBENCH,
    ),
))
_register(Preset(
    name="rest-vicuna-7b-specbench",
    description="REST on Vicuna-7B, Spec-Bench, greedy, 63-token retrieval trie stand-in "
                "(tau 1.82)",
    source_row=("rest", "Vicuna-7B", "retrieval datastore", "Spec-Bench", "0"),
    shape=top_reach_tree(63, 5, 8, name="rest-63-d5"),
    target_model="vicuna-7b",
    draft_model=None,
    drafting="draft-free",
    verification="greedy",
    prompt_lengths=_SPECBENCH_PROMPTS,
    n_requests=480,
    steps_per_request=96,
    assumptions=(
        "tree: REST's trie of retrieved continuations (up to 64 nodes) stood in by the 63 "
        "tokens of highest reach probability in a depth-5 top-8 tree (flat alpha = 0.7)",
        _DRAFT_FREE.replace("the lookup", "the datastore lookup"),
        "flat alpha profile (the source gives only tau)", _SPECBENCH,
    ),
))
_register(Preset(
    name="sequoia-llama2-7b-128n-d10-c4",
    description="Sequoia on Llama-2-7B with a 68M draft, C4, greedy, 128-node depth-10 tree "
                "(tau 5.08)",
    source_row=("sequoia", "Llama2-7B", "JF68M 128 nodes depth 10", "C4", "0"),
    shape=sequoia_tree(128, 10, name="sequoia-128-d10"),
    target_model="llama-2-7b",
    draft_model="llama-68m",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_C4_PROMPTS,
    n_requests=200,
    steps_per_request=32,
    assumptions=(
        "tree: Sequoia's DP tree (128 nodes with the root, height <= 10, <= 8 children) "
        "for the rank acceptance of a flat alpha = 0.7 model, not Sequoia's measured "
        "acceptance vector",
        "flat alpha profile (the source gives only tau)",
        "prompt lengths as specinfer-llama2-7b-c4",
    ),
))
_register(Preset(
    name="sequoia-llama2-13b-64n-d9-c4",
    description="Sequoia on Llama-2-13B with a 68M draft, C4, greedy, 64-node depth-9 tree "
                "(tau 4.20)",
    source_row=("sequoia", "Llama2-13B", "JF68M 64 nodes depth 9", "C4", "0"),
    shape=sequoia_tree(64, 9, name="sequoia-64-d9"),
    target_model="llama-2-13b",
    draft_model="llama-68m",
    drafting="per-level",
    verification="greedy",
    prompt_lengths=_C4_PROMPTS,
    n_requests=200,
    steps_per_request=32,
    assumptions=(
        "tree: Sequoia's DP tree (64 nodes with the root, height <= 9, <= 8 children) for "
        "the rank acceptance of a flat alpha = 0.7 model",
        "flat alpha profile (the source gives only tau)",
        "prompt lengths as specinfer-llama2-7b-c4",
    ),
))
_register(Preset(
    name="sequoia-llama2-7b-128n-d7-c4-t06",
    description="Sequoia on Llama-2-7B with a 68M draft, C4, temperature 0.6 (stochastic), "
                "128-node depth-7 tree (tau 3.92)",
    source_row=("sequoia", "Llama2-7B", "JF68M 128 nodes depth 7", "C4", "0.6"),
    shape=sequoia_tree(128, 7, name="sequoia-128-d7"),
    target_model="llama-2-7b",
    draft_model="llama-68m",
    drafting="per-level",
    verification="stochastic",
    prompt_lengths=_C4_PROMPTS,
    n_requests=200,
    steps_per_request=32,
    assumptions=(
        "tree: Sequoia's DP tree (128 nodes with the root, height <= 7, <= 8 children) for "
        "the rank acceptance of a flat alpha = 0.7 model",
        "stochastic: p/q of each node equals its acceptance probability under the model "
        "(SpecInfer residuals for siblings); Sequoia's sampling-without-replacement "
        "verification is not modelled",
        "flat alpha profile (the source gives only tau)",
        "prompt lengths as specinfer-llama2-7b-c4",
    ),
))


def list_presets() -> list[str]:
    """Names of all presets, sorted."""
    return sorted(_PRESETS)


def get_preset(name: str | Preset) -> Preset:
    """The preset called `name` (a :class:`Preset` is returned as is).

    Raises
    ------
    InputError
        For an unknown name; the message lists the choices.
    """
    if isinstance(name, Preset):
        return name
    try:
        return _PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; choose one of: {', '.join(list_presets())}",
                         field="preset") from None


def generate_trace(preset: str | Preset = DEFAULT_PRESET, *, n_requests: int | None = None,
                   steps_per_request: int | None = None, seed: int = 0) -> Trace:
    """A seeded synthetic trace of a preset (the preset's default sizes unless given).

    ``trace.metadata`` records ``preset``, ``target_model``, ``draft_model``,
    ``drafting``, ``seed``, the published τ and its source, and the calibration.
    """
    p = get_preset(preset)
    n_req = p.n_requests if n_requests is None else int(n_requests)
    n_steps = p.steps_per_request if steps_per_request is None else int(steps_per_request)
    if n_req < 1:
        raise InputError(f"must be >= 1, not {n_req}", field="requests")
    if n_steps < 1:
        raise InputError(f"must be >= 1, not {n_steps}", field="steps")
    if not math.isfinite(seed) or seed < 0:
        raise InputError(f"must be a non-negative integer, not {seed}", field="seed")
    return synthesize_trace(
        p.shape, p.model(), n_requests=n_req, steps_per_request=n_steps, seed=int(seed),
        verification=p.verification, prompt_lengths=p.prompt_lengths,
        metadata=p.trace_metadata(seed),
    )
