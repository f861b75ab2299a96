"""The streaming sampling unit's characterisation as the cost model reads it.

The accelerator's sampling unit (``specaccel.hdl.units.sampling``) reads ``lanes`` bf16
logits per cycle, one verified node after another, at the accelerator's clock.  Its cycles
come from the RTL characterisation (``specaccel/data/sampling-characterisation.csv``,
written by ``python -m specaccel.hdl.sampling_characterisation``; cycles measured by
simulation, area and Fmax by synthesis):

* a node occupies ``ceil(vocab / lanes)`` beats at ``ii_beat`` cycles per beat;
* a sampled node (``top_k > 1``) also runs the unit's tail (``tail_cycles``, its longest
  run: weights, threshold, a scan to the last candidate), which overlaps the next node's
  stream; a node therefore takes ``max(beats * ii_beat, tail_cycles)`` cycles;
* the last node's result follows its last beat after ``latency_cycles`` (plus the tail
  when sampled).

So ``cycles = n * max(ceil(V / W) * ii, tail) + latency + tail`` (``tail = 0`` greedy).
The table's rows at 32k and 128k vocabularies hold simulated cycles for two nodes; the law
reproduces the greedy ones exactly and bounds the sampled ones (the scan stops at the
picked candidate), which is tested.  :mod:`.sampling_tail` charges it to the verify step.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from specaccel.schema.errors import InputError

from .characterisation_csv import parse_characterisation_csv

__all__ = ["BUNDLED", "COLUMNS", "SamplingTiming", "characterised_lanes",
           "load_sampling_table", "sampling_cycles", "sampling_timing",
           "sampling_unit_resources"]

BUNDLED = "sampling-characterisation.csv"
#: columns of the characterisation table; ``vocab`` rows (``kind = cycles``) hold simulated
#: cycles for whole requests, ``kind = unit`` rows the per-unit constants and synthesis
#: ``bare_*``: the unit alone by yosys (its area); ``harness_*`` and ``fmax_*``: placed
#: and routed inside the pin-light harness (as the RTL units' table,
#: :mod:`.rtl_table`)
COLUMNS = ("kind", "lanes", "max_top_k", "token_width", "vocab", "top_k", "nodes",
           "cycles", "ii_beat", "latency_cycles", "tail_cycles", "device", "bare_luts",
           "bare_ffs", "bare_carry", "bare_brams", "bare_dsps", "harness_luts",
           "harness_ffs", "fmax_median_mhz", "fmax_min_mhz", "fmax_max_mhz", "pnr_seeds",
           "pnr", "tool_versions")
_INT = ("lanes", "max_top_k", "token_width", "vocab", "top_k", "nodes", "cycles",
        "latency_cycles", "tail_cycles", "bare_luts", "bare_ffs", "bare_carry", "bare_brams",
        "bare_dsps", "harness_luts", "harness_ffs", "pnr_seeds")
_FLOAT = ("ii_beat", "fmax_median_mhz", "fmax_min_mhz", "fmax_max_mhz")
#: the device whose counts of the unit alone give its area (the same as the RTL units':
#: :data:`.rtl_table.AREA_DEVICE`)
AREA_DEVICE = "ice40-hx8k"


def parse_sampling_table(text: str, source: str) -> list[dict[str, Any]]:
    """Rows of a sampling characterisation CSV (``#`` lines are comments)."""
    rows = parse_characterisation_csv(text, source, columns=COLUMNS, ints=_INT, floats=_FLOAT)
    for i, row in enumerate(rows, start=1):
        if row["kind"] not in ("unit", "cycles"):
            raise InputError(f"kind must be 'unit' or 'cycles', not {row['kind']!r}",
                             file=source, where=(f"row {i}",), field="kind")
    return rows


def load_sampling_table(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Rows of a sampling characterisation CSV; the bundled table when `path` is None."""
    if path is None:
        text = resources.files("specaccel.data").joinpath(BUNDLED).read_text()
        return parse_sampling_table(text, BUNDLED)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return parse_sampling_table(text, str(path))


@dataclass(frozen=True)
class SamplingTiming:
    """Cycle constants of a sampling unit with `lanes` lanes (measured by simulation)."""

    lanes: int
    ii_beat: float
    latency_cycles: int
    tail_cycles: int
    max_top_k: int


@functools.cache
def _bundled_rows() -> tuple[dict[str, Any], ...]:
    return tuple(load_sampling_table())


def characterised_lanes() -> tuple[int, ...]:
    """Lane counts of the characterised sampling units in the bundled table."""
    return tuple(sorted({int(r["lanes"]) for r in _bundled_rows() if r["kind"] == "unit"}))


def sampling_timing(lanes: int, rows: list[dict[str, Any]] | None = None) -> SamplingTiming:
    """The characterised cycle constants of the unit with `lanes` lanes.

    Raises
    ------
    InputError
        No unit of that lane count was characterised (the table is not extrapolated).
    """
    table = _bundled_rows() if rows is None else rows
    units = [r for r in table if r["kind"] == "unit" and r["lanes"] == lanes]
    if not units:
        have = sorted({r["lanes"] for r in table if r["kind"] == "unit"})
        raise InputError(f"no characterised sampling unit with {lanes} lanes; the table has "
                         f"{', '.join(map(str, have))}", field="sampling_lanes")
    r = max(units, key=lambda x: x["max_top_k"])
    return SamplingTiming(lanes=lanes, ii_beat=float(r["ii_beat"]),
                          latency_cycles=int(r["latency_cycles"]),
                          tail_cycles=int(r["tail_cycles"]), max_top_k=int(r["max_top_k"]))


def sampling_unit_resources(lanes: int, rows: list[dict[str, Any]] | None = None
                            ) -> dict[str, float]:
    """The unit alone with `lanes` lanes as characterised on ``AREA_DEVICE`` (``bare_luts``,
    ``bare_ffs``, ``bare_carry``, ``bare_brams``), which the area model converts to
    silicon (:func:`.area.fpga_logic_area_mm2`)."""
    sampling_timing(lanes, rows)
    table = _bundled_rows() if rows is None else rows
    units = [r for r in table if r["kind"] == "unit" and r["lanes"] == lanes
             and r["device"] == AREA_DEVICE and r["bare_luts"] is not None]
    if not units:
        raise InputError(f"the sampling unit with {lanes} lanes has no synthesised area on "
                         f"{AREA_DEVICE}", field="sampling_lanes")
    r = max(units, key=lambda x: x["max_top_k"])
    return {c: float(r[c] or 0) for c in ("bare_luts", "bare_ffs", "bare_carry",
                                          "bare_brams")}


def sampling_cycles(timing: SamplingTiming, *, n_nodes: int, vocab: int,
                    sampled: bool = False) -> float:
    """Cycles to select the tokens of `n_nodes` nodes over `vocab` logits each."""
    if n_nodes < 0 or vocab < 1:
        raise ValueError(f"need n_nodes >= 0 and vocab >= 1, not {n_nodes}, {vocab}")
    if n_nodes == 0:
        return 0.0
    stream = math.ceil(vocab / timing.lanes) * timing.ii_beat
    tail = timing.tail_cycles if sampled else 0
    return n_nodes * max(stream, tail) + timing.latency_cycles + tail
