"""Characterisation of the RTL units: cycles by simulation, area and Fmax by synthesis.

``characterise(units, nodes)`` builds every (unit, N), *measures* latency and initiation
interval in the Amaranth simulator (back-to-back requests, always-ready output, counting
cycles — not a formula), synthesises the unit in the pin-light harness for iCE40 HX8K and
returns one row per (unit, N) with the columns of :data:`COLUMNS`.  ``write_csv`` stores
them; the bundled table (``specaccel/data/rtl-characterisation.csv``, read by
:mod:`specaccel.models.cost.rtl_table`) is what the simulator and cost models use by
default (:func:`specaccel.models.cost.rtl_table.request_cycles`).

What a unit's cycles mean is declared by its model (``measure_cycles`` in
``specaccel.hdl.units.<name>.model``): full-size requests (``n = N``) back to back, latency
from a request's handshake (a tree's *first* record for the node-serial verify unit; a
request's *last* beat for ``argmax_sample``) to its response, II the steady interval.
Every measured latency must equal the unit's declared latency law, which is written
beside it (``latency_law``) with the unit's ``role``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.models.cost.rtl_table import COLUMNS, load_characterisation
from specaccel.schema import progress

__all__ = ["COLUMNS", "characterise", "fit_lut_exponent", "load_characterisation",
           "measure_cycles", "write_csv"]


def measure_cycles(name: str, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                   seed: int = 0, **extra: Any) -> tuple[int, float]:
    """(latency_cycles, ii_cycles) of registry unit `name`, measured by simulation with the
    workload its model declares (``model.measure_cycles``)."""
    from specaccel.hdl.units import get_unit

    unit = get_unit(name)
    component = unit.build(nodes=nodes, token_width=token_width, prob_width=prob_width,
                           **extra)
    return unit.model.measure_cycles(component, np.random.default_rng(seed))


# ---- the sweep ---------------------------------------------------------------------------

def characterise(units: Iterable[str], nodes: Iterable[int], *, token_width: int = 16,
                 prob_width: int = 12, device: str = "ice40-hx8k", seed: int = 1,
                 build_root: str | Path | None = None,
                 report: Callable[[str], None] | None = None,
                 on_row: Callable[[list[dict[str, Any]]], None] | None = None,
                 **extra: Any) -> list[dict[str, Any]]:
    """One row per (unit, N): measured cycles plus synthesis results.

    Parameters
    ----------
    units, nodes : iterables
        Registry unit names and tree sizes N.
    token_width, prob_width : int
        Shared unit parameters.
    device : str
        Synthesis target (Fmax only for ``"ice40-hx8k"``).
    seed : int
        nextpnr seed.
    build_root : path, optional
        Keep each run's files under ``build_root/<unit>-n<N>/``.
    report : callable, optional
        Called with one line per step (the CLI prints it on stderr).  Progress for a bar
        (the designs done of the total, the current design and stage) goes through
        :mod:`specaccel.schema.progress`.
    on_row : callable, optional
        Called with the rows so far after each (unit, N) (the CLI rewrites its CSV, so a
        long sweep that is interrupted keeps what it finished).
    **extra
        Unit-specific parameters (e.g. ``mode="stochastic"``), given to every unit.
    """
    from specaccel.hdl.synthesis import synthesise_unit
    from specaccel.hdl.units import get_unit

    units, nodes = list(units), list(nodes)
    progress.expect(len(units) * len(nodes))
    rows = []
    for name in units:
        unit = get_unit(name)
        law = unit.law(**extra)
        for n in nodes:
            design = f"{name} N={n}"
            progress.stage(f"{design}: simulating")
            if report:
                report(f"characterise {design}: simulating")
            latency, ii = measure_cycles(name, nodes=n, token_width=token_width,
                                         prob_width=prob_width, **extra)
            if latency != law.cycles(nodes=n):
                raise RuntimeError(f"{design}: measured latency {latency} cycles, but its "
                                   f"declared law {law.text()!r} says {law.cycles(nodes=n)}")
            if report:
                report(f"characterise {design}: synthesising for {device}")
            bdir = None if build_root is None else Path(build_root) / f"{name}-n{n}"
            with progress.within(design):
                s = synthesise_unit(name, nodes=n, token_width=token_width,
                                    prob_width=prob_width, device=device, build_dir=bdir,
                                    seed=seed, **extra)
            rows.append({
                "unit": name, "role": unit.role, "nodes": n, "token_width": token_width,
                "prob_width": prob_width, "latency_law": law.text(),
                "latency_cycles": latency, "ii_cycles": ii,
                "fmax_mhz": None if s["fmax_mhz"] is None else round(s["fmax_mhz"], 2),
                "luts": s["luts"], "ffs": s["ffs"], "carry": s["carry"], "brams": s["brams"],
                "device": device, "tool_versions": s["tool_versions"],
            })
            if on_row:
                on_row(rows)
            progress.advance()
            if report:
                fmax = "-" if rows[-1]["fmax_mhz"] is None else f"{rows[-1]['fmax_mhz']:.1f}"
                if s.get("pnr_error"):
                    report(f"characterise {design}: no Fmax: {s['pnr_error']}")
                report(f"characterise {design}: {s['luts']} LUTs, {s['ffs']} FFs, "
                       f"Fmax {fmax} MHz, latency {latency}, II {ii:g}")
    return rows


def fit_lut_exponent(rows: Iterable[dict[str, Any]], unit: str) -> float | None:
    """Least-squares slope of log(LUTs) against log(N) for `unit` (None if < 2 sizes)."""
    pts = sorted((int(r["nodes"]), int(r["luts"])) for r in rows
                 if r["unit"] == unit and int(r["luts"]) > 0)
    if len({n for n, _ in pts}) < 2:
        return None
    x = np.log([n for n, _ in pts])
    y = np.log([v for _, v in pts])
    return float(np.polyfit(x, y, 1)[0])


# ---- CSV ----------------------------------------------------------------------------------

def write_csv(rows: Iterable[dict[str, Any]], path: str | Path | None = None,
              header_note: str | None = None) -> str:
    """Write `rows` as CSV (to `path` if given) and return the text.

    `header_note` is written as leading ``#`` comment lines (e.g. the producing command).
    """
    buf = io.StringIO()
    if header_note:
        for line in header_note.splitlines():
            buf.write(f"# {line}\n")
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text)
    return text
