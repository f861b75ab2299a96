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
"""``(method, target, draft_or_tree, benchmark, temperature, hardware)`` of an
acceptance.csv row; the first five alone name a row that no other machine shares."""

KEY_COLUMNS = ("method", "target", "draft_or_tree", "benchmark", "temperature")
#: The hardware preset of each ``hardware`` value of the table.  "A100" is the 80 GB SXM
#: part; Sequoia's A100 is the 80 GB PCIe card (Sequoia, NeurIPS 2024, Section 4: "L40
#: and A100(-PCIE 80GB) GPUs"), and the rows measured on it say so.
HARDWARE_PRESETS = {"A100": "a100-80gb", "A100 PCIe": "a100-80gb-pcie",
                    "RTX 3090": "rtx-3090", "TPUv4": "tpuv4"}
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


def index_rows(rows: list[dict[str, str]]) -> dict[SourceKey, dict[str, str]]:
    """`rows` by their six-part key (the five key columns and the hardware); two rows
    with the same six parts are an error of the table."""
    out: dict[SourceKey, dict[str, str]] = {}
    for r in rows:
        key = (*(r[c] for c in KEY_COLUMNS), r["hardware"])
        if key in out:
            raise InputError(f"two rows for {key}", file="acceptance.csv")
        out[key] = r
    return out


@cache
def published_rows() -> dict[SourceKey, dict[str, str]]:
    """Every row of the bundled acceptance.csv once, by its six-part :data:`SourceKey`."""
    text = resources.files("specaccel.data").joinpath("acceptance.csv").read_text()
    return index_rows(list(csv.DictReader(text.splitlines())))


@cache
def _by_five() -> dict[SourceKey, list[SourceKey]]:
    out: dict[SourceKey, list[SourceKey]] = {}
    for key in published_rows():
        out.setdefault(key[:5], []).append(key)
    return out


def published_row(key: SourceKey) -> dict[str, str]:
    """The row named by `key`: six parts, or five where they name one row only;
    :class:`InputError` if the bundled table has none (or, for five parts shared by
    several machines, more than one)."""
    key = tuple(key)
    rows = published_rows()
    if len(key) == 6 and key in rows:
        return rows[key]
    matches = _by_five().get(key[:5], [])
    if len(key) == 5 and len(matches) == 1:
        return rows[matches[0]]
    hint = ""
    if len(matches) > 1 or (len(key) == 6 and matches):
        machines = ", ".join(sorted(k[5] for k in matches))
        hint = (f" (measured on {machines}: add the hardware to the key)" if len(key) == 5
                else f" (measured on {machines} only)")
    raise InputError(f"no row {key} in the bundled acceptance.csv{hint}",
                     file="acceptance.csv")


def published_number(key: SourceKey, column: str) -> float | None:
    """A number of the row (``tau``, ``alpha``, ``speedup``), or ``None`` where it is blank."""
    text = published_row(key).get(column, "").strip()
    if not text or "/" in text:
        return None
    return float(text)
