"""Options of a simulation run, as typed dataclasses.

:class:`SimOptions` is everything :func:`~specaccel.sim.simulation.simulate` may be asked
besides what runs (trace, hardware, models, costs): the engine, serving, pipelining,
the baseline, the timeline, the unit map and the up-front checks.
:class:`ServingConfig` says how requests are served (arrivals, continuous batching,
prefill, KV-limited admission, overlapped drafting); ``None`` in its place is the
batch-1 closed-loop replay.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from specaccel.schema.errors import InputError


@dataclass(frozen=True)
class ServingConfig:
    """How requests are served.

    Attributes
    ----------
    max_batch:
        Most requests running at once (decode rows + prefilling requests).
    token_budget:
        Most query tokens per batch step: the tree nodes of every decode row plus the
        prefill chunk tokens.
    arrivals:
        ``"trace"`` (the trace's ``arrival_s``) or ``"poisson"``.
    rate_per_s:
        Poisson arrival rate (requests per second) when ``arrivals == "poisson"``.
    seed:
        Seed of the Poisson arrivals.
    prefill:
        Simulate prefill passes (off: requests start decoding on admission, their
        prompt's KV already in the cache; the batch-1 replay's convention).
    kv_capacity_tokens:
        KV-cache capacity in tokens; default: HBM left after the weights.
    overlap_draft:
        Split each batch step into two micro-batches so that a separate draft engine
        drafts one while the target verifies the other (draft and verify contend for
        HBM); needs a unit map with a separate draft engine.  No effect when the trace's
        drafting mode runs no draft model.
    """

    max_batch: int = 32
    token_budget: int = 4096
    arrivals: str = "trace"
    rate_per_s: float | None = None
    seed: int = 0
    prefill: bool = True
    kv_capacity_tokens: int | None = None
    overlap_draft: bool = False

    def check(self) -> None:
        """:class:`InputError` for an impossible setting."""
        if self.max_batch < 1:
            raise InputError(f"must be >= 1, not {self.max_batch}", field="batch")
        if self.token_budget < 1:
            raise InputError(f"must be >= 1, not {self.token_budget}", field="token_budget")
        if self.arrivals not in ("trace", "poisson"):
            raise InputError(f"must be 'trace' or 'poisson', not {self.arrivals!r}",
                             field="arrivals")
        if self.arrivals == "poisson" and not (self.rate_per_s and self.rate_per_s > 0):
            raise InputError("a Poisson arrival rate must be > 0", field="arrivals")
        if self.kv_capacity_tokens is not None and self.kv_capacity_tokens < 1:
            raise InputError(f"must be >= 1, not {self.kv_capacity_tokens}",
                             field="kv_capacity_tokens")

    @property
    def uncontended(self) -> bool:
        """True when requests can never overlap (batch 1, no prefill): the batch-1
        replay's situation, which the fast path computes exactly."""
        return self.max_batch == 1 and not self.prefill

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


ENGINE_CHOICES = ("event", "fast", "auto")
"""What a run may ask for (:mod:`specaccel.sim.engines`): the SimPy event model, a fast
engine (an error, with the reason, when none is exact for the run), or the fast engine
where it is exact and the event model elsewhere."""


@dataclass(frozen=True)
class SimOptions:
    """How to simulate (:func:`~specaccel.sim.simulation.simulate`).

    Attributes
    ----------
    engine:
        One of :data:`ENGINE_CHOICES`; ``SimResult.engine`` names the engine that ran.
    serving:
        A :class:`ServingConfig`; ``None``: the batch-1 closed-loop replay.
    pipelined:
        Draft the next tree while the current one is verified, on a separate draft
        engine, with HBM contention (batch-1 replay only).  With no draft model there
        is nothing to pre-draft: the run is the ordinary replay.
    baseline:
        Also simulate plain autoregressive decoding of the same committed tokens.
    record_timeline:
        Keep the speculative run's per-stage timeline.
    unit_map:
        Override of the role → unit map (default: the hardware's; a separate draft
        engine on an accelerator for pipelining and overlapped micro-batches).
    check:
        Reject a configuration that cannot run (weights larger than memory, a tree
        larger than the verify unit) before simulating.
    verify_nodes:
        The verify unit's node count (default: the hardware's).
    """

    engine: str = "event"
    serving: ServingConfig | None = None
    pipelined: bool = False
    baseline: bool = True
    record_timeline: bool = False
    unit_map: dict[str, str] | None = field(default=None, hash=False)
    check: bool = True
    verify_nodes: int | None = None

    def validate(self) -> None:
        """``ValueError`` for an unknown engine, :class:`InputError` for an impossible
        combination."""
        if self.engine not in ENGINE_CHOICES:
            raise ValueError(f"engine must be one of {ENGINE_CHOICES}, not {self.engine!r}")
        if self.serving is not None:
            self.serving.check()
        if self.pipelined and self.serving is not None:
            raise InputError("pipelined speculation is modelled in the batch-1 replay only, "
                             "not in a serving run", field="pipelined")
