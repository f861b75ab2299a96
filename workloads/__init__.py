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

from specaccel.schema.trace import (
    NODE_FIELDS,
    SCHEMA_VERSION,
    VERIFICATION_MODES,
    DraftTree,
    Trace,
)
from specaccel.schema.trace_io import TRACE_SUFFIXES, read_trace, write_trace
from specaccel.schema.trace_validation import validate_trace
from specaccel.workloads.acceptance_model import AcceptanceModel, calibrate
from specaccel.workloads.importers import import_answers, imported_summary
from specaccel.workloads.methods import (
    METHODS,
    PRESETS,
    Method,
    WorkloadPreset,
    get_method,
)
from specaccel.workloads.presets import (
    DEFAULT_PRESET,
    Preset,
    generate_trace,
    get_preset,
    list_presets,
)
from specaccel.workloads.real_text_presets import record_preset
from specaccel.workloads.recorder_ngram import RecordConfig, record_trace, train_models
from specaccel.workloads.synthetic import PromptLengths, synthesize_trace
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
    "METHODS", "PRESETS", "Method", "WorkloadPreset", "get_method",
    "RecordConfig", "import_answers", "imported_summary", "record_preset",
    "record_trace", "train_models",
    "DEFAULT_PRESET", "NODE_FIELDS", "SCHEMA_VERSION", "TRACE_SUFFIXES", "VERIFICATION_MODES",
    "AcceptanceModel", "DraftTree", "Preset", "PromptLengths", "Trace", "TreeShape",
    "calibrate", "chain", "eagle_default_tree", "from_choices", "from_parents",
    "generate_trace", "get_preset", "k_ary", "k_by_depth", "list_presets",
    "medusa_default_tree", "read_trace", "synthesize_trace", "validate_trace", "write_trace",
]
