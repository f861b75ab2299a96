"""Reading a characterisation CSV: the rows of a table that synthesis and simulation
wrote, with its numeric columns parsed and every fault named by file, row and column."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any, TypeVar

from specaccel.schema.errors import InputError

T = TypeVar("T")


def parse_characterisation_csv(text: str, source: str, *, columns: Sequence[str],
                               ints: Sequence[str], floats: Sequence[str]
                               ) -> list[dict[str, Any]]:
    """Rows of CSV `text` (blank and ``#`` lines skipped) as dicts.

    Every name of `columns` must be in the header; the `ints` and `floats` columns are
    parsed (an empty cell is ``None``).  `source` names the table in errors.

    Raises
    ------
    InputError
        A column is missing, or a numeric cell is not a number (with its row).
    """
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    reader = csv.DictReader(lines)
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"missing columns {', '.join(missing)}", file=source)
    rows = []
    for i, raw in enumerate(reader, start=1):
        row: dict[str, Any] = dict(raw)
        for col in (*ints, *floats):
            val = (raw.get(col) or "").strip()
            try:
                row[col] = None if val == "" else (int(val) if col in ints else float(val))
            except ValueError:
                raise InputError(f"not a number: {val!r}", file=source, where=(f"row {i}",),
                                 field=col) from None
        rows.append(row)
    return rows


def load_bundled_table(table: str, row_type: Callable[..., T], *, columns: Sequence[str],
                       ints: Sequence[str], floats: Sequence[str]) -> list[T]:
    """The rows of the bundled table ``specaccel/data/<table>`` (``#`` lines are its source
    notes), each ``row_type(*values of columns)``, parsed as
    `parse_characterisation_csv` parses them."""
    text = resources.files("specaccel.data").joinpath(table).read_text()
    rows = parse_characterisation_csv(text, table, columns=columns, ints=ints, floats=floats)
    return [row_type(*(r[c] for c in columns)) for r in rows]
