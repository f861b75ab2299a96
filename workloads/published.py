"""Published measurements of decoding methods: the bundled ``specaccel/data/acceptance.csv``.

One row per (method, target, draft or tree, benchmark, temperature): the method's
published τ (tokens committed per step), per-position acceptance α and/or speedup, the
hardware and the source.  A preset names the row it is calibrated to or compared with
by that five-part :data:`SourceKey`; nothing else types a published number in.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from specaccel.schema.errors import InputError

SourceKey = tuple[str, str, str, str, str]
"""``(method, target, draft_or_tree, benchmark, temperature)`` of an acceptance.csv row."""

KEY_COLUMNS = ("method", "target", "draft_or_tree", "benchmark", "temperature")


@cache
def published_rows() -> dict[SourceKey, dict[str, str]]:
    """Every row of the bundled acceptance.csv by its :data:`SourceKey`."""
    text = resources.files("specaccel.data").joinpath("acceptance.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    return {tuple(r[c] for c in KEY_COLUMNS): r for r in rows}  # type: ignore[misc]


def published_row(key: SourceKey) -> dict[str, str]:
    """The row named by `key`; :class:`InputError` if the bundled table has none."""
    try:
        return published_rows()[tuple(key)]  # type: ignore[index]
    except KeyError:
        raise InputError(f"no row {tuple(key)} in the bundled acceptance.csv",
                         file="acceptance.csv") from None


def published_number(key: SourceKey, column: str) -> float | None:
    """A number of the row (``tau``, ``alpha``, ``speedup``), or ``None`` where it is blank."""
    text = published_row(key).get(column, "").strip()
    if not text or "/" in text:
        return None
    return float(text)
