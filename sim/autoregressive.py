"""The autoregressive baseline: the same requests decoded one token per step.

The baseline is not a formula: it is a trace of root-only trees (one target decode pass,
one committed token per step) that commits exactly the tokens the speculative trace
commits, request by request, replayed by the same simulator with drafting off.
The committed tokens come from the golden outcome of the speculative trace.
"""

from __future__ import annotations

import numpy as np

from specaccel.models.golden import TraceOutcome, verify_trace
from specaccel.schema.trace import NODE_DTYPES, Trace


def committed_token_stream(trace: Trace, outcome: TraceOutcome) -> np.ndarray:
    """All committed tokens of the trace in order: per step its accepted drafts, then its bonus."""
    off = np.asarray(trace.step_node_offsets, dtype=np.int64)
    accepted = np.asarray(outcome.accepted, dtype=np.int64)
    committed = accepted + 1
    n_steps = accepted.shape[0]
    out_off = np.zeros(n_steps + 1, dtype=np.int64)
    np.cumsum(committed, out=out_off[1:])
    out = np.empty(int(out_off[-1]), dtype=np.int64)
    # Path slot j of step s sits at off[s] + k; k = 0 is the root (not committed again).
    node_step = np.repeat(np.arange(n_steps, dtype=np.int64), np.diff(off))
    k = np.arange(off[-1], dtype=np.int64) - off[node_step]
    take = (k >= 1) & (k <= accepted[node_step])
    src = off[node_step[take]] + np.asarray(outcome.path_flat, dtype=np.int64)[take]
    out[out_off[node_step[take]] + k[take] - 1] = np.asarray(trace.nodes["token"])[src]
    out[out_off[:-1] + accepted] = np.asarray(outcome.bonus_token, dtype=np.int64)
    return out


def autoregressive_trace(trace: Trace, outcome: TraceOutcome | None = None) -> Trace:
    """The plain-decoding trace that commits the same tokens as `trace`, request by request.

    Every step is a root-only tree: the root is the last committed token and its
    ``target_token`` is the next committed token, so the golden model accepts 0 drafts
    and commits 1 token per step.  Metadata gets ``drafting = "none"`` and loses
    ``extra_query_tokens_per_step``: plain decoding runs one token per pass, not the
    speculative method's riders (lookahead decoding's Jacobi window).
    """
    if outcome is None:
        outcome = verify_trace(trace)
    committed = np.asarray(outcome.accepted, dtype=np.int64) + 1
    stream = committed_token_stream(trace, outcome)
    req_off = np.asarray(trace.request_step_offsets, dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(committed, dtype=np.int64)])
    ar_req_off = cum[req_off]                    # token offsets = AR step offsets
    n = stream.shape[0]
    roots = np.empty(n, dtype=np.int64)
    if n:
        roots[1:] = stream[:-1]
        starts = ar_req_off[:-1][np.diff(ar_req_off) > 0]
        first_spec_step = req_off[:-1][np.diff(ar_req_off) > 0]
        roots[starts] = np.asarray(trace.nodes["token"])[trace.step_node_offsets[first_spec_step]]
    nodes = {
        "parent": np.full(n, -1, dtype=NODE_DTYPES["parent"]),
        "token": roots,
        "draft_prob": np.ones(n, dtype=NODE_DTYPES["draft_prob"]),
        "target_prob": np.ones(n, dtype=NODE_DTYPES["target_prob"]),
        "target_token": stream.astype(NODE_DTYPES["target_token"]),
        "uniform": np.full(n, np.nan, dtype=NODE_DTYPES["uniform"]),
    }
    metadata = dict(trace.metadata)
    metadata["drafting"] = "none"
    metadata.pop("extra_query_tokens_per_step", None)
    metadata["baseline_of"] = str(trace.metadata.get("preset", "trace"))
    return Trace(
        request_id=list(trace.request_id),
        prompt_len=np.asarray(trace.prompt_len, dtype=np.int64).copy(),
        arrival_s=np.asarray(trace.arrival_s, dtype=np.float64).copy(),
        request_step_offsets=ar_req_off,
        step_node_offsets=np.arange(n + 1, dtype=np.int64),
        nodes=nodes,
        recorded_accepted=np.full(n, -1, dtype=np.int32),
        verification=trace.verification,
        metadata=metadata,
    )
