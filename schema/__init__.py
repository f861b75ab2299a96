"""The decode-trace schema: the bottom package that every other layer may import.

It holds the trace types (:class:`Trace`, :class:`DraftTree`), their validation, their
file formats (Parquet and JSONL) and :class:`InputError`, the error every layer raises
for bad input.  It imports nothing else of specaccel, so the golden model, the cost
models and the workload generators can all build on it without a cycle.
"""

from specaccel.schema.errors import InputError
from specaccel.schema.trace import (
    NODE_DTYPES,
    NODE_FIELDS,
    SCHEMA_VERSION,
    VERIFICATION_MODES,
    DraftTree,
    Trace,
)
from specaccel.schema.trace_io import TRACE_SUFFIXES, read_trace, write_trace
from specaccel.schema.trace_validation import validate_trace

__all__ = [
    "NODE_DTYPES", "NODE_FIELDS", "SCHEMA_VERSION", "TRACE_SUFFIXES", "VERIFICATION_MODES",
    "DraftTree", "InputError", "Trace", "read_trace", "validate_trace", "write_trace",
]
