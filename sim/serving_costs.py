"""The serving loop's cost-model calls: argument ranges checked once, passes unchecked.

The serving loop (:mod:`.serving`) costs every batch step with a few small cost-model
calls.  :func:`specaccel.models.cost.pass_costs` checks every argument of every call,
which costs far more than the compiled evaluation of a handful of passes.  Every value a
serving call can pass is bounded by the trace's step arrays and the serving
configuration, so :func:`check_serving_pass_ranges` checks those bounds once, before the
run, against the same limits (:mod:`specaccel.models.cost.pass_args`), and the loop then
calls :class:`~specaccel.models.cost.pass_evaluator.PackedPassCosts`, the same kernel on
specs packed once and without per-call checks (:func:`batch_pricer`).

What a serving call passes, and why it stays in range:

* target verify pass: ``tokens`` = the largest tree of the rows (a tree size),
  ``context`` = the rows' mean context, ``batch`` = the rows (at most
  ``min(max_batch, requests)``);
* draft pass of slot ``d``: ``tokens`` = the widest frontier of the rows using it (a
  draft-pass token count), ``context`` = the rows' mean of ``context`` plus the slot's
  context offset (``d - 1`` per tree level);
* prefill chunks of one step: ``tokens`` = the chunks' mean (each part of one
  request's prompt, or of its context when it is recomputed after a pre-emption),
  ``context`` = the chunks' mean part already prefilled, ``batch`` = the chunks
  (`StepPricer.prefill`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from specaccel.models.cost.drafting import DraftPasses
from specaccel.models.cost.pass_args import MAX_BATCH, MAX_ROW_TOKENS
from specaccel.models.cost.pass_evaluator import PackedPassCosts
from specaccel.schema.errors import InputError
from specaccel.sim.step_costs import StepCosts


def _check_counts(name: str, values: np.ndarray, field: str) -> None:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return
    if not np.all(np.isfinite(v)) or v.min() < 1 or np.any(v != np.floor(v)):
        raise InputError(f"every {name} must be an integer >= 1", field=field)
    if v.max() > MAX_ROW_TOKENS:
        raise InputError(f"every {name} must be <= {MAX_ROW_TOKENS}, not {v.max():g}",
                         field=field)


def check_serving_pass_ranges(costs: StepCosts, draft: DraftPasses, max_batch: int) -> None:
    """:class:`InputError` unless every pass the serving loop can cost is in the range
    :func:`~specaccel.models.cost.pass_costs` accepts (module docstring).

    Parameters
    ----------
    costs:
        The run's step costs (tree sizes, contexts, prompt lengths, requests).
    draft:
        The steps' draft passes (:meth:`~specaccel.models.cost.drafting.DraftingMode.draft_passes`).
    max_batch:
        The serving configuration's batch limit.
    """
    _check_counts("tree size", costs.n_nodes, "n_nodes")
    _check_counts("draft-pass token count", draft.tokens[draft.used], "draft_tokens")
    context = np.asarray(costs.context, dtype=np.float64)
    prompt = np.asarray(costs.prompt_len, dtype=np.float64)
    for name, v in (("context", context), ("prompt_len", prompt)):
        if v.size and (not np.all(np.isfinite(v)) or v.min() < 0):
            raise InputError("every value must be finite and >= 0", field=name)
    reach = float(draft.context_offset.max(initial=0))
    longest = max(float(context.max(initial=0.0)) + reach,
                  float(prompt.max(initial=0.0)))
    if longest > MAX_ROW_TOKENS:
        raise InputError(f"a pass would attend to {longest:g} tokens per row; at most "
                         f"{MAX_ROW_TOKENS} are allowed", field="context")
    rows = min(int(max_batch), costs.n_requests)
    if rows > MAX_BATCH:
        raise InputError(f"a batch step could hold {rows} rows; at most {MAX_BATCH} are "
                         "allowed", field="batch")


def batch_pricer(inp: Any, draft_passes: DraftPasses) -> Any:
    """The step-cost door the serving loop prices its batch steps with.

    With the default kernel (:func:`specaccel.models.cost.pass_costs`): the ranges are
    checked here once (:func:`check_serving_pass_ranges`), then the door's kernel is
    :class:`~specaccel.models.cost.pass_evaluator.PackedPassCosts` on the same specs (no
    per-call checks, the numbers of ``pass_costs`` bit for bit; pass terms stay).  A
    cost function the caller gave is kept as it is.
    """
    pricer = inp.pricer
    if not pricer.default_kernel:
        return pricer
    check_serving_pass_ranges(inp.costs, draft_passes, inp.serving.max_batch)
    return pricer.with_kernel(PackedPassCosts(pricer.hw, [pricer.target.model,
                                                          pricer.draft_model]))
