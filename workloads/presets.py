"""Calibrated synthetic presets: a method's tree with an acceptance model scaled to the
published τ (mean tokens committed per step, accepted + 1).

A :class:`Preset` fixes a tree shape, an acceptance-model profile, the models (names the
cost model knows), the prompt-length distribution and default sizes; its method (and so
its drafting mode) is a :class:`~specaccel.workloads.methods.Method`.  Its published τ
and the starting α profile are read from the bundled ``specaccel/data/acceptance.csv``
row named by :attr:`Preset.source_row`, never typed in here.  The presets themselves are
declared in their methods' modules (``workloads/method_*.py``), with the other kinds of
preset, in one registry (:data:`~specaccel.workloads.methods.PRESETS`).

Calibration procedure (:meth:`Preset.model`): start from the row's per-position
acceptance (or a flat profile when the paper gives none), and scale the whole profile
by the one factor s that makes the model's *closed-form* expected τ on the preset's
tree equal the published τ (:func:`~specaccel.workloads.acceptance_model.calibrate`) —
or the τ the user sets (:meth:`Preset.with_tau`).  Sampled traces then match it up to
sampling noise (the tests check 5 %).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, ClassVar

from specaccel.schema.errors import InputError
from specaccel.schema.trace import Trace
from specaccel.workloads.acceptance_model import (
    DEFAULT_CONFIDENCE_SPREAD,
    RANK_DECAY,
    AcceptanceModel,
    calibrate,
)
from specaccel.workloads.methods import PRESETS, WorkloadPreset, get_workload_preset
from specaccel.workloads.published import (
    HARDWARE_PRESETS,
    SourceKey,
    deployment_of,
    published_row,
)
from specaccel.workloads.specbench_questions import TASKS
from specaccel.workloads.synthetic import PromptLengths, synthesize_trace
from specaccel.workloads.tree_shapes import TreeShape, from_choices

FLAT_ALPHA_START = 0.7
"""Start of the (flat) α profile when the source gives no per-position acceptance; the
calibration scale sets its level, so the start value does not change the result."""

DEFAULT_PRESET = "eagle-vicuna-7b-mtbench"
"""The preset that ``specaccel run`` replays by default."""

@dataclass(frozen=True)
class Benchmark:
    """The requests of a benchmark as a calibrated preset generates them: prompt lengths,
    how many requests, how many steps each by default, and what of that is assumed."""

    name: str
    prompt_lengths: PromptLengths
    n_requests: int
    steps_per_request: int
    note: str
    #: The Spec-Bench tasks (:data:`~.specbench_questions.TASKS`) whose questions this
    #: benchmark's published speedups were timed on one call per question turn, prefill
    #: included, averaging tokens per second over questions (Spec-Bench's and EAGLE's
    #: evaluation scripts); ``specaccel validate`` replays those turns
    #: (:mod:`specaccel.analysis.specbench_protocol`).  Empty: timed otherwise, or not
    #: known to be timed so.
    timed_tasks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [t for t in self.timed_tasks if t not in TASKS]
        if unknown:
            raise InputError(f"unknown tasks {unknown}; choose from {', '.join(TASKS)}",
                             field="timed_tasks")


MTBENCH = Benchmark(
    "MT-Bench", PromptLengths(median=120, sigma=0.7, low=16, high=2048), 80, 128,
    "80 requests = the 80 MT-Bench questions; prompt lengths log-normal, median 120, "
    "sigma 0.7 (first turns with the Vicuna system prompt; not measured)")
SPECBENCH = Benchmark(
    "Spec-Bench", PromptLengths(median=157, sigma=1.1, low=16, high=4096), 480, 96,
    "480 requests = the Spec-Bench questions; prompt lengths log-normal, median 157 "
    "tokens, sigma 1.1: the median and log-spread of the 560 turns' prompts "
    "(specbench-turns.csv: the benchmark's template around each question, in Vicuna "
    "tokens; in truth two groups, short questions and ~800-token articles and passages)",
    timed_tasks=TASKS)
#: MT-Bench as EAGLE's and EAGLE-2's evaluation scripts time it (``speed.py``: one call
#: per turn, prefill included, the mean over questions): the 80 MT-Bench questions are
#: Spec-Bench's ``mt_bench`` task, so their turns are replayed.
MTBENCH_TIMED_PER_QUESTION = replace(MTBENCH, timed_tasks=("mt_bench",))
C4 = Benchmark(
    "C4", PromptLengths(median=128), 200, 32,
    "prompt length 128 and 128 generated tokens (Sequoia's C4 setup); 200 requests")
SIX_TASK = Benchmark(
    "6-task mean", PromptLengths(median=300, sigma=1.0, low=16, high=4096), 480, 64,
    "6 tasks (MT-Bench, HumanEval, GSM8K, Alpaca, CNN/DM, Natural Questions) pooled as 480 "
    "requests; prompt lengths log-normal, median 300, sigma 1.0 (CNN/DM articles make the "
    "tail long; not measured)")
FLAT_ALPHA = "flat alpha profile (the source gives only tau)"
DRAFT_FREE = ("draft-free method: drafting 'draft-free', no draft model (no draft pass, "
              "no draft weights or KV cache); each step is the tree-mask unit, the "
              "target's verify pass over the tree and the verify unit; the lookup that "
              "builds the tree is not charged (the cost model has no cost for it), so the "
              "simulated speedup is an upper bound by the lookup's time")


@dataclass(frozen=True)
class Preset(WorkloadPreset):
    """A calibrated synthetic workload.

    Attributes
    ----------
    name:
        ``<method>-<target>-<draft?>-<benchmark>``: what it is calibrated to.
    description:
        One line for listings and reports.
    method:
        The :class:`~specaccel.workloads.methods.Method` (its drafting mode is the
        preset's).
    source_row:
        Key of the row of ``acceptance.csv``: ``(method, target, draft_or_tree, benchmark,
        temperature)``, and its ``hardware`` where the source measured the same setting on
        several machines (:data:`~specaccel.workloads.published.SourceKey`).
    tree:
        The draft tree of every step, or a function building it on first use
        (:attr:`shape`).
    target_model, draft_model:
        Model names the cost model knows; ``draft_model`` is ``None`` for a draft-free
        method (no draft model exists).
    benchmark:
        The requests (:class:`Benchmark`: prompt lengths, default sizes); verification
        is greedy at the source row's temperature 0, stochastic otherwise.
    steps:
        Steps per request when not the benchmark's default.
    rank_decay, confidence_spread:
        β and w of the acceptance model.
    assumptions:
        What is not pinned by the source and was chosen here.
    extra_query_tokens_per_step:
        Query tokens that ride in every verify pass without being drafts (lookahead
        decoding's Jacobi window); recorded in ``trace.metadata`` so that the simulator
        charges the target pass for them.
    tau:
        The τ the acceptance model is calibrated to, when the user sets one
        (:meth:`with_tau`); ``None``: the published τ.
    """

    kind: ClassVar[str] = "calibrated"

    name: str
    description: str
    method: str
    source_row: SourceKey
    tree: TreeShape | Callable[[], TreeShape] = field(compare=False)
    target_model: str
    draft_model: str | None
    benchmark: Benchmark
    steps: int | None = None
    rank_decay: float = RANK_DECAY
    confidence_spread: float = DEFAULT_CONFIDENCE_SPREAD
    assumptions: tuple[str, ...] = field(default=())
    extra_query_tokens_per_step: int = 0
    tau: float | None = None

    @property
    def verification(self) -> str:
        """``"greedy"`` at the source row's temperature 0, else ``"stochastic"``."""
        return "greedy" if self.source_row[4] in ("0", "") else "stochastic"

    @property
    def prompt_lengths(self) -> PromptLengths:
        return self.benchmark.prompt_lengths

    @property
    def n_requests(self) -> int:
        return self.benchmark.n_requests

    @property
    def steps_per_request(self) -> int:
        return self.steps if self.steps is not None else self.benchmark.steps_per_request

    @cached_property
    def shape(self) -> TreeShape:
        """The draft tree of every step (built on first use)."""
        return self.tree if isinstance(self.tree, TreeShape) else self.tree()

    @property
    def drafting(self) -> str:
        """The method's drafting mode, by name."""
        return self.method_entry().drafting.name

    # ------------------------------------------------------------ published figures
    @property
    def source(self) -> dict[str, str]:
        """The ``acceptance.csv`` row this preset is calibrated to."""
        return published_row(self.source_row)

    @property
    def published_tau(self) -> float:
        """The published mean tokens committed per step."""
        return float(self.source["tau"])

    @property
    def target_tau(self) -> float:
        """The τ the acceptance model is calibrated to: the user's, else the published."""
        return self.published_tau if self.tau is None else self.tau

    def start_alpha(self) -> tuple[float, ...]:
        """The α profile before calibration: the row's per-position acceptance, or flat."""
        text = self.source.get("alpha", "").strip()
        if "/" in text:
            return tuple(float(a) for a in text.split("/"))
        return (FLAT_ALPHA_START,)

    # ------------------------------------------------------------ calibration
    def model(self) -> AcceptanceModel:
        """The calibrated acceptance model (cached per preset and τ)."""
        return _calibrated(self)[0]

    def calibration_scale(self) -> float:
        """The factor s applied to :meth:`start_alpha` by the calibration."""
        return _calibrated(self)[1]

    def model_tau(self) -> float:
        return float(self.model().expected_committed(self.shape))

    def with_tau(self, tau: float) -> Preset:
        """This preset with its acceptance model recalibrated to expect `tau` tokens per
        step on the same tree (the published row still names the source)."""
        tau = float(tau)
        shaped = replace(self, tau=tau)
        object.__setattr__(shaped, "shape", self.shape)   # share the built tree
        try:
            shaped.model()
        except ValueError as exc:
            raise InputError(f"{exc} (preset {self.name})", field="tau") from None
        return shaped

    def for_target(self, label: str, target_model: str, draft_model: str | None) -> Preset:
        """The same method, tree and benchmark measured by the same source on another
        target: `label` is the target as the source row names it (``"Vicuna-13B"``); the
        name, description and source row follow (the row must be in acceptance.csv)."""
        key: SourceKey = (self.source_row[0], label, *self.source_row[2:])  # type: ignore[assignment]
        tau = published_row(key)["tau"]
        description = re.sub(r"\(tau [0-9.]+\)", f"(tau {tau})",
                             self.description.replace(self.source_row[1], label))
        return replace(self, name=self.name.replace(self.target_model, target_model),
                       description=description, source_row=key, target_model=target_model,
                       draft_model=draft_model)

    def for_hardware(self, label: str) -> Preset:
        """The same method, target, tree and benchmark measured by the same source on
        another machine: `label` is the machine as the source row names it (``"RTX
        3090"``).  The preset is calibrated to that row's τ, its traces name that
        machine's hardware preset, and its name ends with the preset's name."""
        key: SourceKey = (*self.source_row[:5], label)
        row = published_row(key)
        hw = HARDWARE_PRESETS.get(label)
        if hw is None:
            raise InputError(f"no hardware preset for {label!r}", field="hardware",
                             file="acceptance.csv")
        description = re.sub(r"\(tau [0-9.]+\)", f"(tau {row['tau']})", self.description)
        return replace(self, name=f"{self.name}-{hw}", description=f"{description}, {label}",
                       source_row=key)

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly summary of the preset and its calibration."""
        model = self.model()
        return {
            "name": self.name,
            "description": self.description,
            "method": self.method,
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
            "assumptions": [*self.assumptions, self.benchmark.note],
        }

    def trace_metadata(self, seed: int) -> dict[str, Any]:
        """What :meth:`generate` records in ``trace.metadata`` (no ``draft_model`` key when
        the preset has no draft model); the hardware and software stacks the source ran
        on (:func:`~specaccel.workloads.published.deployment_of`), which ``simulate``
        takes by default on a GPU."""
        return {
            "preset": self.name,
            "method": self.method,
            "target_model": self.target_model,
            **({"draft_model": self.draft_model} if self.draft_model is not None else {}),
            "drafting": self.drafting,
            "seed": int(seed),
            "published_tau": self.published_tau,
            "source": self.source["source"],
            "calibration_scale": self.calibration_scale(),
            **({"extra_query_tokens_per_step": self.extra_query_tokens_per_step}
               if self.extra_query_tokens_per_step else {}),
            **deployment_of(self.source),
        }

    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        return synthesize_trace(
            self.shape, self.model(), n_requests=n_requests,
            steps_per_request=steps_per_request, seed=seed, verification=self.verification,
            prompt_lengths=self.prompt_lengths, metadata=self.trace_metadata(seed))


_CALIBRATIONS: dict[tuple[str, float], tuple[Preset, tuple[AcceptanceModel, float]]] = {}


def _calibrated(preset: Preset) -> tuple[AcceptanceModel, float]:
    key = (preset.name, preset.target_tau)
    hit = _CALIBRATIONS.get(key)
    if hit is not None and hit[0] is preset:
        return hit[1]
    start = AcceptanceModel(preset.start_alpha(), rank_decay=preset.rank_decay,
                            confidence_spread=preset.confidence_spread)
    result = calibrate(start, preset.shape, preset.target_tau)
    _CALIBRATIONS[key] = (preset, result)
    return result


# ---------------------------------------------------------------------------- shape builders
SHAPE_ALPHA = FLAT_ALPHA_START
"""Flat α of the acceptance model that the two searched shapes below (EAGLE-2's top-reach
tree, Sequoia's DP tree) are built for, before calibration: the shape is fixed first and
the calibration then scales α on that fixed shape."""

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


# ---------------------------------------------------------------------------- lookup
def list_presets() -> list[str]:
    """Names of the calibrated synthetic presets, sorted (every preset of every kind:
    :data:`~specaccel.workloads.methods.PRESETS`)."""
    return sorted(name for name, p in PRESETS.items() if p.kind == Preset.kind)


def get_preset(name: str | WorkloadPreset) -> WorkloadPreset:
    """The preset called `name`, of any kind (a preset is returned as is).

    Raises
    ------
    InputError
        For an unknown name; the message lists the choices.
    """
    if isinstance(name, WorkloadPreset):
        return name
    return get_workload_preset(name)


def generate_trace(preset: str | WorkloadPreset = DEFAULT_PRESET, *,
                   n_requests: int | None = None, steps_per_request: int | None = None,
                   seed: int = 0, tau: float | None = None) -> Trace:
    """A seeded trace of a preset (the preset's default sizes unless given).

    ``trace.metadata`` records ``preset``, ``method``, ``target_model``, ``draft_model``,
    ``drafting``, ``seed``, the published τ and its source, and the calibration; `tau`
    recalibrates the preset's acceptance model to that τ (:meth:`Preset.with_tau`).
    """
    return get_preset(preset).generate(n_requests=n_requests, steps_per_request=steps_per_request,
                                       seed=seed, tau=tau)
