"""The SimPy discrete-event simulator of speculative decoding on an accelerator.

Pipeline: the step-cost door (:mod:`.pricing`: every pass costed once, vectorised, into
:class:`StepCosts`) → the run's :class:`StepInput` (:mod:`.step_input`) → an engine of
:mod:`.engines` (the SimPy replay of :mod:`.simpy_replay` on the units and memory of
:mod:`.accelerator_model`, the serving loop, pipelined speculation, or a fast path when
nothing is contended), which returns a :class:`ReplayLog` (:mod:`.log`) →
:mod:`.metrics` (:class:`SimResult`).  :mod:`.autoregressive` builds the plain-decoding
baseline trace; :mod:`.simulation` runs it all.

The names below load their module on first use, so that importing a light module of the
package (:mod:`.options`, say, for a command line's choices) does not load the rest.  No
name is also the name of a submodule: importing the submodule would rebind it (so the
replay engine ``replay`` lives in :mod:`.simpy_replay`).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "autoregressive_trace": "autoregressive", "committed_token_stream": "autoregressive",
    "ENGINES": "engines", "choose_engine": "engines", "fast_replay": "fast_path",
    "ReplayLog": "log", "METRICS": "metrics", "Metric": "metrics", "SimResult": "result",
    "build_result": "result", "ENGINE_CHOICES": "options", "ServingConfig": "options",
    "SimOptions": "options", "StepPricer": "pricing", "compute_step_costs": "pricing",
    "replay": "simpy_replay", "fast_path_applicable": "engines", "resolve_specs": "simulation",
    "resolve_deployments": "simulation", "check_run": "simulation",
    "simulate": "simulation", "simulate_named": "simulation", "StepCosts": "step_costs",
    "StepInput": "step_input",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'specaccel.sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"specaccel.sim.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
