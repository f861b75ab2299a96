"""Characterisation of the RTL units: cycles by simulation, area and Fmax by synthesis.

``characterise(units, nodes)`` builds every (unit, N), *measures* latency and initiation
interval in the Amaranth simulator (back-to-back requests, always-ready output, counting
cycles — not a formula), and for every device synthesises the unit alone (its area) and,
on the devices that are placed and routed (iCE40 HX8K, ECP5), the unit inside the
pin-light harness once per nextpnr seed (its Fmax: median and range).  It returns one row
per (unit, N, device) with the columns of :data:`COLUMNS`; ``write_csv`` stores them.
The bundled table (``specaccel/data/rtl-characterisation.csv``, read by
:mod:`specaccel.models.cost.rtl_table`) is what the simulator and cost models use.

What a unit's cycles mean is declared by its model (``measure_cycles`` in
``specaccel.hdl.units.<name>.model``): full-size requests (``n = N``) back to back, latency
from a request's handshake (a tree's *first* record for the node-serial verify unit; a
request's *last* beat for ``argmax_sample``) to its response, II the steady interval.
Every measured latency must equal the unit's declared latency law, which is written
beside it (``latency_law``) with the unit's ``role``.

With a build folder (``build_root``) every measurement and tool run is remembered there,
so a long sweep that is interrupted resumes when started again with the same folder.  A
long characterisation runs in parts (a few units, sizes or devices at a time);
:func:`merge_rows` joins a part's rows with an existing table's (``specaccel hdl
characterise --merge-into TABLE``).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from specaccel.models.cost.rtl_table import COLUMNS, load_characterisation
from specaccel.schema import progress

__all__ = ["COLUMNS", "characterise", "fit_exponent", "fit_lut_exponent",
           "load_characterisation", "measure_cycles", "merge_rows", "write_csv"]


def measure_cycles(name: str, *, nodes: int, token_width: int = 16, prob_width: int = 12,
                   seed: int = 0, **extra: Any) -> tuple[int, float]:
    """(latency_cycles, ii_cycles) of registry unit `name`, measured by simulation with the
    workload its model declares (``model.measure_cycles``)."""
    from specaccel.hdl.units import get_unit

    unit = get_unit(name)
    component = unit.build(nodes=nodes, token_width=token_width, prob_width=prob_width,
                           **extra)
    return unit.model.measure_cycles(component, np.random.default_rng(seed))


def _remembered_cycles(work: Path | None, key: str, measure: Callable[[], tuple[int, float]]
                       ) -> tuple[int, float]:
    """`measure()`, or its result remembered in `work` under `key`."""
    if work is None:
        return measure()
    path = work / "cycles-result.json"
    try:
        data = json.loads(path.read_text())
        if data["key"] == key:
            return int(data["latency"]), float(data["ii"])
    except (OSError, ValueError, KeyError):
        pass
    latency, ii = measure()
    work.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "latency": latency, "ii": ii}))
    tmp.replace(path)
    return latency, ii


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


# ---- the sweep ---------------------------------------------------------------------------

def characterise(units: Iterable[str], nodes: Iterable[int] | None = None, *,
                 token_width: int = 16,
                 prob_width: int = 12, devices: Iterable[str] = ("ice40-hx8k",),
                 seeds: Iterable[int] = (1,), build_root: str | Path | None = None,
                 report: Callable[[str], None] | None = None,
                 on_row: Callable[[list[dict[str, Any]]], None] | None = None,
                 timeout: float = 3600.0, **extra: Any) -> list[dict[str, Any]]:
    """One row per (unit, N, device): measured cycles plus synthesis results.

    Parameters
    ----------
    units : iterable of str
        Registry unit names.
    nodes : iterable of int, optional
        Tree sizes N for every unit; by default each unit's declared sweep
        (``RtlUnit.sweep_nodes``).  The sweep runs in two passes, each N by N (every unit
        at the smallest N first): cycles and the unit's own area on every device, then
        place and route; so an interrupted sweep has every unit's area and the cheap
        designs' Fmax.  The rows come back in unit, N, device order.
    token_width, prob_width : int
        Shared unit parameters.
    devices : iterable of str
        Synthesis targets (:data:`specaccel.hdl.synthesis.DEVICES`): the unit alone on
        each; the harness placed and routed on the iCE40 HX8K and the ECP5.
    seeds : iterable of int
        nextpnr placement seeds (Fmax median, min and max over them).
    build_root : path, optional
        Keep each run's files under ``build_root/<unit>-n<N>/<device>/`` and remember
        every measurement and tool run there: a sweep started again with the same folder
        resumes.
    report : callable, optional
        Called with one line per step (the CLI prints it on stderr).  Progress for a bar
        (the designs done of the total, the current design and stage) goes through
        :mod:`specaccel.schema.progress`.
    on_row : callable, optional
        Called with the rows so far after each (unit, N) of each pass (the CLI rewrites
        its CSV, so a long sweep that is interrupted keeps what it finished).
    timeout : float
        Time limit of each yosys or nextpnr run, seconds (a seed over it is left out of
        the row and named in its ``pnr_error``; a rerun tries it again).
    **extra
        Unit-specific parameters (e.g. ``mode="stochastic"``), given to every unit.
    """
    from specaccel.hdl.synthesis import PNR, synthesise_unit
    from specaccel.hdl.units import get_unit

    units, devices, seeds = list(units), list(devices), tuple(seeds)
    sizes = {u: sorted(dict.fromkeys(get_unit(u).sweep_nodes if nodes is None else nodes))
             for u in units}
    designs = sorted(((n, u) for u in units for n in sizes[u]),
                     key=lambda d: (d[0], units.index(d[1])))
    placed_devices = [d for d in devices if d in PNR] if seeds else []
    progress.expect(len(designs) * (2 if placed_devices else 1))
    rows: dict[tuple[str, int, str], dict[str, Any]] = {}

    def done() -> list[dict[str, Any]]:
        return [rows[k] for k in sorted(rows, key=lambda k: (units.index(k[0]), k[1],
                                                             devices.index(k[2])))]

    def synthesise(name: str, n: int, device: str, place: bool) -> dict[str, Any]:
        work = None if build_root is None else Path(build_root) / f"{name}-n{n}" / device
        with progress.within(f"{name} N={n} {device}"):
            s = synthesise_unit(name, nodes=n, token_width=token_width,
                                prob_width=prob_width, device=device, seeds=seeds,
                                place=place, build_dir=work, timeout=timeout, **extra)
        if report:
            report(f"characterise {name} N={n} {device}: " + _summary(s))
        return s

    # pass 1: cycles and the unit's own area on every device (every unit's area is
    # known before the long place-and-route pass starts)
    for n, name in designs:
        unit = get_unit(name)
        law = unit.law(**extra)
        design = f"{name} N={n}"
        progress.stage(f"{design}: simulating")
        if report:
            report(f"characterise {design}: simulating")
        key = hashlib.sha256(json.dumps([name, n, token_width, prob_width, extra],
                                        sort_keys=True).encode()).hexdigest()
        work = None if build_root is None else Path(build_root) / f"{name}-n{n}"
        latency, ii = _remembered_cycles(work, key, functools.partial(
            measure_cycles, name, nodes=n, token_width=token_width,
            prob_width=prob_width, **extra))
        if latency != law.cycles(nodes=n):
            raise RuntimeError(f"{design}: measured latency {latency} cycles, but its "
                               f"declared law {law.text()!r} says {law.cycles(nodes=n)}")
        if report:
            report(f"characterise {design}: latency {latency}, II {ii:g}")
        for device in devices:
            s = synthesise(name, n, device, place=False)
            rows[name, n, device] = {
                "unit": name, "role": unit.role, "nodes": n,
                "token_width": token_width, "prob_width": prob_width,
                "latency_law": law.text(), "latency_cycles": latency, "ii_cycles": ii,
                "device": device, **_synthesis_columns(s),
            }
        if on_row:
            on_row(done())
        progress.advance()

    # pass 2: the harness placed and routed, once per seed
    for n, name in designs:
        for device in placed_devices:
            s = synthesise(name, n, device, place=True)
            rows[name, n, device].update(_synthesis_columns(s))
        if on_row:
            on_row(done())
        progress.advance()
    return done()


def _synthesis_columns(s: dict[str, Any]) -> dict[str, Any]:
    """The table columns of a :func:`~specaccel.hdl.synthesis.synthesise_unit` result."""
    return {**{k: s[k] for k in ("bare_luts", "bare_ffs", "bare_carry", "bare_brams",
                                 "bare_dsps", "harness_luts", "harness_ffs", "pnr_seeds",
                                 "pnr", "pnr_error", "tool_versions")},
            **{k: _round(s[k]) for k in ("fmax_median_mhz", "fmax_min_mhz",
                                         "fmax_max_mhz")}}


def _summary(s: dict[str, Any]) -> str:
    """One line of a (unit, N, device) result."""
    text = f"unit alone {s['bare_luts']} LUTs, {s['bare_ffs']} FFs"
    if s["fmax_median_mhz"] is not None:
        text += (f"; Fmax {s['fmax_median_mhz']:.1f} MHz (median of {s['pnr_seeds']} seeds, "
                 f"{s['fmax_min_mhz']:.1f}-{s['fmax_max_mhz']:.1f})")
    elif s["pnr"] != "not run":
        text += f"; no Fmax ({s['pnr']}: {s['pnr_error']})"
    return text


def fit_exponent(rows: Iterable[dict[str, Any]], unit: str, column: str = "bare_luts",
                 device: str = "ice40-hx8k") -> float | None:
    """Least-squares slope of log(`column`) against log(N) for `unit` on `device` (None if
    fewer than 2 sizes have a positive value)."""
    pts = sorted((int(r["nodes"]), float(r[column])) for r in rows
                 if r["unit"] == unit and r.get("device", device) == device
                 and r.get(column) not in (None, "") and float(r[column]) > 0)
    if len({n for n, _ in pts}) < 2:
        return None
    x = np.log([n for n, _ in pts])
    y = np.log([v for _, v in pts])
    return float(np.polyfit(x, y, 1)[0])


def fit_lut_exponent(rows: Iterable[dict[str, Any]], unit: str,
                     device: str = "ice40-hx8k") -> float | None:
    """Fitted exponent of the bare unit's LUTs in N on `device` (:func:`fit_exponent`)."""
    return fit_exponent(rows, unit, "bare_luts", device)


