"""Published measurements of decoding methods: the bundled ``specaccel/data/acceptance.csv``.

One row per (method, target, draft or tree, benchmark, temperature) and hardware: the
method's published τ (tokens committed per step), per-position acceptance α and/or
speedup, the hardware and the source.  A preset names the row it is calibrated to or
compared with by that :data:`SourceKey`; nothing else types a published number in.
Where a source measured the same setting on more than one machine (Spec-Bench's A100
and RTX 3090 tables), the five parts name no single row and the key carries the row's
``hardware`` as a sixth part.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

from specaccel.schema.errors import InputError

SourceKey = tuple[str, ...]
"""``(method, target, draft_or_tree, benchmark, temperature)`` of an acceptance.csv row,
plus its ``hardware`` where those five are shared by rows of several machines."""

KEY_COLUMNS = ("method", "target", "draft_or_tree", "benchmark", "temperature")
#: The hardware preset of each ``hardware`` value of the table (the A100s of these papers
#: are the 80 GB SXM part).
HARDWARE_PRESETS = {"A100": "a100-80gb", "RTX 3090": "rtx-3090", "TPUv4": "tpuv4"}
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
    """Every row of the bundled acceptance.csv once, by its :data:`SourceKey`: its five
    key columns, and its hardware as a sixth part where other rows share the five."""
    text = resources.files("specaccel.data").joinpath("acceptance.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    shared: dict[SourceKey, int] = {}
    for r in rows:
        five = tuple(r[c] for c in KEY_COLUMNS)
        shared[five] = shared.get(five, 0) + 1
    out: dict[SourceKey, dict[str, str]] = {}
    for r in rows:
        five = tuple(r[c] for c in KEY_COLUMNS)
        out[five if shared[five] == 1 else (*five, r["hardware"])] = r
    return out


def published_row(key: SourceKey) -> dict[str, str]:
    """The row named by `key` (a sixth part, the hardware, may name a row its five
    identify alone); :class:`InputError` if the bundled table has none."""
    rows = published_rows()
    key = tuple(key)
    if key in rows:
        return rows[key]
    if len(key) == 6 and key[:5] in rows and rows[key[:5]]["hardware"] == key[5]:
        return rows[key[:5]]
    machines = sorted(k[5] for k in rows if len(k) == 6 and k[:5] == key)
    hint = f" (measured on {', '.join(machines)}: add the hardware to the key)" \
        if machines else ""
    raise InputError(f"no row {key} in the bundled acceptance.csv{hint}",
                     file="acceptance.csv")


def published_number(key: SourceKey, column: str) -> float | None:
    """A number of the row (``tau``, ``alpha``, ``speedup``), or ``None`` where it is blank."""
    text = published_row(key).get(column, "").strip()
    if not text or "/" in text:
        return None
    return float(text)
