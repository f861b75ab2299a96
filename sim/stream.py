"""Step costs in blocks: what an engine reads, a block of whole requests at a time.

A :class:`StepStream` prices the requests of a :class:`~.request_sampling.RequestSource`
block by block through the run's step-cost door: each :class:`StepBlock` holds one
block's trees, golden outcome and batch-1 :class:`~.step_costs.StepCosts`, and nothing
of a block outlives it but what the engine keeps.  Engines that replay requests one
after another (the batch-1 replay, the fast path, pipelined speculation) read the
blocks as they come, so a run holds one block of trees and costs at a time; engines that
need every step at once (the serving loop, the static batch) read :meth:`StepStream.whole`,
the blocks' costs concatenated (about 130 bytes per step, plus the draft passes).  A run
that fits one block is priced once and kept.

:class:`StepTotals` are the sums a result needs (tokens, acceptance, tree sizes, stage
times), gathered while the blocks go by.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from specaccel.models.cost.drafting import DraftPasses, drafting_of
from specaccel.models.golden import TraceOutcome, verify_trace
from specaccel.sim.autoregressive import autoregressive_trace
from specaccel.sim.pricing import StepPricer
from specaccel.sim.request_sampling import RequestSource
from specaccel.sim.step_costs import StepCosts

BLOCK_STEPS = 8192
"""Steps per block (whole requests): a block's trees, outcome and vectorised passes take
about 3.5 kB per step while it is priced (some 30 MB), and its per-block overhead (a few
cost-model calls) stays under 1 % of its pricing."""


@dataclass(frozen=True)
class StepBlock:
    """One block of whole requests: ``first`` is the run's index of its first request."""

    first: int
    trace: Any
    outcome: TraceOutcome
    costs: StepCosts


@dataclass
class StepTotals:
    """Sums over every step of a run (what a result needs besides the engine's log)."""

    n_steps: int = 0
    committed: int = 0
    accepted: int = 0
    n_nodes: int = 0
    draft_passes: int = 0
    stage_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("draft", "tree", "target", "verify"), 0.0))
    accepted_histogram: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    def add(self, c: StepCosts) -> None:
        self.n_steps += c.n_steps
        self.committed += int(c.committed.sum())
        self.accepted += int(c.accepted.sum())
        self.n_nodes += int(c.n_nodes.sum())
        self.draft_passes += int(c.draft_passes.sum())
        for k, v in (("draft", c.draft_s), ("tree", c.tree_s), ("target", c.target_s),
                     ("verify", c.verify_s)):
            self.stage_s[k] += float(v.sum())
        if c.n_steps:
            h = np.bincount(c.accepted, minlength=1)
            if h.shape[0] > self.accepted_histogram.shape[0]:
                h[:self.accepted_histogram.shape[0]] += self.accepted_histogram
                self.accepted_histogram = h
            else:
                self.accepted_histogram[:h.shape[0]] += h

    def mean(self, total: float) -> float:
        """`total` per step (0 for a run without steps)."""
        return total / self.n_steps if self.n_steps else 0.0


class CostsConcat:
    """Concatenates blocks' :class:`StepCosts` field by field, freeing each field's parts
    as it goes, so that it never holds much more than the result."""

    def __init__(self) -> None:
        self.parts: dict[str, list[Any]] = {f.name: [] for f in fields(StepCosts)}
        self.n_steps: list[int] = []

    def add(self, c: StepCosts) -> None:
        for name, part in self.parts.items():
            part.append(getattr(c, name))
        self.n_steps.append(c.n_steps)

    def result(self) -> StepCosts:
        out: dict[str, Any] = {}
        for name in list(self.parts):
            part = self.parts.pop(name)
            if name == "request_step_offsets":
                shift = np.cumsum([0, *self.n_steps[:-1]])
                out[name] = np.concatenate(
                    [part[0][:1]] + [p[1:] + s for p, s in zip(part, shift, strict=True)])
            elif isinstance(part[0], np.ndarray):
                out[name] = np.concatenate(part) if len(part) > 1 else part[0]
            else:
                out[name] = part[0]
            part.clear()
        return StepCosts(**out)


def concat_costs(parts: list[StepCosts]) -> StepCosts:
    """The blocks' costs as one :class:`StepCosts` (request offsets made global)."""
    if len(parts) == 1:
        return parts[0]
    joined = CostsConcat()
    for p in parts:
        joined.add(p)
    return joined.result()


