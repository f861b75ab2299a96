"""Checking and normalising the arguments of a forward pass (shared by both evaluators)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specaccel.schema.errors import InputError

#: Phase codes used in the packed (Numba) evaluator.
PHASES: dict[str, int] = {"prefill": 0, "decode": 1, "verify": 2}

#: Largest tokens per row (query tokens, or tokens already in the KV cache) a pass may
#: have: 2**24 (16.8M) is above every published context window, so anything larger is
#: a typo, not a design question.
MAX_ROW_TOKENS: int = 1 << 24
#: Largest batch (rows) of one pass.
MAX_BATCH: int = 1 << 20
#: Largest tensor-parallel degree.
MAX_TP: int = 1 << 12


@dataclass(frozen=True)
class PassArgs:
    """One forward pass: `tokens` query tokens per row, mean context `context`, `batch`
    rows, tensor-parallel degree `tp`, `layers` decoder layers evaluated; `vocab_parallel`:
    under tensor parallelism the LM head is split over the vocabulary (its logits then
    all-gathered), else every device holds the whole LM head (as gpt-fast does)."""

    tokens: int
    context: float
    batch: int
    tp: int
    phase: str
    layers: int
    tree: bool
    vocab_parallel: bool = True


def _positive_int(value: object, field: str, minimum: int = 1,
                  maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"must be an integer, not {value!r}", field=field)
    if value < minimum:
        raise InputError(f"must be >= {minimum}, not {value}", field=field)
    if maximum is not None and value > maximum:
        raise InputError(f"must be <= {maximum}, not {value}", field=field)
    return int(value)


def check_pass_args(
    n_layers: int,
    *,
    tokens: int,
    context: int | float | Sequence[int],
    batch: int = 1,
    tp: int = 1,
    phase: str = "decode",
    layers: int | None = None,
    tree: bool = True,
    vocab_parallel: bool = True,
) -> PassArgs:
    """Validate pass arguments (InputError naming the field) and normalise them.

    `context` may be one length for every row or a sequence of per-row lengths (then
    `batch` is its length).  Costs depend on the per-row contexts only through their
    sum, so the mean is kept.
    """
    tok = _positive_int(tokens, "tokens", maximum=MAX_ROW_TOKENS)
    b = _positive_int(batch, "batch", maximum=MAX_BATCH)
    if isinstance(context, (Sequence, np.ndarray)) and not isinstance(context, str):
        ctx = np.asarray(context, dtype=float)
        if ctx.ndim != 1 or ctx.size == 0:
            raise InputError("per-row contexts must be a non-empty list", field="context")
        if batch not in (1, ctx.size):
            raise InputError(f"batch {batch} does not match {ctx.size} per-row contexts",
                             field="batch")
        b = int(ctx.size)
    else:
        if isinstance(context, bool) or not isinstance(context, (int, float, np.number)):
            raise InputError(f"must be a number, not {context!r}", field="context")
        ctx = np.asarray([float(context)])
    if not np.all(np.isfinite(ctx)) or np.any(ctx < 0):
        raise InputError("must be finite and >= 0", field="context")
    if np.any(ctx > MAX_ROW_TOKENS):
        raise InputError(f"must be <= {MAX_ROW_TOKENS}, not {ctx.max():.0f}", field="context")
    if phase not in PHASES:
        raise InputError(f"unknown phase {phase!r}; choose one of {', '.join(PHASES)}",
                         field="phase")
    nl = n_layers if layers is None else _positive_int(layers, "layers", 0, n_layers)
    return PassArgs(tok, float(ctx.mean()), b, _positive_int(tp, "tp", maximum=MAX_TP), phase,
                    nl, bool(tree), bool(vocab_parallel))
