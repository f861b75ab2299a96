"""JSON Lines interchange of traces: a header line, then one line per request.

Line 1 (header)::

    {"format": "specaccel-trace", "schema_version": 1, "verification": "greedy",
     "metadata": {...}, "requests": 2}

Lines 2.. (one per request)::

    {"request_id": "r00000", "prompt_len": 120, "arrival_s": 0.0,
     "steps": [{"parent": [-1, 0, 0], "token": [...], "draft_prob": [...],
                "target_prob": [...], "target_token": [...], "uniform": [null, 0.25, 0.9],
                "recorded_accepted": -1}, ...]}

NaN uniforms are written as ``null``; floats are written with Python's shortest
round-trip representation, so a round trip is exact.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import (
    NODE_DTYPES,
    NODE_FIELDS,
    SCHEMA_VERSION,
    Trace,
    metadata_json_default,
)

FORMAT_NAME = "specaccel-trace"

#: The keys each kind of line may hold; any other key is an error (a misspelt optional
#: key would otherwise be ignored and its value silently replaced by the default).
HEADER_KEYS = frozenset({"format", "schema_version", "verification", "metadata", "requests"})
REQUEST_KEYS = frozenset({"request_id", "prompt_len", "arrival_s", "steps"})
STEP_KEYS = frozenset({*NODE_FIELDS, "recorded_accepted"})

_INT32_MAX = 2**31 - 1
_INT64_MAX = 2**63 - 1


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values.tolist()]


def write_jsonl(trace: Trace, path: str | Path) -> None:
    """Write `trace` (assumed valid) as JSON Lines to `path`."""
    nodes = trace.nodes
    off = np.asarray(trace.step_node_offsets, dtype=np.int64)
    header = {
        "format": FORMAT_NAME,
        "schema_version": trace.schema_version,
        "verification": trace.verification,
        "metadata": trace.metadata,
        "requests": trace.n_requests,
    }
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(header, sort_keys=True, allow_nan=False, default=metadata_json_default))
        fh.write("\n")
        for r in range(trace.n_requests):
            steps = []
            for s in trace.request_steps(r):
                a, b = int(off[s]), int(off[s + 1])
                step: dict[str, Any] = {}
                for name in NODE_FIELDS:
                    col = nodes[name][a:b]
                    step[name] = _floats(col) if col.dtype.kind == "f" else col.tolist()
                step["recorded_accepted"] = int(trace.recorded_accepted[s])
                steps.append(step)
            line = {
                "request_id": trace.request_id[r],
                "prompt_len": int(trace.prompt_len[r]),
                "arrival_s": float(trace.arrival_s[r]),
                "steps": steps,
            }
            fh.write(json.dumps(line, allow_nan=False))
            fh.write("\n")


def read_jsonl(path: str | Path) -> Trace:
    """Read a trace written by :func:`write_jsonl` (not validated here: the caller does)."""
    file = str(path)
    with open(file, encoding="utf-8", errors="strict") as fh:
        try:
            lines = fh.read().splitlines()
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text ({exc.reason})", file=file) from None
    if not any(text.strip() for text in lines):
        raise InputError("empty file: expected a header line", file=file)
    # One record per line: a blank line is no record, so it is an error like any other
    # line that is not a JSON object (a hand edit that split or lost a request).
    blank = next((n for n, text in enumerate(lines) if not text.strip()), None)
    if blank is not None:
        raise InputError("blank line (a trace holds one JSON record per line)", file=file,
                         where=(f"line {blank + 1}",))
    records = [(n + 1, text) for n, text in enumerate(lines)]
    # Every line is JSON before anything is counted: a garbage line is reported as
    # bad JSON on its line, not as a request-count mismatch.
    parsed = [(lineno, _parse(text, file, lineno)) for lineno, text in records]
    lineno, header = parsed[0]
    where = (f"line {lineno}",)
    _known_keys(header, HEADER_KEYS, file, where)
    if header.get("format") != FORMAT_NAME:
        raise InputError(f"not a specaccel trace header (format is {header.get('format')!r}, "
                         f"expected {FORMAT_NAME!r})", file=file, where=where, field="format")
    version = header.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise InputError(f"unknown schema version {version!r} (this reader knows "
                         f"{SCHEMA_VERSION})", file=file, where=where, field="schema_version")
    verification = header.get("verification")
    if not isinstance(verification, str):
        raise InputError("must be a string", file=file, where=where, field="verification")
    metadata = header.get("metadata", {})
    if not isinstance(metadata, dict):
        raise InputError("must be a JSON object", file=file, where=where, field="metadata")
    declared = header.get("requests")
    if declared is not None and (not isinstance(declared, int) or isinstance(declared, bool)):
        raise InputError(f"must be an integer, not {declared!r}", file=file, where=where,
                         field="requests")
    if declared is not None and declared != len(records) - 1:
        raise InputError(f"header declares {declared} requests but the file has "
                         f"{len(records) - 1} (truncated?)", file=file, where=where,
                         field="requests")

    request_id: list[str] = []
    prompt: list[int] = []
    arrival: list[float] = []
    steps_per_req: list[int] = []
    sizes: list[int] = []
    recorded: list[int] = []
    columns: dict[str, list[Any]] = {name: [] for name in NODE_FIELDS}
    step_where: list[tuple[str, ...]] = []
    for lineno, req in parsed[1:]:
        where = (f"line {lineno}",)
        _known_keys(req, REQUEST_KEYS, file, where)
        rid = req.get("request_id")
        if not isinstance(rid, str):
            raise InputError("must be a string", file=file, where=where, field="request_id")
        where = (f"line {lineno}", f"request {rid}")
        request_id.append(rid)
        prompt.append(_number(req, "prompt_len", int, file, where))
        arrival.append(_number(req, "arrival_s", float, file, where))
        steps = req.get("steps")
        if not isinstance(steps, list):
            raise InputError("must be a list of steps", file=file, where=where, field="steps")
        steps_per_req.append(len(steps))
        for k, step in enumerate(steps):
            swhere = (*where, f"step {k}")
            if not isinstance(step, dict):
                raise InputError("step must be a JSON object", file=file, where=swhere,
                                 field="steps")
            _known_keys(step, STEP_KEYS, file, swhere)
            size = None
            for name in NODE_FIELDS:
                values = step.get(name)
                if not isinstance(values, list):
                    raise InputError("must be a list", file=file, where=swhere, field=name)
                if size is None:
                    size = len(values)
                elif len(values) != size:
                    raise InputError(f"has {len(values)} entries, but parent has {size}",
                                     file=file, where=swhere, field=name)
                columns[name].append(values)
            sizes.append(int(size or 0))
            step_where.append(swhere)
            rec = step.get("recorded_accepted", -1)
            if not isinstance(rec, int) or isinstance(rec, bool):
                raise InputError("must be an integer", file=file, where=swhere,
                                 field="recorded_accepted")
            if not -1 <= rec <= _INT32_MAX:
                raise InputError(f"must be -1 or an accepted length, not {rec}", file=file,
                                 where=swhere, field="recorded_accepted")
            recorded.append(rec)

    step_off = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=step_off[1:])

    def locate(j: int) -> tuple[str, ...]:
        """Where flat node `j` is in the file: line, request, step and node."""
        s = int(np.searchsorted(step_off, j, side="right")) - 1
        return (*step_where[s], f"node {j - int(step_off[s])}")

    nodes: dict[str, np.ndarray] = {}
    for name in NODE_FIELDS:
        flat = [v for step in columns[name] for v in step]
        nodes[name] = _to_array(flat, name, file, locate)
    req_off = np.zeros(len(steps_per_req) + 1, dtype=np.int64)
    np.cumsum(steps_per_req, out=req_off[1:])
    return Trace(
        request_id=request_id,
        prompt_len=np.asarray(prompt, dtype=np.int64),
        arrival_s=np.asarray(arrival, dtype=np.float64),
        request_step_offsets=req_off,
        step_node_offsets=step_off,
        nodes=nodes,
        recorded_accepted=np.asarray(recorded, dtype=np.int32),
        verification=verification,
        metadata=metadata,
        schema_version=SCHEMA_VERSION,
    )


def _parse(text: str, file: str, lineno: int) -> dict[str, Any]:
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise InputError(f"invalid JSON ({exc})", file=file, where=(f"line {lineno}",)) from None
    except RecursionError:
        raise InputError("invalid JSON (nested too deeply)", file=file,
                         where=(f"line {lineno}",)) from None
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", file=file, where=(f"line {lineno}",))
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (a missing value is null)")


def _known_keys(obj: dict[str, Any], known: frozenset[str], file: str,
                where: tuple[str, ...]) -> None:
    unknown = sorted(set(obj) - known)
    if unknown:
        raise InputError(f"unknown key (expected one of {', '.join(sorted(known))})",
                         file=file, where=where, field=unknown[0])


def _number(obj: dict[str, Any], key: str, kind: type, file: str,
            where: tuple[str, ...]) -> Any:
    value = obj.get(key)
    ok = isinstance(value, int) if kind is int else isinstance(value, (int, float))
    if not ok or isinstance(value, bool):
        raise InputError(f"must be a{'n integer' if kind is int else ' number'}, not {value!r}",
                         file=file, where=where, field=key)
    if kind is int and not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise InputError(f"{value} does not fit in a 64-bit integer", file=file, where=where,
                         field=key)
    if kind is float and (isinstance(value, int) and abs(value) > 2**1023
                          or not math.isfinite(float(value))):
        raise InputError(f"must be a finite number, not {value!r}", file=file, where=where,
                         field=key)
    return kind(value)


def _to_array(flat: list[Any], name: str, file: str,
              locate: Callable[[int], tuple[str, ...]]) -> np.ndarray:
    """The flat column `name` as an array; a wrong value is reported where `locate` says."""
    dtype = np.dtype(NODE_DTYPES[name])
    if dtype.kind == "i":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
            j = next(j for j, v in enumerate(flat)
                     if not isinstance(v, int) or isinstance(v, bool))
            raise InputError(f"values must be integers, found {flat[j]!r}", file=file,
                             where=locate(j), field=name)
        info = np.iinfo(dtype)
        bad = next((j for j, v in enumerate(flat) if not info.min <= v <= info.max), None)
        if bad is not None:
            raise InputError(f"{flat[bad]} does not fit in a {info.bits}-bit integer",
                             file=file, where=locate(bad), field=name)
        return np.asarray(flat, dtype=dtype).reshape(-1)
    bad = next((j for j, v in enumerate(flat) if v is not None and (
        not isinstance(v, (int, float)) or isinstance(v, bool))), None)
    if bad is not None:
        raise InputError(f"values must be numbers or null, found {flat[bad]!r}", file=file,
                         where=locate(bad), field=name)
    bad = next((j for j, v in enumerate(flat) if v is not None and (
        isinstance(v, int) and abs(v) > 2**1023 or not math.isfinite(v))), None)
    if bad is not None:
        raise InputError(f"values must be finite numbers, found {flat[bad]!r}", file=file,
                         where=locate(bad), field=name)
    return np.asarray([math.nan if v is None else v for v in flat], dtype=dtype).reshape(-1)
