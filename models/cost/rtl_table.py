"""The RTL characterisation table as the cost model reads it.

``specaccel hdl characterise`` measures the speculative-decoding units and writes one row
per (unit, N, device) with the columns of :data:`COLUMNS`: cycles by simulation
(``latency_cycles``, ``ii_cycles``, the same on every device); the **unit alone**
synthesised by yosys (``bare_luts``, ``bare_ffs``, ``bare_carry``, ``bare_brams``,
``bare_dsps``: its area); the unit **inside the pin-light harness** (``harness_luts``,
``harness_ffs``: what was placed, harness included) and its Fmax from nextpnr over
``pnr_seeds`` placement seeds (``fmax_median_mhz``, ``fmax_min_mhz``, ``fmax_max_mhz``),
with ``pnr`` saying whether it was placed (``placed``), was too large (``does not fit``),
failed, or is a device without place and route here (``not run``: Xilinx 7-series).
The table bundled with the package (``specaccel/data/rtl-characterisation.csv``) is what
the simulator and the area model use by default.  The table is data handed upwards from
the RTL to the cost model, so its reader lives here and
:mod:`specaccel.hdl.characterisation` writes what this reads.

Each row also says what the unit is for (``role``: ``verify``, ``mask``, ``compaction``,
``sampling``, ``core``) and how its latency scales with the request (``latency_law``, a
:class:`~specaccel.models.cost.rtl_latency.LatencyLaw` as text), both declared by the
unit's folder in :mod:`specaccel.hdl.units`: the cost model learns which units exist and
how to time them from the table alone.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from specaccel.models.cost.characterisation_csv import parse_characterisation_csv
from specaccel.models.cost.rtl_latency import LatencyLaw
from specaccel.schema.errors import InputError

COLUMNS = ("unit", "role", "nodes", "token_width", "prob_width", "latency_law",
           "latency_cycles", "ii_cycles", "device", "bare_luts", "bare_ffs", "bare_carry",
           "bare_brams", "bare_dsps", "harness_luts", "harness_ffs", "fmax_median_mhz",
           "fmax_min_mhz", "fmax_max_mhz", "pnr_seeds", "pnr", "tool_versions")
BUNDLED = "rtl-characterisation.csv"
_INT_COLUMNS = ("nodes", "token_width", "prob_width", "bare_luts", "bare_ffs", "bare_carry",
                "bare_brams", "bare_dsps", "harness_luts", "harness_ffs", "pnr_seeds")
_FLOAT_COLUMNS = ("latency_cycles", "ii_cycles", "fmax_median_mhz", "fmax_min_mhz",
                  "fmax_max_mhz")
#: What ``pnr`` may say.
PNR_RESULTS = ("placed", "does not fit", "failed", "not run")
#: The device whose rows the area model reads: the iCE40's LUT4 + flip-flop logic cells
#: are the simplest to turn into gate equivalents (:mod:`.area`).
AREA_DEVICE = "ice40-hx8k"


def parse_table(text: str, source: str) -> list[dict[str, Any]]:
    """Rows of characterisation CSV `text` (``#`` lines are comments); `source` names it
    in errors."""
    rows = parse_characterisation_csv(text, source, columns=COLUMNS, ints=_INT_COLUMNS,
                                      floats=_FLOAT_COLUMNS)
    for i, row in enumerate(rows, start=1):
        if row["pnr"] not in PNR_RESULTS:
            raise InputError(f"must be one of {', '.join(PNR_RESULTS)}, not {row['pnr']!r}",
                             file=source, where=(f"row {i}",), field="pnr")
        try:
            LatencyLaw.parse(row["latency_law"])
        except ValueError as exc:
            raise InputError(str(exc), file=source, where=(f"row {i}",),
                             field="latency_law") from None
    return rows


def bundled_table_text() -> str:
    """The text of the bundled table."""
    return resources.files("specaccel.data").joinpath(BUNDLED).read_text()


def load_characterisation(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Rows of a characterisation CSV; the bundled table when `path` is None."""
    if path is None:
        return parse_table(bundled_table_text(), BUNDLED)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return parse_table(text, str(path))


@functools.cache
def bundled_rows() -> tuple[dict[str, Any], ...]:
    """The bundled table's rows, read once."""
    return tuple(load_characterisation())


def units_with_role(role: str, rows=None) -> tuple[str, ...]:
    """Names of the characterised units that play `role`, in table order."""
    rows = bundled_rows() if rows is None else rows
    return tuple(dict.fromkeys(str(r["unit"]) for r in rows if r["role"] == role))


def latency_law(unit: str, rows=None) -> LatencyLaw:
    """The latency law the table records for `unit` (``LookupError`` when absent)."""
    rows = bundled_rows() if rows is None else rows
    for r in rows:
        if r["unit"] == unit:
            return LatencyLaw.parse(r["latency_law"])
    raise LookupError(f"no characterisation rows for RTL unit {unit!r}")


def characterised_nodes(unit: str, rows=None) -> tuple[int, ...]:
    """The tree sizes N the table has rows of `unit` for, ascending."""
    rows = bundled_rows() if rows is None else rows
    return tuple(sorted({int(r["nodes"]) for r in rows if r["unit"] == unit}))


def request_cycles(unit: str, n: int, rows=None) -> float:
    """Latency in cycles of RTL `unit` answering an `n`-node request, from the table.

    The measured full-size rows (``latency_cycles`` at ``nodes = N``) are scaled with the
    unit's latency law: a node-serial unit takes ``n`` cycles plus the constant measured
    on the smallest characterised unit with ``N >= n``; any other unit takes the latency
    measured at that N.  Beyond the largest characterised N the law continues from the
    last row (an extrapolation: the law, not a measurement, says how; a
    :class:`~specaccel.models.cost.hardware_spec.HardwareSpec` built for trees beyond the
    table says so in its ``verify_unit_source``).  ``LookupError`` when the table has no
    row for `unit`.
    """
    rows = bundled_rows() if rows is None else rows
    law = latency_law(unit, rows)
    pts = sorted({int(r["nodes"]): float(r["latency_cycles"]) for r in rows
                  if r["unit"] == unit and r["latency_cycles"] is not None}.items())
    if not pts:
        raise LookupError(f"no characterised latency for RTL unit {unit!r}")
    size, cycles = next(((k, c) for k, c in pts if k >= n), pts[-1])
    if law.node_serial:
        return n + (cycles - size)
    if size >= n:
        return cycles
    return cycles + law.cycles(nodes=n) - law.cycles(nodes=size)
