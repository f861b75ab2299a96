"""Parquet storage of traces: one row per decode step, list columns for the node fields.

Layout (schema version :data:`~specaccel.schema.trace.SCHEMA_VERSION`):

=====================  ==================  ==========================================
column                 type                meaning
=====================  ==================  ==========================================
``request_id``         string              the request (rows of a request are adjacent)
``prompt_len``         int64               repeated on every row of the request
``arrival_s``          float64             repeated on every row of the request
``step``               int32               step index within the request (0, 1, ...)
``recorded_accepted``  int32               −1 unless imported from a real log
``parent`` ...         large_list<...>     one list per node field (NODE_FIELDS)
=====================  ==================  ==========================================

The file describes itself through the Parquet key-value metadata:
``specaccel.schema_version``, ``specaccel.verification`` and ``specaccel.metadata``
(the trace metadata as JSON).  NaN uniforms are stored as NaN (not null), so a round
trip is bit-exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from specaccel.schema.errors import InputError
from specaccel.schema.trace import (
    NODE_DTYPES,
    NODE_FIELDS,
    SCHEMA_VERSION,
    Trace,
    metadata_json_default,
)

KEY_VERSION = b"specaccel.schema_version"
KEY_VERIFICATION = b"specaccel.verification"
KEY_METADATA = b"specaccel.metadata"

_STEP_COLUMNS: dict[str, Any] = {
    "request_id": pa.string(),
    "prompt_len": pa.int64(),
    "arrival_s": pa.float64(),
    "step": pa.int32(),
    "recorded_accepted": pa.int32(),
}


def write_parquet(trace: Trace, path: str | Path) -> None:
    """Write `trace` (assumed valid) to a Parquet file at `path`."""
    req_off = np.asarray(trace.request_step_offsets, dtype=np.int64)
    steps_per_req = np.diff(req_off)
    step_req = np.repeat(np.arange(trace.n_requests), steps_per_req)
    step_in_req = np.arange(trace.n_steps, dtype=np.int64) - np.repeat(req_off[:-1], steps_per_req)
    ids = np.asarray(trace.request_id, dtype=object)
    offsets = pa.array(np.asarray(trace.step_node_offsets, dtype=np.int64), pa.int64())
    columns: dict[str, pa.Array] = {
        "request_id": pa.array(ids[step_req], pa.string()),
        "prompt_len": pa.array(np.asarray(trace.prompt_len, np.int64)[step_req]),
        "arrival_s": pa.array(np.asarray(trace.arrival_s, np.float64)[step_req]),
        "step": pa.array(step_in_req.astype(np.int32)),
        "recorded_accepted": pa.array(np.asarray(trace.recorded_accepted, np.int32)),
    }
    for name in NODE_FIELDS:
        values = pa.array(np.asarray(trace.nodes[name], dtype=NODE_DTYPES[name]),
                          from_pandas=False)
        columns[name] = pa.LargeListArray.from_arrays(offsets, values)
    table = pa.table(columns)
    table = table.replace_schema_metadata({
        KEY_VERSION: str(trace.schema_version).encode(),
        KEY_VERIFICATION: trace.verification.encode(),
        KEY_METADATA: json.dumps(trace.metadata, sort_keys=True, allow_nan=False,
                                 default=metadata_json_default).encode(),
    })
    pq.write_table(table, str(path), compression="zstd")


def read_parquet(path: str | Path) -> Trace:
    """Read a trace written by :func:`write_parquet` (not validated here: the caller does)."""
    file = str(path)
    try:
        pf = pq.ParquetFile(file)
        meta = pf.schema_arrow.metadata or {}
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({_first_line(exc)})", file=file) from None
    if KEY_VERSION not in meta:
        raise InputError("not a specaccel trace: no schema version in the Parquet metadata",
                         file=file, field="schema_version")
    raw_version = meta[KEY_VERSION].decode(errors="replace")
    try:
        version = int(raw_version)
    except ValueError:
        version = -1
    if version != SCHEMA_VERSION:
        raise InputError(f"unknown schema version {raw_version!r} (this reader knows "
                         f"{SCHEMA_VERSION})", file=file, field="schema_version")
    unknown = sorted(k for k in meta if k.startswith(b"specaccel.")
                     and k not in (KEY_VERSION, KEY_VERIFICATION, KEY_METADATA))
    if unknown:
        raise InputError("unknown key in the Parquet metadata", file=file,
                         field=unknown[0].decode(errors="replace"))
    verification = meta.get(KEY_VERIFICATION, b"").decode(errors="replace")
    try:
        metadata = json.loads(meta.get(KEY_METADATA, b"{}"), parse_constant=_no_constant)
    except RecursionError:
        raise InputError("invalid JSON (nested too deeply)", file=file,
                         field="metadata") from None
    except ValueError as exc:
        raise InputError(f"invalid JSON ({exc})", file=file, field="metadata") from None
    if not isinstance(metadata, dict):
        raise InputError("must be a JSON object", file=file, field="metadata")
    try:
        table = pf.read()
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"corrupt Parquet data ({_first_line(exc)})", file=file) from None
    return _table_to_trace(table, file, verification, metadata)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _as_dtype(values: np.ndarray, dtype: Any, file: str, field: str) -> np.ndarray:
    """`values` converted to `dtype`; integers out of its range are an error, not a wrap."""
    want = np.dtype(dtype)
    if want.kind == "i" and values.dtype.kind in "iu" and values.size:
        info = np.iinfo(want)
        lo, hi = values.min(), values.max()
        if int(lo) < info.min or int(hi) > info.max:
            bad = int(hi) if int(hi) > info.max else int(lo)
            raise InputError(f"{bad} does not fit in a {info.bits}-bit integer", file=file,
                             field=field)
    if want.kind == "i" and values.dtype.kind == "f":
        raise InputError(f"has floating-point values, expected {want.name}", file=file,
                         field=field)
    return values.astype(want, copy=False)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _column(table: pa.Table, name: str, file: str) -> pa.Array:
    if name not in table.column_names:
        raise InputError("column is missing", file=file, field=name)
    col = table.column(name).combine_chunks()
    if col.null_count:
        raise InputError("column has null values", file=file, field=name)
    return col


def _scalar(table: pa.Table, name: str, file: str) -> np.ndarray:
    col = _column(table, name, file)
    want = _STEP_COLUMNS[name]
    kind_ok = (pa.types.is_integer(col.type) if pa.types.is_integer(want)
               else pa.types.is_floating(col.type) or pa.types.is_integer(col.type))
    if not kind_ok:
        raise InputError(f"has type {col.type}, expected {want}", file=file, field=name)
    return _as_dtype(np.asarray(col.to_numpy(zero_copy_only=False)), want.to_pandas_dtype(),
                     file, name)


def _table_to_trace(table: pa.Table, file: str, verification: str,
                    metadata: dict[str, Any]) -> Trace:
    n_steps = table.num_rows
    unknown = sorted(set(table.column_names) - set(_STEP_COLUMNS) - set(NODE_FIELDS))
    if unknown:
        raise InputError(f"unknown column (expected "
                         f"{', '.join([*_STEP_COLUMNS, *NODE_FIELDS])})", file=file,
                         field=unknown[0])
    ids_col = _column(table, "request_id", file)
    if not (pa.types.is_string(ids_col.type) or pa.types.is_large_string(ids_col.type)):
        raise InputError(f"has type {ids_col.type}, expected string", file=file,
                         field="request_id")
    encoded = ids_col.dictionary_encode()
    codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    names = encoded.dictionary.to_pylist()
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if n_steps else np.zeros(0, int)
    req_off = np.append(starts, n_steps).astype(np.int64)
    request_id = [names[c] for c in codes[starts]]

    prompt = _scalar(table, "prompt_len", file)
    arrival = _scalar(table, "arrival_s", file)
    step = _scalar(table, "step", file)
    recorded = _scalar(table, "recorded_accepted", file).astype(np.int32)
    steps_per_req = np.diff(req_off)
    first_row = np.repeat(starts, steps_per_req)
    for name, col in (("prompt_len", prompt), ("arrival_s", arrival)):
        bad = np.flatnonzero(col != col[first_row])
        if bad.size:
            r = int(np.searchsorted(req_off, bad[0], side="right")) - 1
            raise InputError("differs between rows of the same request", file=file,
                             where=(f"request {request_id[r]}",), field=name)
    expect_step = np.arange(n_steps) - first_row
    bad = np.flatnonzero(step != expect_step)
    if bad.size:
        s = int(bad[0])
        r = int(np.searchsorted(req_off, s, side="right")) - 1
        raise InputError(f"is {int(step[s])}, expected {int(expect_step[s])} (a request's steps "
                         "are stored in order on adjacent rows)", file=file,
                         where=(f"request {request_id[r]}", f"row {s}"), field="step")

    nodes: dict[str, np.ndarray] = {}
    step_off: np.ndarray | None = None
    for name in NODE_FIELDS:
        col = _column(table, name, file)
        if not (pa.types.is_list(col.type) or pa.types.is_large_list(col.type)):
            raise InputError(f"has type {col.type}, expected a list column", file=file,
                             field=name)
        offsets = np.asarray(col.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
        offsets = offsets - offsets[0]
        values = col.flatten()
        if values.null_count:
            raise InputError("list column has null values", file=file, field=name)
        vt = values.type
        numeric = pa.types.is_integer(vt) or (
            pa.types.is_floating(vt) and np.dtype(NODE_DTYPES[name]).kind == "f")
        if not numeric:
            raise InputError(f"has element type {vt}, expected "
                             f"{np.dtype(NODE_DTYPES[name]).name}", file=file, field=name)
        nodes[name] = _as_dtype(np.asarray(values.to_numpy(zero_copy_only=False)),
                                NODE_DTYPES[name], file, name)
        if step_off is None:
            step_off = offsets
        elif not np.array_equal(offsets, step_off):
            s = int(np.flatnonzero(np.diff(offsets) != np.diff(step_off))[0])
            r = int(np.searchsorted(req_off, s, side="right")) - 1
            raise InputError(
                f"has {int(offsets[s + 1] - offsets[s])} entries in this step, but parent has "
                f"{int(step_off[s + 1] - step_off[s])}", file=file,
                where=(f"request {request_id[r]}", f"step {s - int(req_off[r])}"), field=name)
    assert step_off is not None
    return Trace(
        request_id=request_id,
        prompt_len=prompt[starts],
        arrival_s=arrival[starts],
        request_step_offsets=req_off,
        step_node_offsets=step_off,
        nodes=nodes,
        recorded_accepted=recorded,
        verification=verification,
        metadata=metadata,
        schema_version=SCHEMA_VERSION,
    )
