"""Decode traces: the schema, file I/O, validation, tree shapes and synthetic presets.

Public API::

    read_trace(path) -> Trace                 # .parquet or .jsonl, validated
    write_trace(trace, path) -> None
    validate_trace(trace, file=None) -> None  # raises InputError at the first problem
    generate_trace(preset, *, n_requests=None, steps_per_request=None, seed=0) -> Trace
    get_preset(name) -> Preset;  list_presets() -> list[str];  DEFAULT_PRESET
    chain(gamma), k_ary(k, depth), k_by_depth(k, depth), from_parents(parent),
    from_choices(choices), eagle_default_tree(), medusa_default_tree() -> TreeShape
"""

from specaccel.workloads.acceptance_model import AcceptanceModel, calibrate
from specaccel.workloads.presets import (
    DEFAULT_PRESET,
    Preset,
    generate_trace,
    get_preset,
    list_presets,
)
from specaccel.workloads.synthetic import PromptLengths, synthesize_trace
from specaccel.workloads.trace import (
    NODE_FIELDS,
    SCHEMA_VERSION,
    VERIFICATION_MODES,
    DraftTree,
    Trace,
)
from specaccel.workloads.trace_io import TRACE_SUFFIXES, read_trace, write_trace
from specaccel.workloads.trace_validation import validate_trace
from specaccel.workloads.tree_shapes import (
    TreeShape,
    chain,
    eagle_default_tree,
    from_choices,
    from_parents,
    k_ary,
    k_by_depth,
    medusa_default_tree,
)

__all__ = [
    "DEFAULT_PRESET", "NODE_FIELDS", "SCHEMA_VERSION", "TRACE_SUFFIXES", "VERIFICATION_MODES",
    "AcceptanceModel", "DraftTree", "Preset", "PromptLengths", "Trace", "TreeShape",
    "calibrate", "chain", "eagle_default_tree", "from_choices", "from_parents",
    "generate_trace", "get_preset", "k_ary", "k_by_depth", "list_presets",
    "medusa_default_tree", "read_trace", "synthesize_trace", "validate_trace", "write_trace",
]
