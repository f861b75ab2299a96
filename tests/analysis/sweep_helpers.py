"""Shared helpers for the sweep tests: a deterministic toy evaluator and spec writers.

Imported by name (conftest.py puts this folder on sys.path) so that worker processes
can unpickle :func:`toy_evaluate`.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

TOY_METRICS = ("tokens_per_s", "energy_per_token_j", "area_mm2", "power_w")


def toy_evaluate(point: dict[str, Any], settings) -> dict[str, Any]:
    """A deterministic stand-in for the simulator: smooth functions of three axes."""
    r = float(point.get("array_rows", 64))
    s = float(point.get("sram_mib", 96))
    c = float(point.get("clock_hz", 1.2e9)) / 1e9
    steps = float(point.get("steps", 100))
    values = {
        "tokens_per_s": r * c * (1.0 + 0.001 * s) * (1.0 + 1.0 / steps),
        "energy_per_token_j": 0.01 * c * c + 1e-4 * s,
        "area_mm2": 0.5 * r + 0.3 * s,
        "power_w": 10.0 * c + 0.01 * r,
    }
    out = {m: values.get(m, math.nan) for m in settings.metrics}
    out["evaluator"] = "toy"
    return out


def write_spec(tmp_path: Path, body: str, name: str = "spec.toml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body).lstrip())
    return p


TOY_SPEC = """
[sweep]
name = "toy"
metrics = ["tokens_per_s", "energy_per_token_j", "area_mm2", "power_w"]
batch_size = 5

[axes]
array_rows = [16, 32, 64, 128]
sram_mib = { start = 96, stop = 160, step = 32 }
clock_hz = [0.8e9, 1.2e9]

[[workloads]]
preset = "eagle-vicuna-7b-mtbench"
requests = 2
steps = 10

[constraints]
area_mm2 = 60
"""
