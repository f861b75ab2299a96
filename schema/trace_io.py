"""Reading and writing trace files; the format is chosen by the file suffix.

``.parquet`` — the storage format (:mod:`.trace_parquet`); ``.jsonl`` — interchange
(:mod:`.trace_jsonl`).  Both carry the schema version; readers reject unknown versions
and validate what they read (:func:`~specaccel.schema.trace_validation.validate_trace`),
so a trace returned by :func:`read_trace` is always valid.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from specaccel.schema.errors import InputError
from specaccel.schema.output_path import atomic_target
from specaccel.schema.trace import Trace
from specaccel.schema.trace_jsonl import read_jsonl, write_jsonl
from specaccel.schema.trace_parquet import read_parquet, write_parquet
from specaccel.schema.trace_validation import validate_trace

TRACE_SUFFIXES = (".parquet", ".jsonl")

_READERS: dict[str, Callable[[Path], Trace]] = {".parquet": read_parquet, ".jsonl": read_jsonl}
_WRITERS: dict[str, Callable[[Trace, Path], None]] = {
    ".parquet": write_parquet, ".jsonl": write_jsonl,
}


def trace_format(path: str | Path) -> str:
    """The suffix that selects the format of `path` (``.parquet`` or ``.jsonl``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in TRACE_SUFFIXES:
        raise InputError(f"unknown trace file type {suffix or '(no suffix)'!r}; use "
                         f"{' or '.join(TRACE_SUFFIXES)}", file=str(path))
    return suffix


def read_trace(path: str | Path) -> Trace:
    """Read and validate a trace file.

    Raises
    ------
    InputError
        If the file is missing, unreadable, corrupt, of an unknown schema version or
        invalid; the message names the file, the place in it and the field.
    """
    p = Path(path)
    reader = _READERS[trace_format(p)]
    if not p.exists():
        raise InputError("no such file", file=str(p))
    if p.is_dir():
        raise InputError("is a directory, not a trace file", file=str(p))
    try:
        trace = reader(p)
    except PermissionError:
        raise InputError("permission denied", file=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", file=str(p)) from None
    validate_trace(trace, file=str(p))
    return trace


def write_trace(trace: Trace, path: str | Path, *, option: str | None = None) -> None:
    """Validate `trace` and write it to `path` in the format of its suffix, atomically
    (a temporary file beside it, renamed over it when complete); a write error names
    `option`, the command-line option that gave the path."""
    p = Path(path)
    writer = _WRITERS[trace_format(p)]
    validate_trace(trace)
    with atomic_target(p, option=option) as tmp:
        writer(trace, tmp)
