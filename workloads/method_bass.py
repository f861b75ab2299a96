"""BASS: batched speculative decoding — a batch of requests drafts and verifies in lock-step,
each row accepting its own (ragged) number of tokens (Qian et al. 2024).

One *batch step*: the draft model runs ``γ`` passes over all ``B`` rows, then the target
verifies ``γ+1`` tokens of every row in one batched pass; row ``r`` commits its own
``accepted_r + 1`` tokens, so the rows' contexts drift apart (BASS's ragged attention
handles that).  The step's time is set by the *longest* row: drafting runs as many
passes as the longest draft, and the verify pass is padded to it
(:meth:`BassCosts.batch_step_seconds`).

Draft length: one ``γ`` for the whole batch, adapted after each step as in BASS's
heuristic (as we read it): ``γ += 2`` (at most 32) when some row accepted all its
drafts, else ``γ −= ceil(γ / 10)`` (at least 1); it starts at 7.

Acceptance: row r has its own per-token acceptance α_r (requests differ in difficulty):
``logit α_r = logit(alpha_median) + σ z_r`` with ``z_r`` the normal quantiles at
``(r + ½) / B`` in a seeded random order (stratified, so every batch spans the same
spread and runs differ only by sampling noise); chains are sampled by
:func:`~.method_self_speculation.sample_chains` and the accepted lengths are computed by
:func:`specaccel.models.golden.verify_trace`.

Trace layout: request r = batch row r; step k of every request belongs to batch step k.
``metadata`` holds ``batch_size``, ``draft_length`` (per batch step),
``batch_step_seconds`` and the modelled ``speedup`` over plain batched decoding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np

from specaccel.models.cost import ModelSpec, get_hardware, get_model, pass_costs
from specaccel.models.golden import verify_trace
from specaccel.schema.errors import InputError
from specaccel.schema.trace import NODE_FIELDS, DraftTree, Trace
from specaccel.workloads.method_self_speculation import sample_chains
from specaccel.workloads.methods import WorkloadPreset, declare_method, declare_preset
from specaccel.workloads.published import SourceKey, published_row

DRAFT_INIT, DRAFT_INCR, DRAFT_MOD, DRAFT_LIMIT = 7, 2, 10, 32

BASS_DRAFT_310M = get_model("bass-draft-310m")
"""The draft model of the BASS preset (an assumed shape)."""


def next_draft_length(gamma: int, accepted: np.ndarray) -> int:
    """The batch's next γ from this step's per-row accepted counts (module docstring)."""
    if int(np.max(accepted)) >= gamma:
        return min(gamma + DRAFT_INCR, DRAFT_LIMIT)
    return max(1, gamma - math.ceil(gamma / DRAFT_MOD))


@dataclass(frozen=True)
class BassCosts:
    """Seconds of batch steps for a target/draft pair on one device."""

    target: ModelSpec
    draft: ModelSpec
    hw: str

    def batch_step_seconds(self, draft_lengths: np.ndarray, contexts: np.ndarray) -> float:
        """One batch step whose rows drafted `draft_lengths` tokens at `contexts`.

        Padded to the longest row: ``max γ`` draft passes over all rows, and a verify
        pass of ``max γ + 1`` tokens per row.
        """
        lens = np.asarray(draft_lengths, dtype=np.int64)
        ctx = np.asarray(contexts, dtype=np.float64)
        if lens.shape != ctx.shape or lens.size == 0 or lens.min() < 0:
            raise InputError("one draft length >= 0 and one context per row", field="batch")
        return float(self.many_steps(np.array([lens.max()]), np.array([ctx.mean()]),
                                     lens.size)[0])

    def many_steps(self, gamma: np.ndarray, mean_context: np.ndarray, batch: int
                   ) -> np.ndarray:
        """Seconds of batch steps with (padded) draft lengths `gamma` (vectorised)."""
        hw = get_hardware(self.hw)
        g = np.asarray(gamma, dtype=np.int64)
        ctx = np.asarray(mean_context, dtype=np.float64)
        draft = pass_costs(self.draft, hw, tokens=1, context=ctx + g / 2.0,
                           batch=batch)["latency_s"]
        verify = pass_costs(self.target, hw, tokens=g + 1, context=ctx, batch=batch,
                            phase="verify")["latency_s"]
        return g * draft + verify

    def decode_seconds(self, mean_context: np.ndarray, batch: int) -> np.ndarray:
        """Seconds of one step of plain batched decoding (one token per row)."""
        return pass_costs(self.target, get_hardware(self.hw), tokens=1,
                          context=np.asarray(mean_context, dtype=np.float64),
                          batch=batch)["latency_s"]


@dataclass
class BassRun:
    """A simulated BASS run: the trace plus per-step schedule and timing."""

    trace: Trace
    draft_length: np.ndarray     # (steps,)
    accepted: np.ndarray         # (rows, steps)
    step_seconds: np.ndarray     # (steps,)
    decode_seconds: np.ndarray   # (steps,) plain batched decoding at the same contexts
    row_alpha: np.ndarray        # (rows,)

    @property
    def speedup(self) -> float:
        """Tokens per second over plain batched decoding of the same batch."""
        b = self.accepted.shape[0]
        committed = float((self.accepted + 1).sum())
        return committed / float(self.step_seconds.sum()) / (
            b / float(self.decode_seconds.mean()))


def row_alphas(alpha_median: float, batch: int, rng: np.random.Generator,
               sigma: float = 0.8) -> np.ndarray:
    """Stratified per-row acceptance (module docstring)."""
    z = np.array([NormalDist().inv_cdf((r + 0.5) / batch) for r in range(batch)])
    logit = math.log(alpha_median / (1.0 - alpha_median)) + sigma * rng.permutation(z)
    return 1.0 / (1.0 + np.exp(-logit))


def simulate_bass(costs: BassCosts, *, batch: int, n_steps: int, alpha_median: float,
                  seed: int = 0, sigma: float = 0.8, prompt_len: int = 256) -> BassRun:
    """Run BASS on a batch of `batch` synthetic requests for `n_steps` batch steps."""
    if batch < 1 or n_steps < 1:
        raise InputError("batch and steps must be >= 1", field="batch")
    if not 0.0 < alpha_median < 1.0:
        raise InputError(f"must be in (0, 1), not {alpha_median}", field="alpha_median")
    rng = np.random.default_rng(seed)
    row_alpha = row_alphas(alpha_median, batch, rng, sigma)
    gamma = DRAFT_INIT
    gammas, accepted, mean_ctx = [], [], []
    trees: list[list[DraftTree]] = [[] for _ in range(batch)]
    ctx = np.full(batch, float(prompt_len))
    for _ in range(n_steps):
        nodes, off = sample_chains(row_alpha, np.full(batch, gamma), rng)
        step = Trace.from_trees([("b", 0, [])])
        step.step_node_offsets, step.nodes = off, nodes
        step.request_step_offsets = np.array([0, batch])
        step.recorded_accepted = np.full(batch, -1, dtype=np.int32)
        acc = verify_trace(step).accepted
        for r in range(batch):
            a, b = int(off[r]), int(off[r + 1])
            trees[r].append(DraftTree(**{f: nodes[f][a:b] for f in NODE_FIELDS}))
        gammas.append(gamma)
        accepted.append(acc)
        mean_ctx.append(ctx.mean())
        ctx += acc + 1
        gamma = next_draft_length(gamma, acc)
    g = np.array(gammas)
    mc = np.array(mean_ctx)
    step_s = costs.many_steps(g, mc, batch)
    meta: dict[str, Any] = {
        "generator": "specaccel.workloads.method_bass", "method": "bass",
        "target_model": costs.target.name, "draft_model": costs.draft.name, "hw": costs.hw,
        "batch_size": batch, "seed": seed, "alpha_median": alpha_median,
        "draft_length": g.tolist(), "batch_step_seconds": step_s.tolist(),
    }
    trace = Trace.from_trees([(f"row{r:02d}", prompt_len, trees[r]) for r in range(batch)],
                             metadata=meta)
    run = BassRun(trace, g, np.array(accepted).T, step_s, costs.decode_seconds(mc, batch),
                  row_alpha)
    trace.metadata["speedup"] = run.speedup
    return run


# ---------------------------------------------------------------------- preset
declare_method(
    "bass",
    description="batched speculation: the rows of a batch draft and verify in lock-step, "
                "each accepting its own (ragged) number of tokens",
    drafting="per-level", tree_policy="a chain per row; one gamma for the batch, adapted "
                                      "after each step (+2 when a row accepted all, else "
                                      "-ceil(gamma/10))",
    sources=("Qian et al. 2024, BASS (Findings of ACL 2024; arXiv 2404.15778)",))


@dataclass(frozen=True)
class BassPreset(WorkloadPreset):
    """BASS calibrated so that the modelled speedup equals the published one.

    A generated trace has one request per batch row (``n_requests`` rows, default the
    preset's batch) and one step per batch step; ``simulate --batch B --no-prefill``
    replays it as the static batch it is.
    """

    kind: ClassVar[str] = "modelled"

    name: str
    source_row: SourceKey
    costs: BassCosts
    batch: int
    n_steps: int = 96
    calibration_seed: int = 12345
    assumptions: tuple[str, ...] = field(default=())
    method: str = "bass"
    description: str = ""

    @property
    def n_requests(self) -> int:
        return self.batch

    @property
    def steps_per_request(self) -> int:
        return self.n_steps

    @property
    def published_speedup(self) -> float:
        return float(published_row(self.source_row)["speedup"])

    def alpha_median(self) -> float:
        """Median per-token acceptance whose simulated speedup is the published one."""
        return _calibrate(self)

    def run(self, seed: int = 0, n_steps: int | None = None, batch: int | None = None
            ) -> BassRun:
        run = simulate_bass(self.costs, batch=batch or self.batch,
                            n_steps=n_steps or self.n_steps,
                            alpha_median=self.alpha_median(), seed=seed)
        run.trace.metadata.update(preset=self.name, published_speedup=self.published_speedup)
        return run

    def make_trace(self, n_requests: int, steps_per_request: int, seed: int) -> Trace:
        return self.run(seed, n_steps=steps_per_request, batch=n_requests).trace


@cache
def _calibrate(preset: BassPreset) -> float:
    """Bisection on the median α with common random numbers (the calibration seed)."""
    lo, hi = 0.05, 0.995
    target = preset.published_speedup

    def speed(a: float) -> float:
        return simulate_bass(preset.costs, batch=preset.batch, n_steps=preset.n_steps,
                             alpha_median=a, seed=preset.calibration_seed).speedup

    if not speed(lo) < target < speed(hi):
        raise InputError(f"speedup {target} is not reachable with this pair",
                         field="speedup")
    for _ in range(14):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if speed(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


declare_preset(BassPreset(
    "bass-7b-batch8-humaneval",
    ("bass", "7.8B code model", "batched speculation batch 8", "HumanEval", ""),
    BassCosts(get_model("llama-2-7b"), BASS_DRAFT_310M, "a100-80gb"), batch=8,
    description="BASS, batch 8, a 7B code model with a ~310M draft, HumanEval; median "
                "acceptance calibrated to the published speedup",
    assumptions=("target: Llama-2-7B shape stands in for the 7.8B code model",
                 "draft: an assumed ~310M Llama-shaped model",
                 "per-row alpha: logit-normal, sigma 0.8 around the median",
                 "prompts of 256 tokens")))
