"""The systolic-array model against SCALE-Sim, from the stored table.

``specaccel/data/array-scalesim.csv`` holds SCALE-Sim's cycles for a grid of GEMMs of
decode, verify and prefill passes (M 1-512, N and K 512-16384) on arrays of 32x32 to
128x128 in the ``os``, ``ws`` and ``is`` dataflows, one array, ideal memory (SCALE-Sim's
CALC bandwidth mode).  It is made by ``tests/cost/scalesim_reference.py`` (which says how
large GEMMs are run: whole, or on a sample of their folds scaled by the fold ratio) and
names the SCALE-Sim version of every row.  `array_validation_rows` puts the model's
cycles (`systolic_array.gemm_cycles`, evaluated now) next to them; nothing in the model
was fitted to the table, so every row is a prediction.
"""

from __future__ import annotations

import csv
import io
import statistics
from importlib import resources
from typing import Any

from .systolic_array import DATAFLOWS, gemm_cycles

TABLE = "array-scalesim.csv"


def _stored_rows() -> list[dict[str, str]]:
    text = resources.files("specaccel.data").joinpath(TABLE).read_text()
    return list(csv.DictReader(io.StringIO(text)))


def array_validation_rows() -> list[dict[str, Any]]:
    """One row per (GEMM, array, dataflow) of the stored SCALE-Sim table.

    Keys: ``label``, ``m``, ``n``, ``k``, ``rows``, ``cols``, ``dataflow``,
    ``scalesim_cycles``, ``specaccel_cycles``, ``error`` (signed, relative to SCALE-Sim),
    ``kind`` (``"prediction"``: no row was used to fit anything), ``run`` (``"whole"`` or
    ``"fold-sampled"``: how SCALE-Sim ran it) and ``scalesim_version``.
    """
    out = []
    for r in _stored_rows():
        m, n, k = int(r["m"]), int(r["n"]), int(r["k"])
        rows, cols = int(r["rows"]), int(r["cols"])
        ours = gemm_cycles(rows, cols, r["dataflow"], m, n, k).cycles
        ref = float(r["scalesim_cycles"])
        out.append({
            "label": r["label"], "m": m, "n": n, "k": k, "rows": rows, "cols": cols,
            "dataflow": r["dataflow"], "scalesim_cycles": ref, "specaccel_cycles": ours,
            "error": (ours - ref) / ref, "kind": "prediction", "run": r["run"],
            "scalesim_version": r["scalesim_version"],
        })
    return out


def array_validation_summary(rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Median and worst |error| over all rows and per dataflow, with row counts."""
    rows = array_validation_rows() if rows is None else rows

    def stats(sel: list[dict[str, Any]]) -> dict[str, Any]:
        errs = [abs(r["error"]) for r in sel]
        return {"rows": len(sel), "median_abs_error": statistics.median(errs) if errs else None,
                "worst_abs_error": max(errs) if errs else None}

    return {"all": stats(rows),
            **{df: stats([r for r in rows if r["dataflow"] == df]) for df in DATAFLOWS},
            "scalesim_versions": sorted({r["scalesim_version"] for r in rows})}
