"""The decode-trace schema: the bottom package that every other layer may import.

It holds the trace types (:class:`Trace`, :class:`DraftTree`), their validation, their
file formats (Parquet and JSONL), :class:`InputError` (the error every layer raises for
bad input), the typed configuration fields (:mod:`.config_fields`) and the generic
registry (:mod:`.registry`).  It imports nothing else of specaccel, so the golden
model, the cost models and the workload generators can all build on it without a cycle.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "InputError": "errors", "NODE_DTYPES": "trace", "NODE_FIELDS": "trace",
    "SCHEMA_VERSION": "trace", "VERIFICATION_MODES": "trace", "DraftTree": "trace",
    "Trace": "trace", "TRACE_SUFFIXES": "trace_io", "read_trace": "trace_io",
    "write_trace": "trace_io", "validate_trace": "trace_validation",
}
"""Where each public name lives; the module loads on first use, so that importing a
light part of the package (``errors``, ``config_fields``) loads neither NumPy nor
PyArrow (the command line starts in a fraction of a second)."""

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'specaccel.schema' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"specaccel.schema.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
