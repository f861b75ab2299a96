"""The step-cost input: what every engine takes, built in one place.

:meth:`StepInput.build` resolves everything an engine needs once — the run's requests and
their step costs, block by block (:class:`~.stream.StepStream`, priced by the run's
:class:`~.pricing.StepPricer`, the step-cost door, which the engines also ask for batched
passes), the arrival times (the trace's, or a Poisson process), the role → unit map and
the KV-cache capacity — so that no engine decides any of it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from specaccel.models.cost.drafting import drafting_of
from specaccel.schema.errors import InputError
from specaccel.schema.trace import MAX_ARRIVAL_S
from specaccel.sim.accelerator_model import unit_map_for
from specaccel.sim.config_check import kv_capacity_tokens
from specaccel.sim.options import ServingConfig
from specaccel.sim.pricing import StepPricer
from specaccel.sim.request_sampling import RequestSource
from specaccel.sim.step_costs import StepCosts
from specaccel.sim.stream import BLOCK_STEPS, StepBlock, StepStream


def poisson_arrivals(n: int, rate_per_s: float, seed: int) -> np.ndarray:
    """`n` arrival times of a Poisson process at `rate_per_s` (first at its first gap).

    :class:`InputError` naming ``rate_per_s`` when the last comes after
    :data:`~specaccel.schema.trace.MAX_ARRIVAL_S` (the clock would no longer resolve
    the requests' latencies), as a trace's arrival times may not.
    """
    rng = np.random.default_rng(seed)
    arrival = np.cumsum(rng.exponential(1.0 / rate_per_s, size=n))
    if n and arrival[-1] > MAX_ARRIVAL_S:
        raise InputError(f"{n} Poisson arrivals at {rate_per_s:g}/s span {arrival[-1]:.3g} s, "
                         f"beyond the {MAX_ARRIVAL_S:g} s (about 32 years) a run may span; "
                         "raise the rate or simulate fewer requests", field="rate_per_s")
    return arrival


@dataclass(frozen=True)
class StepInput:
    """One run's step-cost input.

    Attributes
    ----------
    stream:
        The run's requests and their batch-1 step costs, block by block.
    arrival_s:
        When every request arrives.
    unit_map:
        Which unit serves each role.
    kv_capacity:
        KV-cache capacity in tokens (``None``: unlimited, the specs do not say).
    serving:
        The serving configuration; ``None`` for the batch-1 closed-loop replay.
    pipelined:
        Pipelined speculation asked for (it runs only when a draft model does).
    record_timeline:
        Keep one record per stage.
    """

    stream: StepStream
    arrival_s: np.ndarray
    unit_map: dict[str, str]
    kv_capacity: int | None
    serving: ServingConfig | None = None
    pipelined: bool = False
    record_timeline: bool = False

    @property
    def pricer(self) -> StepPricer:
        return self.stream.pricer

    @property
    def hw(self) -> Any:
        return self.stream.pricer.hw

    @property
    def n_requests(self) -> int:
        return self.stream.source.size

    @property
    def costs(self) -> StepCosts:
        """Every step's batch-1 costs at once (:meth:`~.stream.StepStream.whole`)."""
        return self.stream.whole().costs

    def blocks(self) -> Iterator[StepBlock]:
        """The run's blocks of whole requests, in order."""
        return self.stream.blocks()

    @classmethod
    def of(cls, trace: Any, *, hw: Any, target: Any, draft: Any, drafting: Any = None,
           cost_fn: Any = None, **options: Any) -> StepInput:
        """:meth:`build` with the door built here (:meth:`StepPricer.build`; `drafting`
        defaults to the trace's metadata)."""
        mode = drafting_of(trace.metadata) if drafting is None else drafting
        return cls.build(trace, StepPricer.build(hw, target, draft, mode, cost_fn=cost_fn),
                         **options)

    @classmethod
    def build(cls, requests: Any, pricer: StepPricer, *,
              serving: ServingConfig | None = None, unit_map: dict[str, str] | None = None,
              pipelined: bool = False, record_timeline: bool = False,
              baseline: bool = False, block_steps: int = BLOCK_STEPS,
              deployment: Any = None) -> StepInput:
        """The input of a run of `requests` (a trace, or a
        :class:`~.request_sampling.RequestSource`) priced by `pricer` — or, with
        `baseline`, of plain autoregressive decoding of the same committed tokens.

        `unit_map` defaults to the hardware's; an accelerator gets a separate draft
        engine for pipelined speculation (when a draft model runs) and for overlapped
        micro-batches.  The KV capacity is ``serving.kv_capacity_tokens`` when set, else
        the memory left after the weights: on the one device, or on every device of the
        `deployment`'s placements (tensor-parallel shards and pipeline stages each hold
        their share of weights and cache).
        """
        source = requests if isinstance(requests, RequestSource) else RequestSource(requests)
        stream = StepStream(source, pricer, block_steps=block_steps, baseline=baseline)
        pricer = stream.pricer
        if unit_map is None:
            unit_map = unit_map_for(pricer.hw, separate_draft_engine=_separate_draft_engine(
                pricer, serving, pipelined))
        if serving is not None and serving.arrivals == "poisson":
            arrival = poisson_arrivals(source.size, float(serving.rate_per_s), serving.seed)
        else:
            arrival = source.arrival_s()
        if serving is not None and serving.kv_capacity_tokens is not None:
            cap = serving.kv_capacity_tokens
        else:
            cap = kv_capacity_tokens(pricer.hw, pricer.target.model, pricer.draft_model,
                                     pricer.kv_bytes_per_token, deployment=deployment)
        return cls(stream=stream, arrival_s=arrival, unit_map=dict(unit_map),
                   kv_capacity=cap, serving=serving, pipelined=pipelined,
                   record_timeline=record_timeline)


def _separate_draft_engine(pricer: StepPricer, serving: ServingConfig | None,
                           pipelined: bool) -> bool:
    """Whether the run wants the draft on its own engine: pipelined speculation with a
    draft model, or overlapped micro-batches."""
    return ((pipelined and pricer.drafting.runs_draft_model)
            or (serving is not None and serving.overlap_draft))
