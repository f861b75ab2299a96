"""Testbench side: the workload trace a verify bench replays, chosen by its environment.

The pytest runner passes ``TRACE_PRESET`` (empty: no replay), ``TRACE_REQUESTS`` and
``TRACE_STEPS``; every step of that preset's trace becomes one vector of `model`, whose
expected response comes from ``models.golden`` like every other vector.
"""

from __future__ import annotations

import os


def replay_vectors_from_env(model, *, mode: str, seed: int) -> list:
    """`model.trace_vector` of every step of the requested trace ([] when none is asked)."""
    preset = os.environ.get("TRACE_PRESET")
    if not preset:
        return []
    from specaccel.workloads.presets import generate_trace

    trace = generate_trace(preset, n_requests=int(os.environ["TRACE_REQUESTS"]),
                           steps_per_request=int(os.environ["TRACE_STEPS"]), seed=seed)
    assert trace.verification == mode, (trace.verification, mode)
    return [model.trace_vector(trace.step(s)) for s in range(trace.n_steps)]
