"""The RTL characterisation table as the cost model reads it.

``specaccel hdl characterise`` measures the speculative-decoding units (cycles by
simulation, LUTs, flip-flops and Fmax by synthesis) and writes one row per (unit, N) with
the columns of :data:`COLUMNS`.  The table bundled with the package
(``specaccel/data/rtl-characterisation.csv``) is what the simulator and the area model
use by default.  The table is data handed upwards from the RTL to the cost model, so its
reader lives here and :mod:`specaccel.hdl.characterisation` writes what this reads.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path
from typing import Any

from specaccel.schema.errors import InputError

COLUMNS = ("unit", "nodes", "token_width", "prob_width", "latency_cycles", "ii_cycles",
           "fmax_mhz", "luts", "ffs", "carry", "brams", "device", "tool_versions")
BUNDLED = "rtl-characterisation.csv"
_INT_COLUMNS = ("nodes", "token_width", "prob_width", "luts", "ffs", "carry", "brams")
_FLOAT_COLUMNS = ("latency_cycles", "ii_cycles", "fmax_mhz")


def parse_table(text: str, source: str) -> list[dict[str, Any]]:
    """Rows of characterisation CSV `text` (``#`` lines are comments); `source` names it
    in errors."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    reader = csv.DictReader(lines)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"missing columns {', '.join(missing)}", file=source)
    rows = []
    for i, raw in enumerate(reader, start=1):
        row: dict[str, Any] = dict(raw)
        for col in _INT_COLUMNS + _FLOAT_COLUMNS:
            val = (raw.get(col) or "").strip()
            try:
                if val == "":
                    row[col] = None
                else:
                    row[col] = int(val) if col in _INT_COLUMNS else float(val)
            except ValueError:
                raise InputError(f"not a number: {val!r}", file=source,
                                 where=(f"row {i}",), field=col) from None
        rows.append(row)
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
