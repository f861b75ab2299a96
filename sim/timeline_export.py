"""Export a replay timeline as Chrome / Perfetto trace-event JSON.

Open the file in https://ui.perfetto.dev or chrome://tracing: process 0 has one track
per hardware unit, one slice per stage (draft, tree, target, verify) named by its role,
with the request and step in its arguments (request -1: a batch step serving many
requests, ``step`` is then the batch-step number).  When per-request times are given,
process 1 has one track per request with its spans: ``queued`` (arrival → admission),
``prefill`` (admission → first token) and ``decode`` (first token → last token); a
batch-1 replay has one ``decode`` span per request.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from specaccel.sim.accelerator_model import ROLES


def _span(name: str, tid: int, a: float, b: float, request: int) -> dict[str, Any]:
    return {"name": name, "cat": "request", "ph": "X", "pid": 1, "tid": tid,
            "ts": a * 1e6, "dur": (b - a) * 1e6, "args": {"request": request}}


def request_spans(request_times: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Per-request slices (process 1, one thread per request) from arrival / start /
    first-token / end times."""
    out: list[dict[str, Any]] = []
    arrival = request_times["arrival"].tolist()
    start = request_times["start"].tolist()
    first = request_times["first_token"].tolist()
    end = request_times["end"].tolist()
    for r in range(len(arrival)):
        tid = r + 1
        if start[r] > arrival[r]:
            out.append(_span("queued", tid, arrival[r], start[r], r))
        if math.isnan(first[r]):
            out.append(_span("decode", tid, start[r], end[r], r))
            continue
        if first[r] > start[r]:
            out.append(_span("prefill", tid, start[r], first[r], r))
        if end[r] > first[r]:
            out.append(_span("decode", tid, first[r], end[r], r))
    return out


def chrome_trace(timeline: list[tuple[str, str, int, int, float, float]], *,
                 hardware: str = "",
                 request_times: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Trace-event JSON (``{"traceEvents": [...]}``) of `timeline` records.

    Times are in microseconds, as the format requires; each unit is a thread of process
    0 named after the hardware; with `request_times`, each request a thread of process 1.
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
    if request_times is not None:
        events.append({"name": "process_name", "ph": "M", "pid": 1, "tid": 0,
                       "args": {"name": "requests"}})
        for r in range(len(request_times["arrival"])):
            events.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": r + 1,
                           "args": {"name": f"request {r}"}})
        slices += request_spans(request_times)
    return {"traceEvents": events + slices, "displayTimeUnit": "ms",
            "otherData": {"roles": list(ROLES)}}
