"""The keys a trace's ``metadata`` may hold, and their checks (docs/trace-schema.md).

Metadata is provenance plus the few settings the simulator reads (``target_model``,
``drafting``, ...), but it is not free-form: :data:`METADATA_KEYS` is the closed set of
keys that the generators, recorders and importers of this package write, each with the
JSON kinds its value may have.  A key outside the set is an error (a misspelt
``drafitng`` would otherwise be ignored and its default silently used), and so is a value
of the wrong kind.  ``metadata.tree`` (the static tree a synthetic trace was drawn from,
:meth:`~specaccel.workloads.tree_shapes.TreeShape.describe`) is checked key by key and
against the trace's own trees.

Names the schema layer cannot resolve (model, stack, hardware names) are checked by the
simulator's metadata check, :func:`specaccel.sim.config_check.check_trace_metadata`,
which ``specaccel trace validate`` runs too.

:func:`check_metadata` is called by
:func:`~specaccel.schema.trace_validation.validate_trace`; it is not a validator of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from specaccel.schema.errors import InputError

S, I, N, B, L, O, NULL = "string", "integer", "number", "boolean", "list", "object", "null"

#: Every metadata key and the JSON kinds of its value.  Grouped by who writes them.
METADATA_KEYS: dict[str, tuple[str, ...]] = {
    # provenance of every generated trace (workloads.presets, workloads.methods)
    "generator": (S,), "method": (S,), "preset": (S,), "seed": (I,), "source": (S,),
    "tau": (N,), "published_tau": (N, NULL), "published_alpha": (N, NULL),
    "published_speedup": (N, NULL), "calibration_scale": (N,), "assumptions": (L,),
    "acceptance_model": (O,), "tree": (O,),
    # what the simulator reads (docs/trace-schema.md) and the deployment of the source
    "target_model": (S,), "draft_model": (S,), "drafting": (S,),
    "extra_query_tokens_per_step": (I,), "hardware": (S,), "stack": (S,),
    "draft_stack": (S,), "baseline_stack": (S,), "baseline_of": (S,),
    # method-specific settings and per-step lists (workloads.method_*)
    "alpha": (N,), "alpha1": (N,), "alpha2": (N,), "alpha_median": (N,), "gamma": (I,),
    "gamma2": (I,), "draft_layers": (L,), "kv_reuse": (B,), "exit_layer": (L,),
    "step_seconds": (L,), "autoregressive_seconds": (N,), "tokens_per_step": (L,),
    "draft_passes": (L,), "draft_length": (L,), "batch_step_seconds": (L,),
    "steps_per_block": (L,), "staged_pass_seconds": (N,), "plain_draft_seconds": (N,),
    "verify_seconds": (N,), "target_token_seconds": (N,), "batch_size": (I,), "hw": (S,),
    "speedup": (N,), "commit_rule": (S,), "lossy": (B,), "threshold": (N,), "rule": (S,),
    "block_size": (I,), "gen_len": (I,), "cache": (S,), "second_stage": (S,), "ssm": (O,),
    # real-text recorders (workloads.recorder_ngram, workloads.recorder_hf)
    "policy": (O,), "models": (O,), "prompt_len": (I, S), "max_new_tokens": (I,),
    "temperature": (N,), "record_seconds": (N,), "transformers": (S,), "target": (O,),
    "draft": (O,), "generate_kwargs": (O,), "generated": (L,),
    # imported answer logs (workloads.importers); their prompt_len is a sentence
    "format": (S,), "per_step": (S,), "steps_from": (S,), "model_id": (L,),
    "turns_merged": (I,), "new_tokens_mismatch": (I,), "turns": (O,), "token_ids": (S,),
}

#: The keys of ``metadata.tree`` and their kinds.
TREE_KEYS: dict[str, tuple[str, ...]] = {
    "name": (S,), "nodes": (I,), "draft_tokens": (I,), "depth": (I,), "level_sizes": (L,),
}


#: Known keys are listed in the error of an unknown one up to this many (the top-level set
#: is too long for one line: the error points at the docs instead).
_LISTED = 12

_PHRASES = {S: "a string", I: "an integer", N: "a number", B: "true or false", L: "a list",
            O: "a JSON object", NULL: "null"}


def _kind(value: Any) -> str | None:
    """The JSON kind of `value` (NumPy scalars and arrays count as their JSON kind)."""
    if value is None:
        return NULL
    if isinstance(value, (bool, np.bool_)):
        return B
    if isinstance(value, (int, np.integer)):
        return I
    if isinstance(value, (float, np.floating)):
        return N
    if isinstance(value, str):
        return S
    if isinstance(value, (list, tuple, np.ndarray)):
        return L
    if isinstance(value, dict):
        return O
    return None


def _check_kind(value: Any, kinds: tuple[str, ...], fail: Callable[[str], None]) -> None:
    kind = _kind(value)
    ok = kind in kinds or (kind == I and N in kinds)  # an integer is a number
    if not ok:
        fail(f"must be {' or '.join(_PHRASES[k] for k in kinds)}, not {value!r}")
    if kind == N and not math.isfinite(float(value)):
        fail(f"must be a finite number, not {value!r}")


def _known(obj: dict[str, Any], known: dict[str, tuple[str, ...]], prefix: str,
           file: str | None) -> None:
    """Each key of `obj` is in `known` and its value of a kind `known` allows."""
    for key, value in obj.items():
        field = f"{prefix}.{key}"
        if key not in known:
            hint = (f"expected one of {', '.join(sorted(known))}" if len(known) <= _LISTED
                    else "docs/trace-schema.md lists the metadata keys")
            raise InputError(f"unknown key ({hint})", file=file, field=field)

        def fail(reason: str, field: str = field) -> None:
            raise InputError(reason, file=file, field=field)

        _check_kind(value, known[key], fail)


def check_metadata(metadata: Any, largest_tree: int, file: str | None = None) -> None:
    """:class:`InputError` at the first metadata key that is unknown, of the wrong kind or
    contradicts the trace.

    Parameters
    ----------
    metadata:
        The trace's metadata.
    largest_tree:
        Nodes of the trace's largest tree, which ``metadata.tree.nodes`` must equal.
    file:
        The file the trace came from, named in the error.
    """
    if not isinstance(metadata, dict):
        raise InputError(f"must be a JSON object, not {type(metadata).__name__}", file=file,
                         field="metadata")
    _known(metadata, METADATA_KEYS, "metadata", file)
    _check_values(metadata, file)
    if "tree" in metadata:
        _check_tree(metadata["tree"], largest_tree, file)


def _check_values(metadata: dict[str, Any], file: str | None) -> None:
    """The ranges of the keys whose kind alone does not make them meaningful."""
    seed = metadata.get("seed")
    if seed is not None and seed < 0:
        raise InputError(f"must be >= 0, not {seed!r}", file=file, field="metadata.seed")
    for key in ("published_tau", "tau"):  # committed tokens per step: at least the bonus
        tau = metadata.get(key)
        if tau is not None and tau < 1:
            raise InputError(f"must be >= 1 (tokens per step), not {tau!r}", file=file,
                             field=f"metadata.{key}")


def _check_tree(tree: dict[str, Any], largest_tree: int, file: str | None) -> None:
    """``metadata.tree``: known keys, and sizes that agree with each other and the trace."""
    _known(tree, TREE_KEYS, "metadata.tree", file)

    def fail(reason: str, key: str) -> None:
        raise InputError(reason, file=file, field=f"metadata.tree.{key}")

    nodes = tree.get("nodes")
    if nodes is not None and nodes != largest_tree:
        fail(f"is {nodes}, but the trace's largest tree has {largest_tree} nodes", "nodes")
    draft = tree.get("draft_tokens")
    if draft is not None and nodes is not None and draft != nodes - 1:
        fail(f"is {draft}, but a tree of {nodes} nodes drafts {nodes - 1} tokens (all but "
             "the root)", "draft_tokens")
    levels = tree.get("level_sizes")
    if levels is None:
        return
    levels = list(levels)
    if not all(_kind(v) == I and v >= 1 for v in levels):
        fail(f"must be a list of positive integers, not {levels!r}", "level_sizes")
    if nodes is not None and sum(levels) != nodes:
        fail(f"add up to {sum(levels)} nodes, not the tree's {nodes}", "level_sizes")
    depth = tree.get("depth")
    if depth is not None and len(levels) != depth + 1:
        fail(f"has {len(levels)} levels, but a tree of depth {depth} has {depth + 1}",
             "level_sizes")
