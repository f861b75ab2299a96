"""Options of a simulation run, as typed dataclasses.

:class:`SimOptions` is everything :func:`~specaccel.sim.simulation.simulate` may be asked
besides what runs (trace, hardware, models, costs): the engine, serving, pipelining,
the baseline, the timeline, the unit map and the up-front checks.
:class:`ServingConfig` says how requests are served (arrivals, continuous batching,
prefill, KV-limited admission, overlapped drafting); ``None`` in its place is the
batch-1 closed-loop replay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from specaccel.schema.config_fields import Config, option
from specaccel.schema.errors import InputError

ARRIVALS = ("trace", "poisson")
"""Where request arrival times come from: the trace's ``arrival_s``, or a Poisson process."""


@dataclass(frozen=True)
class ServingConfig(Config):
    """How requests are served (every field is a ``simulate`` option and a sweep axis).

    ``overlap_draft`` needs a unit map with a separate draft engine; it has no effect when
    the trace's drafting mode runs no draft model.  ``prefill`` off is the batch-1
    replay's convention: requests start decoding on admission, their prompt's KV already
    in the cache.
    """

    max_batch: int = option(32, ge=1, flag="--batch", metavar="N",
                            help="most requests running at once (decode rows + prefilling "
                                 "requests)")
    token_budget: int = option(4096, ge=1, metavar="T",
                               help="most query tokens per batch step: the tree nodes of "
                                    "every decode row plus the prefill chunk tokens")
    arrivals: str = option("trace", choices=ARRIVALS,
                           help="`trace` (the trace's arrival times) or `poisson` (at "
                                "`rate_per_s`)")
    # from one request in ~12 days to a million a second (the busiest services serve
    # thousands a second); slower rates put the arrivals so far apart that the clock no
    # longer resolves a request's latency (step_input.poisson_arrivals)
    rate_per_s: float | None = option(None, ge=1e-6, le=1e6, unit="requests/s",
                                      help="Poisson arrival rate (arrivals = poisson)")
    seed: int = option(0, ge=0, metavar="S", help="seed of the Poisson arrivals")
    prefill: bool = option(True, help="simulate prefill passes (off: prompts already "
                                      "cached)")
    kv_capacity_tokens: int | None = option(None, ge=1, unit="tokens", flag="--kv-capacity",
                                            metavar="TOKENS",
                                            help="KV-cache capacity (default: the memory "
                                                 "left after the weights)")
    overlap_draft: bool = option(False, help="two micro-batches per batch step: a separate "
                                             "draft engine drafts one while the target "
                                             "verifies the other (HBM shared between them)")

    def check_rules(self) -> None:
        if self.arrivals == "poisson" and self.rate_per_s is None:
            raise InputError("Poisson arrivals need a rate (rate_per_s > 0)",
                             field="rate_per_s")
        if self.arrivals != "poisson" and self.rate_per_s is not None:
            raise InputError("a rate applies to arrivals = poisson only, not to the trace's "
                             "arrival times", field="rate_per_s")

    def check(self) -> None:
        """:class:`InputError` for an impossible setting (construction already checks;
        this re-checks a config changed behind the dataclass's back)."""
        Config.__post_init__(self)

    @property
    def uncontended(self) -> bool:
        """True when requests can never overlap (batch 1, no prefill): the batch-1
        replay's situation, which the fast path computes exactly."""
        return self.max_batch == 1 and not self.prefill


@dataclass(frozen=True)
class EngineOptions(Config):
    """How the steps are replayed besides serving (every field is a ``simulate`` option
    and a sweep axis).  The verify unit's size is the accelerator's ``tree_nodes``
    (``simulate --verify-nodes`` sets it), not an option of the replay."""

    pipelined: bool = option(False, help="pipelined speculation: a separate draft engine "
                                         "drafts the next tree while the target verifies "
                                         "the current one; draft and verify contend for HBM "
                                         "(batch-1 replay only)")


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
    requests:
        Simulate this many requests, cycling through the trace's (``None``: the trace's,
        once).  They are read a block at a time, never all built at once.
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
    requests: int | None = None
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
        if self.requests is not None and self.requests < 1:
            raise InputError(f"must be >= 1, not {self.requests}", field="requests")
        if self.serving is not None:
            self.serving.check()
        if self.pipelined and self.serving is not None:
            raise InputError("pipelined speculation is modelled in the batch-1 replay only, "
                             "not in a serving run", field="pipelined")
