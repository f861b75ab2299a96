"""The SimPy discrete-event simulator of speculative decoding on an accelerator.

Pipeline: :mod:`.step_costs` (every pass costed once, vectorised) →
:mod:`.accelerator_model` (units and memory as SimPy resources) → :mod:`.replay`
(request processes; :mod:`.fast_path` computes the same log vectorised when nothing is
contended) → :mod:`.metrics` (:class:`SimResult`).  :mod:`.autoregressive`
builds the plain-decoding baseline trace; :mod:`.simulation` runs it all.
"""

from specaccel.sim.autoregressive import autoregressive_trace, committed_token_stream
from specaccel.sim.fast_path import fast_replay
from specaccel.sim.metrics import SimResult, build_result
from specaccel.sim.replay import ReplayLog, replay
from specaccel.sim.simulation import (
    fast_path_applicable,
    resolve_specs,
    simulate,
    simulate_named,
)
from specaccel.sim.step_costs import StepCosts, compute_step_costs

__all__ = [
    "ReplayLog", "SimResult", "StepCosts", "autoregressive_trace", "build_result",
    "committed_token_stream", "compute_step_costs", "fast_path_applicable", "fast_replay",
    "replay", "resolve_specs",
    "simulate", "simulate_named",
]
