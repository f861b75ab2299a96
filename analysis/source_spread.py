"""How far a source's own numbers move when it measures them again.

Spec-Bench published its A100 leaderboard twice for the same methods, targets and
questions: in April 2024 (64 CPU cores, PyTorch 2.0.1) and in April 2025 (96 CPU cores,
PyTorch 2.5.1), each on one A100-80GB.  ``specbench-remeasured.csv`` holds every method
the two tables share, as they print it.  The change between the two is what a different
host and software release do to a published speedup; a model's error on these rows is
read against it (`specaccel validate`, end-to-end section).
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass
from importlib import resources
from typing import Any

from specaccel.schema.errors import InputError

REMEASURED = "specbench-remeasured.csv"
COLUMNS = ("target", "method", "tau_2024", "speedup_2024", "tau_2025", "speedup_2025")


@dataclass(frozen=True)
class Remeasured:
    """One method on one target in both tables."""

    target: str
    method: str
    tau_2024: float
    speedup_2024: float
    tau_2025: float
    speedup_2025: float

    @property
    def change(self) -> float:
        """Relative change of the speedup, 2025 over 2024."""
        return self.speedup_2025 / self.speedup_2024 - 1.0


def parse_remeasured(text: str, *, file: str = REMEASURED) -> list[Remeasured]:
    """The rows of a re-measurement table (``#`` lines are its provenance)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise InputError(f"columns must be {', '.join(COLUMNS)}", file=file, field="header")
    out = []
    for i, r in enumerate(reader, start=2):
        values = {}
        for key in COLUMNS[2:]:
            try:
                v = float(r[key])
            except (TypeError, ValueError):
                raise InputError(f"row {i}: not a number: {r[key]!r}", file=file,
                                 field=key) from None
            if not (math.isfinite(v) and v > 0):
                raise InputError(f"row {i}: must be a positive number, got {r[key]}",
                                 file=file, field=key)
            values[key] = v
        out.append(Remeasured(target=r["target"], method=r["method"], **values))
    if not out:
        raise InputError("no rows", file=file, field="rows")
    return out


def load_remeasured() -> list[Remeasured]:
    """The bundled Spec-Bench re-measurement."""
    return parse_remeasured(resources.files("specaccel.data").joinpath(REMEASURED).read_text())


def spread(rows: list[Remeasured]) -> dict[str, Any]:
    """Rows, how many changed, median and worst |change| (and the worst row's name)."""
    changes = [abs(r.change) for r in rows]
    worst = max(rows, key=lambda r: abs(r.change))
    return {"rows": len(rows), "changed": sum(c > 0 for c in changes),
            "median_abs_change": statistics.median(changes),
            "worst_abs_change": abs(worst.change),
            "worst_row": f"{worst.method} on {worst.target}"}


def spread_line(s: dict[str, Any]) -> str:
    """The spread as one line of the end-to-end section."""
    return (f"Spec-Bench against itself (its A100 table measured again on another machine "
            f"and PyTorch, 2024-04 and 2025-04): {s['rows']} rows ({s['changed']} changed), "
            f"median |change| {s['median_abs_change'] * 100:.1f}%, worst "
            f"{s['worst_abs_change'] * 100:.1f}% ({s['worst_row']})")
