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
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from specaccel.errors import InputError
from specaccel.workloads.acceptance_model import (
    DEFAULT_CONFIDENCE_SPREAD,
    RANK_DECAY,
    AcceptanceModel,
    calibrate,
)
from specaccel.workloads.synthetic import PromptLengths, synthesize_trace
from specaccel.workloads.trace import Trace
from specaccel.workloads.tree_shapes import TreeShape, chain, eagle_default_tree, k_by_depth

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
        Model names the cost model knows.
    drafting:
        ``"per-level"`` (one draft pass per tree level over that level's nodes) or
        ``"single-pass"`` (heads that draft the whole tree in one pass).
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
    """

    name: str
    description: str
    source_row: tuple[str, str, str, str, str]
    shape: TreeShape
    target_model: str
    draft_model: str
    drafting: str
    verification: str
    prompt_lengths: PromptLengths
    n_requests: int
    steps_per_request: int
    rank_decay: float = RANK_DECAY
    confidence_spread: float = DEFAULT_CONFIDENCE_SPREAD
    assumptions: tuple[str, ...] = field(default=())

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
        """What :func:`generate_trace` records in ``trace.metadata``."""
        return {
            "preset": self.name,
            "target_model": self.target_model,
            "draft_model": self.draft_model,
            "drafting": self.drafting,
            "seed": int(seed),
            "published_tau": self.published_tau,
            "source": self.source["source"],
            "calibration_scale": self.calibration_scale(),
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
