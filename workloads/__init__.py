"""Decode traces: the schema, file I/O, validation, tree shapes and synthetic presets.

Public API::

    read_trace(path) -> Trace                 # .parquet or .jsonl, validated
    write_trace(trace, path) -> None
    validate_trace(trace, file=None) -> None  # raises InputError at the first problem
    generate_trace(preset, *, n_requests=None, steps_per_request=None, seed=0, tau=None)
    get_preset(name) -> WorkloadPreset;  list_presets() -> calibrated names;  DEFAULT_PRESET
    METHODS, PRESETS (registries), get_method(name) -> Method
    chain(gamma), k_ary(k, depth), k_by_depth(k, depth), from_parents(parent),
    from_choices(choices), eagle_default_tree(), medusa_default_tree() -> TreeShape
    train_models(...) -> RealTextModels; record_preset(models, name, RecordConfig(...))
    import_answers(path, fmt) -> Trace; imported_summary(trace) -> dict  # real logs
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "NODE_FIELDS": "specaccel.schema.trace",
    "SCHEMA_VERSION": "specaccel.schema.trace",
    "VERIFICATION_MODES": "specaccel.schema.trace",
    "DraftTree": "specaccel.schema.trace",
    "Trace": "specaccel.schema.trace",
    "TRACE_SUFFIXES": "specaccel.schema.trace_io",
    "read_trace": "specaccel.schema.trace_io",
    "write_trace": "specaccel.schema.trace_io",
    "validate_trace": "specaccel.schema.trace_validation",
    "AcceptanceModel": "specaccel.workloads.acceptance_model",
    "calibrate": "specaccel.workloads.acceptance_model",
    "import_answers": "specaccel.workloads.importers",
    "imported_summary": "specaccel.workloads.importers",
    "METHODS": "specaccel.workloads.methods",
    "PRESETS": "specaccel.workloads.methods",
    "Method": "specaccel.workloads.methods",
    "WorkloadPreset": "specaccel.workloads.methods",
    "get_method": "specaccel.workloads.methods",
    "DEFAULT_PRESET": "specaccel.workloads.presets",
    "Preset": "specaccel.workloads.presets",
    "generate_trace": "specaccel.workloads.presets",
    "get_preset": "specaccel.workloads.presets",
    "list_presets": "specaccel.workloads.presets",
    "record_preset": "specaccel.workloads.real_text_presets",
    "RecordConfig": "specaccel.workloads.recorder_ngram",
    "record_trace": "specaccel.workloads.recorder_ngram",
    "train_models": "specaccel.workloads.recorder_ngram",
    "PromptLengths": "specaccel.workloads.synthetic",
    "synthesize_trace": "specaccel.workloads.synthetic",
    "TreeShape": "specaccel.workloads.tree_shapes",
    "chain": "specaccel.workloads.tree_shapes",
    "eagle_default_tree": "specaccel.workloads.tree_shapes",
    "from_choices": "specaccel.workloads.tree_shapes",
    "from_parents": "specaccel.workloads.tree_shapes",
    "k_ary": "specaccel.workloads.tree_shapes",
    "k_by_depth": "specaccel.workloads.tree_shapes",
    "medusa_default_tree": "specaccel.workloads.tree_shapes",
}
"""Where each public name lives; its module loads on first use, so that importing a light
part of the package (``workload_options`` for the command line's options) loads neither
the generators nor the presets."""

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'specaccel.workloads' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
