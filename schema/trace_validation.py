"""Validation of a :class:`~specaccel.schema.trace.Trace`: one clear error, first bad place.

:func:`validate_trace` checks, vectorised over all nodes (a million-node trace takes
milliseconds):

* the schema version and verification mode are known;
* column lengths agree (requests, steps, nodes, every node column);
* the trace has at least one request;
* offsets start at 0, never decrease and end at the column lengths; every request has
  a step and every step a node (the root);
* request ids are unique; prompt lengths are positive; arrival times finite and in
  ``[0, MAX_ARRIVAL_S]``;
* per node: ``parent`` is -1 at the root and in ``[0, i)`` elsewhere; token ids
  (``token``, ``target_token``) are >= 0; probabilities are
  finite and in [0, 1]; in stochastic traces every non-root node has a uniform in
  [0, 1) and ``draft_prob > 0``; uniforms, where present, are in [0, 1);
* recorded accepted lengths are -1 (not recorded) or in ``[0, nodes − 1]``;
* the metadata holds only known keys, each of its kind, and ``metadata.tree`` agrees
  with the trees (:mod:`~specaccel.schema.trace_metadata`).

The error is an :class:`~specaccel.schema.errors.InputError` naming the file, ``request <id>``,
``step <k>`` (within the request), the field and the reason.  Among node-level problems
the one at the lowest node index is reported.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from specaccel.schema.errors import InputError
from specaccel.schema.trace import (
    MAX_ARRIVAL_S,
    NODE_FIELDS,
    SCHEMA_VERSION,
    VERIFICATION_MODES,
    Trace,
)
from specaccel.schema.trace_metadata import check_metadata


def validate_trace(trace: Trace, file: str | None = None) -> None:
    """Raise :class:`InputError` at the first problem of `trace`; return None if it is valid.

    Parameters
    ----------
    trace:
        The trace to check.
    file:
        The file it came from, named in the error message.
    """

    def fail(reason: str, field: str | None, where: tuple[str, ...] = ()) -> None:
        raise InputError(reason, file=file, where=where, field=field)

    if trace.schema_version != SCHEMA_VERSION:
        fail(f"unknown schema version {trace.schema_version!r} (this reader knows "
             f"{SCHEMA_VERSION})", "schema_version")
    if trace.verification not in VERIFICATION_MODES:
        fail(f"unknown verification mode {trace.verification!r}; expected one of "
             f"{', '.join(VERIFICATION_MODES)}", "verification")
    _check_structure(trace, fail)
    _check_requests(trace, fail)
    _check_nodes(trace, file)
    _check_recorded(trace, file)
    largest = int(np.diff(np.asarray(trace.step_node_offsets)).max())
    check_metadata(trace.metadata, largest, file)
    extra_query_tokens(trace, file)


def extra_query_tokens(trace: Trace, file: str | None = None) -> int:
    """Query tokens per step that ride in the target's pass without being draft-tree nodes.

    Lookahead decoding runs its Jacobi window (``W (N - 1) - 1`` tokens) in the same pass
    as the verification branch; the trace says so in
    ``metadata["extra_query_tokens_per_step"]`` (0 when absent).  They cost compute and
    KV reads like any query token, but are not drafts, so verification ignores them.

    Raises
    ------
    InputError
        The value is not a non-negative integer (naming `file` and the metadata field).
    """
    value = trace.metadata.get("extra_query_tokens_per_step", 0)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"must be a non-negative integer, not {value!r}", file=file,
                         field="metadata.extra_query_tokens_per_step")
    return int(value)


# ---------------------------------------------------------------------------- structure
def _check_structure(trace: Trace, fail: Callable[..., None]) -> None:
    n_req = len(trace.request_id)
    if n_req == 0:
        fail("the trace has no requests (an empty trace has nothing to replay)", "requests")
    for name in ("prompt_len", "arrival_s"):
        got = np.shape(getattr(trace, name))
        if got != (n_req,):
            fail(f"has shape {got}, but there are {n_req} requests", name)
    if len(set(trace.request_id)) != n_req:
        seen: set[str] = set()
        for rid in trace.request_id:
            if rid in seen:
                fail(f"request id {rid!r} appears more than once", "request_id")
            seen.add(rid)

    req_off = np.asarray(trace.request_step_offsets)
    _check_offsets(req_off, n_req + 1, "request_step_offsets", "requests + 1", fail)
    empty_req = np.flatnonzero(np.diff(req_off) == 0)
    if empty_req.size:
        r = int(empty_req[0])
        fail("request has no decode steps", "request_step_offsets",
             (f"request {trace.request_id[r]}",))
    n_steps = int(req_off[-1])
    step_off = np.asarray(trace.step_node_offsets)
    _check_offsets(step_off, n_steps + 1, "step_node_offsets", "steps + 1", fail)
    empty = np.flatnonzero(np.diff(step_off) == 0)
    if empty.size:
        fail("step has no nodes (it needs at least the root)", "step_node_offsets",
             _step_where(trace, int(empty[0])))
    n_nodes = int(step_off[-1])
    for name in NODE_FIELDS:
        col = trace.nodes.get(name)
        if col is None:
            fail("node column is missing", name)
        if np.ndim(col) != 1 or len(col) != n_nodes:
            fail(f"has {len(col) if np.ndim(col) == 1 else np.shape(col)} entries, but the "
                 f"step offsets give {n_nodes} nodes", name)
    if np.shape(trace.recorded_accepted) != (n_steps,):
        fail(f"has shape {np.shape(trace.recorded_accepted)}, but there are {n_steps} steps",
             "recorded_accepted")


def _check_offsets(off: np.ndarray, length: int, name: str, what: str,
                   fail: Callable[..., None]) -> None:
    if off.ndim != 1 or off.shape[0] != length:
        fail(f"has {off.shape[0] if off.ndim == 1 else off.shape} entries, expected {length} "
             f"({what})", name)
    if off[0] != 0:
        fail(f"must start at 0, not {int(off[0])}", name)
    down = np.flatnonzero(np.diff(off) < 0)
    if down.size:
        k = int(down[0])
        fail(f"offsets must not decrease: entry {k + 1} is {int(off[k + 1])} after "
             f"{int(off[k])}", name)


def _check_requests(trace: Trace, fail: Callable[..., None]) -> None:
    prompt = np.asarray(trace.prompt_len)
    bad = np.flatnonzero(~(prompt > 0))
    if bad.size:
        r = int(bad[0])
        fail(f"prompt length must be positive, not {prompt[r].item()!r}", "prompt_len",
             (f"request {trace.request_id[r]}",))
    arrival = np.asarray(trace.arrival_s, dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(arrival) & (arrival >= 0)))
    if bad.size:
        r = int(bad[0])
        fail(f"arrival time must be finite and >= 0, not {float(arrival[r])!r}", "arrival_s",
             (f"request {trace.request_id[r]}",))
    late = np.flatnonzero(arrival > MAX_ARRIVAL_S)
    if late.size:
        r = int(late[0])
        fail(f"arrival time must be <= {MAX_ARRIVAL_S:g} s (about 32 years: the simulator's "
             f"clock would not resolve its latencies), not {float(arrival[r])!r}",
             "arrival_s", (f"request {trace.request_id[r]}",))


# ---------------------------------------------------------------------------- location
def _step_where(trace: Trace, s: int) -> tuple[str, ...]:
    """``("request <id>", "step <k>")`` of global step `s` (k counts within the request)."""
    r = int(np.searchsorted(trace.request_step_offsets, s, side="right")) - 1
    k = s - int(trace.request_step_offsets[r])
    return (f"request {trace.request_id[r]}", f"step {k}")


def _node_where(trace: Trace, g: int) -> tuple[tuple[str, ...], int]:
    s = int(np.searchsorted(trace.step_node_offsets, g, side="right")) - 1
    return _step_where(trace, s), g - int(trace.step_node_offsets[s])


# ---------------------------------------------------------------------------- nodes
def _check_nodes(trace: Trace, file: str | None) -> None:
    n = trace.n_nodes
    if n == 0:
        return
    off = np.asarray(trace.step_node_offsets, dtype=np.int64)
    sizes = np.diff(off)
    start = np.repeat(off[:-1], sizes)
    local = np.arange(n, dtype=np.int64) - start
    is_root = local == 0
    nodes = trace.nodes
    parent = np.asarray(nodes["parent"], dtype=np.int64)
    stochastic = trace.verification == "stochastic"

    checks: list[tuple[np.ndarray, str, Callable[[int, int], str]]] = []
    checks.append((is_root & (parent != -1), "parent",
                   lambda g, i: f"parent[0] must be -1 (the root), not {int(parent[g])}"))
    checks.append((~is_root & ((parent < 0) | (parent >= local)), "parent",
                   lambda g, i: f"parent[{i}] must be in [0, {i}), not {int(parent[g])}"))
    for name in ("token", "target_token"):  # token ids index a vocabulary: never negative
        ids = np.asarray(nodes[name], dtype=np.int64)
        checks.append((ids < 0, name,
                       lambda g, i, ids=ids, name=name:
                       f"{name}[{i}] = {int(ids[g])} is not a token id (must be >= 0)"))
    for name in ("draft_prob", "target_prob"):
        col = np.asarray(nodes[name], dtype=np.float64)
        checks.append((np.isnan(col), name,
                       lambda g, i, name=name: f"{name}[{i}] is NaN"))
        checks.append((~np.isnan(col) & ~((col >= 0.0) & (col <= 1.0)), name,
                       lambda g, i, col=col, name=name:
                       f"{name}[{i}] = {float(col[g])!r} is not a probability in [0, 1]"))
    uniform = np.asarray(nodes["uniform"], dtype=np.float64)
    present = ~np.isnan(uniform)
    checks.append((present & ~((uniform >= 0.0) & (uniform < 1.0)), "uniform",
                   lambda g, i: f"uniform[{i}] = {float(uniform[g])!r} is not in [0, 1)"))
    if stochastic:
        q = np.asarray(nodes["draft_prob"], dtype=np.float64)
        checks.append((~is_root & ~present, "uniform",
                       lambda g, i: f"uniform[{i}] is missing (NaN); stochastic verification "
                                    "needs a uniform at every non-root node"))
        checks.append((~is_root & (q == 0.0), "draft_prob",
                       lambda g, i: f"draft_prob[{i}] is 0; stochastic verification needs "
                                    "q > 0 at every non-root node"))

    first = n
    found: tuple[str, Callable[[int, int], str]] | None = None
    for mask, field, reason in checks:  # the lowest node index wins; ties by check order
        hit = np.flatnonzero(mask[:first])
        if hit.size:
            first = int(hit[0])
            found = (field, reason)
    if found is not None:
        where, i = _node_where(trace, first)
        raise InputError(found[1](first, i), file=file, where=where, field=found[0])


def _check_recorded(trace: Trace, file: str | None) -> None:
    rec = np.asarray(trace.recorded_accepted, dtype=np.int64)
    limit = np.diff(np.asarray(trace.step_node_offsets, dtype=np.int64)) - 1
    bad = np.flatnonzero((rec < -1) | (rec > limit))
    if bad.size:
        s = int(bad[0])
        raise InputError(
            f"recorded accepted length must be -1 (none) or in [0, {int(limit[s])}], "
            f"not {int(rec[s])}", file=file, where=_step_where(trace, s),
            field="recorded_accepted")
