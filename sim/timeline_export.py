"""Export a replay timeline as Chrome / Perfetto trace-event JSON.

Open the file in https://ui.perfetto.dev or chrome://tracing: one track per hardware
unit, one slice per stage (draft, tree, target, verify) named by its role, with the
request and step in its arguments.
"""

from __future__ import annotations

from typing import Any

from specaccel.sim.accelerator_model import ROLES


def chrome_trace(timeline: list[tuple[str, str, int, int, float, float]], *,
                 hardware: str = "") -> dict[str, Any]:
    """Trace-event JSON (``{"traceEvents": [...]}``) of `timeline` records.

    Times are in microseconds, as the format requires; each unit is a thread of one
    process named after the hardware.
    """
    units: dict[str, int] = {}
    events: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": 0, "tid": 0,
         "args": {"name": hardware or "simulated hardware"}},
    ]
    slices = []
    for role, unit, request, step, start, end in timeline:
        tid = units.setdefault(unit, len(units) + 1)
        slices.append({
            "name": role, "cat": "stage", "ph": "X", "pid": 0, "tid": tid,
            "ts": start * 1e6, "dur": (end - start) * 1e6,
            "args": {"request": request, "step": step},
        })
    for unit, tid in units.items():
        events.append({"name": "thread_name", "ph": "M", "pid": 0, "tid": tid,
                       "args": {"name": unit}})
    return {"traceEvents": events + slices, "displayTimeUnit": "ms",
            "otherData": {"roles": list(ROLES)}}
