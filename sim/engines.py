"""The engines: one registry, one interface, one vocabulary.

Every engine takes a :class:`~.step_input.StepInput` and returns a
:class:`~.log.ReplayLog` (built by :class:`~.log.LogBuilder`).  An :class:`Engine`
declares its ``name`` (reported as ``SimResult.engine``), its ``kind`` —
``"event"`` (a SimPy discrete-event model, the reference) or ``"fast"`` (a vectorised
computation of the same log when nothing is contended) — which runs it serves, and, for
a fast engine, whether it is exact for an input.

A run asks for ``"event"``, ``"fast"`` or ``"auto"`` (:data:`ENGINE_CHOICES`):
:func:`choose_engine` picks the engine of that kind that serves the input (``auto``:
the fast one when it is exact and no timeline is asked for, else the event one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from specaccel.schema.errors import InputError
from specaccel.sim.fast_path import fast_replay
from specaccel.sim.log import ReplayLog
from specaccel.sim.options import ENGINE_CHOICES, ServingConfig
from specaccel.sim.pipelined import pipelined_replay
from specaccel.sim.serving import serve
from specaccel.sim.simpy_replay import replay
from specaccel.sim.static_batch import static_batch_applicable, static_batch_replay
from specaccel.sim.step_input import StepInput

ENGINE_KINDS = ("event", "fast")


def _pipelined(inp: StepInput) -> bool:
    return inp.pipelined and inp.pricer.drafting.runs_draft_model


def _batched(inp: StepInput) -> bool:
    """A serving run in which requests may share a batch step."""
    return inp.serving is not None and not inp.serving.uncontended


def _exact(inp: StepInput) -> tuple[bool, str]:
    return True, "nothing is contended"


def _static_exact(inp: StepInput) -> tuple[bool, str]:
    return static_batch_applicable(inp.costs, inp.serving, inp.kv_capacity)


@dataclass(frozen=True)
class Engine:
    """One engine (module docstring).

    Attributes
    ----------
    name:
        Reported as ``SimResult.engine``.
    kind:
        ``"event"`` or ``"fast"``.
    serves:
        Whether the engine models this kind of run.
    run:
        The engine: input → log.
    exact:
        For a run it serves, whether its numbers are the event model's, and why (not).
    help:
        One line for docs.
    """

    name: str
    kind: str
    serves: Callable[[StepInput], bool]
    run: Callable[[StepInput], ReplayLog]
    exact: Callable[[StepInput], tuple[bool, str]] = _exact
    help: str = ""


ENGINES: dict[str, Engine] = {e.name: e for e in (
    Engine("simpy-pipelined", "event", _pipelined, pipelined_replay,
           help="batch-1 replay that pre-drafts the next tree during verification"),
    Engine("simpy-serving", "event", lambda inp: inp.serving is not None, serve,
           help="the serving loop: arrivals, prefill, continuous batching, KV admission"),
    Engine("simpy", "event", lambda inp: True, replay,
           help="the batch-1 closed-loop replay, requests one after another"),
    Engine("fast", "fast", lambda inp: not _pipelined(inp) and not _batched(inp),
           fast_replay, help="the batch-1 closed loop as one compiled pass over the steps"),
    Engine("fast-static-batch", "fast", lambda inp: not _pipelined(inp) and _batched(inp),
           static_batch_replay, _static_exact,
           help="a static batch (all at 0, one batch, nothing binding), vectorised"),
)}
"""Every engine, by name; the first of a kind that serves a run is the one that runs it."""


def engine_kind(name: str) -> str:
    """``"event"`` or ``"fast"``: the kind of the engine called `name`."""
    try:
        return ENGINES[name].kind
    except KeyError:
        raise ValueError(f"unknown simulator engine {name!r}") from None


def fast_path_applicable(serving: ServingConfig | None = None, pipelined: bool = False
                         ) -> tuple[bool, str]:
    """Whether a fast engine can give the event model's answer for such a run, and why
    not, before its costs are known.

    It is exact when no two requests or passes compete for a unit, for HBM or for
    admission: the batch-1 closed-loop replay (``serving=None``), a serving run with
    ``max_batch == 1`` and no prefill, or a **static batch** (trace arrivals, no
    prefill, no overlapped micro-batches) — the last one is confirmed on the step costs
    by :func:`~.static_batch.static_batch_applicable` (every request at time 0, all in
    one batch, token budget and KV cache not binding).  Never with pipelined speculation.
    """
    if pipelined:
        return False, "pipelined speculation: the draft and the verify pass contend for HBM"
    if serving is None:
        return True, "batch-1 closed-loop replay: nothing is contended"
    if serving.uncontended:
        return True, "batch 1 without prefill: nothing is contended"
    if serving.prefill:
        return False, "prefill passes interleave with decode steps"
    if serving.overlap_draft:
        return False, "overlapped micro-batches contend for HBM"
    if serving.arrivals != "trace":
        return False, "Poisson arrivals: admission is dynamic"
    return True, "a static batch, if every request arrives at 0 and nothing binds"


def choose_engine(inp: StepInput, choice: str) -> Engine:
    """The engine that runs `inp` when the run asks for `choice` (module docstring).

    A ``ValueError`` says why when ``"fast"`` is asked for and no fast engine is exact,
    or a timeline is asked of a fast engine.
    """
    if choice not in ENGINE_CHOICES:
        raise ValueError(f"engine must be one of {ENGINE_CHOICES}, not {choice!r}")
    event = next(e for e in ENGINES.values() if e.kind == "event" and e.serves(inp))
    if choice == "event":
        return event
    ok, why = fast_path_applicable(inp.serving, _pipelined(inp))
    fast = next((e for e in ENGINES.values() if e.kind == "fast" and e.serves(inp)), None)
    if ok and fast is not None:
        ok, why = fast.exact(inp)
    if choice == "auto":
        return fast if ok and fast is not None and not inp.record_timeline else event
    if inp.record_timeline:
        raise ValueError("the fast engine records no timeline; use engine='event'")
    if not ok or fast is None:
        raise ValueError(f"the fast path is not exact for this run ({why}); "
                         "use engine='event'")
    return fast


def run_engine(inp: StepInput, choice: str) -> ReplayLog:
    """Run `inp` on the engine :func:`choose_engine` picks."""
    try:
        return choose_engine(inp, choice).run(inp)
    except InputError as exc:
        # SimPy re-raises an error of a process as a copy made from its message alone,
        # the original as its cause: raise the original, which still names its field
        cause = exc.__cause__
        if isinstance(cause, InputError) and str(cause) == str(exc):
            raise cause from None
        raise