def _knows(r: dict[str, Any]) -> int:
    """How much a row knows: placed (over more seeds) > does not fit > failed > not run."""
    if r["pnr"] == "placed":
        return 3 + int(r["pnr_seeds"] or 0)
    return {"does not fit": 2, "failed": 1}.get(r["pnr"], 0)


def merge_rows(old: Iterable[dict[str, Any]], new: Iterable[dict[str, Any]]
               ) -> list[dict[str, Any]]:
    """The rows of `old` with those of `new` in their place (same unit, N and device),
    unless the new row knows less (:func:`_knows`: a design not placed in this part does
    not replace its placed row, nor fewer seeds more).  Sorted by unit, N and device."""
    from specaccel.hdl.synthesis import DEVICES

    merged = {(r["unit"], int(r["nodes"]), r["device"]): r for r in old}
    for r in new:
        k = (r["unit"], int(r["nodes"]), r["device"])
        if k not in merged or _knows(r) >= _knows(merged[k]):
            merged[k] = r
    order = {d: i for i, d in enumerate(DEVICES)}
    return [merged[k] for k in sorted(merged, key=lambda k: (k[0], k[1],
                                                             order.get(k[2], len(order))))]


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
        row = {k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS}
        latency = row["latency_cycles"]  # whole cycles (a table read back holds floats)
        if isinstance(latency, float) and latency.is_integer():
            row["latency_cycles"] = int(latency)
        writer.writerow(row)
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text)
    return text