def concat_passes(parts: list[DraftPasses]) -> DraftPasses:
    """Draft passes of consecutive blocks, padded to the widest block's slots."""
    if len(parts) == 1:
        return parts[0]
    widest = max(parts, key=lambda p: p.n_slots)
    width = widest.n_slots
    for p in parts:
        if not np.array_equal(p.context_offset, widest.context_offset[:p.n_slots]):
            raise ValueError("draft-pass slots of the blocks do not line up")

    def pad(a: np.ndarray, fill: Any) -> np.ndarray:
        out = np.full((a.shape[0], width), fill, dtype=a.dtype)
        out[:, :a.shape[1]] = a
        return out

    return DraftPasses(np.concatenate([pad(p.tokens, 0) for p in parts]),
                       np.concatenate([pad(p.used, False) for p in parts]),
                       widest.context_offset)


@dataclass
class WholeRun:
    """Every step of a run at once: costs and draft passes."""

    costs: StepCosts
    draft: DraftPasses


class StepStream:
    """The run's step costs, block by block (module docstring).

    Parameters
    ----------
    source:
        The run's requests.
    pricer:
        The step-cost door.
    block_steps:
        Steps per block (whole requests).
    baseline:
        Price plain autoregressive decoding of the same committed tokens instead (each
        block's trees replaced by :func:`~.autoregressive.autoregressive_trace`).
    """

    def __init__(self, source: RequestSource, pricer: StepPricer, *,
                 block_steps: int = BLOCK_STEPS, baseline: bool = False) -> None:
        self.source = source
        self.pricer = pricer.baseline() if baseline else pricer
        self.block_steps = int(block_steps)
        self.is_baseline = baseline
        self.totals: StepTotals | None = None
        self._kept: list[StepBlock] | None = None
        self._whole: WholeRun | None = None
        self._single = source.block_starts(self.block_steps).shape[0] == 2

    @classmethod
    def of_costs(cls, costs: StepCosts, pricer: StepPricer, trace: Any,
                 outcome: TraceOutcome) -> StepStream:
        """A one-block stream of given costs (a test changing a run's costs by hand)."""
        stream = cls(RequestSource(trace), pricer)
        stream._kept = [StepBlock(0, trace, outcome, costs)]
        stream.totals = StepTotals()
        stream.totals.add(costs)
        return stream

    def baseline(self) -> StepStream:
        """The stream of the autoregressive baseline of the same requests."""
        return StepStream(self.source, self.pricer, block_steps=self.block_steps,
                          baseline=True)

    def _price(self) -> Iterator[StepBlock]:
        for first, trace in self.source.blocks(self.block_steps):
            if self.is_baseline:
                # plain decoding of what the speculative run commits (its mode's rule)
                outcome = drafting_of(trace.metadata).committed_outcome(trace,
                                                                        verify_trace(trace))
                trace = autoregressive_trace(trace, outcome)
                outcome = verify_trace(trace)
            else:
                outcome = self.pricer.outcome(trace)
            yield StepBlock(first, trace, outcome, self.pricer.step_costs(trace, outcome))

    def blocks(self) -> Iterator[StepBlock]:
        """The blocks in order; the first full pass also gathers :attr:`totals`.  A run of
        one block is priced once and kept."""
        if self._kept is not None:
            yield from self._kept
            return
        totals = StepTotals()
        kept: list[StepBlock] = []
        for block in self._price():
            totals.add(block.costs)
            if self._single:
                kept.append(block)
            yield block
        self.totals = totals
        if self._single:
            self._kept = kept

    def whole(self) -> WholeRun:
        """Every step at once: the blocks' costs concatenated, and their draft passes (the
        batched engines pad them over rows); computed once."""
        if self._whole is None:
            costs, passes = CostsConcat(), []
            for block in self.blocks():
                costs.add(block.costs)
                passes.append(self.pricer.draft_passes(block.trace, block.costs.committed))
            self._whole = WholeRun(costs.result(), concat_passes(passes))
        return self._whole

    def with_costs(self, costs: StepCosts) -> StepStream:
        """The same run with its (one-block) costs replaced."""
        block = next(self.blocks())
        return StepStream.of_costs(costs, self.pricer, block.trace, block.outcome)

    def ensure_totals(self) -> StepTotals:
        """:attr:`totals`, pricing the blocks if no engine has read them yet."""
        if self.totals is None:
            for _ in self.blocks():
                pass
        return self.totals


__all__ = ["BLOCK_STEPS", "StepBlock", "StepStream", "StepTotals", "WholeRun",
           "concat_costs", "concat_passes"]
