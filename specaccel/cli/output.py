"""Printing a command's result: one JSON object with ``--json``, human text otherwise."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from specaccel.analysis.text_table import fmt_cell as _fmt  # noqa: F401 (tests use it)
from specaccel.analysis.text_table import table  # noqa: F401 (the commands use it)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def to_json(obj: Any) -> str:
    return json.dumps(_jsonable(obj), indent=2, sort_keys=False)


def add_warning(result: dict[str, Any], code: str, message: str) -> None:
    """Flag a number that was computed but is physically impossible (docs/strictness.md).

    The flag goes into the result (``result["warnings"]``: code and message, so ``--json``
    readers see it); :func:`emit` ends the human output with one ``warning:`` line each.
    """
    result.setdefault("warnings", []).append({"code": code, "message": message})


def emit(as_json: bool, result: dict[str, Any], human: Callable[[dict[str, Any]], str]) -> None:
    """Print `result` as one JSON object (``--json``) or as `human(result)`."""
    if as_json:
        sys.stdout.write(to_json(result) + "\n")
    else:
        sys.stdout.write(human(result).rstrip("\n") + "\n")
        for w in result.get("warnings", []):
            sys.stdout.write(f"warning: {w['message']}\n")

