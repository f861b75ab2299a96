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
#: The hardware preset of each ``hardware`` value of the table (the A100s of these papers
#: are the 80 GB SXM part).
HARDWARE_PRESETS = {"A100": "a100-80gb", "TPUv4": "tpuv4"}
#: Columns naming the software stacks the row's measurement ran on: the method's, its
#: draft's when different, and the autoregressive baseline's it was compared with
#: (:mod:`specaccel.models.cost.software_stack`); blank where the source does not say.
STACK_COLUMNS = ("stack", "draft_stack", "baseline_stack")


def deployment_of(row: dict[str, str]) -> dict[str, str]:
    """The row's hardware preset and stacks, as trace metadata keys (blank ones left
    out): ``hardware``, ``stack``, ``draft_stack``, ``baseline_stack``."""
    out = {}
    hw = HARDWARE_PRESETS.get(row.get("hardware", "").strip())
    if hw:
        out["hardware"] = hw
    for col in STACK_COLUMNS:
        value = row.get(col, "").strip()
        if value:
            out[col] = value
    return out


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
